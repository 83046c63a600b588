//! The scalar type of the networks: `f32` for training and inference, `f64` for
//! finite-difference gradient checks. Everything in [`crate::nn`] is generic over it.

use std::fmt::Debug;
use std::iter::Sum;
use std::ops::{AddAssign, DivAssign, MulAssign, SubAssign};

/// A floating-point scalar usable in the networks (`f32` or `f64`).
pub trait Float:
    num_traits::Float
    + AddAssign
    + SubAssign
    + MulAssign
    + DivAssign
    + Sum
    + Debug
    + Default
    + Send
    + Sync
    + 'static
{
    /// Converts from `f64` (rounding for `f32`).
    fn from_f64(x: f64) -> Self;
    /// Converts to `f64` (exact).
    fn to_f64(self) -> f64;
    /// Logistic sigmoid of every element, in place, without overflow.
    fn sigmoid_slice(xs: &mut [Self]);
    /// Hyperbolic tangent of every element, in place.
    fn tanh_slice(xs: &mut [Self]);
}

impl Float for f64 {
    fn from_f64(x: f64) -> Self {
        x
    }
    fn to_f64(self) -> f64 {
        self
    }
    fn sigmoid_slice(xs: &mut [f64]) {
        for x in xs {
            *x = sigmoid_f64(*x);
        }
    }
    fn tanh_slice(xs: &mut [f64]) {
        for x in xs {
            *x = x.tanh();
        }
    }
}

impl Float for f32 {
    fn from_f64(x: f64) -> Self {
        x as f32
    }
    fn to_f64(self) -> f64 {
        self as f64
    }
    fn sigmoid_slice(xs: &mut [f32]) {
        crate::nn::activation::sigmoid_f32_slice(xs)
    }
    fn tanh_slice(xs: &mut [f32]) {
        crate::nn::activation::tanh_f32_slice(xs)
    }
}

/// Stable logistic sigmoid in f64: never evaluates `exp` of a positive argument.
pub fn sigmoid_f64(x: f64) -> f64 {
    if x >= 0.0 {
        1.0 / (1.0 + (-x).exp())
    } else {
        let e = x.exp();
        e / (1.0 + e)
    }
}

/// IEEE half → single precision (exact: every f16 value is an f32 value).
pub fn f16_to_f32(h: u16) -> f32 {
    let sign = ((h & 0x8000) as u32) << 16;
    let exp = ((h >> 10) & 0x1f) as u32;
    let mant = (h & 0x3ff) as u32;
    match exp {
        // Zero and subnormals: mant · 2^-24.
        0 => {
            let v = mant as f32 * f32::from_bits(0x3380_0000); // 2^-24
            if sign != 0 { -v } else { v }
        }
        31 => f32::from_bits(sign | 0x7f80_0000 | (mant << 13)),
        _ => f32::from_bits(sign | ((exp + 112) << 23) | (mant << 13)),
    }
}

/// Single → half precision, rounded to nearest (ties to even); `None` for values that
/// are not finite or overflow f16 (|x| ≥ 65 520 rounds to infinity).
pub fn f32_to_f16(x: f32) -> Option<u16> {
    let bits = x.to_bits();
    let sign = ((bits >> 16) & 0x8000) as u16;
    let exp = ((bits >> 23) & 0xff) as i32;
    let mant = bits & 0x7f_ffff;
    if exp == 0xff {
        return None;
    }
    let round = |q: u32, rem: u32, half: u32| {
        if rem > half || (rem == half && q & 1 == 1) {
            q + 1
        } else {
            q
        }
    };
    let e = exp - 127 + 15;
    let q = if e <= 0 {
        // Subnormal in f16 (or zero): full significand · 2^(exp − 150) = q · 2^-24.
        if exp == 0 {
            return Some(sign); // f32 subnormals are far below f16's smallest step
        }
        let full = mant | 0x80_0000;
        let shift = (126 - exp) as u32; // ≥ 14
        if shift > 24 {
            0
        } else {
            round(full >> shift, full & ((1 << shift) - 1), 1 << (shift - 1))
        }
    } else {
        let q = round(((e as u32) << 10) | (mant >> 13), mant & 0x1fff, 0x1000);
        if q >= 0x7c00 {
            return None;
        }
        q
    };
    Some(sign | q as u16)
}
