//! The frames query-by-example works on: MFCC, fbank, or phone posteriorgrams from
//! the acoustic model.
//!
//! Posteriorgrams are speaker-independent by construction (the acoustic model was
//! trained to ignore the voice), which is why they beat raw features for matching
//! a query spoken by one voice against recordings of others. A CTC model's
//! posteriors are *peaky*: most frames are almost all blank, so two renditions of a
//! word put their phone spikes at different frames and look dissimilar frame by
//! frame. The posteriorgram here therefore drops the blank column and renormalises
//! the phone columns (each frame then says *which* phone is most likely even where
//! the blank dominates), optionally flattens it with a temperature, and mixes in a
//! small uniform floor so that `-ln(q·r)` distances stay finite.

use std::path::Path;

use ndarray::Array2;
use serde::{Deserialize, Serialize};

use crate::am::{AcousticModel, Objective};
use crate::audio::Waveform;
use crate::error::{Error, Result};
use crate::features::{CmvnMode, FeatureConfig, FeatureKind};

/// What each frame holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum FrameKind {
    /// 13 MFCC + deltas + delta-deltas (39), per-utterance mean/variance normalised.
    Mfcc,
    /// 40 log mel filter-bank energies, per-utterance mean/variance normalised.
    Fbank,
    /// Phone posteriorgram of the acoustic model (see the module docs).
    #[default]
    Posteriors,
}

impl std::str::FromStr for FrameKind {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        match s {
            "mfcc" => Ok(FrameKind::Mfcc),
            "fbank" => Ok(FrameKind::Fbank),
            "posteriors" | "post" => Ok(FrameKind::Posteriors),
            _ => Err(Error::Config(format!(
                "unknown frame kind {s:?} (expected mfcc, fbank or posteriors)"
            ))),
        }
    }
}

/// Settings of the front end.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct FrontendConfig {
    /// What the frames are.
    pub kind: FrameKind,
    /// Posteriors: drop the CTC blank column and renormalise the rest.
    pub drop_blank: bool,
    /// Posteriors: temperature, `p ∝ p^(1/T)`. Larger → flatter, more tolerant
    /// matching; 1 keeps the model's posteriors.
    pub temperature: f32,
    /// Posteriors: weight of a uniform distribution mixed in, `(1-f)·p + f/C`.
    /// Keeps `-ln(q·r)` finite; larger → less contrast.
    pub floor: f32,
}

impl Default for FrontendConfig {
    fn default() -> Self {
        FrontendConfig {
            kind: FrameKind::Posteriors,
            drop_blank: true,
            temperature: 1.0,
            floor: 0.01,
        }
    }
}

impl FrontendConfig {
    /// Checks ranges.
    pub fn validate(&self) -> Result<()> {
        if !(self.temperature > 0.0 && self.temperature.is_finite()) {
            return Err(Error::Config(format!(
                "posteriorgram temperature must be > 0, got {}",
                self.temperature
            )));
        }
        if !(0.0..1.0).contains(&self.floor) {
            return Err(Error::Config(format!(
                "posteriorgram floor must be in [0, 1), got {}",
                self.floor
            )));
        }
        Ok(())
    }
}

/// Turns 16 kHz audio into frames of one [`FrameKind`].
#[derive(Debug)]
pub struct Frontend {
    config: FrontendConfig,
    features: FeatureConfig,
    model: Option<AcousticModel>,
    frame_shift_secs: f64,
    dim: usize,
}

impl Frontend {
    /// A front end; `bundle` (a model directory) is needed for posteriors only.
    pub fn new(config: FrontendConfig, bundle: Option<&Path>) -> Result<Self> {
        config.validate()?;
        let cmvn_features = |kind: FeatureKind, delta_order: usize| FeatureConfig {
            kind,
            num_bins: if kind == FeatureKind::Fbank {
                Some(40)
            } else {
                None
            },
            cmvn: CmvnMode::UttVar,
            delta_order,
            ..FeatureConfig::default()
        };
        match config.kind {
            FrameKind::Mfcc | FrameKind::Fbank => {
                let features = if config.kind == FrameKind::Mfcc {
                    cmvn_features(FeatureKind::Mfcc, 2)
                } else {
                    cmvn_features(FeatureKind::Fbank, 0)
                };
                features.validate()?;
                Ok(Frontend {
                    frame_shift_secs: features.frame_shift_secs(),
                    dim: features.dim(),
                    config,
                    features,
                    model: None,
                })
            }
            FrameKind::Posteriors => {
                let dir = bundle.ok_or_else(|| {
                    Error::Config(
                        "posteriorgram frames need an acoustic model bundle (--model)".into(),
                    )
                })?;
                let model = AcousticModel::load(dir)?;
                let features: FeatureConfig = serde_json::from_value(model.config.features.clone())
                    .map_err(|e| Error::Model {
                        path: dir.join("config.json"),
                        msg: format!("\"features\" is not a feature configuration ({e})"),
                    })?;
                features.validate()?;
                let frame_shift_secs =
                    features.frame_shift_secs() * model.config.frame_subsampling as f64;
                let blank =
                    usize::from(config.drop_blank && model.config.objective == Objective::Ctc);
                let dim = model.num_outputs() - blank;
                Ok(Frontend {
                    config,
                    features,
                    model: Some(model),
                    frame_shift_secs,
                    dim,
                })
            }
        }
    }

    /// The settings.
    pub fn config(&self) -> &FrontendConfig {
        &self.config
    }

    /// The acoustic model behind posteriorgram frames (`None` for MFCC/fbank).
    pub fn acoustic_model(&self) -> Option<&AcousticModel> {
        self.model.as_ref()
    }

    /// Values per frame.
    pub fn dim(&self) -> usize {
        self.dim
    }

    /// Seconds between frames.
    pub fn frame_shift_secs(&self) -> f64 {
        self.frame_shift_secs
    }

    /// Frames `[frames, dim]` of 16 kHz mono samples.
    pub fn compute(&self, samples: &[f32]) -> Result<Array2<f32>> {
        let wave = Waveform::new(samples.to_vec(), 16_000);
        let feats = self.features.compute(&wave)?;
        match &self.model {
            None => Ok(feats),
            Some(model) => {
                let log_post = model.log_posteriors(&feats)?;
                let blank = self.config.drop_blank && model.config.objective == Objective::Ctc;
                posteriorgram(&log_post, blank, self.config.temperature, self.config.floor)
            }
        }
    }

    /// Frames of a WAV/FLAC file (any rate, resampled to 16 kHz).
    pub fn compute_file(&self, path: &Path) -> Result<Array2<f32>> {
        let wave = crate::audio::load_16k(path)?;
        self.compute(&wave.samples)
    }
}

/// A posteriorgram from log-posteriors `[frames, classes]`: optionally without
/// column 0 (the CTC blank), sharpened or flattened by `temperature`, renormalised
/// per frame and mixed with `floor` of the uniform distribution.
pub fn posteriorgram(
    log_post: &Array2<f32>,
    drop_blank: bool,
    temperature: f32,
    floor: f32,
) -> Result<Array2<f32>> {
    let skip = usize::from(drop_blank);
    let c = log_post.ncols();
    if c <= skip {
        return Err(Error::dim("posteriorgram", "at least 2 classes", c));
    }
    let out_dim = c - skip;
    let inv_t = 1.0 / temperature;
    let uniform = floor / out_dim as f32;
    let mut out = Array2::zeros((log_post.nrows(), out_dim));
    for (row, mut o) in log_post.rows().into_iter().zip(out.rows_mut()) {
        let x = row.slice(ndarray::s![skip..]);
        let max = x.iter().copied().fold(f32::NEG_INFINITY, f32::max);
        if !max.is_finite() {
            return Err(Error::NonFinite {
                op: "posteriorgram input".into(),
            });
        }
        let mut sum = 0.0f64;
        for (v, &l) in o.iter_mut().zip(x.iter()) {
            *v = ((l - max) * inv_t).exp();
            sum += *v as f64;
        }
        let inv = (1.0 / sum) as f32;
        for v in o.iter_mut() {
            *v = (1.0 - floor) * *v * inv + uniform;
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn posteriorgram_drops_blank_and_renormalises() {
        // Frame: blank 0.7, a 0.2, b 0.1 → without blank: 2/3, 1/3.
        let lp =
            Array2::from_shape_vec((1, 3), vec![0.7f32.ln(), 0.2f32.ln(), 0.1f32.ln()]).unwrap();
        let p = posteriorgram(&lp, true, 1.0, 0.0).unwrap();
        assert!((p[[0, 0]] - 2.0 / 3.0).abs() < 1e-6);
        assert!((p[[0, 1]] - 1.0 / 3.0).abs() < 1e-6);
        // Temperature 2: ∝ sqrt → sqrt(.2) : sqrt(.1); floor 0.1 adds 0.05 each.
        let p = posteriorgram(&lp, true, 2.0, 0.1).unwrap();
        let (a, b) = (0.2f32.sqrt(), 0.1f32.sqrt());
        assert!((p[[0, 0]] - (0.9 * a / (a + b) + 0.05)).abs() < 1e-6);
        assert!((p.sum() - 1.0).abs() < 1e-6);
        // Keeping the blank keeps the distribution.
        let p = posteriorgram(&lp, false, 1.0, 0.0).unwrap();
        assert!((p[[0, 0]] - 0.7).abs() < 1e-6);
    }

    #[test]
    fn mfcc_frontend_has_39_dims_at_10_ms() {
        let f = Frontend::new(
            FrontendConfig {
                kind: FrameKind::Mfcc,
                ..Default::default()
            },
            None,
        )
        .unwrap();
        assert_eq!(f.dim(), 39);
        assert!((f.frame_shift_secs() - 0.01).abs() < 1e-12);
        let samples: Vec<f32> = (0..16_000).map(|i| (i as f32 * 0.05).sin() * 0.3).collect();
        let x = f.compute(&samples).unwrap();
        assert_eq!(x.ncols(), 39);
        assert!(x.nrows() > 90);
        assert!(
            Frontend::new(FrontendConfig::default(), None)
                .unwrap_err()
                .to_string()
                .contains("--model")
        );
    }
}
