//! Log mel filter-bank features, as Kaldi's `compute-fbank-feats`.
//!
//! ref: <https://github.com/kaldi-asr/kaldi/blob/f4007661/src/feat/feature-fbank.cc>

use serde::{Deserialize, Serialize};

use super::FeatureExtractor;
use super::mel::{MelBanks, MelConfig};
use super::spectrum::PowerSpectrum;
use super::window::{FrameConfig, LOG_FLOOR};
use crate::error::{Error, Result};

/// Filter-bank options (Kaldi `FbankOptions`). `Default` equals Kaldi's defaults
/// except `mel.num_bins`, which is 80 (Kaldi: 23), the usual size for neural models.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct FbankConfig {
    /// Framing and per-frame conditioning.
    pub frame: FrameConfig,
    /// Mel bank layout.
    pub mel: MelConfig,
    /// Prepend the log energy of the frame as an extra first column (`--use-energy`).
    pub use_energy: bool,
    /// Floor on the log-energy column, as a plain (not log) energy (`--energy-floor`); 0 = none.
    pub energy_floor: f32,
    /// Measure the energy before pre-emphasis and windowing (`--raw-energy`).
    pub raw_energy: bool,
    /// Take the log of the mel energies (`--use-log-fbank`).
    pub use_log_fbank: bool,
    /// Use the power spectrum; false uses the magnitude (`--use-power`).
    pub use_power: bool,
    /// Put the energy column last instead of first, as HTK does (`--htk-compat`).
    pub htk_compat: bool,
}

impl Default for FbankConfig {
    fn default() -> Self {
        FbankConfig {
            frame: FrameConfig::default(),
            mel: MelConfig {
                num_bins: 80,
                ..Default::default()
            },
            use_energy: false,
            energy_floor: 0.0,
            raw_energy: true,
            use_log_fbank: true,
            use_power: true,
            htk_compat: false,
        }
    }
}

impl FbankConfig {
    /// Checks the values.
    pub fn validate(&self) -> Result<()> {
        self.frame.validate()?;
        self.mel.validate(self.frame.samp_freq)?;
        if !(self.energy_floor.is_finite() && self.energy_floor >= 0.0) {
            return Err(Error::Config(format!(
                "energy_floor must be finite and >= 0, got {}",
                self.energy_floor
            )));
        }
        Ok(())
    }

    /// Builds the extractor.
    pub fn init(&self) -> Result<Fbank> {
        Fbank::new(self)
    }
}

/// Filter-bank feature extractor: `[frames, num_bins (+1 with energy)]`.
#[derive(Debug, Clone)]
pub struct Fbank {
    config: FbankConfig,
    mel: MelBanks,
    spectrum: PowerSpectrum,
    /// Mel energies of the current frame (f64 until the final rounding).
    mel_energies: Vec<f64>,
    /// Magnitude spectrum (only with `use_power == false`).
    magnitude: Vec<f64>,
    log_energy_floor: f64,
}

impl Fbank {
    /// An extractor for `config`, validated.
    pub fn new(config: &FbankConfig) -> Result<Self> {
        config.validate()?;
        let n = config.frame.padded_window_size();
        Ok(Fbank {
            config: config.clone(),
            mel: MelBanks::new(&config.mel, config.frame.samp_freq, n)?,
            spectrum: PowerSpectrum::new(n),
            mel_energies: vec![0.0; config.mel.num_bins],
            magnitude: vec![0.0; n / 2 + 1],
            log_energy_floor: if config.energy_floor > 0.0 {
                f64::from(config.energy_floor).ln()
            } else {
                f64::NEG_INFINITY
            },
        })
    }

    /// The configuration.
    pub fn config(&self) -> &FbankConfig {
        &self.config
    }
}

impl FeatureExtractor for Fbank {
    fn dim(&self) -> usize {
        self.mel.num_bins() + usize::from(self.config.use_energy)
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
        let spectrum = if c.use_power {
            power
        } else {
            for (m, p) in self.magnitude.iter_mut().zip(power) {
                *m = p.sqrt();
            }
            &self.magnitude
        };
        self.mel.compute(spectrum, &mut self.mel_energies);
        let offset = usize::from(c.use_energy && !c.htk_compat);
        for (o, &e) in out[offset..].iter_mut().zip(&self.mel_energies) {
            *o = if c.use_log_fbank {
                e.max(LOG_FLOOR).ln() as f32
            } else {
                e as f32
            };
        }
        if c.use_energy {
            let e = if c.htk_compat { out.len() - 1 } else { 0 };
            out[e] = log_energy.max(self.log_energy_floor) as f32;
        }
    }
}
