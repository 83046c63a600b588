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
