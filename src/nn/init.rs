//! Seeded initialisation, PyTorch-style.

use ndarray::{Array, Dimension, ShapeBuilder};

use crate::nn::Float;
use crate::rng::Rng;

/// An array of the given shape filled from `uniform(-bound, bound)`, in row-major
/// order, drawing from `rng`. PyTorch initialises `nn.LSTM`, `nn.GRU`, `nn.RNN` with
/// `bound = 1/sqrt(hidden)` and `nn.Linear` (weight and bias) with `1/sqrt(fan_in)`.
pub fn uniform<T: Float, Sh: ShapeBuilder>(
    shape: Sh,
    bound: f64,
    rng: &mut Rng,
) -> Array<T, Sh::Dim>
where
    Sh::Dim: Dimension,
{
    Array::from_shape_simple_fn(shape, || T::from_f64(rng.uniform_range(-bound, bound)))
}
