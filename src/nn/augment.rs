//! Training-time regularisers: dropout, SpecAugment-style masking and random
//! spectral-envelope (equaliser) perturbation.

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

/// Random equaliser: each utterance gets one smooth gain curve over the filter-bank
/// bins, added to every frame's log energies. The curve is a sum of `num_components`
/// half-cosines over the bin index with uniform amplitudes, so its magnitude never
/// exceeds `max_nats`. It imitates the differences in spectral envelope (vocal tract,
/// recording chain, synthesis engine) between voices that global normalisation keeps.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct EqAugmentConfig {
    /// Largest gain or cut at any bin, in nats of the log energy (1 nat ≈ 4.3 dB).
    pub max_nats: f32,
    /// Number of cosine components (1 = a tilt; more = wigglier curves).
    pub num_components: usize,
}

impl EqAugmentConfig {
    /// Curves up to `max_nats` built from three components.
    pub fn new(max_nats: f32) -> Self {
        EqAugmentConfig {
            max_nats,
            num_components: 3,
        }
    }

    /// Checks ranges.
    pub fn validate(&self) -> Result<()> {
        if !(self.max_nats.is_finite() && self.max_nats > 0.0 && self.max_nats <= 5.0)
            || self.num_components == 0
        {
            return Err(Error::Config(format!(
                "equaliser augmentation needs 0 < max_nats <= 5 (got {}) and at least one \
                 component (got {})",
                self.max_nats, self.num_components
            )));
        }
        Ok(())
    }

    /// Draws one gain curve over `dim` bins: `c[d] = Σₖ aₖ cos(π k (d + ½) / dim)`,
    /// `aₖ ~ U(−m/K, m/K)`, so `|c[d]| ≤ max_nats`.
    pub fn draw_curve(&self, dim: usize, rng: &mut Rng) -> Vec<f32> {
        let k_max = self.num_components;
        let amp = f64::from(self.max_nats) / k_max as f64;
        let coeffs: Vec<f64> = (0..k_max)
            .map(|_| amp * (2.0 * rng.uniform() - 1.0))
            .collect();
        (0..dim)
            .map(|d| {
                let x = std::f64::consts::PI * (d as f64 + 0.5) / dim as f64;
                coeffs
                    .iter()
                    .enumerate()
                    .map(|(k, a)| a * ((k + 1) as f64 * x).cos())
                    .sum::<f64>() as f32
            })
            .collect()
    }

    /// Adds one random curve to every frame of `feats` `[frames, dim]`; bin `d`'s gain
    /// is divided by `scale[d]` when given (the input normalisation's standard
    /// deviations, for features that are already normalised).
    pub fn apply(&self, feats: &mut Array2<f32>, scale: Option<&[f32]>, rng: &mut Rng) {
        let mut curve = self.draw_curve(feats.ncols(), rng);
        if let Some(s) = scale {
            for (c, s) in curve.iter_mut().zip(s) {
                *c /= *s;
            }
        }
        for mut row in feats.rows_mut() {
            for (v, c) in row.iter_mut().zip(&curve) {
                *v += c;
            }
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

    #[test]
    fn eq_curves_are_bounded_smooth_seeded_and_added_to_every_frame() {
        let cfg = EqAugmentConfig::new(1.5);
        cfg.validate().unwrap();
        let mut largest = 0.0f32;
        for seed in 0..200 {
            let c = cfg.draw_curve(40, &mut Rng::new(seed));
            assert_eq!(c.len(), 40);
            for w in c.windows(2) {
                // Three half-cosines over 40 bins change by at most π·3/40 per unit amplitude.
                assert!((w[1] - w[0]).abs() <= 1.5 * std::f32::consts::PI * 3.0 / 40.0 + 1e-5);
            }
            largest = largest.max(c.iter().fold(0.0f32, |m, v| m.max(v.abs())));
        }
        assert!(largest <= 1.5 + 1e-6 && largest > 0.8, "{largest}");
        // One component is a pure tilt: c[d] = a cos(π (d + ½) / D), odd about the middle.
        let tilt = EqAugmentConfig {
            max_nats: 1.0,
            num_components: 1,
        }
        .draw_curve(10, &mut Rng::new(3));
        for d in 0..5 {
            assert!((tilt[d] + tilt[9 - d]).abs() < 1e-6);
        }
        let mut f = Array2::<f32>::zeros((7, 40));
        let scale = vec![2.0f32; 40];
        cfg.apply(&mut f, Some(&scale), &mut Rng::new(9));
        let curve = cfg.draw_curve(40, &mut Rng::new(9));
        for row in f.rows() {
            for (v, c) in row.iter().zip(&curve) {
                assert!((v - c / 2.0).abs() < 1e-7);
            }
        }
        assert!(EqAugmentConfig::new(0.0).validate().is_err());
        assert!(
            EqAugmentConfig {
                max_nats: 1.0,
                num_components: 0
            }
            .validate()
            .is_err()
        );
    }
}
