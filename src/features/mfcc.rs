//! Mel-frequency cepstral coefficients, as Kaldi's `compute-mfcc-feats`.
//!
//! ref: <https://github.com/kaldi-asr/kaldi/blob/f4007661/src/feat/feature-mfcc.cc>

use serde::{Deserialize, Serialize};

use super::FeatureExtractor;
use super::mel::{MelBanks, MelConfig};
use super::spectrum::PowerSpectrum;
use super::window::{FrameConfig, LOG_FLOOR};
use crate::error::{Error, Result};

/// MFCC options (Kaldi `MfccOptions`). `Default` equals Kaldi's defaults:
/// 13 cepstra from 23 mel bins, lifter 22, C0 replaced by the raw log energy.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct MfccConfig {
    /// Framing and per-frame conditioning.
    pub frame: FrameConfig,
    /// Mel bank layout (Kaldi default 23 bins).
    pub mel: MelConfig,
    /// Number of cepstra kept, including C0 (`--num-ceps`); at most `mel.num_bins`.
    pub num_ceps: usize,
    /// Replace C0 by the log energy of the frame (`--use-energy`).
    pub use_energy: bool,
    /// Floor on the energy, as a plain (not log) energy (`--energy-floor`); 0 = none.
    pub energy_floor: f32,
    /// Measure the energy before pre-emphasis and windowing (`--raw-energy`).
    pub raw_energy: bool,
    /// Cepstral liftering coefficient Q (`--cepstral-lifter`); 0 = none.
    /// Larger → higher cepstra are boosted more.
    pub cepstral_lifter: f32,
    /// HTK order (`--htk-compat`): C1 … C(n-1) first, then the energy (or, without
    /// `use_energy`, C0 · √2) last. Only the order and that scale change.
    pub htk_compat: bool,
}

impl Default for MfccConfig {
    fn default() -> Self {
        MfccConfig {
            frame: FrameConfig::default(),
            mel: MelConfig::default(),
            num_ceps: 13,
            use_energy: true,
            energy_floor: 0.0,
            raw_energy: true,
            cepstral_lifter: 22.0,
            htk_compat: false,
        }
    }
}

impl MfccConfig {
    /// Checks the values.
    pub fn validate(&self) -> Result<()> {
        self.frame.validate()?;
        self.mel.validate(self.frame.samp_freq)?;
        if self.num_ceps == 0 || self.num_ceps > self.mel.num_bins {
            return Err(Error::Config(format!(
                "num_ceps must be in 1..={} (the number of mel bins), got {}",
                self.mel.num_bins, self.num_ceps
            )));
        }
        if !(self.energy_floor.is_finite() && self.energy_floor >= 0.0) {
            return Err(Error::Config(format!(
                "energy_floor must be finite and >= 0, got {}",
                self.energy_floor
            )));
        }
        if !self.cepstral_lifter.is_finite() {
            return Err(Error::Config("cepstral_lifter must be finite".into()));
        }
        Ok(())
    }

    /// Builds the extractor.
    pub fn init(&self) -> Result<Mfcc> {
        Mfcc::new(self)
    }
}

/// MFCC feature extractor: `[frames, num_ceps]`.
#[derive(Debug, Clone)]
pub struct Mfcc {
    config: MfccConfig,
    mel: MelBanks,
    spectrum: PowerSpectrum,
    /// `[num_ceps, num_bins]` row-major DCT-II (orthonormal), lifter folded in.
    dct: Vec<f64>,
    mel_energies: Vec<f64>,
    log_energy_floor: f64,
}

/// The orthonormal DCT-II matrix `[num_ceps, num_bins]` used by Kaldi
/// (`ComputeDctMatrix`): row 0 is `sqrt(1/N)`, row k is `sqrt(2/N) cos(π k (n + ½) / N)`.
pub fn dct_matrix(num_ceps: usize, num_bins: usize) -> Vec<f64> {
    let n = num_bins as f64;
    let mut m = Vec::with_capacity(num_ceps * num_bins);
    for k in 0..num_ceps {
        for j in 0..num_bins {
            m.push(if k == 0 {
                (1.0 / n).sqrt()
            } else {
                (2.0 / n).sqrt() * (std::f64::consts::PI / n * (j as f64 + 0.5) * k as f64).cos()
            });
        }
    }
    m
}

/// Kaldi's lifter `1 + Q/2 · sin(π i / Q)` for `i < num_ceps`.
pub fn lifter_coeffs(num_ceps: usize, q: f64) -> Vec<f64> {
    (0..num_ceps)
        .map(|i| {
            if q == 0.0 {
                1.0
            } else {
                1.0 + 0.5 * q * (std::f64::consts::PI * i as f64 / q).sin()
            }
        })
        .collect()
}

impl Mfcc {
    /// An extractor for `config`, validated.
    pub fn new(config: &MfccConfig) -> Result<Self> {
        config.validate()?;
        let n = config.frame.padded_window_size();
        let bins = config.mel.num_bins;
        let lifter = lifter_coeffs(config.num_ceps, config.cepstral_lifter as f64);
        let dct = dct_matrix(config.num_ceps, bins)
            .chunks(bins)
            .zip(&lifter)
            .flat_map(|(row, l)| row.iter().map(move |v| v * l))
            .collect();
        Ok(Mfcc {
            config: config.clone(),
            mel: MelBanks::new(&config.mel, config.frame.samp_freq, n)?,
            spectrum: PowerSpectrum::new(n),
            dct,
            mel_energies: vec![0.0; bins],
            log_energy_floor: if config.energy_floor > 0.0 {
                f64::from(config.energy_floor).ln()
            } else {
                f64::NEG_INFINITY
            },
        })
    }

    /// The configuration.
    pub fn config(&self) -> &MfccConfig {
        &self.config
    }
}

impl FeatureExtractor for Mfcc {
    fn dim(&self) -> usize {
        self.config.num_ceps
    }

    fn frame_config(&self) -> &FrameConfig {
        &self.config.frame
    }

    fn compute_frame(&mut self, raw_log_energy: f64, window: &mut [f64], out: &mut [f32]) {
        let c = &self.config;
        let mut log_energy = raw_log_energy;
        if c.use_energy && !c.raw_energy {
            let e: f64 = window.iter().map(|x| x * x).sum();
            log_energy = e.max(LOG_FLOOR).ln();
        }
        let power = self.spectrum.compute(window);
        self.mel.compute(power, &mut self.mel_energies);
        for x in self.mel_energies.iter_mut() {
            *x = x.max(LOG_FLOOR).ln();
        }
        let bins = self.mel_energies.len();
        for (o, row) in out.iter_mut().zip(self.dct.chunks_exact(bins)) {
            *o = row
                .iter()
                .zip(&self.mel_energies)
                .map(|(a, b)| a * b)
                .sum::<f64>() as f32;
        }
        if c.use_energy {
            out[0] = log_energy.max(self.log_energy_floor) as f32;
        }
        if c.htk_compat {
            let c0 = if c.use_energy {
                out[0]
            } else {
                out[0] * std::f32::consts::SQRT_2
            };
            out.rotate_left(1);
            let last = out.len() - 1;
            out[last] = c0;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dct_matrix_is_orthonormal() {
        let n = 23;
        let m = dct_matrix(n, n);
        for a in 0..n {
            for b in 0..n {
                let d: f64 = (0..n).map(|j| m[a * n + j] * m[b * n + j]).sum();
                let want = if a == b { 1.0 } else { 0.0 };
                assert!((d - want).abs() < 1e-12, "rows {a},{b}: {d}");
            }
        }
    }

    #[test]
    fn lifter_matches_hand_values() {
        // Q = 22: i = 0 → 1; i = 11 → 1 + 11 sin(π/2) = 12.
        let l = lifter_coeffs(13, 22.0);
        assert_eq!(l[0], 1.0);
        assert!((l[11] - 12.0).abs() < 1e-12);
        assert!((l[1] - (1.0 + 11.0 * (std::f64::consts::PI / 22.0).sin())).abs() < 1e-12);
    }

    #[test]
    fn too_many_ceps_is_rejected() {
        let c = MfccConfig {
            num_ceps: 24,
            ..Default::default()
        };
        assert!(c.validate().is_err());
    }
}
