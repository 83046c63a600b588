//! Framing and per-frame signal processing, as Kaldi's `feature-window.cc`.
//!
//! ref: <https://github.com/kaldi-asr/kaldi/blob/f4007661/src/feat/feature-window.cc>

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::rng::Rng;

/// Window shape applied to each frame (Kaldi `--window-type`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum WindowType {
    /// `(0.5 - 0.5 cos(2πn/(N-1)))^0.85`: Kaldi's default, like Hann but not zero at the ends.
    #[default]
    Povey,
    /// `0.54 - 0.46 cos(2πn/(N-1))`.
    Hamming,
    /// `0.5 - 0.5 cos(2πn/(N-1))`.
    Hanning,
    /// `sin(πn/(N-1))`.
    Sine,
    /// Blackman with coefficient [`FrameConfig::blackman_coeff`].
    Blackman,
    /// All ones.
    Rectangular,
}

/// How audio is cut into frames and each frame conditioned before the FFT
/// (Kaldi `FrameExtractionOptions`). `Default` equals Kaldi's defaults except
/// `dither`, which is 0 here (Kaldi: 1.0) so that features are deterministic.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct FrameConfig {
    /// Sample rate in Hz (`--sample-frequency`). Input audio must match it.
    pub samp_freq: f32,
    /// Frame shift in ms (`--frame-shift`). Smaller → more frames, slower.
    pub frame_shift_ms: f32,
    /// Frame length in ms (`--frame-length`). Longer → finer frequency resolution, blurrier in time.
    pub frame_length_ms: f32,
    /// Gaussian dither added to each sample, in int16 units (`--dither`); 0 turns it off.
    /// Larger → more robust log values in digital silence, less deterministic.
    pub dither: f32,
    /// Seed for the dither noise (hark addition; Kaldi seeds from a global RNG).
    /// Each call to a batch extractor restarts the stream from this seed.
    pub dither_seed: u64,
    /// Pre-emphasis coefficient (`--preemphasis-coefficient`); 0 turns it off.
    pub preemph_coeff: f32,
    /// Subtract each frame's mean before processing (`--remove-dc-offset`).
    pub remove_dc_offset: bool,
    /// Window shape (`--window-type`).
    pub window_type: WindowType,
    /// Zero-pad each frame to a power of two before the FFT (`--round-to-power-of-two`).
    pub round_to_power_of_two: bool,
    /// Blackman window coefficient (`--blackman-coeff`).
    pub blackman_coeff: f32,
    /// Only emit frames that fit entirely in the signal (`--snip-edges`). When false,
    /// frames are centred every shift and the signal is reflected at its ends.
    pub snip_edges: bool,
}

impl Default for FrameConfig {
    fn default() -> Self {
        FrameConfig {
            samp_freq: 16_000.0,
            frame_shift_ms: 10.0,
            frame_length_ms: 25.0,
            dither: 0.0,
            dither_seed: 0,
            preemph_coeff: 0.97,
            remove_dc_offset: true,
            window_type: WindowType::Povey,
            round_to_power_of_two: true,
            blackman_coeff: 0.42,
            snip_edges: true,
        }
    }
}

impl FrameConfig {
    /// Frame shift in samples (Kaldi `WindowShift`).
    pub fn window_shift(&self) -> usize {
        (self.samp_freq * 0.001 * self.frame_shift_ms) as usize
    }

    /// Frame length in samples (Kaldi `WindowSize`).
    pub fn window_size(&self) -> usize {
        (self.samp_freq * 0.001 * self.frame_length_ms) as usize
    }

    /// FFT length: the window size, rounded up to a power of two when configured.
    pub fn padded_window_size(&self) -> usize {
        let n = self.window_size();
        if self.round_to_power_of_two {
            n.next_power_of_two()
        } else {
            n
        }
    }

    /// Checks that the values are usable.
    pub fn validate(&self) -> Result<()> {
        let bad = |m: String| Err(Error::Config(m));
        if !(self.samp_freq.is_finite() && self.samp_freq >= 100.0) {
            return bad(format!(
                "samp_freq must be >= 100 Hz, got {}",
                self.samp_freq
            ));
        }
        if !(self.frame_shift_ms.is_finite() && self.frame_length_ms.is_finite()) {
            return bad("frame_shift_ms and frame_length_ms must be finite".into());
        }
        if self.window_shift() == 0 {
            return bad(format!(
                "frame_shift_ms {} gives a shift of 0 samples",
                self.frame_shift_ms
            ));
        }
        if self.window_size() < 2 {
            return bad(format!(
                "frame_length_ms {} gives fewer than 2 samples per frame",
                self.frame_length_ms
            ));
        }
        if self.window_size() > 1 << 20 {
            return bad(format!(
                "frame_length_ms {} is too long",
                self.frame_length_ms
            ));
        }
        if !(self.dither.is_finite() && self.dither >= 0.0) {
            return bad(format!(
                "dither must be finite and >= 0, got {}",
                self.dither
            ));
        }
        if !(self.preemph_coeff.is_finite() && (0.0..=1.0).contains(&self.preemph_coeff)) {
            return bad(format!(
                "preemph_coeff must be in [0, 1], got {}",
                self.preemph_coeff
            ));
        }
        if !self.blackman_coeff.is_finite() {
            return bad("blackman_coeff must be finite".into());
        }
        Ok(())
    }

    /// Number of frames for `num_samples` samples (Kaldi `NumFrames`). With
    /// `flush == false` (streaming, more audio may follow) only frames whose
    /// samples have all arrived are counted; this matters only without `snip_edges`.
    pub fn num_frames(&self, num_samples: u64, flush: bool) -> u64 {
        let shift = self.window_shift() as u64;
        let size = self.window_size() as u64;
        if self.snip_edges {
            if num_samples < size {
                0
            } else {
                1 + (num_samples - size) / shift
            }
        } else {
            let mut n = (num_samples + shift / 2) / shift;
            if flush {
                return n;
            }
            while n > 0 && self.first_sample_of_frame(n - 1) + size as i64 > num_samples as i64 {
                n -= 1;
            }
            n
        }
    }

    /// Index of the first sample of frame `t` (negative before the signal starts
    /// when `snip_edges` is false; Kaldi `FirstSampleOfFrame`).
    pub fn first_sample_of_frame(&self, t: u64) -> i64 {
        let shift = self.window_shift() as i64;
        let start = t as i64 * shift;
        if self.snip_edges {
            start
        } else {
            start + shift / 2 - self.window_size() as i64 / 2
        }
    }
}

/// The window function for a frame of `n` samples (computed and kept in f64,
/// like the rest of the per-frame processing).
pub fn window_function(config: &FrameConfig) -> Vec<f64> {
    let n = config.window_size();
    let a = 2.0 * std::f64::consts::PI / (n as f64 - 1.0);
    (0..n)
        .map(|i| {
            let x = a * i as f64;
            match config.window_type {
                WindowType::Povey => (0.5 - 0.5 * x.cos()).powf(0.85),
                WindowType::Hamming => 0.54 - 0.46 * x.cos(),
                WindowType::Hanning => 0.5 - 0.5 * x.cos(),
                WindowType::Sine => (0.5 * x).sin(),
                WindowType::Blackman => {
                    let b = config.blackman_coeff as f64;
                    b - 0.5 * x.cos() + (0.5 - b) * (2.0 * x).cos()
                }
                WindowType::Rectangular => 1.0,
            }
        })
        .collect()
}

/// Cuts frames out of a signal and conditions them (dither, DC removal, raw
/// energy, pre-emphasis, window), reusing its buffers.
///
/// Frames are f64 from the moment they are cut out: Kaldi (and kaldi-native-fbank)
/// do these steps and the FFT in f32, whose rounding puts an error of about
/// `ε·RMS` into every spectral bin; in the lowest mel bins of loud frames, 80–100 dB
/// below the frame's peak, that is a few 1e-3 in the log domain. In f64 the result
/// matches a float64 reference to better than 1e-4 everywhere (see
/// `tests/data/features/README.md`), at no measurable cost (the FFT dominates).
#[derive(Debug, Clone)]
pub struct FrameProcessor {
    config: FrameConfig,
    window: Vec<f64>,
    rng: Rng,
    /// Copy of the frame before pre-emphasis (lets that loop vectorise).
    scratch: Vec<f64>,
}

/// Kaldi reads int16 sample values without dividing by 32768; hark's samples are
/// in `[-1, 1)`, so they are multiplied back before framing.
pub const INT16_SCALE: f32 = 32768.0;

impl FrameProcessor {
    /// A processor for `config` (assumed validated); the dither stream starts at
    /// `config.dither_seed`.
    pub fn new(config: &FrameConfig) -> Self {
        FrameProcessor {
            config: config.clone(),
            window: window_function(config),
            rng: Rng::new(config.dither_seed),
            scratch: vec![0.0; config.window_size()],
        }
    }

    /// Restarts the dither stream (each utterance starts from the seed).
    pub fn reset(&mut self) {
        self.rng = Rng::new(self.config.dither_seed);
    }

    /// The configuration.
    pub fn config(&self) -> &FrameConfig {
        &self.config
    }

    /// Copies frame `t` into `out[..window_size]` from `samples`, whose first
    /// element is signal sample `offset`, scaled to int16 range and reflected at
    /// the signal's ends when the frame overhangs them (only without `snip_edges`).
    /// `total` is the signal length when known (needed for the reflection at the end).
    ///
    /// Returns an error if the frame needs a sample that is not in `samples`.
    pub fn extract(
        &self,
        samples: &[f32],
        offset: u64,
        total: u64,
        t: u64,
        out: &mut [f64],
    ) -> Result<()> {
        let size = self.config.window_size();
        let start = self.config.first_sample_of_frame(t);
        let end = start + size as i64;
        let lo = offset as i64;
        let hi = lo + samples.len() as i64;
        if start >= lo && end <= hi && end <= total as i64 {
            let s = (start - lo) as usize;
            for (o, &x) in out[..size].iter_mut().zip(&samples[s..s + size]) {
                *o = f64::from(x * INT16_SCALE);
            }
            return Ok(());
        }
        let n = total as i64;
        if n == 0 {
            return Err(Error::Invalid("cannot frame an empty signal".into()));
        }
        for (k, o) in out[..size].iter_mut().enumerate() {
            let mut s = start + k as i64;
            while s < 0 || s >= n {
                s = if s < 0 { -s - 1 } else { 2 * n - 1 - s };
            }
            if s < lo || s >= hi {
                return Err(Error::Invalid(format!(
                    "frame {t} needs sample {s}, which is no longer buffered"
                )));
            }
            *o = f64::from(samples[(s - lo) as usize] * INT16_SCALE);
        }
        Ok(())
    }

    /// Conditions one frame in place (Kaldi `ProcessWindow`): dither, DC removal,
    /// raw log-energy, pre-emphasis, window. `frame` holds `window_size` samples.
    /// Returns `log(max(Σx², f32::EPSILON))` measured after DC removal and before
    /// pre-emphasis (Kaldi's raw energy; the floor is Kaldi's, f32's epsilon).
    pub fn process(&mut self, frame: &mut [f64]) -> f64 {
        let c = &self.config;
        debug_assert_eq!(frame.len(), self.window.len());
        if c.dither != 0.0 {
            let d = f64::from(c.dither);
            for x in frame.iter_mut() {
                *x += d * self.rng.normal();
            }
        }
        if c.remove_dc_offset {
            let mean = sum8(frame, |x| x) / frame.len() as f64;
            for x in frame.iter_mut() {
                *x -= mean;
            }
        }
        let log_energy = sum8(frame, |x| x * x).max(LOG_FLOOR).ln();
        // Pre-emphasis `x[i] -= p x[i-1]` (x[0] -= p x[0]) and the window, computed
        // from a copy so that the loop has no carried dependency.
        let p = f64::from(c.preemph_coeff);
        self.scratch.copy_from_slice(frame);
        let src = &self.scratch;
        frame[0] = (src[0] - p * src[0]) * self.window[0];
        for ((o, w), pair) in frame[1..]
            .iter_mut()
            .zip(&self.window[1..])
            .zip(src.windows(2))
        {
            *o = (pair[1] - p * pair[0]) * w;
        }
        log_energy
    }
}

/// Kaldi's floor before every log: f32's epsilon (`std::numeric_limits<float>::epsilon()`),
/// also when the arithmetic is f64. Digital silence gives `ln(f32::EPSILON) = -15.942385`.
pub(crate) const LOG_FLOOR: f64 = f32::EPSILON as f64;

/// `Σ f(x)` with eight partial sums (vectorises; the order differs from a plain
/// loop only by rounding).
fn sum8(x: &[f64], f: impl Fn(f64) -> f64) -> f64 {
    let mut acc = [0.0f64; 8];
    let chunks = x.chunks_exact(8);
    let rest = chunks.remainder();
    for c in chunks {
        for k in 0..8 {
            acc[k] += f(c[k]);
        }
    }
    let mut s = ((acc[0] + acc[4]) + (acc[1] + acc[5])) + ((acc[2] + acc[6]) + (acc[3] + acc[7]));
    for &v in rest {
        s += f(v);
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kaldi_default_sizes() {
        let c = FrameConfig::default();
        assert_eq!(c.window_size(), 400);
        assert_eq!(c.window_shift(), 160);
        assert_eq!(c.padded_window_size(), 512);
        c.validate().unwrap();
    }

    #[test]
    fn num_frames_snip_edges() {
        let c = FrameConfig::default();
        assert_eq!(c.num_frames(399, true), 0);
        assert_eq!(c.num_frames(400, true), 1);
        assert_eq!(c.num_frames(559, true), 1);
        assert_eq!(c.num_frames(560, true), 2);
        // 1 s: 1 + (16000 - 400) / 160 = 98
        assert_eq!(c.num_frames(16_000, true), 98);
    }

    #[test]
    fn num_frames_without_snip_edges() {
        let c = FrameConfig {
            snip_edges: false,
            ..Default::default()
        };
        // (n + 80) / 160
        assert_eq!(c.num_frames(16_000, true), 100);
        assert_eq!(c.num_frames(79, true), 0);
        assert_eq!(c.num_frames(80, true), 1);
        assert_eq!(c.first_sample_of_frame(0), 80 - 200);
        // not flushing: frame 99 starts at 99*160 - 120 = 15720 and ends at 16120 > 16000
        assert_eq!(c.num_frames(16_000, false), 99);
    }

    #[test]
    fn reflection_at_both_ends() {
        let c = FrameConfig {
            snip_edges: false,
            frame_length_ms: 0.5, // 8 samples
            frame_shift_ms: 0.25, // 4 samples
            ..Default::default()
        };
        let p = FrameProcessor::new(&c);
        let x: Vec<f32> = (0..10).map(|i| i as f32 / INT16_SCALE).collect();
        let mut out = [0.0f64; 8];
        // frame 0 starts at 0 + 2 - 4 = -2: samples -2,-1 reflect to 1,0
        p.extract(&x, 0, 10, 0, &mut out).unwrap();
        assert_eq!(out, [1.0, 0.0, 0.0, 1.0, 2.0, 3.0, 4.0, 5.0]);
        // frame 2 starts at 6: samples 10, 11, 12, 13 reflect to 9, 8, 7, 6
        p.extract(&x, 0, 10, 2, &mut out).unwrap();
        assert_eq!(out, [6.0, 7.0, 8.0, 9.0, 9.0, 8.0, 7.0, 6.0]);
    }

    #[test]
    fn povey_window_values() {
        let w = window_function(&FrameConfig::default());
        assert_eq!(w.len(), 400);
        assert_eq!(w[0], 0.0);
        // symmetric, and the centre is close to 1: (0.5 - 0.5 cos(2π·199.5/399))^0.85 = 1
        assert!((w[199] - w[200]).abs() < 1e-12);
        assert!((w[199] - 1.0).abs() < 1e-4);
        let hamming = window_function(&FrameConfig {
            window_type: WindowType::Hamming,
            ..Default::default()
        });
        assert!((hamming[0] - 0.08).abs() < 1e-12);
    }

    #[test]
    fn process_removes_dc_and_preemphasises() {
        let c = FrameConfig {
            window_type: WindowType::Rectangular,
            frame_length_ms: 0.25, // 4 samples
            frame_shift_ms: 0.25,
            ..Default::default()
        };
        let mut p = FrameProcessor::new(&c);
        let mut f = [1.0f64, 2.0, 3.0, 6.0];
        let e = p.process(&mut f);
        // after DC removal: [-2, -1, 0, 3]; energy 14
        assert!((e - 14f64.ln()).abs() < 1e-12);
        // pre-emphasis: [-2 + 0.06, -1 + 1.94, 0 + 0.97, 3 - 0]
        let want = [-2.0 * 0.03, -1.0 + 1.94, 0.97, 3.0];
        // (0.97 is an f32 coefficient: 0.97000003 in f64)
        for (a, b) in f.iter().zip(want) {
            assert!((a - b).abs() < 1e-6, "{f:?}");
        }
    }

    #[test]
    fn validate_rejects_nonsense() {
        for c in [
            FrameConfig {
                frame_shift_ms: 0.0,
                ..Default::default()
            },
            FrameConfig {
                dither: -1.0,
                ..Default::default()
            },
            FrameConfig {
                samp_freq: f32::NAN,
                ..Default::default()
            },
            FrameConfig {
                preemph_coeff: 1.5,
                ..Default::default()
            },
        ] {
            assert!(c.validate().is_err(), "{c:?}");
        }
    }
}
