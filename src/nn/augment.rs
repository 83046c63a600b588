//! Training-time regularisers: dropout and SpecAugment-style masking.

use ndarray::{Array2, ArrayRef2};

use crate::error::{Error, Result};
use crate::nn::Float;
use crate::rng::Rng;

/// Inverted dropout in place: zeroes each element with probability `p` and scales
/// the rest by `1/(1-p)`. Returns the mask (0 or `1/(1-p)`) for the backward pass.
pub fn dropout<T: Float>(x: &mut ArrayRef2<T>, p: f64, rng: &mut Rng) -> Array2<T> {
    let keep = T::from_f64(1.0 / (1.0 - p));
    let mask = Array2::from_shape_simple_fn(x.raw_dim(), || {
        if rng.uniform() < p { T::zero() } else { keep }
    });
    *x *= &mask;
    mask
}

/// SpecAugment-style masking of a feature matrix (Park et al. 2019, without time
/// warping): a few bands of consecutive feature bins and a few runs of consecutive
/// frames are set to zero (the mean, after input normalisation).
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct SpecAugmentConfig {
    /// Number of frequency masks per utterance.
    pub num_freq_masks: usize,
    /// Widest frequency mask, in feature bins. Larger → stronger regularisation.
    pub max_freq_width: usize,
    /// Number of time masks per utterance.
    pub num_time_masks: usize,
    /// Widest time mask, in frames.
    pub max_time_width: usize,
    /// Cap on each time mask as a fraction of the utterance length.
    pub max_time_fraction: f64,
}

impl Default for SpecAugmentConfig {
    fn default() -> Self {
        SpecAugmentConfig {
            num_freq_masks: 2,
            max_freq_width: 8,
            num_time_masks: 2,
            max_time_width: 20,
            max_time_fraction: 0.2,
        }
    }
}

impl SpecAugmentConfig {
    /// Checks ranges.
    pub fn validate(&self) -> Result<()> {
        if !(0.0..=1.0).contains(&self.max_time_fraction) {
            return Err(Error::Config(format!(
                "spec augment max_time_fraction {} outside [0, 1]",
                self.max_time_fraction
            )));
        }
        Ok(())
    }

    /// Masks `feats` `[frames, feat_dim]` in place, drawing from `rng`.
    pub fn apply(&self, feats: &mut Array2<f32>, rng: &mut Rng) {
        let (frames, dim) = feats.dim();
        for _ in 0..self.num_freq_masks {
            let width = rng.below(self.max_freq_width.min(dim) + 1);
            let start = rng.below(dim - width + 1);
            feats
                .slice_mut(ndarray::s![.., start..start + width])
                .fill(0.0);
        }
        let cap = ((frames as f64 * self.max_time_fraction) as usize).min(self.max_time_width);
        for _ in 0..self.num_time_masks {
            let width = rng.below(cap + 1);
            let start = rng.below(frames - width + 1);
            feats
                .slice_mut(ndarray::s![start..start + width, ..])
                .fill(0.0);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dropout_keeps_the_expected_value_and_is_seeded() {
        let mut x = Array2::<f64>::ones((200, 50));
        let mask = dropout(&mut x, 0.25, &mut Rng::new(4));
        let mean = x.mean().unwrap();
        assert!((mean - 1.0).abs() < 0.03, "{mean}");
        let zeros = mask.iter().filter(|&&m| m == 0.0).count() as f64 / 10_000.0;
        assert!((zeros - 0.25).abs() < 0.02);
        let mut y = Array2::<f64>::ones((200, 50));
        assert_eq!(dropout(&mut y, 0.25, &mut Rng::new(4)), mask);
    }

    #[test]
    fn spec_augment_masks_whole_bands_and_runs_within_limits() {
        let cfg = SpecAugmentConfig {
            num_freq_masks: 1,
            max_freq_width: 5,
            num_time_masks: 1,
            max_time_width: 10,
            max_time_fraction: 0.5,
        };
        for seed in 0..20 {
            let mut f = Array2::<f32>::ones((40, 20));
            cfg.apply(&mut f, &mut Rng::new(seed));
            let zero_cols = (0..20)
                .filter(|&c| f.column(c).iter().all(|&v| v == 0.0))
                .count();
            let zero_rows = (0..40)
                .filter(|&r| f.row(r).iter().all(|&v| v == 0.0))
                .count();
            assert!(
                zero_cols <= 5 && zero_rows <= 10,
                "seed {seed}: {zero_cols} {zero_rows}"
            );
            // Every zero lies in a fully masked row or column.
            for ((r, c), &v) in f.indexed_iter() {
                if v == 0.0 {
                    assert!(
                        f.row(r).iter().all(|&x| x == 0.0) || f.column(c).iter().all(|&x| x == 0.0)
                    );
                }
            }
        }
        let mut a = Array2::<f32>::ones((40, 20));
        let mut b = a.clone();
        SpecAugmentConfig::default().apply(&mut a, &mut Rng::new(1));
        SpecAugmentConfig::default().apply(&mut b, &mut Rng::new(1));
        assert_eq!(a, b);
    }
}
