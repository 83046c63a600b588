//! Losses: CTC (blank at index 0) and frame-level cross-entropy.
//!
//! Both take raw logits, apply log-softmax internally and return the gradient with
//! respect to the logits, which is the numerically kind form (`softmax − target
//! occupancy`). Sums and log-sums are accumulated in f64.

use ndarray::{Array2, ArrayRef2};

use crate::error::{Error, Result};
use crate::nn::activation::log_softmax;
use crate::nn::{Float, SeqBatch};

/// Index of the CTC blank.
pub const BLANK: usize = 0;

/// Minimum number of frames a CTC alignment of `targets` needs: one per label plus
/// one blank between each pair of equal neighbours.
pub fn ctc_min_frames(targets: &[usize]) -> usize {
    targets.len() + targets.windows(2).filter(|w| w[0] == w[1]).count()
}

fn log_add(a: f64, b: f64) -> f64 {
    if a == f64::NEG_INFINITY {
        return b;
    }
    if b == f64::NEG_INFINITY {
        return a;
    }
    let (hi, lo) = if a > b { (a, b) } else { (b, a) };
    hi + (lo - hi).exp().ln_1p()
}

/// CTC loss `−log p(targets | logits)` of one sequence and its gradient w.r.t. the
/// logits `[frames, num_classes]`.
///
/// Errors: a label that is the blank or out of range, non-finite logits, or fewer
/// frames than [`ctc_min_frames`] (no alignment exists; the loss would be infinite).
pub fn ctc_loss<T: Float>(logits: &ArrayRef2<T>, targets: &[usize]) -> Result<(f64, Array2<T>)> {
    let (frames, classes) = logits.dim();
    if let Some(&bad) = targets.iter().find(|&&l| l == BLANK || l >= classes) {
        return Err(Error::Invalid(format!(
            "ctc target label {bad} is the blank or outside 1..{classes}"
        )));
    }
    let need = ctc_min_frames(targets);
    if frames < need {
        return Err(Error::Invalid(format!(
            "ctc: {frames} frames cannot align {} labels (needs at least {need})",
            targets.len()
        )));
    }
    if frames == 0 {
        return Ok((0.0, Array2::zeros((0, classes))));
    }
    let lp = log_softmax(logits);
    if lp.iter().any(|v| !v.is_finite()) {
        return Err(Error::NonFinite {
            op: "ctc logits".into(),
        });
    }
    let lp64 = lp.mapv(|v| v.to_f64());
    // Extended label sequence: blank, l1, blank, l2, ..., blank.
    let s_len = 2 * targets.len() + 1;
    let ext = |s: usize| if s % 2 == 0 { BLANK } else { targets[s / 2] };
    // May the path jump from s-2 to s (skipping a blank)?
    let can_skip = |s: usize| s >= 2 && s % 2 == 1 && ext(s) != ext(s - 2);
    let ninf = f64::NEG_INFINITY;

    // alpha[t][s]: log-prob of emitting frames 0..=t and being in state s at t.
    let mut alpha = vec![ninf; frames * s_len];
    alpha[0] = lp64[[0, ext(0)]];
    if s_len > 1 {
        alpha[1] = lp64[[0, ext(1)]];
    }
    for t in 1..frames {
        for s in 0..s_len {
            let prev = &alpha[(t - 1) * s_len..t * s_len];
            let mut a = prev[s];
            if s >= 1 {
                a = log_add(a, prev[s - 1]);
            }
            if can_skip(s) {
                a = log_add(a, prev[s - 2]);
            }
            alpha[t * s_len + s] = if a == ninf {
                ninf
            } else {
                a + lp64[[t, ext(s)]]
            };
        }
    }
    // beta[t][s]: log-prob of emitting frames t+1.. given state s at t.
    let mut beta = vec![ninf; frames * s_len];
    let last = (frames - 1) * s_len;
    beta[last + s_len - 1] = 0.0;
    if s_len > 1 {
        beta[last + s_len - 2] = 0.0;
    }
    for t in (0..frames - 1).rev() {
        for s in 0..s_len {
            let next = (t + 1) * s_len;
            let term = |s2: usize| beta[next + s2] + lp64[[t + 1, ext(s2)]];
            let mut b = term(s);
            if s + 1 < s_len {
                b = log_add(b, term(s + 1));
            }
            if s + 2 < s_len && can_skip(s + 2) {
                b = log_add(b, term(s + 2));
            }
            beta[t * s_len + s] = b;
        }
    }
    let mut log_p = alpha[last + s_len - 1];
    if s_len > 1 {
        log_p = log_add(log_p, alpha[last + s_len - 2]);
    }
    if !log_p.is_finite() {
        return Err(Error::NonFinite {
            op: "ctc total log-probability".into(),
        });
    }
    let mut grad = lp64.mapv(f64::exp);
    for t in 0..frames {
        for s in 0..s_len {
            let g = alpha[t * s_len + s] + beta[t * s_len + s] - log_p;
            if g > ninf {
                grad[[t, ext(s)]] -= g.exp();
            }
        }
    }
    Ok((-log_p, grad.mapv(T::from_f64)))
}

/// CTC over a padded batch of logits `[max_len*batch, classes]` (time-major, see
/// [`SeqBatch`]); `targets[b]` belongs to batch sequence `b`. Returns the summed loss
/// and the gradient (zero on padding rows).
pub fn ctc_loss_batch<T: Float>(
    logits: &SeqBatch<T>,
    targets: &[Vec<usize>],
) -> Result<(f64, Array2<T>)> {
    if targets.len() != logits.batch_size() {
        return Err(Error::dim(
            "ctc_loss_batch targets",
            logits.batch_size(),
            targets.len(),
        ));
    }
    let mut grad = Array2::zeros(logits.data().raw_dim());
    let mut total = 0.0;
    for (b, tgt) in targets.iter().enumerate() {
        let seq = logits.sequence(b);
        let (loss, g) = ctc_loss(&seq, tgt)?;
        total += loss;
        for (t, row) in g.rows().into_iter().enumerate() {
            grad.row_mut(logits.row_index(t, b)).assign(&row);
        }
    }
    Ok((total, grad))
}

/// Frame-level cross-entropy `−Σ log softmax(logits)[r, target_r]` over rows whose
/// target is `Some` (padding and unlabelled frames are `None`), with its gradient.
pub fn cross_entropy<T: Float>(
    logits: &ArrayRef2<T>,
    targets: &[Option<usize>],
) -> Result<(f64, Array2<T>)> {
    let (rows, classes) = logits.dim();
    if targets.len() != rows {
        return Err(Error::dim("cross_entropy targets", rows, targets.len()));
    }
    let lp = log_softmax(logits);
    let mut grad = Array2::zeros((rows, classes));
    let mut total = 0.0;
    for (r, target) in targets.iter().enumerate() {
        let Some(k) = *target else { continue };
        if k >= classes {
            return Err(Error::Invalid(format!(
                "cross-entropy target {k} outside 0..{classes}"
            )));
        }
        let row = lp.row(r);
        if row.iter().any(|v| !v.is_finite()) {
            return Err(Error::NonFinite {
                op: "cross-entropy logits".into(),
            });
        }
        total -= row[k].to_f64();
        for (c, g) in grad.row_mut(r).iter_mut().enumerate() {
            *g = row[c].exp();
        }
        grad[[r, k]] -= T::one();
    }
    Ok((total, grad))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::nn::init;
    use crate::rng::Rng;
    use ndarray::arr2;

    /// Sum over every frame-level path (classes^frames of them) that collapses to
    /// `targets`: the definition of the CTC likelihood.
    fn brute_force_log_p(lp: &Array2<f64>, targets: &[usize]) -> f64 {
        let (frames, classes) = lp.dim();
        let mut total = 0.0f64;
        for code in 0..classes.pow(frames as u32) {
            let mut path = Vec::with_capacity(frames);
            let mut c = code;
            for _ in 0..frames {
                path.push(c % classes);
                c /= classes;
            }
            let mut collapsed = Vec::new();
            let mut prev = None;
            for &p in &path {
                if Some(p) != prev && p != BLANK {
                    collapsed.push(p);
                }
                prev = Some(p);
            }
            if collapsed == targets {
                total += path
                    .iter()
                    .enumerate()
                    .map(|(t, &p)| lp[[t, p]])
                    .sum::<f64>()
                    .exp();
            }
        }
        total.ln()
    }

    #[test]
    fn ctc_matches_brute_force_enumeration_of_alignments() {
        let mut rng = Rng::new(2024);
        let cases: &[&[usize]] = &[
            &[],
            &[1],
            &[2],
            &[1, 2],
            &[1, 1],
            &[2, 1, 2],
            &[1, 2, 3],
            &[3, 3],
            &[1, 1, 1],
        ];
        for frames in 1..=5 {
            for &tgt in cases {
                let logits: Array2<f64> = init::uniform((frames, 4), 3.0, &mut rng);
                let lp = log_softmax(&logits);
                match ctc_loss(&logits, tgt) {
                    Ok((loss, _)) => {
                        let expected = -brute_force_log_p(&lp, tgt);
                        assert!(
                            (loss - expected).abs() < 1e-10,
                            "T={frames} {tgt:?}: {loss} vs {expected}"
                        );
                    }
                    Err(_) => {
                        assert!(frames < ctc_min_frames(tgt));
                        assert_eq!(brute_force_log_p(&lp, tgt), f64::NEG_INFINITY);
                    }
                }
            }
        }
    }

    #[test]
    fn ctc_gradient_matches_finite_differences() {
        let mut rng = Rng::new(5);
        for tgt in [vec![], vec![1], vec![1, 1], vec![2, 1, 2], vec![3, 1]] {
            let logits: Array2<f64> = init::uniform((7, 4), 2.0, &mut rng);
            let (_, grad) = ctc_loss(&logits, &tgt).unwrap();
            crate::nn::gradcheck::check_input_grad(
                &logits,
                &grad,
                |l| ctc_loss(l, &tgt).unwrap().0,
                1e-6,
            );
            // Softmax minus occupancies: every row of the gradient sums to zero.
            for row in grad.rows() {
                assert!(row.sum().abs() < 1e-12);
            }
        }
    }

    #[test]
    fn ctc_hand_case_single_frame() {
        // One frame, target [1]: p = softmax(logits)[1].
        let logits = arr2(&[[0.0f64, 1.0, -1.0]]);
        let (loss, _) = ctc_loss(&logits, &[1]).unwrap();
        let expected = -(1.0 - (1.0 + 1f64.exp() + (-1f64).exp()).ln());
        assert!((loss - expected).abs() < 1e-12);
    }

    #[test]
    fn ctc_rejects_impossible_and_invalid_targets() {
        let logits = Array2::<f32>::zeros((2, 3));
        // [1, 1] needs a blank in between: 3 frames.
        assert_eq!(ctc_min_frames(&[1, 1]), 3);
        assert!(ctc_loss(&logits, &[1, 1]).is_err());
        assert!(ctc_loss(&logits, &[1, 2]).is_ok());
        assert!(ctc_loss(&logits, &[0]).is_err());
        assert!(ctc_loss(&logits, &[3]).is_err());
        let nan = arr2(&[[f32::NAN, 0.0, 0.0]]);
        assert!(ctc_loss(&nan, &[1]).is_err());
    }

    #[test]
    fn ctc_batch_matches_per_sequence_losses() {
        let mut rng = Rng::new(6);
        let a: Array2<f64> = init::uniform((5, 4), 1.0, &mut rng);
        let b: Array2<f64> = init::uniform((3, 4), 1.0, &mut rng);
        let (batch, order) = SeqBatch::from_sequences(&[&b, &a]).unwrap();
        assert_eq!(order, vec![1, 0]);
        let (total, grad) = ctc_loss_batch(&batch, &[vec![1, 2], vec![3]]).unwrap();
        let (la, ga) = ctc_loss(&a, &[1, 2]).unwrap();
        let (lb, _) = ctc_loss(&b, &[3]).unwrap();
        assert!((total - la - lb).abs() < 1e-12);
        assert_eq!(grad.row(batch.row_index(4, 0)), ga.row(4));
        assert!(grad.row(batch.row_index(4, 1)).iter().all(|&v| v == 0.0));
    }

    #[test]
    fn cross_entropy_gradient_matches_finite_differences_and_skips_masked_rows() {
        let mut rng = Rng::new(8);
        let logits: Array2<f64> = init::uniform((5, 4), 2.0, &mut rng);
        let targets = [Some(1), None, Some(3), Some(0), None];
        let (loss, grad) = cross_entropy(&logits, &targets).unwrap();
        crate::nn::gradcheck::check_input_grad(
            &logits,
            &grad,
            |l| cross_entropy(l, &targets).unwrap().0,
            1e-6,
        );
        assert!(grad.row(1).iter().all(|&v| v == 0.0));
        let lp = log_softmax(&logits);
        let expected = -(lp[[0, 1]] + lp[[2, 3]] + lp[[3, 0]]);
        assert!((loss - expected).abs() < 1e-12);
        assert!(cross_entropy(&logits, &[Some(4), None, None, None, None]).is_err());
    }
}
