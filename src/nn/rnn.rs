//! Elman RNN cell with tanh (PyTorch `nn.RNN`, `nonlinearity='tanh'`):
//! `h' = tanh(W_ih x + b_ih + W_hh h + b_hh)`.

use crate::nn::Float;
use crate::nn::recurrent::{Cell, Recurrent};

/// The Elman tanh cell arithmetic.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RnnCell;

/// A stacked, optionally bidirectional Elman RNN.
pub type Rnn<T> = Recurrent<T, RnnCell>;

impl Cell for RnnCell {
    const GATES: usize = 1;
    const HAS_CELL_STATE: bool = false;
    const CACHE: usize = 0;
    const SAME_PRE_GRAD: bool = true;
    const KIND: &'static str = "rnn";

    fn forward_row<T: Float>(
        hidden: usize,
        xp: &[T],
        hp: &[T],
        _h_prev: &[T],
        _c_prev: &[T],
        h_out: &mut [T],
        _c_out: &mut [T],
        _cache: &mut [T],
    ) {
        for j in 0..hidden {
            h_out[j] = xp[j] + hp[j];
        }
        T::tanh_slice(h_out);
    }

    fn backward_row<T: Float>(
        hidden: usize,
        _cache: &[T],
        _h_prev: &[T],
        _c_prev: &[T],
        h_cur: &[T],
        dh: &[T],
        _dc: &[T],
        dxp: &mut [T],
        _dhp: &mut [T],
        dh_prev_direct: &mut [T],
        _dc_prev: &mut [T],
    ) {
        for j in 0..hidden {
            dxp[j] = dh[j] * (T::one() - h_cur[j] * h_cur[j]);
            dh_prev_direct[j] = T::zero();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::nn::gradcheck::check_param_grads;
    use crate::nn::recurrent::RecurrentConfig;
    use crate::nn::{SeqBatch, init};
    use crate::rng::Rng;
    use ndarray::Array2;

    #[test]
    fn gradients_match_finite_differences() {
        for bidirectional in [false, true] {
            let config = RecurrentConfig {
                input_dim: 2,
                hidden_dim: 3,
                num_layers: 2,
                bidirectional,
            };
            let mut rng = Rng::new(8);
            let net = Rnn::<f64>::new(config, &mut rng).unwrap();
            let x = SeqBatch::new(init::uniform((8, 2), 1.0, &mut rng), vec![4, 3]).unwrap();
            let w: Array2<f64> = init::uniform((8, config.output_dim()), 1.0, &mut rng);
            let (_, cache) = net.forward_train(&x, 0.0, &mut rng).unwrap();
            let mut grads = net.zeros_like();
            net.backward(&cache, &w, &mut grads);
            check_param_grads(
                &net,
                &grads,
                |n| (n.forward(&x).unwrap().data() * &w).sum(),
                1e-6,
            );
        }
    }
}
