//! Fully connected layer `y = x·Wᵀ + b` (PyTorch `nn.Linear`).

use ndarray::{Array1, Array2, ArrayRef2, Axis};

use crate::nn::matmul::matmul;
use crate::nn::params::{Visit, VisitMut, visit_array, visit_array_mut};
use crate::nn::{Float, Params, init};
use crate::rng::Rng;

/// A linear layer. `weight: [out_dim, in_dim]`, `bias: [out_dim]` as in PyTorch.
#[derive(Debug, Clone, PartialEq)]
pub struct Linear<T> {
    /// `[out_dim, in_dim]`.
    pub weight: Array2<T>,
    /// `[out_dim]`.
    pub bias: Array1<T>,
}

impl<T: Float> Linear<T> {
    /// PyTorch-style initialisation: every value from `uniform(±1/sqrt(in_dim))`.
    pub fn new(in_dim: usize, out_dim: usize, rng: &mut Rng) -> Self {
        let bound = 1.0 / (in_dim.max(1) as f64).sqrt();
        let weight = init::uniform((out_dim, in_dim), bound, rng);
        let bias = init::uniform(out_dim, bound, rng);
        Linear { weight, bias }
    }

    /// All-zero layer of the same shape (a gradient buffer).
    pub fn zeros_like(&self) -> Self {
        Linear {
            weight: Array2::zeros(self.weight.raw_dim()),
            bias: Array1::zeros(self.bias.raw_dim()),
        }
    }

    /// Input dimension.
    pub fn in_dim(&self) -> usize {
        self.weight.ncols()
    }

    /// Output dimension.
    pub fn out_dim(&self) -> usize {
        self.weight.nrows()
    }

    /// `[rows, in_dim]` → `[rows, out_dim]`.
    ///
    /// # Panics
    /// When `x` has the wrong number of columns (callers check input dimensions once,
    /// at the model boundary).
    pub fn forward(&self, x: &ArrayRef2<T>) -> Array2<T> {
        let mut y = Array2::zeros((x.nrows(), self.out_dim()));
        for mut row in y.rows_mut() {
            row.assign(&self.bias);
        }
        matmul(
            T::one(),
            &mut y.view_mut(),
            T::one(),
            &x.view(),
            &self.weight.t(),
        );
        y
    }

    /// Accumulates `dW += dyᵀ·x`, `db += Σ dy` into `grads` and returns `dx = dy·W`.
    pub fn backward(&self, x: &ArrayRef2<T>, dy: &ArrayRef2<T>, grads: &mut Self) -> Array2<T> {
        matmul(
            T::one(),
            &mut grads.weight.view_mut(),
            T::one(),
            &dy.t(),
            &x.view(),
        );
        grads.bias += &dy.sum_axis(Axis(0));
        let mut dx = Array2::zeros((x.nrows(), self.in_dim()));
        matmul(
            T::zero(),
            &mut dx.view_mut(),
            T::one(),
            &dy.view(),
            &self.weight.view(),
        );
        dx
    }
}

impl<T: Float> Params<T> for Linear<T> {
    fn visit(&self, f: &mut Visit<'_, T>) {
        visit_array("", "weight", &self.weight, f);
        visit_array("", "bias", &self.bias, f);
    }
    fn visit_mut(&mut self, f: &mut VisitMut<'_, T>) {
        visit_array_mut("", "weight", &mut self.weight, f);
        visit_array_mut("", "bias", &mut self.bias, f);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::nn::gradcheck::{check_input_grad, check_param_grads};

    #[test]
    fn forward_matches_hand_computation() {
        let lin = Linear {
            weight: ndarray::arr2(&[[1.0f64, 2.0], [0.5, -1.0], [0.0, 3.0]]),
            bias: ndarray::arr1(&[0.1, 0.2, 0.3]),
        };
        let y = lin.forward(&ndarray::arr2(&[[1.0, -1.0]]));
        // [1-2+0.1, 0.5+1+0.2, -3+0.3]
        assert_eq!(y, ndarray::arr2(&[[-0.9, 1.7, -2.7]]));
    }

    #[test]
    fn gradients_match_finite_differences() {
        let mut rng = Rng::new(1);
        let lin = Linear::<f64>::new(5, 3, &mut rng);
        let x: Array2<f64> = init::uniform((4, 5), 1.0, &mut rng);
        let w: Array2<f64> = init::uniform((4, 3), 1.0, &mut rng);
        // Loss = Σ w ⊙ y, so dL/dy = w.
        let loss = |l: &Linear<f64>, x: &Array2<f64>| (&l.forward(x) * &w).sum();
        let mut g = lin.zeros_like();
        let dx = lin.backward(&x, &w, &mut g);
        check_param_grads(&lin, &g, |l| loss(l, &x), 1e-6);
        check_input_grad(&x, &dx, |x| loss(&lin, x), 1e-6);
    }
}
