//! CTC best-path decoding.

use super::decodable::Decodable;
use super::hypothesis::{Hypothesis, PhoneSpan};
use crate::error::{Error, Result};
use crate::phones::TokenTable;

/// Best path: the argmax token of every frame, repeats collapsed, blanks removed.
/// Each token's span is its run of frames; its confidence (in `phones`' word twin,
/// see [`CtcGreedy::decode`]) is the mean posterior over the run.
#[derive(Debug, Clone)]
pub struct CtcGreedy {
    tokens: TokenTable,
    blank: usize,
}

impl CtcGreedy {
    /// A greedy decoder for `tokens` (the blank is `<blk>`, or index 0 if absent).
    pub fn new(tokens: TokenTable) -> Self {
        let blank = tokens.blank().unwrap_or(0);
        CtcGreedy { tokens, blank }
    }

    /// Decodes one utterance. `words` holds the same tokens as `phones` (this decoder
    /// has no lexicon), each with the mean posterior of its run as confidence.
    pub fn decode(&self, d: &dyn Decodable) -> Result<Hypothesis> {
        if d.num_indices() != self.tokens.len() {
            return Err(Error::dim(
                "ctc greedy (token table vs posterior columns)",
                self.tokens.len(),
                d.num_indices(),
            ));
        }
        let mut phones: Vec<PhoneSpan> = Vec::new();
        let mut confs: Vec<f64> = Vec::new();
        let mut score = 0.0f64;
        let mut prev = usize::MAX;
        let mut run_sum = 0.0f64;
        for t in 0..d.num_frames_ready() {
            let row = d.frame_scores(t);
            let (best, &v) =
                row.iter().enumerate().fold(
                    (0, &f32::NEG_INFINITY),
                    |a, b| if b.1 > a.1 { b } else { a },
                );
            score += f64::from(v);
            if best != prev {
                if prev != self.blank && prev != usize::MAX {
                    let n = (t - phones.last().map_or(0, |p| p.start)) as f64;
                    confs.push(run_sum / n);
                }
                run_sum = 0.0;
                if best != self.blank {
                    phones.push(PhoneSpan {
                        phone: self.tokens.symbol(best).unwrap_or("?").to_string(),
                        token: best,
                        start: t,
                        end: t + 1,
                    });
                }
            } else if best != self.blank
                && let Some(p) = phones.last_mut()
            {
                p.end = t + 1;
            }
            run_sum += f64::from(v).exp();
            prev = best;
        }
        if prev != self.blank && prev != usize::MAX {
            let n = (d.num_frames_ready() - phones.last().map_or(0, |p| p.start)) as f64;
            confs.push(run_sum / n);
        }
        let words = phones
            .iter()
            .zip(&confs)
            .map(|(p, &c)| super::WordSpan {
                word: p.phone.clone(),
                start: p.start,
                end: p.end,
                confidence: c.clamp(0.0, 1.0) as f32,
            })
            .collect();
        Ok(Hypothesis {
            words,
            phones,
            score: score as f32,
            confidence: 1.0,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::decode::LogPosteriors;
    use ndarray::Array2;

    #[test]
    fn collapses_repeats_and_blanks_with_times() {
        let tokens = TokenTable::new(vec!["<blk>".into(), "A".into(), "B".into()]).unwrap();
        // argmax path: A A - B B - B -
        let path = [1, 1, 0, 2, 2, 0, 2, 0];
        let m = Array2::from_shape_fn((8, 3), |(t, c)| {
            if c == path[t] {
                0.8f32.ln()
            } else {
                0.1f32.ln()
            }
        });
        let h = CtcGreedy::new(tokens)
            .decode(&LogPosteriors::new(m).unwrap())
            .unwrap();
        assert_eq!(h.phone_text(), "A B B");
        let spans: Vec<(usize, usize)> = h.phones.iter().map(|p| (p.start, p.end)).collect();
        assert_eq!(spans, [(0, 2), (3, 5), (6, 7)]);
        assert!((h.words[0].confidence - 0.8).abs() < 1e-6);
        assert!((h.score - 8.0 * 0.8f32.ln()).abs() < 1e-5);
    }
}
