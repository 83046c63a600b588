//! GRU cell (PyTorch `nn.GRU` equations and gate order r, z, n):
//!
//! ```text
//! r = σ(W_ir x + b_ir + W_hr h + b_hr)      z = σ(W_iz x + b_iz + W_hz h + b_hz)
//! n = tanh(W_in x + b_in + r ⊙ (W_hn h + b_hn))
//! h' = (1 − z) ⊙ n + z ⊙ h
//! ```
//! Note `b_hn` sits inside the reset product, which is why the runner hands the cell
//! the input and hidden projections separately.

use crate::nn::Float;
use crate::nn::recurrent::{Cell, Recurrent};

/// The GRU cell arithmetic (see the module docs).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GruCell;

/// A stacked, optionally bidirectional GRU.
pub type Gru<T> = Recurrent<T, GruCell>;

impl Cell for GruCell {
    const GATES: usize = 3;
    const HAS_CELL_STATE: bool = false;
    // r, z, n activations and W_hn h + b_hn.
    const CACHE: usize = 4;
    const SAME_PRE_GRAD: bool = false;
    const KIND: &'static str = "gru";

    fn forward_row<T: Float>(
        hidden: usize,
        xp: &[T],
        hp: &[T],
        h_prev: &[T],
        _c_prev: &[T],
        h_out: &mut [T],
        _c_out: &mut [T],
        cache: &mut [T],
    ) {
        let (rz, rest) = cache.split_at_mut(2 * hidden);
        let (n, hn) = rest.split_at_mut(hidden);
        for j in 0..2 * hidden {
            rz[j] = xp[j] + hp[j];
        }
        T::sigmoid_slice(rz);
        let (r, z) = rz.split_at(hidden);
        hn.copy_from_slice(&hp[2 * hidden..3 * hidden]);
        for j in 0..hidden {
            n[j] = xp[2 * hidden + j] + r[j] * hn[j];
        }
        T::tanh_slice(n);
        for j in 0..hidden {
            h_out[j] = (T::one() - z[j]) * n[j] + z[j] * h_prev[j];
        }
    }

    fn backward_row<T: Float>(
        hidden: usize,
        cache: &[T],
        h_prev: &[T],
        _c_prev: &[T],
        _h_cur: &[T],
        dh: &[T],
        _dc: &[T],
        dxp: &mut [T],
        dhp: &mut [T],
        dh_prev_direct: &mut [T],
        _dc_prev: &mut [T],
    ) {
        let one = T::one();
        let (r, rest) = cache.split_at(hidden);
        let (z, rest) = rest.split_at(hidden);
        let (n, hn) = rest.split_at(hidden);
        for j in 0..hidden {
            let dn_pre = dh[j] * (one - z[j]) * (one - n[j] * n[j]);
            let dz_pre = dh[j] * (h_prev[j] - n[j]) * z[j] * (one - z[j]);
            let dr_pre = dn_pre * hn[j] * r[j] * (one - r[j]);
            dxp[j] = dr_pre;
            dxp[hidden + j] = dz_pre;
            dxp[2 * hidden + j] = dn_pre;
            dhp[j] = dr_pre;
            dhp[hidden + j] = dz_pre;
            dhp[2 * hidden + j] = dn_pre * r[j];
            dh_prev_direct[j] = dh[j] * z[j];
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
                input_dim: 3,
                hidden_dim: 4,
                num_layers: 2,
                bidirectional,
            };
            let mut rng = Rng::new(7);
            let net = Gru::<f64>::new(config, &mut rng).unwrap();
            let x = SeqBatch::new(init::uniform((15, 3), 1.0, &mut rng), vec![5, 4, 2]).unwrap();
            let w: Array2<f64> = init::uniform((15, config.output_dim()), 1.0, &mut rng);
            let (_, cache) = net.forward_train(&x, 0.0, &mut rng).unwrap();
            let mut grads = net.zeros_like();
            let dx = net.backward(&cache, &w, &mut grads);
            check_param_grads(
                &net,
                &grads,
                |n| (n.forward(&x).unwrap().data() * &w).sum(),
                1e-6,
            );
            // Input gradient at a real (unpadded) frame.
            let eps = 1e-5;
            let row = x.row_index(1, 2);
            let mut xp = x.data().clone();
            xp[[row, 1]] += eps;
            let mut xm = x.data().clone();
            xm[[row, 1]] -= eps;
            let f =
                |d: Array2<f64>| (net.forward(&x.with_data(d).unwrap()).unwrap().data() * &w).sum();
            let numeric = (f(xp) - f(xm)) / (2.0 * eps);
            assert!(
                (numeric - dx[[row, 1]]).abs() < 1e-7,
                "{numeric} vs {}",
                dx[[row, 1]]
            );
        }
    }

    #[test]
    fn one_unit_gru_matches_hand_computation() {
        use crate::nn::Params;
        let config = RecurrentConfig {
            input_dim: 1,
            hidden_dim: 1,
            num_layers: 1,
            bidirectional: false,
        };
        let mut net = Gru::<f64>::new(config, &mut Rng::new(0)).unwrap();
        // weight_ih = 0.5, weight_hh = -0.5, bias_ih = 0.1, bias_hh = 0.2 for all gates.
        net.visit_mut(&mut |name, _, v| {
            v.fill(match &name[..9] {
                "weight_ih" => 0.5,
                "weight_hh" => -0.5,
                "bias_ih_l" => 0.1,
                _ => 0.2,
            })
        });
        let x = SeqBatch::new(ndarray::arr2(&[[1.0], [-1.0]]), vec![2]).unwrap();
        let y = net.forward(&x).unwrap();
        let sig = |v: f64| 1.0 / (1.0 + (-v).exp());
        let step = |x: f64, h: f64| {
            let r = sig(0.5 * x + 0.1 - 0.5 * h + 0.2);
            let z = sig(0.5 * x + 0.1 - 0.5 * h + 0.2);
            let n = (0.5 * x + 0.1 + r * (-0.5 * h + 0.2)).tanh();
            (1.0 - z) * n + z * h
        };
        let h0 = step(1.0, 0.0);
        let h1 = step(-1.0, h0);
        assert!((y.data()[[0, 0]] - h0).abs() < 1e-15);
        assert!((y.data()[[1, 0]] - h1).abs() < 1e-15);
    }
}
