//! Triangular mel filter banks, as Kaldi's `mel-computations.cc`, with Kaldi's
//! piecewise-linear VTLN frequency warping.
//!
//! ref: <https://github.com/kaldi-asr/kaldi/blob/f4007661/src/feat/mel-computations.cc>

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

/// Mel filter bank options (Kaldi `MelBanksOptions`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct MelConfig {
    /// Number of triangular bins (`--num-mel-bins`). More → finer spectral detail, larger features.
    pub num_bins: usize,
    /// Lower edge of the lowest bin in Hz (`--low-freq`).
    pub low_freq: f32,
    /// Upper edge of the highest bin in Hz (`--high-freq`); `<= 0` means Nyquist + this value.
    pub high_freq: f32,
    /// VTLN warp factor α (Kaldi's `--vtln-warp`, per speaker); 1.0 = no warping.
    /// Between the inflection points the bin edges move from `f` to `f / α`:
    /// α > 1 moves the bins down in frequency (for a shorter vocal tract), α < 1 up.
    pub vtln_warp: f32,
    /// Lower inflection point of the warp in Hz (`--vtln-low`).
    pub vtln_low: f32,
    /// Upper inflection point in Hz (`--vtln-high`); `< 0` means Nyquist + this value.
    pub vtln_high: f32,
}

impl Default for MelConfig {
    fn default() -> Self {
        MelConfig {
            num_bins: 23,
            low_freq: 20.0,
            high_freq: 0.0,
            vtln_warp: 1.0,
            vtln_low: 100.0,
            vtln_high: -500.0,
        }
    }
}

impl MelConfig {
    /// The upper edge in Hz for a given sample rate.
    pub fn high_freq_hz(&self, samp_freq: f32) -> f32 {
        if self.high_freq > 0.0 {
            self.high_freq
        } else {
            0.5 * samp_freq + self.high_freq
        }
    }

    /// The upper VTLN inflection point in Hz for a given sample rate.
    pub fn vtln_high_hz(&self, samp_freq: f32) -> f32 {
        if self.vtln_high < 0.0 {
            0.5 * samp_freq + self.vtln_high
        } else {
            self.vtln_high
        }
    }

    /// Checks the values against the sample rate.
    pub fn validate(&self, samp_freq: f32) -> Result<()> {
        let nyquist = 0.5 * samp_freq;
        let high = self.high_freq_hz(samp_freq);
        if self.num_bins < 3 || self.num_bins > 1024 {
            return Err(Error::Config(format!(
                "num_bins must be in 3..=1024, got {}",
                self.num_bins
            )));
        }
        if !(self.low_freq >= 0.0
            && self.low_freq < nyquist
            && high > self.low_freq
            && high <= nyquist)
        {
            return Err(Error::Config(format!(
                "mel range {} … {high} Hz is not inside 0 … {nyquist} Hz",
                self.low_freq
            )));
        }
        if !(self.vtln_warp.is_finite() && self.vtln_warp > 0.0) {
            return Err(Error::Config(format!(
                "vtln_warp must be finite and > 0, got {}",
                self.vtln_warp
            )));
        }
        if self.vtln_warp != 1.0 {
            let (vl, vh) = (self.vtln_low, self.vtln_high_hz(samp_freq));
            if !(self.low_freq < vl && vl < high && 0.0 < vh && vh < high && vl < vh) {
                return Err(Error::Config(format!(
                    "VTLN range {vl} … {vh} Hz must lie inside the mel range {} … {high} Hz",
                    self.low_freq
                )));
            }
            let warp = VtlnWarp::new(self, samp_freq);
            if warp.l >= warp.h {
                return Err(Error::Config(format!(
                    "vtln_warp {} is too far from 1 for the VTLN range {vl} … {vh} Hz",
                    self.vtln_warp
                )));
            }
        }
        Ok(())
    }
}

/// Kaldi's VTLN warp (`MelBanks::VtlnWarpFreq`): a continuous piecewise-linear
/// map `F` of `[low_freq, high_freq]` onto itself, `F(f) = f / α` between the
/// inflection points `l = vtln_low · max(1, α)` and `h = vtln_high · min(1, α)`,
/// straight lines to the fixed end points outside them.
#[derive(Debug, Clone, Copy)]
struct VtlnWarp {
    low: f64,
    high: f64,
    l: f64,
    h: f64,
    scale: f64,
    scale_left: f64,
    scale_right: f64,
}

impl VtlnWarp {
    fn new(config: &MelConfig, samp_freq: f32) -> Self {
        let alpha = f64::from(config.vtln_warp);
        let low = f64::from(config.low_freq);
        let high = f64::from(config.high_freq_hz(samp_freq));
        let l = f64::from(config.vtln_low) * alpha.max(1.0);
        let h = f64::from(config.vtln_high_hz(samp_freq)) * alpha.min(1.0);
        let scale = 1.0 / alpha;
        VtlnWarp {
            low,
            high,
            l,
            h,
            scale,
            scale_left: (scale * l - low) / (l - low),
            scale_right: (high - scale * h) / (high - h),
        }
    }

    /// `F(freq)`; frequencies outside `[low, high]` are returned unchanged.
    fn freq(&self, freq: f64) -> f64 {
        if freq < self.low || freq > self.high {
            freq
        } else if freq < self.l {
            self.low + self.scale_left * (freq - self.low)
        } else if freq < self.h {
            self.scale * freq
        } else {
            self.high + self.scale_right * (freq - self.high)
        }
    }

    /// The warp on the mel scale: `mel(F(mel⁻¹(m)))`.
    fn mel(&self, mel: f64) -> f64 {
        mel_scale(self.freq(inverse_mel_scale(mel)))
    }
}

/// Kaldi's mel scale: `1127 ln(1 + f / 700)`.
pub fn mel_scale(freq_hz: f64) -> f64 {
    1127.0 * (1.0 + freq_hz / 700.0).ln()
}

/// The inverse of [`mel_scale`]: `700 (e^(m / 1127) - 1)`.
pub fn inverse_mel_scale(mel: f64) -> f64 {
    700.0 * ((mel / 1127.0).exp() - 1.0)
}

/// A bank of triangular filters over the power spectrum, stored sparsely: each bin
/// keeps the first FFT index it covers and its non-zero weights.
#[derive(Debug, Clone)]
pub struct MelBanks {
    /// `(first_fft_bin, weights)` per mel bin.
    bins: Vec<(usize, Vec<f64>)>,
}

impl MelBanks {
    /// Builds the bank for an FFT of `padded_window_size` points at `samp_freq` Hz.
    /// FFT bins `0 .. padded_window_size / 2` are covered (the Nyquist bin is not, as in Kaldi).
    pub fn new(config: &MelConfig, samp_freq: f32, padded_window_size: usize) -> Result<Self> {
        config.validate(samp_freq)?;
        let num_fft_bins = padded_window_size / 2;
        let fft_bin_width = samp_freq as f64 / padded_window_size as f64;
        let mel_low = mel_scale(config.low_freq as f64);
        let mel_high = mel_scale(config.high_freq_hz(samp_freq) as f64);
        let delta = (mel_high - mel_low) / (config.num_bins as f64 + 1.0);
        let warp = (config.vtln_warp != 1.0).then(|| VtlnWarp::new(config, samp_freq));
        let mut bins = Vec::with_capacity(config.num_bins);
        for b in 0..config.num_bins {
            let mut left = mel_low + b as f64 * delta;
            let mut center = mel_low + (b as f64 + 1.0) * delta;
            let mut right = mel_low + (b as f64 + 2.0) * delta;
            if let Some(w) = &warp {
                (left, center, right) = (w.mel(left), w.mel(center), w.mel(right));
            }
            let mut first = None;
            let mut weights = Vec::new();
            for i in 0..num_fft_bins {
                let mel = mel_scale(fft_bin_width * i as f64);
                if mel > left && mel < right {
                    let w = if mel <= center {
                        (mel - left) / (center - left)
                    } else {
                        (right - mel) / (right - center)
                    };
                    first.get_or_insert(i);
                    weights.push(w);
                }
            }
            let Some(first) = first else {
                return Err(Error::Config(format!(
                    "mel bin {b} covers no FFT bin: too many bins ({}) for an FFT of {padded_window_size} points",
                    config.num_bins
                )));
            };
            bins.push((first, weights));
        }
        Ok(MelBanks { bins })
    }

    /// Number of mel bins.
    pub fn num_bins(&self) -> usize {
        self.bins.len()
    }

    /// `(first_fft_bin, weights)` for each mel bin.
    pub fn bins(&self) -> &[(usize, Vec<f64>)] {
        &self.bins
    }

    /// Mel energies `out[b] = Σ_i w_b[i] · power[first_b + i]`.
    pub fn compute(&self, power: &[f64], out: &mut [f64]) {
        debug_assert_eq!(out.len(), self.bins.len());
        for (o, (first, w)) in out.iter_mut().zip(&self.bins) {
            let p = &power[*first..*first + w.len()];
            *o = p.iter().zip(w).map(|(a, b)| a * b).sum();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bins_are_triangles_that_tile_the_range() {
        let c = MelConfig {
            num_bins: 80,
            ..Default::default()
        };
        let m = MelBanks::new(&c, 16_000.0, 512).unwrap();
        assert_eq!(m.num_bins(), 80);
        let mut total = vec![0.0f64; 256];
        let mut prev_first = 0;
        for (b, (first, w)) in m.bins().iter().enumerate() {
            assert!(
                *first >= prev_first,
                "bin {b} starts before bin {}",
                b.max(1) - 1
            );
            prev_first = *first;
            assert!(w.iter().all(|&x| x > 0.0 && x <= 1.0));
            // rises then falls
            let peak = w.iter().cloned().fold(0.0, f64::max);
            let k = w.iter().position(|&x| x == peak).unwrap();
            assert!(w[..=k].windows(2).all(|p| p[0] <= p[1]));
            assert!(w[k..].windows(2).all(|p| p[0] >= p[1]));
            for (i, x) in w.iter().enumerate() {
                total[first + i] += x;
            }
        }
        // Adjacent triangles overlap by half: their sum is 1 between the centres
        // of the first and last bins (FFT bins 3 … ~240 here).
        for (i, s) in total.iter().enumerate().take(235).skip(8) {
            assert!((s - 1.0).abs() < 1e-12, "fft bin {i}: {s}");
        }
        // nothing below 20 Hz (bin 0 is DC) and nothing at or above 8 kHz
        assert_eq!(total[0], 0.0);
    }

    #[test]
    fn vtln_warp_is_kaldis_piecewise_line() {
        let c = MelConfig {
            vtln_warp: 1.25,
            ..Default::default()
        };
        c.validate(16_000.0).unwrap();
        let w = VtlnWarp::new(&c, 16_000.0);
        // l = 100 · 1.25 = 125, h = 7500 · 1 = 7500 Hz
        assert_eq!((w.l, w.h), (125.0, 7500.0));
        // fixed end points, f / α in the middle, continuous at the inflections
        assert!((w.freq(20.0) - 20.0).abs() < 1e-9);
        assert!((w.freq(8000.0) - 8000.0).abs() < 1e-9);
        assert!((w.freq(1000.0) - 800.0).abs() < 1e-9);
        for x in [w.l, w.h] {
            assert!((w.freq(x - 1e-9) - w.freq(x)).abs() < 1e-6, "jump at {x}");
        }
        // outside the mel range: unchanged
        assert_eq!(w.freq(10.0), 10.0);
        // the mel-domain warp round-trips through the mel scale
        let m = mel_scale(1000.0);
        assert!((inverse_mel_scale(w.mel(m)) - 800.0).abs() < 1e-9);
        // α > 1 moves every bin centre down
        let plain = MelBanks::new(&MelConfig::default(), 16_000.0, 512).unwrap();
        let warped = MelBanks::new(&c, 16_000.0, 512).unwrap();
        let centre = |m: &MelBanks, b: usize| {
            let (first, w) = &m.bins()[b];
            let k = w.iter().cloned().fold(0.0, f64::max);
            first + w.iter().position(|&x| x == k).unwrap()
        };
        for b in 2..20 {
            assert!(centre(&warped, b) < centre(&plain, b), "bin {b}");
        }
    }

    #[test]
    fn vtln_options_are_validated() {
        for (warp, low, high) in [
            (0.0f32, 100.0f32, -500.0f32),
            (f32::NAN, 100.0, -500.0),
            (1.1, 10.0, -500.0),   // vtln_low below low_freq
            (1.1, 100.0, 9000.0),  // vtln_high above Nyquist
            (1.1, 5000.0, 3000.0), // low above high
        ] {
            let c = MelConfig {
                vtln_warp: warp,
                vtln_low: low,
                vtln_high: high,
                ..Default::default()
            };
            assert!(c.validate(16_000.0).is_err(), "{c:?}");
        }
        // l = 2000 · 4 = 8000 ≥ h = 7500
        let c = MelConfig {
            vtln_warp: 4.0,
            vtln_low: 2000.0,
            ..Default::default()
        };
        assert!(c.validate(16_000.0).is_err());
        // the options are ignored (not validated) when there is no warping
        let c = MelConfig {
            vtln_low: 5000.0,
            vtln_high: 3000.0,
            ..Default::default()
        };
        assert!(c.validate(16_000.0).is_ok());
    }

    #[test]
    fn mel_scale_known_points() {
        assert_eq!(mel_scale(0.0), 0.0);
        // 1127 ln(1 + 1000/700) = 1127 × 0.8873032 = 999.99069
        assert!((mel_scale(1000.0) - 999.990_69).abs() < 1e-4);
    }

    #[test]
    fn too_many_bins_is_an_error() {
        let c = MelConfig {
            num_bins: 200,
            ..Default::default()
        };
        assert!(MelBanks::new(&c, 16_000.0, 512).is_err());
        let bad = MelConfig {
            low_freq: 9000.0,
            ..Default::default()
        };
        assert!(bad.validate(16_000.0).is_err());
    }
}
