//! Named parameter tensors: the one interface that optimisers, clipping, gradient
//! accumulation and safetensors I/O use to reach a network's weights.

use crate::nn::Float;

/// Callback receiving `(name, shape, values)` of one tensor.
pub type Visit<'a, T> = dyn FnMut(&str, &[usize], &[T]) + 'a;
/// Callback receiving `(name, shape, values)` of one tensor, mutably.
pub type VisitMut<'a, T> = dyn FnMut(&str, &[usize], &mut [T]) + 'a;

/// A set of named tensors (weights, or gradients with the same layout).
///
/// Names and shapes follow PyTorch (`weight_ih_l0`, `[4*hidden, input]`, ...).
/// `visit` and `visit_mut` must visit the same tensors in the same order; every
/// tensor is a contiguous row-major slice.
pub trait Params<T: Float> {
    /// Calls `f(name, shape, values)` for every tensor, in a fixed order.
    fn visit(&self, f: &mut Visit<'_, T>);
    /// Calls `f(name, shape, values)` for every tensor, mutably, in the same order.
    fn visit_mut(&mut self, f: &mut VisitMut<'_, T>);

    /// Total number of scalars.
    fn num_params(&self) -> usize {
        let mut n = 0;
        self.visit(&mut |_, _, v| n += v.len());
        n
    }

    /// Sets every value to zero (e.g. a gradient buffer before accumulation).
    fn zero(&mut self) {
        self.visit_mut(&mut |_, _, v| v.fill(T::zero()));
    }

    /// `self += other` tensor by tensor (gradient reduction).
    ///
    /// # Panics
    /// When `other` has a different layout (a programming error: both come from the
    /// same architecture).
    fn add_assign_params(&mut self, other: &dyn ParamsRef<T>) {
        let mut flat: Vec<Vec<T>> = Vec::new();
        other.visit_ref(&mut |_, _, v| flat.push(v.to_vec()));
        let mut i = 0;
        self.visit_mut(&mut |name, _, v| {
            let src = &flat[i];
            assert_eq!(src.len(), v.len(), "add_assign_params: layout of {name}");
            for (d, s) in v.iter_mut().zip(src) {
                *d += *s;
            }
            i += 1;
        });
        assert_eq!(i, flat.len(), "add_assign_params: tensor count");
    }

    /// Multiplies every value by `k`.
    fn scale(&mut self, k: T) {
        self.visit_mut(&mut |_, _, v| v.iter_mut().for_each(|x| *x *= k));
    }

    /// Global L2 norm over all tensors, accumulated in f64.
    fn l2_norm(&self) -> f64 {
        let mut sum = 0.0f64;
        self.visit(&mut |_, _, v| {
            sum += v.iter().map(|&x| x.to_f64() * x.to_f64()).sum::<f64>();
        });
        sum.sqrt()
    }

    /// Whether any value is NaN or infinite; returns the first such tensor's name.
    fn first_non_finite(&self) -> Option<String> {
        let mut bad = None;
        self.visit(&mut |name, _, v| {
            if bad.is_none() && v.iter().any(|x| !x.is_finite()) {
                bad = Some(name.to_string());
            }
        });
        bad
    }
}

/// Object-safe read-only view of [`Params`] (used by [`Params::add_assign_params`]).
pub trait ParamsRef<T: Float> {
    /// Same as [`Params::visit`].
    fn visit_ref(&self, f: &mut Visit<'_, T>);
}

impl<T: Float, P: Params<T>> ParamsRef<T> for P {
    fn visit_ref(&self, f: &mut Visit<'_, T>) {
        self.visit(f)
    }
}

/// Visits an owned ndarray (always standard layout in hark's layers) as a tensor.
pub(crate) fn visit_array<T: Float, D: ndarray::Dimension>(
    prefix: &str,
    name: &str,
    a: &ndarray::Array<T, D>,
    f: &mut Visit<'_, T>,
) {
    let full = format!("{prefix}{name}");
    f(
        &full,
        a.shape(),
        a.as_slice()
            .expect("invariant: parameters are owned, standard-layout arrays"),
    );
}

/// Mutable twin of [`visit_array`].
pub(crate) fn visit_array_mut<T: Float, D: ndarray::Dimension>(
    prefix: &str,
    name: &str,
    a: &mut ndarray::Array<T, D>,
    f: &mut VisitMut<'_, T>,
) {
    let full = format!("{prefix}{name}");
    let shape = a.shape().to_vec();
    f(
        &full,
        &shape,
        a.as_slice_mut()
            .expect("invariant: parameters are owned, standard-layout arrays"),
    );
}
