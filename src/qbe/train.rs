//! Training the auto-encoder on word segments: Adam on the reconstruction loss,
//! length-bucketed batches in a seeded order, the best model by dev loss, and
//! resumable checkpoints after every epoch.

use std::path::Path;
use std::time::Instant;

use ndarray::{Array2, ArrayView2};
use serde::{Deserialize, Serialize};

use crate::am::io::{load_adam_moments, save_adam_moments};
use crate::error::{Error, Result};
use crate::fsio::write_atomic;
use crate::nn::Params;
use crate::nn::optim::{Adam, AdamConfig};
use crate::qbe::autoencoder::{AutoEncoder, Corruption, corrupt};
use crate::rng::Rng;

/// Settings of encoder training.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EncoderTrainConfig {
    /// Passes over the training segments.
    pub epochs: usize,
    /// Segments per update.
    pub batch_size: usize,
    /// Optimiser.
    pub adam: AdamConfig,
    /// Input corruption (the denoising variant); `None` = plain auto-encoder.
    pub corruption: Option<Corruption>,
    /// Seed of batch order and corruption.
    pub seed: u64,
    /// Gradient shards computed in parallel per batch (1 = single-threaded).
    pub threads: usize,
}

impl Default for EncoderTrainConfig {
    fn default() -> Self {
        EncoderTrainConfig {
            epochs: 10,
            batch_size: 32,
            adam: AdamConfig {
                learning_rate: 2e-3,
                warmup_steps: 100,
                ..AdamConfig::default()
            },
            corruption: None,
            seed: 1,
            threads: 1,
        }
    }
}

impl EncoderTrainConfig {
    /// Checks ranges.
    pub fn validate(&self) -> Result<()> {
        if self.epochs == 0 || self.batch_size == 0 || self.threads == 0 {
            return Err(Error::Config(
                "epochs, batch_size and threads must be > 0".into(),
            ));
        }
        if let Some(c) = &self.corruption
            && !(c.noise_std >= 0.0 && (0.0..1.0).contains(&c.frame_drop))
        {
            return Err(Error::Config(format!("bad corruption settings {c:?}")));
        }
        self.adam.validate()
    }
}

/// One finished epoch.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EpochStats {
    /// 1-based epoch.
    pub epoch: usize,
    /// Mean training loss (on the corrupted inputs' reconstructions).
    pub train_loss: f64,
    /// Dev reconstruction loss (clean inputs).
    pub dev_loss: f64,
    /// Wall-clock seconds of the epoch.
    pub secs: f64,
}

/// Trainer state saved with each checkpoint (`state.json`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
pub struct EncoderTrainState {
    /// Epochs completed.
    pub epoch: usize,
    /// Adam updates done.
    pub adam_step: u64,
    /// Best dev loss so far.
    pub best_dev_loss: Option<f64>,
    /// Per-epoch history.
    pub history: Vec<EpochStats>,
}

/// Progress callback payload.
#[derive(Debug, Clone, Copy)]
pub struct TrainProgress {
    /// 1-based epoch.
    pub epoch: usize,
    /// Batches done in this epoch.
    pub batch: usize,
    /// Batches per epoch.
    pub num_batches: usize,
    /// Running mean training loss of this epoch.
    pub loss: f64,
}

fn batches(lengths: &[usize], batch_size: usize, rng: &mut Rng) -> Vec<Vec<usize>> {
    // Sort by length (then index, for determinism) so a batch pads little, then
    // shuffle the batch order.
    let mut order: Vec<usize> = (0..lengths.len()).collect();
    order.sort_by_key(|&i| (lengths[i], i));
    let mut out: Vec<Vec<usize>> = order.chunks(batch_size).map(<[usize]>::to_vec).collect();
    rng.shuffle(&mut out);
    out
}

/// Loss and gradient of one batch, split into `threads` shards computed in
/// parallel and combined with weights proportional to their frame counts (so the
/// result equals the unsharded mean loss).
fn batch_loss_and_grad(
    model: &AutoEncoder<f32>,
    inputs: &[ArrayView2<'_, f32>],
    targets: &[ArrayView2<'_, f32>],
    threads: usize,
) -> Result<(f64, AutoEncoder<f32>)> {
    let n = inputs.len();
    let shards = threads.min(n).max(1);
    let per = n.div_ceil(shards);
    let total: usize = inputs.iter().map(|x| x.nrows()).sum();
    use rayon::prelude::*;
    let parts: Vec<Result<(f64, AutoEncoder<f32>, usize)>> = (0..shards)
        .into_par_iter()
        .map(|k| {
            let (a, b) = (k * per, ((k + 1) * per).min(n));
            let mut g = model.zeros_like();
            let loss = model.loss_and_grad(&inputs[a..b], &targets[a..b], &mut g)?;
            Ok((loss, g, inputs[a..b].iter().map(|x| x.nrows()).sum()))
        })
        .collect();
    let mut grads = model.zeros_like();
    let mut loss = 0.0;
    for p in parts {
        let (l, mut g, frames) = p?;
        let w = frames as f64 / total as f64;
        loss += l * w;
        g.scale(w as f32);
        grads.add_assign_params(&g);
    }
    Ok((loss, grads))
}

/// Mean reconstruction loss over `segments` (clean), in batches.
pub fn reconstruction_loss(
    model: &AutoEncoder<f32>,
    segments: &[Array2<f32>],
    batch_size: usize,
) -> Result<f64> {
    let mut sum = 0.0;
    let mut frames = 0usize;
    for chunk in segments.chunks(batch_size.max(1)) {
        let views: Vec<_> = chunk.iter().map(|a| a.view()).collect();
        let mut g = model.zeros_like();
        let n: usize = chunk.iter().map(|a| a.nrows()).sum();
        sum += model.loss_and_grad(&views, &views, &mut g)? * n as f64;
        frames += n;
    }
    Ok(if frames == 0 {
        0.0
    } else {
        sum / frames as f64
    })
}

/// Trains `model` in place on `train` segments (each `[frames, input_dim]`),
/// measuring `dev` after every epoch, and leaves the best-dev model in `model`.
///
/// With `targets` (one per training segment, same shape), the decoder must
/// rebuild the target instead of the input: the *correspondence* auto-encoder,
/// where the target is another spoken instance of the same word (time-warped to
/// the input's length, see [`resample_frames`]), so the vector keeps what the
/// instances share (the word) and drops what they do not (the voice).
///
/// With `checkpoint_dir`, a checkpoint (`encoder.safetensors`, `best.safetensors`,
/// `optimizer.safetensors`, `state.json`) is written after every epoch, and an
/// existing one is resumed: the resumed run continues with the same batch order
/// and corruption draws as an uninterrupted one.
pub fn train_encoder(
    model: &mut AutoEncoder<f32>,
    train: &[Array2<f32>],
    targets: Option<&[Array2<f32>]>,
    dev: &[Array2<f32>],
    config: &EncoderTrainConfig,
    checkpoint_dir: Option<&Path>,
    progress: &mut dyn FnMut(&TrainProgress),
) -> Result<EncoderTrainState> {
    config.validate()?;
    if train.is_empty() {
        return Err(Error::Invalid("no training segments".into()));
    }
    if let Some(t) = targets
        && (t.len() != train.len() || t.iter().zip(train).any(|(a, b)| a.dim() != b.dim()))
    {
        return Err(Error::Invalid(
            "each training segment needs a target of the same shape".into(),
        ));
    }
    let target_set = targets.unwrap_or(train);
    let mut adam = config.adam.init(&*model)?;
    let mut state = EncoderTrainState::default();
    let mut best = model.clone();
    if let Some(dir) = checkpoint_dir.filter(|d| d.join("state.json").exists()) {
        let (m, b, a, s) = load_checkpoint(dir, model, config)?;
        *model = m;
        best = b;
        adam = a;
        state = s;
    }
    let lengths: Vec<usize> = train.iter().map(|a| a.nrows()).collect();
    for epoch in state.epoch + 1..=config.epochs {
        let t0 = Instant::now();
        // Streams depend only on (seed, epoch): a resumed run draws the same.
        let mut order_rng = Rng::fork(config.seed, epoch as u64 * 2);
        let mut noise_rng = Rng::fork(config.seed, epoch as u64 * 2 + 1);
        let plan = batches(&lengths, config.batch_size, &mut order_rng);
        let mut loss_sum = 0.0;
        for (bi, batch) in plan.iter().enumerate() {
            let clean: Vec<ArrayView2<'_, f32>> = batch.iter().map(|&i| train[i].view()).collect();
            let targets: Vec<ArrayView2<'_, f32>> =
                batch.iter().map(|&i| target_set[i].view()).collect();
            let corrupted: Vec<Array2<f32>> = match &config.corruption {
                Some(c) => batch
                    .iter()
                    .map(|&i| corrupt(train[i].view(), c, &mut noise_rng))
                    .collect(),
                None => Vec::new(),
            };
            let inputs: Vec<ArrayView2<'_, f32>> = if corrupted.is_empty() {
                clean
            } else {
                corrupted.iter().map(|a| a.view()).collect()
            };
            let (loss, mut grads) = batch_loss_and_grad(model, &inputs, &targets, config.threads)?;
            if !loss.is_finite() {
                return Err(Error::NonFinite {
                    op: format!("auto-encoder loss at epoch {epoch}, batch {bi}"),
                });
            }
            adam.step(model, &mut grads);
            loss_sum += loss;
            progress(&TrainProgress {
                epoch,
                batch: bi + 1,
                num_batches: plan.len(),
                loss: loss_sum / (bi + 1) as f64,
            });
        }
        let dev_loss = if dev.is_empty() {
            loss_sum / plan.len() as f64
        } else {
            reconstruction_loss(model, dev, config.batch_size)?
        };
        if state.best_dev_loss.is_none_or(|b| dev_loss < b) {
            state.best_dev_loss = Some(dev_loss);
            best = model.clone();
        }
        state.epoch = epoch;
        state.adam_step = adam.step;
        state.history.push(EpochStats {
            epoch,
            train_loss: loss_sum / plan.len() as f64,
            dev_loss,
            secs: t0.elapsed().as_secs_f64(),
        });
        if let Some(dir) = checkpoint_dir {
            save_checkpoint(dir, model, &best, &adam, &state)?;
        }
    }
    *model = best;
    Ok(state)
}

/// Linearly time-warps `x [frames, dim]` to `num_frames` frames (first and last
/// frames kept).
pub fn resample_frames(x: ArrayView2<'_, f32>, num_frames: usize) -> Array2<f32> {
    let (n, d) = x.dim();
    let mut out = Array2::zeros((num_frames, d));
    if n == 0 {
        return out;
    }
    for t in 0..num_frames {
        let pos = if num_frames > 1 {
            t as f64 * (n - 1) as f64 / (num_frames - 1) as f64
        } else {
            0.0
        };
        let (i, frac) = (pos.floor() as usize, (pos - pos.floor()) as f32);
        let j = (i + 1).min(n - 1);
        for c in 0..d {
            out[[t, c]] = x[[i, c]] * (1.0 - frac) + x[[j, c]] * frac;
        }
    }
    out
}

fn save_checkpoint(
    dir: &Path,
    model: &AutoEncoder<f32>,
    best: &AutoEncoder<f32>,
    adam: &Adam<f32>,
    state: &EncoderTrainState,
) -> Result<()> {
    std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, "creating", e))?;
    model.save(&dir.join("encoder.safetensors"))?;
    best.save(&dir.join("best.safetensors"))?;
    save_adam_moments(&dir.join("optimizer.safetensors"), model, adam)?;
    let json = serde_json::to_string_pretty(state)
        .map_err(|e| Error::Invalid(format!("serialising trainer state: {e}")))?;
    // state.json last: its presence marks a complete checkpoint.
    write_atomic(&dir.join("state.json"), json.as_bytes())
}

type Checkpoint = (
    AutoEncoder<f32>,
    AutoEncoder<f32>,
    Adam<f32>,
    EncoderTrainState,
);

fn load_checkpoint(
    dir: &Path,
    expected: &AutoEncoder<f32>,
    config: &EncoderTrainConfig,
) -> Result<Checkpoint> {
    let model = AutoEncoder::load(&dir.join("encoder.safetensors"))?;
    let best = AutoEncoder::load(&dir.join("best.safetensors"))?;
    if model.config() != expected.config() {
        return Err(Error::Model {
            path: dir.join("encoder.safetensors"),
            msg: "checkpoint configuration differs from the requested encoder".into(),
        });
    }
    let path = dir.join("state.json");
    let text = std::fs::read_to_string(&path).map_err(|e| Error::io(&path, "reading", e))?;
    let state: EncoderTrainState =
        serde_json::from_str(&text).map_err(|e| Error::parse(&path, e.line(), e.to_string()))?;
    let mut adam = config.adam.init(&model)?;
    load_adam_moments(&dir.join("optimizer.safetensors"), &model, &mut adam)?;
    adam.step = state.adam_step;
    Ok((model, best, adam, state))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::qbe::autoencoder::AutoEncoderConfig;

    fn data(n: usize, rng: &mut Rng) -> Vec<Array2<f32>> {
        (0..n)
            .map(|k| {
                let len = 4 + k % 5;
                let phase = rng.uniform() as f32;
                Array2::from_shape_fn((len, 3), |(t, d)| {
                    ((t as f32 * 0.7 + phase) * (d as f32 + 1.0)).sin()
                })
            })
            .collect()
    }

    fn config() -> AutoEncoderConfig {
        AutoEncoderConfig {
            input_dim: 3,
            hidden_dim: 8,
            num_layers: 1,
            bidirectional: false,
            embed_dim: 4,
            decoder_hidden_dim: 8,
            input_kind: "fbank".into(),
            frontend: Default::default(),
            segments: Default::default(),
        }
    }

    #[test]
    fn resampling_by_hand() {
        let x = Array2::from_shape_vec((3, 1), vec![0.0f32, 2.0, 4.0]).unwrap();
        let y = resample_frames(x.view(), 5);
        assert_eq!(y.column(0).to_vec(), vec![0.0, 1.0, 2.0, 3.0, 4.0]);
        let z = resample_frames(x.view(), 2);
        assert_eq!(z.column(0).to_vec(), vec![0.0, 4.0]);
        assert_eq!(resample_frames(x.view(), 3), x);
    }

    #[test]
    fn sharded_gradient_equals_unsharded() {
        let mut rng = Rng::new(1);
        let model = AutoEncoder::<f32>::new(config(), &mut rng).unwrap();
        let segs = data(7, &mut rng);
        let views: Vec<_> = segs.iter().map(|a| a.view()).collect();
        let (l1, g1) = batch_loss_and_grad(&model, &views, &views, 1).unwrap();
        let (l3, g3) = batch_loss_and_grad(&model, &views, &views, 3).unwrap();
        assert!((l1 - l3).abs() < 1e-6 * l1.abs().max(1.0));
        let (mut a, mut b) = (Vec::new(), Vec::new());
        g1.visit(&mut |_, _, v| a.extend_from_slice(v));
        g3.visit(&mut |_, _, v| b.extend_from_slice(v));
        for (x, y) in a.iter().zip(&b) {
            assert!((x - y).abs() < 1e-5 * (1.0 + x.abs()), "{x} vs {y}");
        }
    }

    #[test]
    fn resumed_training_equals_uninterrupted() {
        let dir = std::env::temp_dir().join(format!("hark-enc-train-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let mut rng = Rng::new(2);
        let init = AutoEncoder::<f32>::new(config(), &mut rng).unwrap();
        let train = data(20, &mut rng);
        let dev = data(5, &mut rng);
        let mut cfg = EncoderTrainConfig {
            epochs: 3,
            batch_size: 6,
            corruption: Some(Corruption {
                noise_std: 0.1,
                frame_drop: 0.1,
            }),
            ..Default::default()
        };
        let mut full = init.clone();
        let s_full = train_encoder(&mut full, &train, None, &dev, &cfg, None, &mut |_| {}).unwrap();
        assert_eq!(s_full.history.len(), 3);
        assert!(s_full.history[2].train_loss < s_full.history[0].train_loss);
        // Two epochs, stop, then resume to three.
        cfg.epochs = 2;
        let mut part = init.clone();
        train_encoder(&mut part, &train, None, &dev, &cfg, Some(&dir), &mut |_| {}).unwrap();
        cfg.epochs = 3;
        let mut resumed = init.clone();
        let s_res = train_encoder(
            &mut resumed,
            &train,
            None,
            &dev,
            &cfg,
            Some(&dir),
            &mut |_| {},
        )
        .unwrap();
        assert_eq!(s_res.history.len(), 3);
        for (a, b) in s_full.history.iter().zip(&s_res.history) {
            assert_eq!(a.train_loss, b.train_loss);
            assert_eq!(a.dev_loss, b.dev_loss);
        }
        let x = train[0].view();
        assert_eq!(
            full.embed_batch(&[x]).unwrap(),
            resumed.embed_batch(&[x]).unwrap()
        );
    }
}
