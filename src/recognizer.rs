//! The whole pipeline behind one object: load a model bundle once, then transcribe
//! many inputs, from many threads.
//!
//! ```no_run
//! use hark::recognizer::Recognizer;
//! use hark::decode::DecoderConfig;
//!
//! let rec = Recognizer::load(std::path::Path::new("models/default"), DecoderConfig::default())?;
//! let t = rec.transcribe_file(std::path::Path::new("audio/yes.wav"))?;
//! println!("{}", t.text);
//! for w in &t.words {
//!     println!("{:.2}-{:.2} {} ({:.2})", w.start, w.end, w.word, w.conf);
//! }
//! # Ok::<(), hark::Error>(())
//! ```
//!
//! `Recognizer` is `Sync`: the network weights, lexicon and LM are shared; each
//! call borrows a decoder from a small pool (decoders keep per-utterance buffers,
//! so a thread reuses one instead of reallocating).

use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::Instant;

use ndarray::Array2;
use serde::Serialize;

use crate::am::AcousticModel;
use crate::audio::Waveform;
use crate::decode::{Decoder, DecoderConfig, DecodingResources, Hypothesis, ResourcePaths};
use crate::error::{Error, Result};
use crate::features::FeatureConfig;

/// A recognised word with times in seconds.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TimedWord {
    /// The word.
    pub word: String,
    /// Start, seconds from the start of the input.
    pub start: f64,
    /// End, seconds.
    pub end: f64,
    /// Confidence in [0, 1].
    pub conf: f32,
}

/// Seconds spent in each stage of one transcription.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize)]
pub struct StageTimes {
    /// Feature extraction.
    pub features: f64,
    /// Acoustic model forward pass.
    pub network: f64,
    /// Search.
    pub decoder: f64,
}

impl StageTimes {
    /// Total seconds.
    pub fn total(&self) -> f64 {
        self.features + self.network + self.decoder
    }
}

/// The result of one transcription.
#[derive(Debug, Clone, Serialize)]
pub struct Transcript {
    /// The words joined by spaces.
    pub text: String,
    /// Words with times and confidences.
    pub words: Vec<TimedWord>,
    /// Input duration, seconds.
    pub duration: f64,
    /// Time spent per stage.
    pub times: StageTimes,
    /// The decoder's best hypothesis (phones, frame spans, score).
    #[serde(skip)]
    pub best: Hypothesis,
}

impl Transcript {
    /// Real-time factor: processing seconds per second of audio.
    pub fn rtf(&self) -> f64 {
        self.times.total() / self.duration.max(1e-9)
    }
}

/// A loaded model bundle ready to transcribe.
#[derive(Debug)]
pub struct Recognizer {
    dir: PathBuf,
    features: FeatureConfig,
    model: AcousticModel,
    resources: DecodingResources,
    config: DecoderConfig,
    frame_shift_secs: f64,
    pool: Mutex<Vec<Box<dyn Decoder + Send>>>,
}

impl std::fmt::Debug for dyn Decoder + Send {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Decoder")
    }
}

impl Recognizer {
    /// Loads `dir` (config.json, model.safetensors, tokens.txt and, when present,
    /// lexicon.txt, lm.arpa, priors.txt) and checks that its parts agree.
    pub fn load(dir: &Path, config: DecoderConfig) -> Result<Self> {
        let model = AcousticModel::load(dir)?;
        let cfg_path = dir.join("config.json");
        let features: FeatureConfig = serde_json::from_value(model.config.features.clone())
            .map_err(|e| Error::Model {
                path: cfg_path.clone(),
                msg: format!(
                    "\"features\" is not a feature configuration ({e}); was the model trained on precomputed features?"
                ),
            })?;
        features.validate()?;
        if features.dim() != model.input_dim() {
            return Err(Error::Model {
                path: cfg_path,
                msg: format!(
                    "the front end makes {} features per frame but the network takes {}",
                    features.dim(),
                    model.input_dim()
                ),
            });
        }
        let resources = DecodingResources::load(
            &ResourcePaths {
                model: Some(dir.to_path_buf()),
                ..Default::default()
            },
            Some(model.num_outputs()),
        )?;
        if resources.tokens.len() != model.num_outputs() {
            return Err(Error::Model {
                path: dir.join("tokens.txt"),
                msg: format!(
                    "{} tokens but the network has {} outputs",
                    resources.tokens.len(),
                    model.num_outputs()
                ),
            });
        }
        let frame_shift_secs = features.frame_shift_secs() * model.config.frame_subsampling as f64;
        // Build one decoder now so configuration errors surface at load time.
        let first = resources.build_decoder(&config)?;
        Ok(Recognizer {
            dir: dir.to_path_buf(),
            features,
            model,
            resources,
            config,
            frame_shift_secs,
            pool: Mutex::new(vec![first]),
        })
    }

    /// The bundle directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The decoder settings.
    pub fn decoder_config(&self) -> &DecoderConfig {
        &self.config
    }

    /// The decoding resources (tokens, lexicon, LM, priors).
    pub fn resources(&self) -> &DecodingResources {
        &self.resources
    }

    /// The acoustic model.
    pub fn model(&self) -> &AcousticModel {
        &self.model
    }

    /// The front end.
    pub fn feature_config(&self) -> &FeatureConfig {
        &self.features
    }

    /// Seconds between posterior frames.
    pub fn frame_shift_secs(&self) -> f64 {
        self.frame_shift_secs
    }

    /// Features of 16 kHz mono samples in [-1, 1).
    pub fn features(&self, samples: &[f32]) -> Result<Array2<f32>> {
        let wave = Waveform::new(samples.to_vec(), 16_000);
        self.features.compute(&wave)
    }

    /// Log-posteriors `[frames', tokens]` of 16 kHz mono samples.
    pub fn log_posteriors(&self, samples: &[f32]) -> Result<Array2<f32>> {
        self.model.log_posteriors(&self.features(samples)?)
    }

    /// Decodes a log-posterior matrix (made by this model or elsewhere).
    pub fn decode(&self, log_post: Array2<f32>) -> Result<Vec<Hypothesis>> {
        let d = self.resources.decodable(&self.config, log_post)?;
        let taken = self
            .pool
            .lock()
            .map_err(|_| {
                Error::Invalid("decoder pool poisoned by a panic in another thread".into())
            })?
            .pop();
        let mut decoder = match taken {
            Some(dec) => dec,
            None => self.resources.build_decoder(&self.config)?,
        };
        let result = decoder.decode(d.as_ref());
        if let Ok(mut pool) = self.pool.lock() {
            pool.push(decoder);
        }
        result
    }

    /// Transcribes 16 kHz mono samples in [-1, 1).
    pub fn transcribe(&self, samples: &[f32]) -> Result<Transcript> {
        let t0 = Instant::now();
        let feats = self.features(samples)?;
        let t1 = Instant::now();
        let log_post = self.model.log_posteriors(&feats)?;
        let t2 = Instant::now();
        let hyps = self.decode(log_post)?;
        let t3 = Instant::now();
        let best = hyps.into_iter().next().ok_or(Error::EmptyBeam)?;
        let shift = self.frame_shift_secs;
        let words = best
            .words
            .iter()
            .map(|w| TimedWord {
                word: w.word.clone(),
                start: w.start as f64 * shift,
                end: w.end as f64 * shift,
                conf: w.confidence,
            })
            .collect();
        Ok(Transcript {
            text: best.text(),
            words,
            duration: samples.len() as f64 / 16_000.0,
            times: StageTimes {
                features: (t1 - t0).as_secs_f64(),
                network: (t2 - t1).as_secs_f64(),
                decoder: (t3 - t2).as_secs_f64(),
            },
            best,
        })
    }

    /// Reads a WAV/FLAC file (any rate and channel count) and transcribes it.
    pub fn transcribe_file(&self, path: &Path) -> Result<Transcript> {
        let wave = crate::audio::load_16k(path)?;
        self.transcribe(&wave.samples)
    }
}
