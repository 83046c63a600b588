//! Training an [`AcousticModel`]: length-sorted padded minibatches, data-parallel
//! gradients over shards (rayon), gradient clipping, Adam, dev PER each epoch, LR
//! decay and early stopping on dev PER, and resumable checkpoints.
//!
//! Feature extraction is mostly not done here: callers pass [`TrainExample`]s with
//! features already computed (by `hark::features`, from `.npy` files, or synthetic),
//! so the trainer is independent of the front end. The one exception is vocal-tract
//! length perturbation ([`VtlpConfig`]): examples that carry their 16 kHz audio get
//! their features recomputed for every batch with a random VTLN warp, through the
//! front end named in the model's `config.json`.
//!
//! Determinism: every random draw (batch order, dropout, SpecAugment, VTLP) comes from a
//! generator forked from the seed by (epoch, batch, shard), the shard split of a
//! batch is fixed, and shard gradients are summed in shard order. Results are
//! therefore bit-identical for a given seed whatever the thread scheduling, and a
//! resumed run continues exactly where the checkpoint left off.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;

use ndarray::{Array1, Array2};
use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use crate::am::io::{load_adam_moments, save_adam_moments};
use crate::am::model::{AcousticModel, ModelConfig, Objective};
use crate::audio::Waveform;
use crate::error::{Error, Result};
use crate::eval::edit_distance;
use crate::features::FeatureConfig;
use crate::fsio::write_atomic;
use crate::nn::augment::{EqAugmentConfig, SpecAugmentConfig};
use crate::nn::loss::{cross_entropy, ctc_loss_batch, ctc_min_frames};
use crate::nn::optim::{Adam, AdamConfig};
use crate::nn::{Params, SeqBatch};
use crate::rng::Rng;

/// What an utterance should produce.
#[derive(Debug, Clone, PartialEq)]
pub enum Targets {
    /// Token ids for CTC (no blanks).
    Ctc(Vec<usize>),
    /// One output id per **input** frame (alignments) for cross-entropy.
    Frames(Vec<usize>),
}

/// One training utterance.
#[derive(Debug, Clone, PartialEq)]
pub struct TrainExample {
    /// Utterance id (for error messages).
    pub id: String,
    /// Features `[frames, input_dim]`, before normalisation.
    pub feats: Array2<f32>,
    /// Targets.
    pub targets: Targets,
    /// The audio `feats` were computed from, kept only when training with
    /// [`VtlpConfig`] (which recomputes the features with a random warp).
    pub audio: Option<Arc<Waveform>>,
}

/// Vocal-tract length perturbation (Jaitly & Hinton 2013): every time an utterance
/// is used, its features are recomputed with Kaldi's piecewise-linear VTLN warp and a
/// factor drawn uniformly from `[min_warp, max_warp]`, so the network sees each voice
/// with many vocal-tract lengths. The number of frames does not change.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct VtlpConfig {
    /// Smallest warp factor (e.g. 0.9).
    pub min_warp: f32,
    /// Largest warp factor (e.g. 1.1).
    pub max_warp: f32,
}

impl VtlpConfig {
    /// The symmetric range `[1 − r, 1 + r]`.
    pub fn symmetric(r: f32) -> Self {
        VtlpConfig {
            min_warp: 1.0 - r,
            max_warp: 1.0 + r,
        }
    }

    /// Checks the range (and that the front end accepts both ends).
    pub fn validate(&self, front_end: &FeatureConfig) -> Result<()> {
        if !(self.min_warp > 0.0 && self.min_warp <= self.max_warp && self.max_warp.is_finite()) {
            return Err(Error::Config(format!(
                "VTLP warp range {} … {} must satisfy 0 < min ≤ max",
                self.min_warp, self.max_warp
            )));
        }
        for w in [self.min_warp, self.max_warp] {
            FeatureConfig {
                vtln_warp: w,
                ..front_end.clone()
            }
            .validate()?;
        }
        Ok(())
    }

    fn draw(&self, rng: &mut Rng) -> f32 {
        self.min_warp + (self.max_warp - self.min_warp) * rng.uniform() as f32
    }
}

/// Speed perturbation (Ko et al. 2015): every time an utterance is used, its audio is
/// resampled by a factor drawn uniformly from `[min_factor, max_factor]` (1.1 plays it
/// 10 % faster, raising pitch and formants and shortening it), and its features are
/// recomputed. The length changes, so it is for CTC targets only; a draw that would
/// make the utterance too short for its labels falls back to the stored features.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct SpeedConfig {
    /// Smallest factor (e.g. 0.9).
    pub min_factor: f32,
    /// Largest factor (e.g. 1.1).
    pub max_factor: f32,
}

impl SpeedConfig {
    /// The range `[min, max]`, checked.
    pub fn new(min_factor: f32, max_factor: f32) -> Result<Self> {
        let s = SpeedConfig {
            min_factor,
            max_factor,
        };
        s.validate()?;
        Ok(s)
    }

    /// Checks `0.5 ≤ min ≤ max ≤ 2`.
    pub fn validate(&self) -> Result<()> {
        if !(self.min_factor >= 0.5 && self.min_factor <= self.max_factor && self.max_factor <= 2.0)
        {
            return Err(Error::Config(format!(
                "speed perturbation range {} … {} must satisfy 0.5 ≤ min ≤ max ≤ 2",
                self.min_factor, self.max_factor
            )));
        }
        Ok(())
    }

    fn draw(&self, rng: &mut Rng) -> f32 {
        self.min_factor + (self.max_factor - self.min_factor) * rng.uniform() as f32
    }
}

/// Training settings.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TrainConfig {
    /// Maximum number of epochs.
    pub max_epochs: usize,
    /// Utterances per minibatch. Larger → faster per frame, fewer updates.
    pub batch_size: usize,
    /// Shards each batch is split into, processed in parallel (use the core count).
    pub num_shards: usize,
    /// Optimiser (learning rate, warm-up, clipping).
    pub adam: AdamConfig,
    /// Dropout between recurrent layers.
    pub dropout: f64,
    /// SpecAugment masking of the training inputs (none when `None`).
    pub spec_augment: Option<SpecAugmentConfig>,
    /// Learning-rate factor applied after an epoch whose dev PER did not improve.
    pub lr_decay: f64,
    /// Stop after this many epochs without dev PER improvement.
    pub patience: usize,
    /// Minutes between mid-epoch checkpoints (checkpoints are also written at the
    /// end of every epoch when a checkpoint directory is given).
    pub checkpoint_minutes: f64,
    /// Seed for every random draw.
    pub seed: u64,
    /// Keep the model's input normalisation (say, of the model it was initialised
    /// from) instead of computing it from the training set.
    #[serde(default)]
    pub keep_input_norm: bool,
    /// Vocal-tract length perturbation of examples that carry audio (none when `None`).
    #[serde(default)]
    pub vtlp: Option<VtlpConfig>,
    /// Random equaliser curves added to the training inputs (none when `None`).
    #[serde(default)]
    pub eq: Option<EqAugmentConfig>,
    /// Speed perturbation of examples that carry audio (CTC only; none when `None`).
    #[serde(default)]
    pub speed: Option<SpeedConfig>,
    /// Run exactly `max_epochs` epochs without a dev set (`dev` may be empty) and keep
    /// the last model: no dev evaluation, no learning-rate decay, no early stopping.
    /// For self-training on unlabelled speech ([`crate::am::adapt`]), where there is
    /// nothing to select on.
    #[serde(default)]
    pub fixed_epochs: bool,
}

impl Default for TrainConfig {
    fn default() -> Self {
        TrainConfig {
            max_epochs: 20,
            batch_size: 16,
            num_shards: 2,
            adam: AdamConfig::default(),
            dropout: 0.0,
            spec_augment: None,
            lr_decay: 0.5,
            patience: 3,
            checkpoint_minutes: 10.0,
            seed: 1,
            keep_input_norm: false,
            vtlp: None,
            eq: None,
            speed: None,
            fixed_epochs: false,
        }
    }
}

impl TrainConfig {
    /// Checks ranges.
    pub fn validate(&self) -> Result<()> {
        self.adam.validate()?;
        if let Some(s) = &self.spec_augment {
            s.validate()?;
        }
        if let Some(e) = &self.eq {
            e.validate()?;
        }
        if let Some(s) = &self.speed {
            s.validate()?;
        }
        if self.batch_size == 0 || self.num_shards == 0 || self.max_epochs == 0 {
            return Err(Error::Config(
                "batch_size, num_shards and max_epochs must be positive".into(),
            ));
        }
        if !((0.0..1.0).contains(&self.dropout) && self.lr_decay > 0.0 && self.lr_decay <= 1.0) {
            return Err(Error::Config(format!(
                "dropout {} must be in [0, 1) and lr_decay {} in (0, 1]",
                self.dropout, self.lr_decay
            )));
        }
        Ok(())
    }
}

/// Statistics of one epoch.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EpochStats {
    /// Epoch number (1-based).
    pub epoch: usize,
    /// Mean training loss per output frame.
    pub train_loss: f64,
    /// Mean dev loss per output frame.
    pub dev_loss: f64,
    /// Dev phone error rate (greedy decoding), in [0, ∞).
    pub dev_per: f64,
    /// Fraction of updates whose gradient was clipped.
    pub clip_rate: f64,
    /// Training input frames per second (wall clock).
    pub frames_per_sec: f64,
    /// Learning rate at the end of the epoch.
    pub learning_rate: f64,
}

/// Progress after each update, for a progress bar.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Progress {
    /// Current epoch (1-based).
    pub epoch: usize,
    /// Updates done in this epoch.
    pub batch: usize,
    /// Updates per epoch.
    pub num_batches: usize,
    /// Running mean loss per frame in this epoch.
    pub loss: f64,
    /// Running clip rate in this epoch.
    pub clip_rate: f64,
    /// Input frames per second in this epoch.
    pub frames_per_sec: f64,
}

/// Result of [`train`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TrainReport {
    /// One entry per finished epoch.
    pub history: Vec<EpochStats>,
    /// Epoch of the best dev PER (the model returned).
    pub best_epoch: usize,
    /// Best dev PER.
    pub best_dev_per: f64,
    /// Training utterances left out because they had fewer output frames than their
    /// CTC labels need.
    pub num_skipped: usize,
}

/// Trainer state saved in checkpoints (`state.json`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct State {
    epoch: usize,
    next_batch: usize,
    adam_step: u64,
    lr_scale: f64,
    epochs_without_improvement: usize,
    best_epoch: usize,
    best_dev_per: f64,
    /// Lowest dev loss so far (an epoch that lowers it is progress even while the
    /// PER is flat, as in CTC's early all-blank phase).
    #[serde(default = "infinity")]
    best_dev_loss: f64,
    history: Vec<EpochStats>,
    epoch_loss: f64,
    epoch_frames: usize,
    epoch_clipped: usize,
}

fn infinity() -> f64 {
    f64::INFINITY
}

/// An example after normalisation, ready for batching.
struct Prepared {
    /// Normalised (not yet stacked) features.
    norm: Array2<f32>,
    /// CTC labels or per-output-frame labels.
    targets: Targets,
    out_frames: usize,
    /// Source audio, for VTLP.
    audio: Option<Arc<Waveform>>,
}

/// Global per-dimension mean and standard deviation of all frames (f64 sums).
pub fn compute_input_norm(examples: &[TrainExample]) -> Result<(Array1<f32>, Array1<f32>)> {
    let dim = examples.first().map(|e| e.feats.ncols()).unwrap_or(0);
    let mut sum = vec![0.0f64; dim];
    let mut sq = vec![0.0f64; dim];
    let mut n = 0usize;
    for e in examples {
        if e.feats.ncols() != dim {
            return Err(Error::dim("input normalisation", dim, e.feats.ncols()));
        }
        for row in e.feats.rows() {
            for (j, &v) in row.iter().enumerate() {
                sum[j] += v as f64;
                sq[j] += v as f64 * v as f64;
            }
            n += 1;
        }
    }
    if n == 0 {
        return Err(Error::Invalid(
            "no frames to compute input normalisation".into(),
        ));
    }
    let mean: Vec<f64> = sum.iter().map(|s| s / n as f64).collect();
    let std: Vec<f32> = sq
        .iter()
        .zip(&mean)
        .map(|(s, m)| ((s / n as f64 - m * m).max(0.0).sqrt().max(1e-3)) as f32)
        .collect();
    Ok((mean.iter().map(|&m| m as f32).collect(), Array1::from(std)))
}

/// Greedy CTC decoding: best token per frame, repeats merged, blanks (0) removed.
pub fn greedy_ctc(log_post: &Array2<f32>) -> Vec<usize> {
    let mut out = Vec::new();
    let mut prev = None;
    for row in log_post.rows() {
        let best = argmax(row.iter().copied());
        if Some(best) != prev && best != 0 {
            out.push(best);
        }
        prev = Some(best);
    }
    out
}

fn argmax(values: impl Iterator<Item = f32>) -> usize {
    let mut best = (0, f32::NEG_INFINITY);
    for (i, v) in values.enumerate() {
        if v > best.1 {
            best = (i, v);
        }
    }
    best.0
}

fn collapse(labels: &[usize]) -> Vec<usize> {
    let mut out: Vec<usize> = labels.to_vec();
    out.dedup();
    out
}

/// Normalised examples; CTC utterances with fewer output frames than their labels
/// need are `None` (they have no alignment, so their loss would be infinite).
fn prepare(model: &AcousticModel, examples: &[TrainExample]) -> Result<Vec<Option<Prepared>>> {
    let objective = model.config.objective;
    let (stack, sub) = (model.config.frame_stacking, model.config.frame_subsampling);
    examples
        .iter()
        .map(|e| {
            let norm = model.normalize_input(&e.feats)?;
            let frames = norm.nrows();
            let out_frames = model.num_output_frames(frames);
            let targets = match (&e.targets, objective) {
                (Targets::Ctc(t), Objective::Ctc) => Targets::Ctc(t.clone()),
                (Targets::Frames(l), Objective::Ce) => {
                    if l.len() != frames {
                        return Err(Error::Invalid(format!(
                            "utterance {}: {} frame labels for {frames} frames",
                            e.id,
                            l.len()
                        )));
                    }
                    // Label of an output frame: the centre of its stacked window.
                    let labels = (0..out_frames)
                        .map(|j| l[(j * sub + stack / 2).min(frames - 1)])
                        .collect();
                    Targets::Frames(labels)
                }
                _ => {
                    return Err(Error::Invalid(format!(
                        "utterance {}: targets do not match the objective {objective:?}",
                        e.id
                    )));
                }
            };
            if let Targets::Ctc(t) = &targets {
                if out_frames < ctc_min_frames(t) {
                    return Ok(None);
                }
            }
            Ok(Some(Prepared {
                norm,
                targets,
                out_frames,
                audio: e.audio.clone(),
            }))
        })
        .collect()
}

/// Audio-level perturbations: the features of an utterance that carries its audio are
/// recomputed for every batch through the model's front end.
#[derive(Debug, Clone, Copy)]
struct AudioAugment<'a> {
    vtlp: Option<VtlpConfig>,
    speed: Option<SpeedConfig>,
    front_end: &'a FeatureConfig,
}

/// The features of `p` recomputed from its audio with a random VTLN warp and/or speed
/// factor, and normalised; the stored ones when `p` has no audio, or when the speed
/// draw leaves too few frames for its CTC labels.
fn perturbed_features(
    model: &AcousticModel,
    p: &Prepared,
    aug: &AudioAugment,
    rng: &mut Rng,
) -> Result<Array2<f32>> {
    let Some(audio) = &p.audio else {
        return Ok(p.norm.clone());
    };
    // Draw both whatever happens next, so the random stream does not depend on data.
    let warp = aug.vtlp.map_or(1.0, |v| v.draw(rng));
    let factor = aug.speed.map_or(1.0, |s| s.draw(rng));
    let config = FeatureConfig {
        vtln_warp: warp,
        ..aug.front_end.clone()
    };
    let feats = if factor == 1.0 {
        config.compute(audio)?
    } else {
        let samples = crate::corpus::augment::speed(&audio.samples, f64::from(factor));
        config.compute(&Waveform::new(samples, audio.sample_rate))?
    };
    if feats.ncols() != p.norm.ncols() || (factor == 1.0 && feats.nrows() != p.norm.nrows()) {
        return Err(Error::Invalid(format!(
            "recomputed features are {:?}, the stored ones {:?} (front end differs from the \
             model's config)",
            feats.dim(),
            p.norm.dim()
        )));
    }
    if let Targets::Ctc(t) = &p.targets {
        if model.num_output_frames(feats.nrows()) < ctc_min_frames(t) {
            return Ok(p.norm.clone());
        }
    }
    model.normalize_input(&feats)
}

/// Augmentations applied to each batch.
struct Augment<'a> {
    dropout: f64,
    spec: Option<&'a SpecAugmentConfig>,
    /// VTLP / speed perturbation and the front end that recomputes features.
    audio: Option<AudioAugment<'a>>,
    eq: Option<&'a EqAugmentConfig>,
}

/// Loss, gradient and frame count of one shard.
fn shard_step(
    model: &AcousticModel,
    items: &[&Prepared],
    aug: &Augment,
    mut rng: Rng,
) -> Result<(f64, usize, AcousticModel)> {
    let inputs: Vec<Array2<f32>> = items
        .iter()
        .map(|p| {
            let mut x = match &aug.audio {
                Some(a) => perturbed_features(model, p, a, &mut rng)?,
                None => p.norm.clone(),
            };
            if let Some(e) = aug.eq {
                let cols = x.ncols();
                let std = model.norm.as_ref().map(|n| n.std.as_slice().unwrap_or(&[]));
                e.apply(&mut x, std.filter(|s| s.len() == cols), &mut rng);
            }
            if let Some(s) = aug.spec {
                s.apply(&mut x, &mut rng);
            }
            Ok(model.stack_frames(&x))
        })
        .collect::<Result<_>>()?;
    let refs: Vec<&ndarray::ArrayRef2<f32>> = inputs.iter().map(|a| &**a).collect();
    let (batch, order) = SeqBatch::from_sequences(&refs)?;
    let (logits, cache) = model.forward_train(&batch, aug.dropout, &mut rng)?;
    let (loss, dlogits) = match model.config.objective {
        Objective::Ctc => {
            let targets: Vec<Vec<usize>> = order
                .iter()
                .map(|&i| match &items[i].targets {
                    Targets::Ctc(t) => t.clone(),
                    Targets::Frames(_) => Vec::new(),
                })
                .collect();
            ctc_loss_batch(&logits, &targets)?
        }
        Objective::Ce => {
            let bsz = batch.batch_size();
            let mut rows = vec![None; logits.data().nrows()];
            for (b, &i) in order.iter().enumerate() {
                if let Targets::Frames(l) = &items[i].targets {
                    for (t, &lab) in l.iter().enumerate() {
                        rows[t * bsz + b] = Some(lab);
                    }
                }
            }
            cross_entropy(logits.data(), &rows)?
        }
    };
    let mut grads = model.zeros_like();
    model.backward(&cache, &dlogits, &mut grads);
    Ok((loss, batch.num_frames(), grads))
}

/// Dev loss per frame and PER (greedy decoding; for CE, repeats of the frame-wise
/// best labels are merged and compared with the merged reference labels).
pub fn evaluate(model: &AcousticModel, examples: &[TrainExample]) -> Result<(f64, f64)> {
    let prepared: Vec<Prepared> = prepare(model, examples)?.into_iter().flatten().collect();
    if prepared.is_empty() {
        return Err(Error::Invalid(
            "no dev utterance is long enough for its labels".into(),
        ));
    }
    let results: Vec<Result<(f64, usize, usize, usize)>> = prepared
        .par_iter()
        .map(|p| {
            let x = model.stack_frames(&p.norm);
            let frames = x.nrows();
            let logits = model.logits(&SeqBatch::new(x, vec![frames])?)?.into_data();
            let mut lp = logits.clone();
            crate::nn::activation::log_softmax_inplace(&mut lp);
            let (loss, hyp, reference) = match &p.targets {
                Targets::Ctc(t) => (
                    ctc_loss_batch(
                        &SeqBatch::new(logits, vec![frames])?,
                        std::slice::from_ref(t),
                    )?
                    .0,
                    greedy_ctc(&lp),
                    t.clone(),
                ),
                Targets::Frames(l) => {
                    let rows: Vec<Option<usize>> = l.iter().map(|&v| Some(v)).collect();
                    let best: Vec<usize> = lp
                        .rows()
                        .into_iter()
                        .map(|r| argmax(r.iter().copied()))
                        .collect();
                    (
                        cross_entropy(&logits, &rows)?.0,
                        collapse(&best),
                        collapse(l),
                    )
                }
            };
            Ok((
                loss,
                p.out_frames,
                edit_distance(&hyp, &reference),
                reference.len(),
            ))
        })
        .collect();
    let (mut loss, mut frames, mut errs, mut refs) = (0.0, 0usize, 0usize, 0usize);
    for r in results {
        let (l, f, e, n) = r?;
        loss += l;
        frames += f;
        errs += e;
        refs += n;
    }
    Ok((
        loss / frames.max(1) as f64,
        errs as f64 / refs.max(1) as f64,
    ))
}

/// Trains `model` in place and leaves the weights of the best dev-PER epoch in it.
///
/// When `checkpoint_dir` is given, checkpoints go there (`model/`,
/// `optimizer.safetensors`, `state.json`) every `checkpoint_minutes` and after every
/// epoch, and a checkpoint already there is resumed. With `model.config.normalize_input`
/// set and no checkpoint, the normalisation is computed from `train`.
pub fn train(
    model: &mut AcousticModel,
    train: &[TrainExample],
    dev: &[TrainExample],
    config: &TrainConfig,
    checkpoint_dir: Option<&Path>,
    on_progress: &mut dyn FnMut(&Progress),
) -> Result<TrainReport> {
    config.validate()?;
    if train.is_empty() || (dev.is_empty() && !config.fixed_epochs) {
        return Err(Error::Invalid(
            "training needs at least one training and one dev utterance".into(),
        ));
    }
    let mut adam = config.adam.init(&*model)?;
    let mut state = State {
        epoch: 0,
        next_batch: 0,
        adam_step: 0,
        lr_scale: 1.0,
        epochs_without_improvement: 0,
        best_epoch: 0,
        best_dev_per: f64::INFINITY,
        best_dev_loss: f64::INFINITY,
        history: Vec::new(),
        epoch_loss: 0.0,
        epoch_frames: 0,
        epoch_clipped: 0,
    };
    let mut best = model.clone();
    match checkpoint_dir.filter(|d| d.join("state.json").exists()) {
        Some(dir) => {
            let (m, b, a, s) = load_checkpoint(dir, &model.config, config)?;
            *model = m;
            best = b;
            adam = a;
            state = s;
        }
        None => {
            if model.config.normalize_input && !config.keep_input_norm {
                let (mean, std) = compute_input_norm(train)?;
                model.set_input_norm(mean, std)?;
            }
        }
    }

    // Length-sorted batches of consecutive utterances.
    let prepared: Vec<Option<Prepared>> = prepare(model, train)?;
    let num_skipped = prepared.iter().filter(|p| p.is_none()).count();
    let prepared: Vec<Prepared> = prepared.into_iter().flatten().collect();
    if prepared.is_empty() {
        return Err(Error::Invalid(
            "no training utterance is long enough for its labels".into(),
        ));
    }
    if config.speed.is_some() && model.config.objective != Objective::Ctc {
        return Err(Error::Config(
            "speed perturbation changes the number of frames: it needs the ctc objective".into(),
        ));
    }
    let front_end: Option<FeatureConfig> = if config.vtlp.is_some() || config.speed.is_some() {
        let fe: FeatureConfig =
            serde_json::from_value(model.config.features.clone()).map_err(|e| {
                Error::Config(format!(
                    "VTLP and speed perturbation need the model's front end in config.json \
                     \"features\": {e}"
                ))
            })?;
        if let Some(v) = &config.vtlp {
            v.validate(&fe)?;
        }
        if prepared.iter().all(|p| p.audio.is_none()) {
            return Err(Error::Config(
                "VTLP and speed perturbation need training examples that carry their audio".into(),
            ));
        }
        Some(fe)
    } else {
        None
    };
    let aug = Augment {
        dropout: config.dropout,
        spec: config.spec_augment.as_ref(),
        audio: front_end.as_ref().map(|front_end| AudioAugment {
            vtlp: config.vtlp,
            speed: config.speed,
            front_end,
        }),
        eq: config.eq.as_ref(),
    };
    let mut by_len: Vec<usize> = (0..prepared.len()).collect();
    by_len.sort_by_key(|&i| (prepared[i].norm.nrows(), i));
    let batches: Vec<Vec<usize>> = by_len
        .chunks(config.batch_size)
        .map(|c| c.to_vec())
        .collect();
    let num_batches = batches.len();
    let mut last_checkpoint = Instant::now();

    while state.epoch < config.max_epochs {
        let epoch = state.epoch + 1;
        let mut order: Vec<usize> = (0..num_batches).collect();
        Rng::fork(config.seed, epoch as u64).shuffle(&mut order);
        let started = Instant::now();
        let mut frames_this_run = 0usize;
        for bi in state.next_batch..num_batches {
            let items: Vec<&Prepared> = batches[order[bi]].iter().map(|&i| &prepared[i]).collect();
            let per_shard = items.len().div_ceil(config.num_shards);
            let seed = config.seed ^ 0x5EED_0000_0000;
            let results: Vec<Result<(f64, usize, AcousticModel)>> = items
                .chunks(per_shard)
                .enumerate()
                .collect::<Vec<_>>()
                .into_par_iter()
                .map(|(s, chunk)| {
                    let rng =
                        Rng::fork(seed, ((epoch as u64) << 40) | ((bi as u64) << 8) | s as u64);
                    shard_step(model, chunk, &aug, rng)
                })
                .collect();
            let mut loss = 0.0;
            let mut frames = 0usize;
            let mut grads: Option<AcousticModel> = None;
            for r in results {
                let (l, f, g) = r?;
                loss += l;
                frames += f;
                match &mut grads {
                    None => grads = Some(g),
                    Some(acc) => acc.add_assign_params(&g),
                }
            }
            let mut grads = grads.expect("invariant: a batch has at least one shard");
            grads.scale(1.0 / frames.max(1) as f32);
            if let Some(name) = grads.first_non_finite() {
                return Err(Error::NonFinite {
                    op: format!("gradient of {name} (loss diverged; lower the learning rate)"),
                });
            }
            let stats = adam.step(model, &mut grads);
            state.epoch_loss += loss;
            state.epoch_frames += frames;
            state.epoch_clipped += usize::from(stats.clipped);
            state.next_batch = bi + 1;
            frames_this_run += items.iter().map(|p| p.norm.nrows()).sum::<usize>();
            let fps = frames_this_run as f64 / started.elapsed().as_secs_f64().max(1e-9);
            on_progress(&Progress {
                epoch,
                batch: bi + 1,
                num_batches,
                loss: state.epoch_loss / state.epoch_frames.max(1) as f64,
                clip_rate: state.epoch_clipped as f64 / (bi + 1) as f64,
                frames_per_sec: fps,
            });
            if let Some(dir) = checkpoint_dir {
                if last_checkpoint.elapsed().as_secs_f64() > config.checkpoint_minutes * 60.0 {
                    state.adam_step = adam.step;
                    state.lr_scale = adam.lr_scale;
                    save_checkpoint(dir, model, &best, &adam, &state)?;
                    last_checkpoint = Instant::now();
                }
            }
        }
        // End of epoch: dev evaluation, LR decay, early stopping (none of them with
        // fixed epochs, where the last model is the result).
        let (dev_loss, dev_per) = if config.fixed_epochs {
            (f64::NAN, f64::NAN)
        } else {
            evaluate(model, dev)?
        };
        // The best model is chosen on dev PER; the learning rate decays, and the
        // patience counter runs, only when neither dev PER nor dev loss improved.
        let per_improved = config.fixed_epochs || dev_per < state.best_dev_per;
        let loss_improved = dev_loss < state.best_dev_loss;
        if per_improved {
            state.best_dev_per = dev_per;
            state.best_epoch = epoch;
            best = model.clone();
        }
        if loss_improved {
            state.best_dev_loss = dev_loss;
        }
        // While the dev PER is ~100 % the network is still in CTC's all-blank phase,
        // where the loss plateaus before the first phones appear; decaying the
        // learning rate there freezes it in that plateau, so only progress counts.
        let blank_phase = dev_per >= 0.99;
        if per_improved || loss_improved || blank_phase {
            state.epochs_without_improvement = 0;
        } else {
            state.epochs_without_improvement += 1;
            adam.decay(config.lr_decay);
        }
        state.history.push(EpochStats {
            epoch,
            train_loss: state.epoch_loss / state.epoch_frames.max(1) as f64,
            dev_loss,
            dev_per,
            clip_rate: state.epoch_clipped as f64 / num_batches.max(1) as f64,
            frames_per_sec: frames_this_run as f64 / started.elapsed().as_secs_f64().max(1e-9),
            learning_rate: adam.learning_rate(),
        });
        state.epoch = epoch;
        state.next_batch = 0;
        state.epoch_loss = 0.0;
        state.epoch_frames = 0;
        state.epoch_clipped = 0;
        state.adam_step = adam.step;
        state.lr_scale = adam.lr_scale;
        if let Some(dir) = checkpoint_dir {
            save_checkpoint(dir, model, &best, &adam, &state)?;
            last_checkpoint = Instant::now();
        }
        if state.epochs_without_improvement >= config.patience {
            break;
        }
    }
    *model = best;
    Ok(TrainReport {
        history: state.history,
        best_epoch: state.best_epoch,
        best_dev_per: state.best_dev_per,
        num_skipped,
    })
}

fn save_checkpoint(
    dir: &Path,
    model: &AcousticModel,
    best: &AcousticModel,
    adam: &Adam<f32>,
    state: &State,
) -> Result<()> {
    model.save(&dir.join("model"))?;
    best.save(&dir.join("best"))?;
    save_adam_moments(&dir.join("optimizer.safetensors"), model, adam)?;
    let json = serde_json::to_string_pretty(state)
        .map_err(|e| Error::Invalid(format!("serialising trainer state: {e}")))?;
    // state.json last: its presence marks a complete checkpoint.
    write_atomic(&dir.join("state.json"), json.as_bytes())
}

fn load_checkpoint(
    dir: &Path,
    expected: &ModelConfig,
    config: &TrainConfig,
) -> Result<(AcousticModel, AcousticModel, Adam<f32>, State)> {
    let model = AcousticModel::load(&dir.join("model"))?;
    let best = AcousticModel::load(&dir.join("best"))?;
    if model.config.architecture != expected.architecture
        || model.config.objective != expected.objective
    {
        return Err(Error::Model {
            path: dir.join("model/config.json"),
            msg: "checkpoint architecture or objective differs from the requested model".into(),
        });
    }
    let path: PathBuf = dir.join("state.json");
    let text = std::fs::read_to_string(&path).map_err(|e| Error::io(&path, "reading", e))?;
    let state: State =
        serde_json::from_str(&text).map_err(|e| Error::parse(&path, e.line(), e.to_string()))?;
    let mut adam = config.adam.init(&model)?;
    load_adam_moments(&dir.join("optimizer.safetensors"), &model, &mut adam)?;
    adam.step = state.adam_step;
    adam.lr_scale = state.lr_scale;
    Ok((model, best, adam, state))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn greedy_ctc_merges_repeats_and_drops_blanks() {
        let lp = ndarray::arr2(&[
            [0.0f32, -1.0],
            [-1.0, 0.0],
            [-1.0, 0.0],
            [0.0, -1.0],
            [-1.0, 0.0],
        ]);
        assert_eq!(greedy_ctc(&lp), vec![1, 1]);
    }
}
