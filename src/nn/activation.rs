//! Numerically stable activations and the row-wise log-softmax.
//!
//! The f32 sigmoid and tanh use a branch-free `exp` (Cody–Waite range reduction and a
//! degree-7 Taylor polynomial on |r| ≤ ln2/2, relative error ≈ 1e-7) that the compiler
//! vectorises; `f32::exp` is a libm call per element and would cost as much as the
//! recurrent matrix product at batch 1. Arguments are clamped so nothing overflows.

use ndarray::{Array2, ArrayRef2};

use crate::nn::Float;

/// `exp(x)` for f32 without calls or branches; clamps `x` to [-87, 88].
#[inline(always)]
pub fn exp_f32(x: f32) -> f32 {
    const LOG2E: f32 = std::f32::consts::LOG2_E;
    const LN2_HI: f32 = 0.693_359_4; // ln 2 split so n·LN2_HI is exact
    const LN2_LO: f32 = -2.121_944_4e-4;
    const SHIFT: f32 = 12_582_912.0; // 1.5·2^23: adding it rounds to an integer
    let x = x.clamp(-87.0, 88.0);
    let t = x * LOG2E + SHIFT;
    let n = t - SHIFT;
    let ni = (t.to_bits() as i32).wrapping_sub(0x4B40_0000);
    let r = (x - n * LN2_HI) - n * LN2_LO;
    let p = 1.0
        + r * (1.0
            + r * (0.5
                + r * (1.0 / 6.0
                    + r * (1.0 / 24.0
                        + r * (1.0 / 120.0 + r * (1.0 / 720.0 + r * (1.0 / 5040.0)))))));
    p * f32::from_bits(((ni + 127) as u32) << 23)
}

/// Logistic sigmoid of one f32.
#[inline(always)]
pub fn sigmoid_f32(x: f32) -> f32 {
    1.0 / (1.0 + exp_f32(-x))
}

/// tanh of one f32, computed from `exp(-2|x|)` so it never overflows.
#[inline(always)]
pub fn tanh_f32(x: f32) -> f32 {
    let e = exp_f32(-2.0 * x.abs());
    ((1.0 - e) / (1.0 + e)).copysign(x)
}

/// In-place sigmoid over a slice (vectorised).
pub fn sigmoid_f32_slice(xs: &mut [f32]) {
    for x in xs {
        *x = sigmoid_f32(*x);
    }
}

/// In-place tanh over a slice (vectorised).
pub fn tanh_f32_slice(xs: &mut [f32]) {
    for x in xs {
        *x = tanh_f32(*x);
    }
}

/// Row-wise log-softmax of `[rows, classes]` logits; the normaliser is accumulated in f64.
pub fn log_softmax<T: Float>(logits: &ArrayRef2<T>) -> Array2<T> {
    let mut out = logits.to_owned();
    log_softmax_inplace(&mut out);
    out
}

/// In-place row-wise log-softmax.
pub fn log_softmax_inplace<T: Float>(x: &mut ArrayRef2<T>) {
    for mut row in x.rows_mut() {
        let max = row.iter().fold(T::neg_infinity(), |m, &v| m.max(v));
        if !max.is_finite() {
            // All -inf (or contains +inf/NaN): leave a defined, non-finite result.
            row.fill(T::nan());
            continue;
        }
        let sum: f64 = row.iter().map(|&v| (v - max).to_f64().exp()).sum();
        let log_norm = max + T::from_f64(sum.ln());
        row.mapv_inplace(|v| v - log_norm);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fast_exp_sigmoid_tanh_match_std_within_f32_rounding() {
        let mut worst = (0.0f64, 0.0f64, 0.0f64);
        let mut x = -30.0f32;
        while x < 30.0 {
            let e = exp_f32(x) as f64;
            let e_ref = (x as f64).exp();
            worst.0 = worst.0.max((e - e_ref).abs() / e_ref);
            worst.1 = worst
                .1
                .max((sigmoid_f32(x) as f64 - crate::nn::float::sigmoid_f64(x as f64)).abs());
            worst.2 = worst.2.max((tanh_f32(x) as f64 - (x as f64).tanh()).abs());
            x += 0.001_3;
        }
        // Relative exp error of a few f32 ulps; absolute errors well under the 1e-5
        // tolerance used against PyTorch.
        assert!(worst.0 < 1e-6, "exp rel err {}", worst.0);
        assert!(worst.1 < 2e-7, "sigmoid abs err {}", worst.1);
        assert!(worst.2 < 3e-7, "tanh abs err {}", worst.2);
    }

    #[test]
    fn activations_saturate_without_nan() {
        for &x in &[-1e30f32, -200.0, -88.5, 88.5, 200.0, 1e30] {
            let s = sigmoid_f32(x);
            let t = tanh_f32(x);
            assert!(s.is_finite() && (0.0..=1.0).contains(&s), "{x}: {s}");
            assert!((t.abs() - 1.0).abs() < 1e-6, "{x}: {t}");
        }
        assert_eq!(tanh_f32(0.0), 0.0);
        assert!((sigmoid_f32(0.0) - 0.5).abs() < 1e-7);
    }

    #[test]
    fn log_softmax_rows_normalise_even_for_huge_logits() {
        let x = ndarray::arr2(&[[1000.0f64, 1001.0, 999.0], [-5.0, 0.0, 3.0]]);
        let y = log_softmax(&x);
        for row in y.rows() {
            let total: f64 = row.iter().map(|v| v.exp()).sum();
            assert!((total - 1.0).abs() < 1e-12);
        }
        // Hand value: log_softmax([0, 1, -1])[1] = 1 - ln(1 + e + e^-1).
        let expected = 1.0 - (1.0 + 1f64.exp() + (-1f64).exp()).ln();
        assert!((y[[0, 1]] - expected).abs() < 1e-12);
    }
}
