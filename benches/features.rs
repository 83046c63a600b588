//! Feature extraction speed on 60 s of 16 kHz speech (the espeak-ng clips in
//! `audio/`, tiled), single thread. `cargo bench --bench features`.

use std::hint::black_box;
use std::path::Path;

use criterion::{Criterion, criterion_group, criterion_main};
use hark::audio::{Resampler, ResamplerConfig, Waveform, load_16k};
use hark::features::{FbankConfig, FeatureExtractor, MfccConfig};

/// 60 s of speech: the clips in `audio/` concatenated and repeated.
fn sixty_seconds() -> Waveform {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("audio");
    let mut clip = Vec::new();
    for name in [
        "go_forward_ten_meters.wav",
        "digits_3719.wav",
        "yes.wav",
        "stop.wav",
    ] {
        clip.extend(load_16k(&dir.join(name)).expect("audio/ clip").samples);
    }
    let samples = clip.iter().copied().cycle().take(60 * 16_000).collect();
    Waveform::new(samples, 16_000)
}

fn bench(c: &mut Criterion) {
    let wave = sixty_seconds();
    let mut fbank = FbankConfig::default().init().unwrap();
    let mut mfcc = MfccConfig::default().init().unwrap();
    let mut g = c.benchmark_group("features");
    g.sample_size(20);
    g.bench_function("fbank80 16k 60s", |b| {
        b.iter(|| fbank.compute(black_box(&wave)).unwrap())
    });
    g.bench_function("mfcc13 16k 60s", |b| {
        b.iter(|| mfcc.compute(black_box(&wave)).unwrap())
    });
    let x44: Vec<f32> = wave.samples[..10 * 16_000]
        .iter()
        .cycle()
        .take(10 * 44_100)
        .copied()
        .collect();
    let r = Resampler::new(44_100, 16_000, &ResamplerConfig::default()).unwrap();
    g.bench_function("resample 44.1k->16k 10s", |b| {
        b.iter(|| r.process(black_box(&x44)))
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
