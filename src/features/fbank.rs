//! Log mel filter-bank features, as Kaldi's `compute-fbank-feats`.
//!
//! ref: https://github.com/kaldi-asr/kaldi/blob/f4007661/src/feat/feature-fbank.cc

use serde::{Deserialize, Serialize};

use super::FeatureExtractor;
use super::mel::{MelBanks, MelConfig};
use super::spectrum::PowerSpectrum;
use super::window::FrameConfig;
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
    log_energy_floor: f32,
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
            log_energy_floor: if config.energy_floor > 0.0 {
                config.energy_floor.ln()
            } else {
                f32::NEG_INFINITY
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

    fn compute_frame(&mut self, raw_log_energy: f32, window: &mut [f32], out: &mut [f32]) {
        let c = &self.config;
        let mut log_energy = raw_log_energy;
        if c.use_energy && !c.raw_energy {
            let e: f32 = window.iter().map(|x| x * x).sum();
            log_energy = e.max(f32::EPSILON).ln();
        }
        let offset = usize::from(c.use_energy);
        let power = self.spectrum.compute(window);
        let mel_out = &mut out[offset..];
        if c.use_power {
            self.mel.compute(power, mel_out);
        } else {
            let magnitude: Vec<f32> = power.iter().map(|p| p.sqrt()).collect();
            self.mel.compute(&magnitude, mel_out);
        }
        if c.use_log_fbank {
            for x in mel_out.iter_mut() {
                *x = x.max(f32::EPSILON).ln();
            }
        }
        if c.use_energy {
            out[0] = log_energy.max(self.log_energy_floor);
        }
    }
}
