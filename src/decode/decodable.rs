//! The decoder's view of the acoustic model (cf. Kaldi's `DecodableInterface`).

use ndarray::{Array2, ArrayRef2};

use crate::error::{Error, Result};

/// Everything a decoder sees of the acoustic model.
///
/// Calling protocol: a decoder asks [`Decodable::num_frames_ready`], then reads
/// [`Decodable::frame_scores`] for each `frame < num_frames_ready()`. Scores are log
/// domain, higher is better; column 0 is the CTC blank when the model has one.
/// Rows are returned as slices (not `ArrayView1`) so the hot loops index them directly.
pub trait Decodable {
    /// Number of frames available now (grows while streaming).
    fn num_frames_ready(&self) -> usize;
    /// Whether `frame` is the last frame of the utterance.
    fn is_last_frame(&self, frame: usize) -> bool;
    /// Number of score columns.
    fn num_indices(&self) -> usize;
    /// Scores `[num_indices]` of one frame; requires `frame < num_frames_ready()`.
    fn frame_scores(&self, frame: usize) -> &[f32];
}

/// Checks that no value is NaN or +inf (−inf is a valid log-probability).
fn check_scores(a: &ArrayRef2<f32>, op: &str) -> Result<()> {
    if let Some((i, _)) = a
        .indexed_iter()
        .find(|(_, v)| v.is_nan() || **v == f32::INFINITY)
    {
        return Err(Error::NonFinite {
            op: format!("{op} (frame {}, column {})", i.0, i.1),
        });
    }
    Ok(())
}

/// CTC log-posteriors `[frames, num_tokens]` used as they are.
#[derive(Debug, Clone)]
pub struct LogPosteriors {
    scores: Array2<f32>,
}

impl LogPosteriors {
    /// Wraps a log-posterior matrix; NaN or +inf is [`Error::NonFinite`].
    pub fn new(log_post: Array2<f32>) -> Result<Self> {
        check_scores(&log_post, "log-posteriors")?;
        let scores = if log_post.is_standard_layout() {
            log_post
        } else {
            log_post.as_standard_layout().into_owned()
        };
        Ok(LogPosteriors { scores })
    }

    /// The matrix.
    pub fn scores(&self) -> &Array2<f32> {
        &self.scores
    }
}

impl Decodable for LogPosteriors {
    fn num_frames_ready(&self) -> usize {
        self.scores.nrows()
    }
    fn is_last_frame(&self, frame: usize) -> bool {
        frame + 1 == self.scores.nrows()
    }
    fn num_indices(&self) -> usize {
        self.scores.ncols()
    }
    #[inline]
    fn frame_scores(&self, frame: usize) -> &[f32] {
        let c = self.scores.ncols();
        let all = self
            .scores
            .as_slice()
            .expect("invariant: stored in standard layout");
        &all[frame * c..(frame + 1) * c]
    }
}

/// Scaled likelihoods for hybrid HMM decoding:
/// `acoustic_scale × (log p(s|x) − prior_scale × log p(s))`, i.e. posteriors divided
/// by priors (Bayes' rule up to the constant `p(x)`), computed once at construction.
#[derive(Debug, Clone)]
pub struct ScaledLikelihoods {
    inner: LogPosteriors,
}

impl ScaledLikelihoods {
    /// Checks shapes once: `log_priors.len()` must equal the number of columns
    /// ([`Error::Dim`]); priors must be finite and the posteriors free of NaN / +inf
    /// ([`Error::NonFinite`]).
    pub fn new(
        log_post: &ArrayRef2<f32>,
        log_priors: &[f32],
        acoustic_scale: f32,
        prior_scale: f32,
    ) -> Result<Self> {
        if log_priors.len() != log_post.ncols() {
            return Err(Error::dim(
                "scaled likelihoods (priors vs posterior columns)",
                log_post.ncols(),
                log_priors.len(),
            ));
        }
        if let Some(i) = log_priors.iter().position(|p| !p.is_finite()) {
            return Err(Error::NonFinite {
                op: format!("log prior {i}"),
            });
        }
        if !acoustic_scale.is_finite() || !prior_scale.is_finite() {
            return Err(Error::NonFinite {
                op: "acoustic or prior scale".into(),
            });
        }
        check_scores(log_post, "log-posteriors")?;
        let mut out = log_post.to_owned();
        for mut row in out.rows_mut() {
            for (v, &p) in row.iter_mut().zip(log_priors) {
                *v = acoustic_scale * (*v - prior_scale * p);
            }
        }
        Ok(ScaledLikelihoods {
            inner: LogPosteriors {
                scores: out.as_standard_layout().into_owned(),
            },
        })
    }

    /// Reads priors from text: whitespace-separated numbers, either probabilities
    /// (all in (0, 1], summing to ≈1) or log-probabilities (all ≤ 0, not all in that
    /// range); returns log-priors.
    pub fn parse_priors(text: &str, path: &std::path::Path) -> Result<Vec<f32>> {
        let mut v = Vec::new();
        for (i, line) in text.lines().enumerate() {
            for tok in line.split_whitespace() {
                let x: f32 = tok
                    .parse()
                    .map_err(|_| Error::parse(path, i + 1, format!("bad number {tok:?}")))?;
                v.push(x);
            }
        }
        if v.is_empty() {
            return Err(Error::parse(path, 0, "no priors"));
        }
        let is_prob = v.iter().all(|&x| x > 0.0 && x <= 1.0)
            && (v.iter().map(|&x| f64::from(x)).sum::<f64>() - 1.0).abs() < 0.05;
        if is_prob {
            Ok(v.iter().map(|x| x.ln()).collect())
        } else if v.iter().all(|&x| x <= 0.0) {
            Ok(v)
        } else {
            Err(Error::parse(
                path,
                0,
                "priors are neither probabilities summing to 1 nor log-probabilities",
            ))
        }
    }
}

impl ScaledLikelihoods {
    /// The scaled matrix `[frames, num_indices]`.
    pub fn inner_matrix(&self) -> &Array2<f32> {
        self.inner.scores()
    }
}

impl Decodable for ScaledLikelihoods {
    fn num_frames_ready(&self) -> usize {
        self.inner.num_frames_ready()
    }
    fn is_last_frame(&self, frame: usize) -> bool {
        self.inner.is_last_frame(frame)
    }
    fn num_indices(&self) -> usize {
        self.inner.num_indices()
    }
    #[inline]
    fn frame_scores(&self, frame: usize) -> &[f32] {
        self.inner.frame_scores(frame)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::array;

    #[test]
    fn scaled_likelihoods_divide_by_priors() {
        let lp = array![[0.5f32.ln(), 0.5f32.ln()], [0.9f32.ln(), 0.1f32.ln()]];
        let pri = [0.8f32.ln(), 0.2f32.ln()];
        let s = ScaledLikelihoods::new(&lp, &pri, 0.5, 1.0).unwrap();
        // frame 1, col 1: 0.5 * ln(0.1 / 0.2)
        assert!((s.frame_scores(1)[1] - 0.5 * 0.5f32.ln()).abs() < 1e-6);
        assert_eq!(s.num_frames_ready(), 2);
        assert!(s.is_last_frame(1));
        let e = ScaledLikelihoods::new(&lp, &pri[..1], 1.0, 1.0).unwrap_err();
        assert!(matches!(e, Error::Dim { .. }), "{e}");
        let e = ScaledLikelihoods::new(&lp, &[f32::NAN, 0.0], 1.0, 1.0).unwrap_err();
        assert!(matches!(e, Error::NonFinite { .. }), "{e}");
    }

    #[test]
    fn nan_posteriors_are_an_error() {
        let lp = array![[0.0f32, f32::NEG_INFINITY], [f32::NAN, 0.0]];
        let e = LogPosteriors::new(lp).unwrap_err().to_string();
        assert!(e.contains("frame 1, column 0"), "{e}");
        assert!(LogPosteriors::new(array![[0.0f32, f32::NEG_INFINITY]]).is_ok());
    }

    #[test]
    fn priors_text_in_either_domain() {
        let p = std::path::Path::new("priors.txt");
        let a = ScaledLikelihoods::parse_priors("0.25 0.75\n", p).unwrap();
        assert!((a[0] - 0.25f32.ln()).abs() < 1e-6);
        let b = ScaledLikelihoods::parse_priors("-1.386\n-0.288\n", p).unwrap();
        assert_eq!(b, [-1.386, -0.288]);
        assert!(
            ScaledLikelihoods::parse_priors("0.5 x", p)
                .unwrap_err()
                .to_string()
                .starts_with("priors.txt:1")
        );
    }
}
