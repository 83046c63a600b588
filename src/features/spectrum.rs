//! Power spectrum of a real frame with a planned real FFT and reused buffers.
//!
//! The FFT runs in f64, like the framing before it ([`super::FrameProcessor`]).
//! Kaldi and kaldi-native-fbank 1.23 run theirs in f32, and an f32 FFT has an
//! absolute error of about `ε·√(log n)` times the frame's RMS spectrum in every
//! bin, so bins 80–100 dB below the frame's loudest (the lowest mel bins after
//! pre-emphasis) come out a few 1e-3 off in the log domain.

use std::sync::Arc;

use realfft::num_complex::Complex;
use realfft::{RealFftPlanner, RealToComplex};

/// Computes `|X[k]|²` for `k = 0 ..= n/2` of a real frame of `n` samples.
#[derive(Clone)]
pub struct PowerSpectrum {
    fft: Arc<dyn RealToComplex<f64>>,
    spectrum: Vec<Complex<f64>>,
    scratch: Vec<Complex<f64>>,
    power: Vec<f64>,
}

impl std::fmt::Debug for PowerSpectrum {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PowerSpectrum")
            .field("len", &self.fft.len())
            .finish()
    }
}

impl PowerSpectrum {
    /// A planner for frames of `n` samples (`n >= 2`).
    pub fn new(n: usize) -> Self {
        let fft = RealFftPlanner::<f64>::new().plan_fft_forward(n);
        let spectrum = fft.make_output_vec();
        let scratch = fft.make_scratch_vec();
        PowerSpectrum {
            fft,
            spectrum,
            scratch,
            power: vec![0.0; n / 2 + 1],
        }
    }

    /// FFT length.
    pub fn len(&self) -> usize {
        self.fft.len()
    }

    /// Whether the FFT length is zero (never, for a valid planner).
    pub fn is_empty(&self) -> bool {
        self.fft.len() == 0
    }

    /// The power spectrum of `frame` (exactly `len()` samples, else it panics):
    /// `n / 2 + 1` values. `frame` is used as scratch and clobbered.
    pub fn compute(&mut self, frame: &mut [f64]) -> &[f64] {
        assert_eq!(
            frame.len(),
            self.fft.len(),
            "PowerSpectrum::compute: frame length"
        );
        self.fft
            .process_with_scratch(frame, &mut self.spectrum, &mut self.scratch)
            .expect(
                "invariant: the frame length was checked, the other buffers come from the plan",
            );
        for (p, c) in self.power.iter_mut().zip(&self.spectrum) {
            *p = c.re * c.re + c.im * c.im;
        }
        &self.power
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rng::Rng;

    /// Naive O(n²) DFT power spectrum in f64: the oracle.
    fn naive_power(x: &[f64]) -> Vec<f64> {
        let n = x.len();
        (0..=n / 2)
            .map(|k| {
                let (mut re, mut im) = (0.0f64, 0.0f64);
                for (t, &v) in x.iter().enumerate() {
                    let a = -2.0 * std::f64::consts::PI * (k * t % n) as f64 / n as f64;
                    re += v * a.cos();
                    im += v * a.sin();
                }
                re * re + im * im
            })
            .collect()
    }

    #[test]
    fn realfft_power_equals_naive_dft() {
        const SEED: u64 = 42;
        let mut rng = Rng::new(SEED);
        for n in [400usize, 512, 2, 7, 64] {
            let x: Vec<f64> = (0..n).map(|_| rng.normal() * 1000.0).collect();
            let want = naive_power(&x);
            let mut ps = PowerSpectrum::new(n);
            let got = ps.compute(&mut x.clone());
            assert_eq!(got.len(), n / 2 + 1);
            // Both are f64: the error is of order 1e-16 · n times the mean bin power Σx²
            // (the naive sum is the less accurate of the two).
            let mean_bin: f64 = x.iter().map(|&v| v.powi(2)).sum();
            for (k, (g, w)) in got.iter().zip(&want).enumerate() {
                assert!((g - w).abs() <= 1e-12 * mean_bin, "n={n} k={k}: {g} vs {w}");
            }
        }
    }
}
