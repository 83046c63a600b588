//! LSTM cell (PyTorch `nn.LSTM` equations and gate order i, f, g, o):
//!
//! ```text
//! i = σ(W_ii x + b_ii + W_hi h + b_hi)      f = σ(W_if x + b_if + W_hf h + b_hf)
//! g = tanh(W_ig x + b_ig + W_hg h + b_hg)   o = σ(W_io x + b_io + W_ho h + b_ho)
//! c' = f ⊙ c + i ⊙ g                        h' = o ⊙ tanh(c')
//! ```

use crate::nn::Float;
use crate::nn::recurrent::{Cell, Recurrent};

/// The LSTM cell arithmetic (see the module docs).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LstmCell;

/// A stacked, optionally bidirectional LSTM.
pub type Lstm<T> = Recurrent<T, LstmCell>;

impl Cell for LstmCell {
    const GATES: usize = 4;
    const HAS_CELL_STATE: bool = true;
    // i, f, g, o activations and tanh(c').
    const CACHE: usize = 5;
    const SAME_PRE_GRAD: bool = true;
    const KIND: &'static str = "lstm";

    fn forward_row<T: Float>(
        hidden: usize,
        xp: &[T],
        hp: &[T],
        _h_prev: &[T],
        c_prev: &[T],
        h_out: &mut [T],
        c_out: &mut [T],
        cache: &mut [T],
    ) {
        let (gates, tc) = cache.split_at_mut(4 * hidden);
        for ((g, &a), &b) in gates.iter_mut().zip(xp).zip(hp) {
            *g = a + b;
        }
        let (ifg, o) = gates.split_at_mut(3 * hidden);
        let (if_, g) = ifg.split_at_mut(2 * hidden);
        T::sigmoid_slice(if_);
        T::tanh_slice(g);
        T::sigmoid_slice(o);
        let (i, f) = if_.split_at(hidden);
        for j in 0..hidden {
            c_out[j] = f[j] * c_prev[j] + i[j] * g[j];
        }
        tc.copy_from_slice(c_out);
        T::tanh_slice(tc);
        for j in 0..hidden {
            h_out[j] = o[j] * tc[j];
        }
    }

    fn backward_row<T: Float>(
        hidden: usize,
        cache: &[T],
        _h_prev: &[T],
        c_prev: &[T],
        _h_cur: &[T],
        dh: &[T],
        dc: &[T],
        dxp: &mut [T],
        _dhp: &mut [T],
        dh_prev_direct: &mut [T],
        dc_prev: &mut [T],
    ) {
        let one = T::one();
        let (i, rest) = cache.split_at(hidden);
        let (f, rest) = rest.split_at(hidden);
        let (g, rest) = rest.split_at(hidden);
        let (o, tc) = rest.split_at(hidden);
        let (di, rest) = dxp.split_at_mut(hidden);
        let (df, rest) = rest.split_at_mut(hidden);
        let (dg, d_o) = rest.split_at_mut(hidden);
        for j in 0..hidden {
            let dct = dc[j] + dh[j] * o[j] * (one - tc[j] * tc[j]);
            di[j] = dct * g[j] * i[j] * (one - i[j]);
            df[j] = dct * c_prev[j] * f[j] * (one - f[j]);
            dg[j] = dct * i[j] * (one - g[j] * g[j]);
            d_o[j] = dh[j] * tc[j] * o[j] * (one - o[j]);
            dc_prev[j] = dct * f[j];
            dh_prev_direct[j] = T::zero();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::nn::gradcheck::{check_input_grad, check_param_grads};
    use crate::nn::recurrent::RecurrentConfig;
    use crate::nn::{Params, SeqBatch, init};
    use crate::rng::Rng;
    use ndarray::{Array2, arr2};

    fn toy_batch<T: crate::nn::Float>(rng: &mut Rng, lengths: &[usize], dim: usize) -> SeqBatch<T> {
        let rows = lengths[0] * lengths.len();
        SeqBatch::new(init::uniform((rows, dim), 1.0, rng), lengths.to_vec()).unwrap()
    }

    /// Weighted-sum loss so every output element gets a distinct gradient.
    fn check_stack(config: RecurrentConfig, lengths: &[usize]) {
        let mut rng = Rng::new(42);
        let net = Lstm::<f64>::new(config, &mut rng).unwrap();
        let x = toy_batch(&mut rng, lengths, config.input_dim);
        let w: Array2<f64> = init::uniform((x.data().nrows(), config.output_dim()), 1.0, &mut rng);
        let loss = |n: &Lstm<f64>, xd: &Array2<f64>| {
            let xb = x.with_data(xd.clone()).unwrap();
            (n.forward(&xb).unwrap().data() * &w).sum()
        };
        let (y, cache) = net.forward_train(&x, 0.0, &mut rng).unwrap();
        // Training and inference forward agree (to rounding: inference multiplies
        // with weights packed once per model, training with `gemm`).
        let inf = net.forward(&x).unwrap();
        assert_eq!(y.lengths(), inf.lengths());
        let diff = (y.data() - inf.data())
            .mapv(f64::abs)
            .fold(0.0, |m: f64, &v| m.max(v));
        assert!(
            diff < 1e-12,
            "training and inference forward differ by {diff}"
        );
        let mut grads = net.zeros_like();
        let dx = net.backward(&cache, &w, &mut grads);
        check_param_grads(&net, &grads, |n| loss(n, x.data()), 1e-6);
        // Gradients reaching padding rows are meaningless; zero them in the check by
        // comparing only through the padded-input loss (padding rows get zeroed by
        // SeqBatch, so their numeric gradient is 0 and so must be ours).
        let mut dx_masked = dx.clone();
        for (b, &len) in x.lengths().iter().enumerate() {
            for t in len..x.max_len() {
                dx_masked.row_mut(x.row_index(t, b)).fill(0.0);
            }
        }
        check_input_grad(x.data(), &dx_masked, |xd| loss(&net, xd), 1e-6);
    }

    #[test]
    fn packed_inference_weights_follow_weight_changes() {
        // Inference packs the weights once; changing them (here through
        // `visit_mut`, as loading and optimiser steps do) must drop that copy.
        let config = RecurrentConfig {
            input_dim: 3,
            hidden_dim: 5,
            num_layers: 2,
            bidirectional: true,
        };
        let mut rng = Rng::new(3);
        let mut net = Lstm::<f32>::new(config, &mut rng).unwrap();
        let x = toy_batch::<f32>(&mut rng, &[6, 4], 3);
        let before = net.forward(&x).unwrap();
        net.visit_mut(&mut |_, _, v| v.iter_mut().for_each(|w| *w *= 0.5));
        let after = net.forward(&x).unwrap();
        assert_ne!(before, after);
        // A fresh copy of the changed weights (nothing packed yet) agrees exactly,
        // and so does a clone made after packing.
        let mut fresh = Lstm::<f32>::new(config, &mut Rng::new(99)).unwrap();
        let mut weights = Vec::new();
        net.visit(&mut |_, _, v| weights.push(v.to_vec()));
        let mut i = 0;
        fresh.visit_mut(&mut |_, _, v| {
            v.copy_from_slice(&weights[i]);
            i += 1;
        });
        assert_eq!(fresh.forward(&x).unwrap(), after);
        assert_eq!(net.clone().forward(&x).unwrap(), after);
    }

    #[test]
    fn unidirectional_gradients_match_finite_differences() {
        let config = RecurrentConfig {
            input_dim: 3,
            hidden_dim: 4,
            num_layers: 1,
            bidirectional: false,
        };
        check_stack(config, &[5, 3, 2]);
    }

    #[test]
    fn bidirectional_stacked_gradients_match_finite_differences() {
        let config = RecurrentConfig {
            input_dim: 3,
            hidden_dim: 3,
            num_layers: 2,
            bidirectional: true,
        };
        check_stack(config, &[4, 4, 1]);
    }

    #[test]
    fn stacked_unidirectional_gradients_match_finite_differences() {
        let config = RecurrentConfig {
            input_dim: 2,
            hidden_dim: 3,
            num_layers: 3,
            bidirectional: false,
        };
        check_stack(config, &[6, 2]);
    }

    #[test]
    fn one_unit_lstm_matches_hand_computation() {
        // All weights 0.5, biases 0 (bias_ih) and 0.1 (bias_hh), x = [1, 2].
        let config = RecurrentConfig {
            input_dim: 1,
            hidden_dim: 1,
            num_layers: 1,
            bidirectional: false,
        };
        let mut net = Lstm::<f64>::new(config, &mut Rng::new(0)).unwrap();
        net.visit_mut(&mut |name, _, v| {
            let val = if name.starts_with("weight") {
                0.5
            } else if name.starts_with("bias_hh") {
                0.1
            } else {
                0.0
            };
            v.fill(val);
        });
        let x = SeqBatch::new(arr2(&[[1.0], [2.0]]), vec![2]).unwrap();
        let y = net.forward(&x).unwrap();
        let sig = |v: f64| 1.0 / (1.0 + (-v).exp());
        // t=0: pre = 0.5*1 + 0.1 = 0.6 for all gates.
        let (i0, g0) = (sig(0.6), 0.6f64.tanh());
        let c0 = i0 * g0;
        let h0 = sig(0.6) * c0.tanh();
        // t=1: pre = 0.5*2 + 0.5*h0 + 0.1.
        let pre = 1.0 + 0.5 * h0 + 0.1;
        let c1 = sig(pre) * c0 + sig(pre) * pre.tanh();
        let h1 = sig(pre) * c1.tanh();
        assert!((y.data()[[0, 0]] - h0).abs() < 1e-15);
        assert!((y.data()[[1, 0]] - h1).abs() < 1e-15);
    }

    #[test]
    fn padded_sequences_match_their_unpadded_runs() {
        let config = RecurrentConfig {
            input_dim: 3,
            hidden_dim: 5,
            num_layers: 2,
            bidirectional: true,
        };
        let mut rng = Rng::new(9);
        let net = Lstm::<f64>::new(config, &mut rng).unwrap();
        let x = toy_batch(&mut rng, &[6, 4, 1], 3);
        let y = net.forward(&x).unwrap();
        for b in 0..3 {
            let alone = SeqBatch::new(x.sequence(b), vec![x.lengths()[b]]).unwrap();
            let ya = net.forward(&alone).unwrap();
            let diff = (&y.sequence(b) - ya.data()).mapv(f64::abs).sum();
            assert!(diff < 1e-12, "sequence {b}: {diff}");
        }
    }

    #[test]
    fn streaming_in_chunks_equals_whole_sequence() {
        let config = RecurrentConfig {
            input_dim: 4,
            hidden_dim: 6,
            num_layers: 2,
            bidirectional: false,
        };
        let mut rng = Rng::new(3);
        let net = Lstm::<f32>::new(config, &mut rng).unwrap();
        let x: Array2<f32> = init::uniform((23, 4), 1.0, &mut rng);
        let whole = net
            .forward(&SeqBatch::new(x.clone(), vec![23]).unwrap())
            .unwrap();
        for chunk in [1, 5, 7, 23] {
            let mut state = net.stream_state();
            let mut parts = Vec::new();
            let mut t = 0;
            while t < 23 {
                let end = (t + chunk).min(23);
                parts.push(
                    net.forward_stream(&x.slice(ndarray::s![t..end, ..]).to_owned(), &mut state)
                        .unwrap(),
                );
                t = end;
            }
            let views: Vec<_> = parts.iter().map(|p| p.view()).collect();
            let streamed = ndarray::concatenate(ndarray::Axis(0), &views).unwrap();
            // gemm may sum in another order for another row count, so allow f32 rounding.
            let diff = (&streamed - whole.data())
                .mapv(f32::abs)
                .fold(0.0f32, |a, &b| a.max(b));
            assert!(diff < 1e-6, "chunk {chunk}: max diff {diff}");
        }
        let bi = Lstm::<f32>::new(
            RecurrentConfig {
                bidirectional: true,
                ..config
            },
            &mut rng,
        )
        .unwrap();
        let mut st = bi.stream_state();
        assert!(bi.forward_stream(&x, &mut st).is_err());
    }

    #[test]
    fn parameter_names_and_shapes_follow_pytorch() {
        let config = RecurrentConfig {
            input_dim: 80,
            hidden_dim: 16,
            num_layers: 2,
            bidirectional: true,
        };
        let net = Lstm::<f32>::new(config, &mut Rng::new(1)).unwrap();
        let mut seen = Vec::new();
        net.visit(&mut |name, shape, _| seen.push(format!("{name}:{shape:?}")));
        assert_eq!(
            seen[..5],
            [
                "weight_ih_l0:[64, 80]",
                "weight_hh_l0:[64, 16]",
                "bias_ih_l0:[64]",
                "bias_hh_l0:[64]",
                "weight_ih_l0_reverse:[64, 80]"
            ]
        );
        assert_eq!(seen[8], "weight_ih_l1:[64, 32]");
        assert_eq!(seen.len(), 16);
    }
}
