//! Parity of hark's recurrent layers with PyTorch (golden files in tests/data/nn/,
//! made by tests/data/nn/make_golden.py; see the README there).

use hark::am::io::TensorFile;
use hark::nn::{Cell, Params, Recurrent, RecurrentConfig, SeqBatch};
use hark::rng::Rng;
use ndarray::Array2;

use crate::util::repo_root;

fn tensor2(f: &TensorFile, name: &str, rows: usize, cols: usize) -> Array2<f32> {
    Array2::from_shape_vec((rows, cols), f.get(name, &[rows, cols]).unwrap()).unwrap()
}

fn check_case<C: Cell>(case: &str, input_dim: usize, hidden: usize, layers: usize, bi: bool) {
    let path = repo_root().join(format!("tests/data/nn/{case}.safetensors"));
    let f = TensorFile::open(&path).unwrap();
    let prefix = format!("{}.", C::KIND);
    let config = RecurrentConfig {
        input_dim,
        hidden_dim: hidden,
        num_layers: layers,
        bidirectional: bi,
    };
    let mut net = Recurrent::<f32, C>::new(config, &mut Rng::new(0)).unwrap();
    net.visit_mut(&mut |name, shape, v| {
        v.copy_from_slice(&f.get(&format!("{prefix}{name}"), shape).unwrap());
    });
    let n = (1..16)
        .find(|&n| f.get("lengths", &[n]).is_ok())
        .expect("lengths tensor");
    let lengths: Vec<usize> = f
        .get("lengths", &[n])
        .unwrap()
        .iter()
        .map(|&l| l as usize)
        .collect();
    let rows = lengths[0] * lengths.len();
    let out_dim = config.output_dim();
    let x = SeqBatch::new(tensor2(&f, "input", rows, input_dim), lengths).unwrap();
    let expected = tensor2(&f, "output", rows, out_dim);
    let y = net.forward(&x).unwrap();
    let err = (y.data() - &expected)
        .mapv(f32::abs)
        .fold(0.0f32, |a, &b| a.max(b));
    assert!(err < 1e-5, "{case}: output max abs diff {err}");

    // Gradients of sum(output * w).
    let w = tensor2(&f, "loss_weight", rows, out_dim);
    let (y2, cache) = net.forward_train(&x, 0.0, &mut Rng::new(0)).unwrap();
    // Training multiplies with `gemm`, inference with weights packed once: equal to
    // rounding.
    let diff = (y2.data() - y.data())
        .mapv(f32::abs)
        .fold(0.0f32, |a, &b| a.max(b));
    assert!(
        diff < 1e-6,
        "{case}: training and inference forward differ by {diff}"
    );
    let mut grads = net.zeros_like();
    let dx = net.backward(&cache, &w, &mut grads);
    let rel = |a: f32, b: f32| (a - b).abs() / 1f32.max(a.abs()).max(b.abs());
    let gx = tensor2(&f, "grad.input", rows, input_dim);
    for (b, &len) in x.lengths().iter().enumerate() {
        for t in 0..len {
            let r = x.row_index(t, b);
            for j in 0..input_dim {
                let e = rel(dx[[r, j]], gx[[r, j]]);
                assert!(
                    e < 1e-5,
                    "{case}: grad.input[{r},{j}] {} vs {} ",
                    dx[[r, j]],
                    gx[[r, j]]
                );
            }
        }
    }
    grads.visit(&mut |name, shape, g| {
        let reference = f.get(&format!("grad.{prefix}{name}"), shape).unwrap();
        let worst = g
            .iter()
            .zip(&reference)
            .map(|(&a, &b)| rel(a, b))
            .fold(0.0f32, f32::max);
        assert!(worst < 1e-5, "{case}: grad of {name} rel err {worst}");
    });
}

#[test]
fn lstm_matches_pytorch() {
    use hark::nn::LstmCell;
    check_case::<LstmCell>("lstm_uni_1layer", 5, 8, 1, false);
    check_case::<LstmCell>("lstm_bi_2layer", 5, 6, 2, true);
    check_case::<LstmCell>("lstm_uni_2layer", 4, 6, 2, false);
}

#[test]
fn gru_matches_pytorch() {
    use hark::nn::GruCell;
    check_case::<GruCell>("gru_uni_1layer", 5, 8, 1, false);
    check_case::<GruCell>("gru_bi_2layer", 5, 6, 2, true);
}

#[test]
fn rnn_matches_pytorch() {
    check_case::<hark::nn::RnnCell>("rnn_bi_1layer", 3, 4, 1, true);
}
