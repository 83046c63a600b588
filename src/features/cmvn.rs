//! Cepstral mean and variance normalisation (Kaldi `compute-cmvn-stats`, `apply-cmvn`).
//!
//! Statistics are accumulated in f64 (sums over hours of frames lose precision in
//! f32) and are serde-serialisable, so global statistics can live in a model bundle.

use ndarray::ArrayRef2;
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

/// Which normalisation [`super::FeatureConfig`] applies per utterance.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "kebab-case")]
pub enum CmvnMode {
    /// No normalisation.
    #[default]
    None,
    /// Subtract the utterance mean of each dimension (Kaldi `apply-cmvn --norm-vars=false`).
    Utt,
    /// Subtract the utterance mean and divide by its standard deviation.
    UttVar,
}

impl std::str::FromStr for CmvnMode {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self> {
        match s {
            "none" => Ok(CmvnMode::None),
            "utt" => Ok(CmvnMode::Utt),
            "utt-var" => Ok(CmvnMode::UttVar),
            other => Err(Error::Config(format!(
                "unknown cmvn mode {other:?} (expected none, utt or utt-var)"
            ))),
        }
    }
}

/// Per-dimension sums for mean and variance normalisation.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CmvnStats {
    /// Σ x per dimension.
    pub sum: Vec<f64>,
    /// Σ x² per dimension.
    pub sum_sq: Vec<f64>,
    /// Number of frames accumulated.
    pub count: f64,
}

/// Variances are floored here before taking `1/sqrt` (Kaldi uses 1e-20 too).
const VAR_FLOOR: f64 = 1e-20;

impl CmvnStats {
    /// Empty statistics for `dim`-dimensional features.
    pub fn new(dim: usize) -> Self {
        CmvnStats {
            sum: vec![0.0; dim],
            sum_sq: vec![0.0; dim],
            count: 0.0,
        }
    }

    /// Feature dimension.
    pub fn dim(&self) -> usize {
        self.sum.len()
    }

    /// Statistics of one matrix `[frames, dim]`.
    pub fn from_features(feats: &ArrayRef2<f32>) -> Result<Self> {
        let mut s = CmvnStats::new(feats.ncols());
        s.accumulate(feats)?;
        Ok(s)
    }

    /// Adds the frames of `feats` `[frames, dim]`.
    pub fn accumulate(&mut self, feats: &ArrayRef2<f32>) -> Result<()> {
        if feats.ncols() != self.dim() {
            return Err(Error::dim(
                "CmvnStats::accumulate",
                self.dim(),
                feats.ncols(),
            ));
        }
        for row in feats.rows() {
            for ((s, q), &x) in self.sum.iter_mut().zip(&mut self.sum_sq).zip(row) {
                let x = x as f64;
                *s += x;
                *q += x * x;
            }
        }
        self.count += feats.nrows() as f64;
        if self.sum_sq.iter().any(|v| !v.is_finite()) {
            return Err(Error::NonFinite {
                op: "CmvnStats::accumulate".into(),
            });
        }
        Ok(())
    }

    /// Adds another set of statistics (e.g. from another thread).
    pub fn merge(&mut self, other: &CmvnStats) -> Result<()> {
        if other.dim() != self.dim() {
            return Err(Error::dim("CmvnStats::merge", self.dim(), other.dim()));
        }
        for (a, b) in self.sum.iter_mut().zip(&other.sum) {
            *a += b;
        }
        for (a, b) in self.sum_sq.iter_mut().zip(&other.sum_sq) {
            *a += b;
        }
        self.count += other.count;
        Ok(())
    }

    /// Mean per dimension.
    pub fn mean(&self) -> Vec<f64> {
        self.sum.iter().map(|s| s / self.count).collect()
    }

    /// Variance per dimension, floored at 1e-20.
    pub fn variance(&self) -> Vec<f64> {
        self.sum
            .iter()
            .zip(&self.sum_sq)
            .map(|(s, q)| {
                let m = s / self.count;
                (q / self.count - m * m).max(VAR_FLOOR)
            })
            .collect()
    }

    /// Normalises `feats` `[frames, dim]` in place: subtracts the mean and, with
    /// `norm_vars`, divides by the standard deviation.
    pub fn apply(&self, feats: &mut ArrayRef2<f32>, norm_vars: bool) -> Result<()> {
        if feats.ncols() != self.dim() {
            return Err(Error::dim("CmvnStats::apply", self.dim(), feats.ncols()));
        }
        if self.count < 1.0 {
            return Err(Error::Invalid("CMVN statistics are empty (count 0)".into()));
        }
        let mean: Vec<f32> = self.mean().iter().map(|&m| m as f32).collect();
        let scale: Vec<f32> = if norm_vars {
            self.variance()
                .iter()
                .map(|v| (1.0 / v.sqrt()) as f32)
                .collect()
        } else {
            vec![1.0; self.dim()]
        };
        for mut row in feats.rows_mut() {
            for ((x, m), s) in row.iter_mut().zip(&mean).zip(&scale) {
                *x = (*x - m) * s;
            }
        }
        Ok(())
    }
}

/// Per-utterance normalisation in place; does nothing to an empty matrix.
pub fn apply_cmvn_utt(feats: &mut ArrayRef2<f32>, norm_vars: bool) -> Result<()> {
    if feats.nrows() == 0 {
        return Ok(());
    }
    CmvnStats::from_features(feats)?.apply(feats, norm_vars)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rng::Rng;
    use ndarray::Array2;
    use proptest::prelude::*;

    #[test]
    fn hand_worked_two_frames() {
        // column 0: 1, 3 → mean 2, var 1; column 1: 10, 10 → mean 10, var 0 (floored)
        let mut f = Array2::from_shape_vec((2, 2), vec![1.0f32, 10.0, 3.0, 10.0]).unwrap();
        let s = CmvnStats::from_features(&f).unwrap();
        assert_eq!(s.mean(), vec![2.0, 10.0]);
        assert_eq!(s.variance()[0], 1.0);
        s.apply(&mut f, true).unwrap();
        assert_eq!(f.as_slice().unwrap(), &[-1.0, 0.0, 1.0, 0.0]);
    }

    #[test]
    fn merge_equals_accumulating_everything() {
        let mut rng = Rng::new(5);
        let a = Array2::from_shape_fn((7, 3), |_| rng.normal() as f32);
        let b = Array2::from_shape_fn((4, 3), |_| rng.normal() as f32);
        let mut s1 = CmvnStats::from_features(&a).unwrap();
        s1.merge(&CmvnStats::from_features(&b).unwrap()).unwrap();
        let mut s2 = CmvnStats::new(3);
        s2.accumulate(&a).unwrap();
        s2.accumulate(&b).unwrap();
        assert_eq!(s1, s2);
        let json = serde_json::to_string(&s1).unwrap();
        assert_eq!(serde_json::from_str::<CmvnStats>(&json).unwrap(), s1);
    }

    #[test]
    fn dimension_mismatch_is_an_error() {
        let s = CmvnStats::new(3);
        let mut f = Array2::<f32>::zeros((2, 4));
        assert!(s.apply(&mut f, false).is_err());
        assert!(CmvnStats::new(4).apply(&mut f, false).is_err()); // empty stats
    }

    proptest! {
        #[test]
        fn cmvn_output_has_zero_mean_and_unit_variance(
            rows in 2usize..40, seed in 0u64..1000, offset in -100.0f32..100.0
        ) {
            let mut rng = Rng::new(seed);
            let mut f = Array2::from_shape_fn((rows, 5), |(_, j)| {
                offset + (j as f32 + 1.0) * rng.normal() as f32
            });
            // Rounding to f32 leaves an error of about ε·max|x|/σ in each normalised
            // value (x − μ loses the digits of x that σ does not reach): the
            // tolerance scales with that ratio, per column.
            let before = CmvnStats::from_features(&f).unwrap();
            let ratio: Vec<f64> = f
                .columns()
                .into_iter()
                .zip(before.variance())
                .map(|(c, v)| {
                    let max = c.iter().fold(0.0f64, |a, &x| a.max(f64::from(x.abs())));
                    max / v.sqrt().max(1e-30)
                })
                .collect();
            apply_cmvn_utt(&mut f, true).unwrap();
            let s = CmvnStats::from_features(&f).unwrap();
            for ((m, v), r) in s.mean().iter().zip(s.variance()).zip(&ratio) {
                let tol = 1e-5 * (1.0 + r);
                prop_assert!(m.abs() < tol, "mean {} (max|x|/σ {})", m, r);
                prop_assert!(v < 1e-6 || (v - 1.0).abs() < 1e-3 + tol, "var {} (max|x|/σ {})", v, r);
            }
        }
    }
}
