//! Times hark's fbank (80 bins) and MFCC (13 cepstra) in-process on 60 s of 16 kHz
//! audio, one thread, and prints CPU seconds per minute of audio as JSON lines.
//! `benches/compare_features.py` runs this next to the Python peers.
//!
//! `cargo run --release --example features_speed -- [WAV] [--repeats N]`
//! (default WAV: the clips in `audio/`, tiled to 60 s; a given WAV is tiled or cut to 60 s).

use std::path::{Path, PathBuf};

use hark::audio::{Waveform, load_16k};
use hark::features::{FbankConfig, FeatureExtractor, MfccConfig};

/// CPU time of this thread in seconds (Linux `/proc/thread-self/schedstat`);
/// falls back to wall-clock time elsewhere.
fn thread_cpu_secs(start: std::time::Instant) -> f64 {
    std::fs::read_to_string("/proc/thread-self/schedstat")
        .ok()
        .and_then(|s| s.split_whitespace().next()?.parse::<f64>().ok())
        .map_or_else(|| start.elapsed().as_secs_f64(), |ns| ns * 1e-9)
}

fn sixty_seconds(wav: Option<&Path>) -> Waveform {
    let clip: Vec<f32> = match wav {
        Some(p) => load_16k(p).expect("reading the WAV").samples,
        None => {
            let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("audio");
            [
                "go_forward_ten_meters.wav",
                "digits_3719.wav",
                "yes.wav",
                "stop.wav",
            ]
            .iter()
            .flat_map(|n| load_16k(&dir.join(n)).expect("audio/ clip").samples)
            .collect()
        }
    };
    Waveform::new(
        clip.iter().copied().cycle().take(60 * 16_000).collect(),
        16_000,
    )
}

fn main() {
    let mut wav: Option<PathBuf> = None;
    let mut repeats = 20usize;
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        if a == "--repeats" {
            repeats = args
                .next()
                .and_then(|v| v.parse().ok())
                .expect("--repeats N");
        } else {
            wav = Some(PathBuf::from(a));
        }
    }
    let wave = sixty_seconds(wav.as_deref());
    let minutes = wave.duration_secs() / 60.0;
    let mut fbank = FbankConfig::default().init().expect("fbank");
    let mut mfcc = MfccConfig::default().init().expect("mfcc");
    let time = |f: &mut dyn FnMut() -> usize| {
        f(); // warm-up
        let mut best = f64::INFINITY;
        let wall = std::time::Instant::now();
        for _ in 0..repeats {
            let t0 = thread_cpu_secs(wall);
            std::hint::black_box(f());
            best = best.min(thread_cpu_secs(wall) - t0);
        }
        best / minutes
    };
    let fb = time(&mut || fbank.compute(&wave).expect("fbank").len());
    let mf = time(&mut || mfcc.compute(&wave).expect("mfcc").len());
    println!("{{\"tool\": \"hark\", \"kind\": \"fbank80\", \"cpu_s_per_min\": {fb:.5}}}");
    println!("{{\"tool\": \"hark\", \"kind\": \"mfcc13\", \"cpu_s_per_min\": {mf:.5}}}");
}
