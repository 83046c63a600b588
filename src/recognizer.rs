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
//!
//! Long recordings: [`Recognizer::transcribe_file`] reads a file longer than
//! [`ChunkConfig::max_chunk_secs`] (30 s by default) block by block, cuts it at
//! its quietest moments into pieces of at most that length
//! ([`crate::audio::Chunker`]), recognises each piece on its own and joins the
//! words with their times shifted to the file's clock. Memory therefore stays
//! bounded by one piece whatever the length of the file (an hour of 16 kHz
//! audio: 92 MB peak RSS for `hark transcribe` with a 2×128 BiLSTM, see
//! docs/reliability.md). Files up to the
//! maximum take exactly the one-piece path of [`Recognizer::transcribe`].

use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::Instant;

use ndarray::Array2;
use serde::Serialize;

use crate::am::AcousticModel;
use crate::am::adapt::{AdaptConfig, AdaptReport};
use crate::audio::{AudioStream, ChunkConfig, Chunker, Waveform};
use crate::decode::{
    Decoder, DecoderConfig, DecodingResources, Hypothesis, PhoneSpan, ResourcePaths, WordSpan,
};
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
    chunking: ChunkConfig,
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
        let mut config = config;
        config.hmm_states = config
            .hmm_states
            .or(Some(DecoderConfig::hmm_states_for(frame_shift_secs)));
        // Build one decoder now so configuration errors surface at load time.
        let first = resources.build_decoder(&config)?;
        Ok(Recognizer {
            dir: dir.to_path_buf(),
            features,
            model,
            resources,
            config,
            frame_shift_secs,
            chunking: ChunkConfig::default(),
            pool: Mutex::new(vec![first]),
        })
    }

    /// The bundle directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Sets how files longer than `chunking.max_chunk_secs` are cut into pieces.
    pub fn with_chunking(mut self, chunking: ChunkConfig) -> Result<Self> {
        chunking.validate()?;
        self.chunking = chunking;
        Ok(self)
    }

    /// How long files are cut into pieces.
    pub fn chunking(&self) -> &ChunkConfig {
        &self.chunking
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

    /// Replaces the acoustic model (say, by one [`adapt`](Self::adapt) returned). It
    /// must take the same features and give the same outputs.
    pub fn set_model(&mut self, model: AcousticModel) -> Result<()> {
        if model.input_dim() != self.model.input_dim()
            || model.num_outputs() != self.model.num_outputs()
            || model.config.frame_subsampling != self.model.config.frame_subsampling
        {
            return Err(Error::Model {
                path: self.dir.clone(),
                msg: format!(
                    "the new acoustic model ({} inputs, {} outputs, subsampling {}) does not \
                     fit this bundle ({} inputs, {} outputs, subsampling {})",
                    model.input_dim(),
                    model.num_outputs(),
                    model.config.frame_subsampling,
                    self.model.input_dim(),
                    self.model.num_outputs(),
                    self.model.config.frame_subsampling
                ),
            });
        }
        self.model = model;
        Ok(())
    }

    /// Unsupervised speaker adaptation ([`crate::am::adapt`]): decodes every
    /// recording of one speaker with `first_pass` (the `hmm` decoder with the bundle's
    /// lexicon and LM gives the best labels), fine-tunes a copy of the network on the
    /// phones found, and returns it (put it in place with
    /// [`set_model`](Self::set_model)). `recordings` are `(id, features)` pairs, the
    /// features as [`features`](Self::features) makes them; the first pass runs in
    /// parallel.
    pub fn adapt(
        &self,
        recordings: Vec<(String, Array2<f32>)>,
        first_pass: &DecoderConfig,
        config: &AdaptConfig,
    ) -> Result<(AcousticModel, AdaptReport)> {
        config.validate()?;
        crate::am::adapt::check_model(&self.model, &self.resources.tokens)?;
        let mut first_pass = first_pass.clone();
        first_pass.hmm_states = first_pass.hmm_states.or(self.config.hmm_states);
        self.resources.build_decoder(&first_pass)?;
        let mut recordings = recordings;
        let mut teacher: Option<AcousticModel> = None;
        let mut report: Option<AdaptReport> = None;
        for round in 0..config.rounds {
            let decoded = self.first_pass(
                teacher.as_ref().unwrap_or(&self.model),
                recordings,
                &first_pass,
            )?;
            // The features go to training; only a later round needs its own copy.
            recordings = if round + 1 < config.rounds {
                decoded
                    .iter()
                    .map(|(id, f, _)| (id.clone(), f.clone()))
                    .collect()
            } else {
                Vec::new()
            };
            // Every round fine-tunes the original network on the latest labels.
            let (student, r) =
                crate::am::adapt::adapt(&self.model, &self.resources.tokens, decoded, config)?;
            teacher = Some(student);
            report = Some(r);
        }
        match (teacher, report) {
            (Some(m), Some(r)) => Ok((m, r)),
            _ => Err(Error::Config("adaptation needs at least one round".into())),
        }
    }

    /// Decodes every recording with `model` and `first_pass` (in parallel).
    fn first_pass(
        &self,
        model: &AcousticModel,
        recordings: Vec<(String, Array2<f32>)>,
        first_pass: &DecoderConfig,
    ) -> Result<Vec<(String, Array2<f32>, Hypothesis)>> {
        use rayon::prelude::*;
        let decoded: Vec<Result<(String, Array2<f32>, Hypothesis)>> = recordings
            .into_par_iter()
            .map_init(
                || self.resources.build_decoder(first_pass),
                |decoder, (id, feats)| {
                    let decoder = decoder
                        .as_mut()
                        .map_err(|e| Error::Invalid(e.to_string()))?;
                    let log_post = model.log_posteriors(&feats)?;
                    let d = self.resources.decodable(first_pass, log_post)?;
                    // A recording the first pass cannot decode (an empty beam) has no
                    // labels and is left out, as one without phones is.
                    let best = decoder
                        .decode(d.as_ref())
                        .ok()
                        .and_then(|n| n.into_iter().next())
                        .unwrap_or_default();
                    Ok((id, feats, best))
                },
            )
            .collect();
        decoded.into_iter().collect()
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

    /// Reads a WAV/FLAC file (any rate and channel count) and transcribes it. Files
    /// longer than [`ChunkConfig::max_chunk_secs`] go through
    /// [`transcribe_long`](Self::transcribe_long); shorter ones are read whole and
    /// passed to [`transcribe`](Self::transcribe).
    pub fn transcribe_file(&self, path: &Path) -> Result<Transcript> {
        let mut stream = AudioStream::open(path)?;
        if stream.duration_secs() > self.chunking.max_chunk_secs {
            return self.transcribe_stream(stream);
        }
        // The same samples as `audio::load_16k`.
        let mut samples = Vec::new();
        stream.read(usize::MAX, &mut samples)?;
        self.transcribe(&crate::audio::to_16k(samples, stream.sample_rate())?)
    }

    /// Transcribes a file of any length piece by piece: reads it in blocks, cuts
    /// it at quiet moments into pieces of at most `max_chunk_secs` (see
    /// [`Chunker`]), recognises each piece alone and joins the results (word and
    /// phone times on the file's clock, stage times summed, score summed).
    pub fn transcribe_long(&self, path: &Path) -> Result<Transcript> {
        self.transcribe_stream(AudioStream::open(path)?)
    }

    fn transcribe_stream(&self, stream: AudioStream) -> Result<Transcript> {
        let duration = stream.duration_secs();
        let mut chunker = Chunker::new(stream, self.chunking.clone())?;
        let mut out = Transcript {
            text: String::new(),
            words: Vec::new(),
            duration,
            times: StageTimes::default(),
            best: Hypothesis {
                confidence: 1.0,
                ..Default::default()
            },
        };
        let shift = self.frame_shift_secs;
        while let Some(chunk) = chunker.next_chunk()? {
            let t = self.transcribe(&chunk.samples)?;
            let frame_offset = (chunk.start_secs / shift).round() as usize;
            out.words.extend(t.words.into_iter().map(|w| TimedWord {
                start: w.start + chunk.start_secs,
                end: w.end + chunk.start_secs,
                ..w
            }));
            out.times.features += t.times.features;
            out.times.network += t.times.network;
            out.times.decoder += t.times.decoder;
            let best = &mut out.best;
            best.words
                .extend(t.best.words.into_iter().map(|w| WordSpan {
                    start: w.start + frame_offset,
                    end: w.end + frame_offset,
                    ..w
                }));
            best.phones
                .extend(t.best.phones.into_iter().map(|p| PhoneSpan {
                    start: p.start + frame_offset,
                    end: p.end + frame_offset,
                    ..p
                }));
            best.score += t.best.score;
            best.confidence *= t.best.confidence;
        }
        out.text = out.best.text();
        Ok(out)
    }
}
