//! Triangular mel filter banks, as Kaldi's `mel-computations.cc` (without VTLN).
//!
//! ref: https://github.com/kaldi-asr/kaldi/blob/f4007661/src/feat/mel-computations.cc

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
}

impl Default for MelConfig {
    fn default() -> Self {
        MelConfig {
            num_bins: 23,
            low_freq: 20.0,
            high_freq: 0.0,
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
        Ok(())
    }
}

/// Kaldi's mel scale: `1127 ln(1 + f / 700)`.
pub fn mel_scale(freq_hz: f64) -> f64 {
    1127.0 * (1.0 + freq_hz / 700.0).ln()
}

/// A bank of triangular filters over the power spectrum, stored sparsely: each bin
/// keeps the first FFT index it covers and its non-zero weights.
#[derive(Debug, Clone)]
pub struct MelBanks {
    /// `(first_fft_bin, weights)` per mel bin.
    bins: Vec<(usize, Vec<f32>)>,
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
        let mut bins = Vec::with_capacity(config.num_bins);
        for b in 0..config.num_bins {
            let left = mel_low + b as f64 * delta;
            let center = left + delta;
            let right = center + delta;
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
                    weights.push(w as f32);
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
    pub fn bins(&self) -> &[(usize, Vec<f32>)] {
        &self.bins
    }

    /// Mel energies `out[b] = Σ_i w_b[i] · power[first_b + i]`.
    pub fn compute(&self, power: &[f32], out: &mut [f32]) {
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
        let mut total = vec![0.0f32; 256];
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
            let peak = w.iter().cloned().fold(0.0, f32::max);
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
            assert!((s - 1.0).abs() < 1e-5, "fft bin {i}: {s}");
        }
        // nothing below 20 Hz (bin 0 is DC) and nothing at or above 8 kHz
        assert_eq!(total[0], 0.0);
    }

    #[test]
    fn mel_scale_known_points() {
        assert_eq!(mel_scale(0.0), 0.0);
        // 1127 ln(1 + 1000/700) = 1000.0 (to within 0.1)
        assert!((mel_scale(1000.0) - 999.985).abs() < 1e-2);
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
