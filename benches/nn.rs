//! Recurrent-network throughput at the acoustic model's real shapes, single thread.
//!
//! `cargo bench --bench nn`; PyTorch at the same shapes: `benches/compare_nn.py`.
//!
//! Times are the benchmark thread's on-CPU time (`/proc/thread-self/schedstat`,
//! wall clock where that file is missing): the development machine has 2 cores shared
//! by several builds, and wall-clock throughput there measures the neighbours. The
//! PyTorch script measures `time.thread_time()` the same way.

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use hark::nn::float::{f16_to_f32, f32_to_f16};
use hark::nn::{Linear, Lstm, Params, RecurrentConfig, SeqBatch, init, loss};
use hark::rng::Rng;
use ndarray::Array2;
use std::time::{Duration, Instant};

/// On-CPU time of the calling thread, if the kernel reports it.
fn thread_cpu_time() -> Option<Duration> {
    let text = std::fs::read_to_string("/proc/thread-self/schedstat").ok()?;
    let ns: u64 = text.split_whitespace().next()?.parse().ok()?;
    Some(Duration::from_nanos(ns))
}

/// Runs `f` `iters` times and returns its on-CPU (or wall) time.
fn timed<R>(iters: u64, mut f: impl FnMut() -> R) -> Duration {
    let (cpu0, wall0) = (thread_cpu_time(), Instant::now());
    for _ in 0..iters {
        std::hint::black_box(f());
    }
    match (cpu0, thread_cpu_time()) {
        (Some(a), Some(b)) => b - a,
        _ => wall0.elapsed(),
    }
}

const FEAT_DIM: usize = 80; // fbank 80
const INFER_FRAMES: usize = 1000; // 10 s utterance, batch 1
const TRAIN_BATCH: usize = 16;
const TRAIN_FRAMES: usize = 200; // frames per training utterance

fn lstm(hidden: usize, layers: usize, bidirectional: bool) -> Lstm<f32> {
    let cfg = RecurrentConfig {
        input_dim: FEAT_DIM,
        hidden_dim: hidden,
        num_layers: layers,
        bidirectional,
    };
    Lstm::new(cfg, &mut Rng::new(1)).expect("valid config")
}

fn inference(c: &mut Criterion) {
    let mut g = c.benchmark_group("lstm_inference_batch1_1000frames");
    g.throughput(Throughput::Elements(INFER_FRAMES as u64));
    g.sample_size(10);
    let x: Array2<f32> = init::uniform((INFER_FRAMES, FEAT_DIM), 1.0, &mut Rng::new(2));
    let batch = SeqBatch::new(x, vec![INFER_FRAMES]).expect("shape");
    for (name, layers, bi) in [
        ("uni_2x256", 2, false),
        ("bi_2x256", 2, true),
        ("bi_3x256", 3, true),
    ] {
        let net = lstm(256, layers, bi);
        g.bench_function(name, |b| {
            b.iter_custom(|n| timed(n, || net.forward(&batch).expect("forward")))
        });
    }
    // The same network with weights rounded to half floats, as loaded from an f16
    // model file: the recurrent products then read half-float panels (same results).
    for (name, layers, bi) in [("uni_2x256_f16", 2, false), ("bi_3x256_f16", 3, true)] {
        let mut net = lstm(256, layers, bi);
        net.visit_mut(&mut |_, _, v| {
            v.iter_mut().for_each(|x| {
                *x = f16_to_f32(f32_to_f16(*x).expect("small weight"));
            })
        });
        g.bench_function(name, |b| {
            b.iter_custom(|n| timed(n, || net.forward(&batch).expect("forward")))
        });
    }
    g.finish();
}

fn training(c: &mut Criterion) {
    let mut g = c.benchmark_group("lstm_ctc_train_step_batch16_200frames");
    g.throughput(Throughput::Elements((TRAIN_BATCH * TRAIN_FRAMES) as u64));
    g.sample_size(10);
    let rows = TRAIN_BATCH * TRAIN_FRAMES;
    let x: Array2<f32> = init::uniform((rows, FEAT_DIM), 1.0, &mut Rng::new(3));
    let batch = SeqBatch::new(x, vec![TRAIN_FRAMES; TRAIN_BATCH]).expect("shape");
    let targets: Vec<Vec<usize>> = (0..TRAIN_BATCH)
        .map(|b| (0..40).map(|i| 1 + (i * 7 + b) % 40).collect())
        .collect();
    for (name, hidden, layers, bi) in [
        ("uni_2x256", 256, 2, false),
        ("bi_3x256", 256, 3, true),
        ("bi_3x320", 320, 3, true),
    ] {
        let net = lstm(hidden, layers, bi);
        let out = Linear::<f32>::new(net.config().output_dim(), 41, &mut Rng::new(4));
        let mut rng = Rng::new(5);
        g.bench_function(name, |b| {
            b.iter_custom(|n| {
                timed(n, || {
                    let (h, cache) = net.forward_train(&batch, 0.0, &mut rng).expect("forward");
                    let logits = batch.with_data(out.forward(h.data())).expect("shape");
                    let (_, dlogits) = loss::ctc_loss_batch(&logits, &targets).expect("ctc");
                    let mut gout = out.zeros_like();
                    let dh = out.backward(h.data(), &dlogits, &mut gout);
                    let mut grads = net.zeros_like();
                    net.backward(&cache, &dh, &mut grads)
                })
            })
        });
    }
    g.finish();
}

criterion_group!(benches, inference, training);
criterion_main!(benches);
