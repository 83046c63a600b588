//! The sequence-to-sequence audio auto-encoder ("Audio Word2Vec").
//!
//! ```text
//! frames x[0..T] ──encoder LSTM──▶ h[T-1] ──Linear+tanh──▶ e (the segment's vector)
//! e, e, …, e (T copies) ──decoder LSTM──▶ ──Linear──▶ x̂[T-1], …, x̂[0]   (reversed)
//! loss = mean squared error between x̂ and the reversed clean frames
//! ```
//!
//! The decoder must rebuild the whole segment from `e` alone, so `e` keeps what the
//! segment sounds like. Reconstructing in reverse order (as in the original work)
//! puts the first frames, which the encoder saw longest ago, first in the output. The
//! denoising variant feeds a corrupted copy (Gaussian noise, dropped frames) to the
//! encoder and still asks for the clean frames.
//!
//! The encoder is unidirectional by default, which makes indexing cheap: the
//! embedding of window `[s, s+L)` is read off a single encoder pass started at `s`
//! at step `L-1`, so one pass per start position embeds every window length at once
//! (see [`AutoEncoder::embed_windows`]).

use std::path::Path;

use ndarray::{Array2, ArrayView2, s};
use serde::{Deserialize, Serialize};

use crate::am::io::{NamedTensor, TensorFile, save_tensors};
use crate::error::{Error, Result};
use crate::nn::params::{Visit, VisitMut};
use crate::nn::{Float, Linear, Lstm, Params, RecurrentConfig, SeqBatch};
use crate::rng::Rng;

/// Shape and training options of the auto-encoder.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AutoEncoderConfig {
    /// Frame dimension (MFCC/fbank bins, or number of posterior classes).
    pub input_dim: usize,
    /// Encoder LSTM hidden size. Larger → richer vectors, slower indexing.
    pub hidden_dim: usize,
    /// Encoder LSTM layers.
    pub num_layers: usize,
    /// Whether the encoder is bidirectional (the vector then concatenates the last
    /// forward and first backward states; indexing loses the one-pass trick).
    pub bidirectional: bool,
    /// Size of the segment vector.
    pub embed_dim: usize,
    /// Decoder LSTM hidden size.
    pub decoder_hidden_dim: usize,
    /// What the frames are: `"fbank"`, `"mfcc"` or `"posteriors"` (documentation for
    /// users; the model itself only checks `input_dim`).
    pub input_kind: String,
    /// How frames are made from audio (must match at training, indexing and search
    /// time, so it travels with the weights).
    #[serde(default)]
    pub frontend: crate::qbe::frontend::FrontendConfig,
    /// Candidate windows for indexing, in frames of the front end.
    #[serde(default)]
    pub segments: crate::qbe::segment::SegmentConfig,
}

impl AutoEncoderConfig {
    /// Checks sizes.
    pub fn validate(&self) -> Result<()> {
        if self.input_dim == 0
            || self.hidden_dim == 0
            || self.num_layers == 0
            || self.embed_dim == 0
            || self.decoder_hidden_dim == 0
        {
            return Err(Error::Config(format!(
                "auto-encoder sizes must all be > 0: {self:?}"
            )));
        }
        Ok(())
    }

    fn encoder_config(&self) -> RecurrentConfig {
        RecurrentConfig {
            input_dim: self.input_dim,
            hidden_dim: self.hidden_dim,
            num_layers: self.num_layers,
            bidirectional: self.bidirectional,
        }
    }

    fn decoder_config(&self) -> RecurrentConfig {
        RecurrentConfig {
            input_dim: self.embed_dim,
            hidden_dim: self.decoder_hidden_dim,
            num_layers: 1,
            bidirectional: false,
        }
    }
}

/// The auto-encoder's weights (also used, with the same layout, as its gradient).
#[derive(Debug, Clone)]
pub struct AutoEncoder<T> {
    config: AutoEncoderConfig,
    encoder: Lstm<T>,
    embed: Linear<T>,
    decoder: Lstm<T>,
    output: Linear<T>,
}

/// Input corruption for the denoising variant.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Corruption {
    /// Standard deviation of added Gaussian noise, in units of the input.
    pub noise_std: f64,
    /// Probability of zeroing a whole input frame.
    pub frame_drop: f64,
}

impl<T: Float> AutoEncoder<T> {
    /// A freshly initialised model (seeded).
    pub fn new(config: AutoEncoderConfig, rng: &mut Rng) -> Result<Self> {
        config.validate()?;
        let encoder = Lstm::new(config.encoder_config(), rng)?;
        let enc_out = config.encoder_config().output_dim();
        let embed = Linear::new(enc_out, config.embed_dim, rng);
        let decoder = Lstm::new(config.decoder_config(), rng)?;
        let output = Linear::new(config.decoder_hidden_dim, config.input_dim, rng);
        Ok(AutoEncoder {
            config,
            encoder,
            embed,
            decoder,
            output,
        })
    }

    /// The configuration.
    pub fn config(&self) -> &AutoEncoderConfig {
        &self.config
    }

    /// All-zero twin (a gradient buffer).
    pub fn zeros_like(&self) -> Self {
        AutoEncoder {
            config: self.config.clone(),
            encoder: self.encoder.zeros_like(),
            embed: self.embed.zeros_like(),
            decoder: self.decoder.zeros_like(),
            output: self.output.zeros_like(),
        }
    }

    fn check_segments(&self, segs: &[ArrayView2<'_, T>]) -> Result<()> {
        for (i, s) in segs.iter().enumerate() {
            if s.ncols() != self.config.input_dim {
                return Err(Error::dim(
                    "AutoEncoder input",
                    self.config.input_dim,
                    format!("{} (segment {i})", s.ncols()),
                ));
            }
            if s.nrows() == 0 {
                return Err(Error::Invalid(format!("segment {i} has no frames")));
            }
        }
        Ok(())
    }

    /// Rows of the encoder output holding each sequence's final state, and the
    /// column range of each direction: forward state at `t = len-1`, backward at 0.
    fn final_rows(lengths: &[usize], batch: usize, bidirectional: bool) -> Vec<[usize; 2]> {
        lengths
            .iter()
            .enumerate()
            .map(|(b, &len)| {
                let fwd = (len - 1) * batch + b;
                let bwd = if bidirectional { b } else { fwd };
                [fwd, bwd]
            })
            .collect()
    }

    /// Gathers the final encoder states `[batch, enc_out]` (batch order).
    fn gather_final(&self, enc: &SeqBatch<T>) -> Array2<T> {
        let h = self.config.hidden_dim;
        let bi = self.config.bidirectional;
        let batch = enc.batch_size();
        let out_dim = self.config.encoder_config().output_dim();
        let mut z = Array2::zeros((batch, out_dim));
        for (b, [fwd, bwd]) in Self::final_rows(enc.lengths(), batch, bi)
            .into_iter()
            .enumerate()
        {
            z.slice_mut(s![b, 0..h])
                .assign(&enc.data().slice(s![fwd, 0..h]));
            if bi {
                z.slice_mut(s![b, h..2 * h])
                    .assign(&enc.data().slice(s![bwd, h..2 * h]));
            }
        }
        z
    }

    /// Embeds segments (each `[frames, input_dim]`): returns `[segments, embed_dim]`
    /// in input order.
    pub fn embed_batch(&self, segs: &[ArrayView2<'_, T>]) -> Result<Array2<T>> {
        self.check_segments(segs)?;
        if segs.is_empty() {
            return Ok(Array2::zeros((0, self.config.embed_dim)));
        }
        let (batch, order) = SeqBatch::from_sequences(&as_refs(segs))?;
        let enc = self.encoder.forward(&batch)?;
        let z = self.gather_final(&enc);
        let mut e = self.embed.forward(&z);
        T::tanh_slice(
            e.as_slice_mut()
                .expect("invariant: fresh array is contiguous"),
        );
        let mut out = Array2::zeros(e.raw_dim());
        for (i, &orig) in order.iter().enumerate() {
            out.row_mut(orig).assign(&e.row(i));
        }
        Ok(out)
    }

    /// Embeds every window `[start, start + len)` of `frames` for the given starts
    /// and lengths, returning `[starts.len() * lengths.len(), embed_dim]` with the
    /// row for `(start i, length j)` at `i * lengths.len() + j`. Windows running past
    /// the end are clipped to the recording (their row is the clipped window's).
    ///
    /// With a unidirectional encoder one pass per start serves every length; a
    /// bidirectional encoder falls back to embedding each window separately.
    pub fn embed_windows(
        &self,
        frames: ArrayView2<'_, T>,
        starts: &[usize],
        lengths: &[usize],
    ) -> Result<Array2<T>> {
        let n = frames.nrows();
        if frames.ncols() != self.config.input_dim {
            return Err(Error::dim(
                "AutoEncoder input",
                self.config.input_dim,
                frames.ncols(),
            ));
        }
        let clip = |s: usize, l: usize| (s.min(n.saturating_sub(1)), (s + l).min(n));
        if self.config.bidirectional || self.config.num_layers == 0 {
            let views: Vec<ArrayView2<'_, T>> = starts
                .iter()
                .flat_map(|&st| lengths.iter().map(move |&l| (st, l)))
                .map(|(st, l)| {
                    let (a, b) = clip(st, l);
                    frames.slice(s![a..b, ..])
                })
                .collect();
            return self.embed_batch(&views);
        }
        let max_len = lengths.iter().copied().max().unwrap_or(0);
        let spans: Vec<ArrayView2<'_, T>> = starts
            .iter()
            .map(|&st| {
                let (a, b) = clip(st, max_len);
                frames.slice(s![a..b, ..])
            })
            .collect();
        self.check_segments(&spans)?;
        let (batch, order) = SeqBatch::from_sequences(&as_refs(&spans))?;
        let enc = self.encoder.forward(&batch)?;
        let bsz = batch.batch_size();
        let h = self.config.hidden_dim;
        let mut z = Array2::zeros((starts.len() * lengths.len(), h));
        for (bi, &orig) in order.iter().enumerate() {
            let avail = batch.lengths()[bi];
            for (j, &l) in lengths.iter().enumerate() {
                let t = l.min(avail).max(1) - 1;
                z.row_mut(orig * lengths.len() + j)
                    .assign(&enc.data().slice(s![t * bsz + bi, 0..h]));
            }
        }
        let mut e = self.embed.forward(&z);
        T::tanh_slice(
            e.as_slice_mut()
                .expect("invariant: fresh array is contiguous"),
        );
        Ok(e)
    }

    /// Reconstruction loss of a batch and its gradient, accumulated into `grads`.
    ///
    /// `inputs` are what the encoder sees (possibly corrupted), `targets` the clean
    /// segments (same shapes). The loss is the mean over all valid frames and
    /// dimensions of the squared error against the reversed targets.
    pub fn loss_and_grad(
        &self,
        inputs: &[ArrayView2<'_, T>],
        targets: &[ArrayView2<'_, T>],
        grads: &mut Self,
    ) -> Result<f64> {
        self.check_segments(inputs)?;
        if inputs.len() != targets.len()
            || inputs.iter().zip(targets).any(|(a, b)| a.dim() != b.dim())
        {
            return Err(Error::Invalid(
                "auto-encoder inputs and targets must have the same shapes".into(),
            ));
        }
        let mut rng = Rng::new(0); // dropout is off: the stream is never drawn from
        let (batch, order) = SeqBatch::from_sequences(&as_refs(inputs))?;
        let bsz = batch.batch_size();
        let lengths = batch.lengths().to_vec();
        let (enc, enc_cache) = self.encoder.forward_train(&batch, 0.0, &mut rng)?;
        let z = self.gather_final(&enc);
        let mut e = self.embed.forward(&z);
        T::tanh_slice(
            e.as_slice_mut()
                .expect("invariant: fresh array is contiguous"),
        );
        // Decoder input: e repeated over each sequence's valid steps.
        let max_len = batch.max_len();
        let mut dec_in = Array2::zeros((max_len * bsz, self.config.embed_dim));
        for (b, &len) in lengths.iter().enumerate() {
            for t in 0..len {
                dec_in.row_mut(t * bsz + b).assign(&e.row(b));
            }
        }
        let dec_batch = SeqBatch::new(dec_in, lengths.clone())?;
        let (dec, dec_cache) = self.decoder.forward_train(&dec_batch, 0.0, &mut rng)?;
        let y = self.output.forward(dec.data());
        // Squared error against reversed targets; padding rows get zero gradient.
        let total: usize = lengths.iter().sum::<usize>() * self.config.input_dim;
        let norm = T::from_f64(1.0 / total as f64);
        let two_norm = T::from_f64(2.0 / total as f64);
        let mut dy = Array2::zeros(y.raw_dim());
        let mut loss = 0.0f64;
        for (b, &len) in lengths.iter().enumerate() {
            let target = &targets[order[b]];
            for t in 0..len {
                let row = t * bsz + b;
                let tgt = target.row(len - 1 - t);
                for d in 0..self.config.input_dim {
                    let diff = y[[row, d]] - tgt[d];
                    loss += (diff * diff * norm).to_f64();
                    dy[[row, d]] = diff * two_norm;
                }
            }
        }
        // Backward: output layer, decoder, repeated input, embedding, encoder.
        let d_dec = self.output.backward(dec.data(), &dy, &mut grads.output);
        let d_dec_in = self
            .decoder
            .backward(&dec_cache, &d_dec, &mut grads.decoder);
        let mut de = Array2::zeros(e.raw_dim());
        for (b, &len) in lengths.iter().enumerate() {
            for t in 0..len {
                let r = d_dec_in.row(t * bsz + b);
                let mut acc = de.row_mut(b);
                acc += &r;
            }
        }
        // tanh': 1 - e².
        for (g, &v) in de.iter_mut().zip(e.iter()) {
            *g *= T::one() - v * v;
        }
        let dz = self.embed.backward(&z, &de, &mut grads.embed);
        let h = self.config.hidden_dim;
        let bi = self.config.bidirectional;
        let mut d_enc = Array2::zeros(enc.data().raw_dim());
        for (b, [fwd, bwd]) in Self::final_rows(&lengths, bsz, bi).into_iter().enumerate() {
            d_enc
                .slice_mut(s![fwd, 0..h])
                .assign(&dz.slice(s![b, 0..h]));
            if bi {
                d_enc
                    .slice_mut(s![bwd, h..2 * h])
                    .assign(&dz.slice(s![b, h..2 * h]));
            }
        }
        self.encoder
            .backward(&enc_cache, &d_enc, &mut grads.encoder);
        Ok(loss)
    }
}

fn as_refs<'a, T>(views: &'a [ArrayView2<'_, T>]) -> Vec<&'a ndarray::ArrayRef2<T>> {
    views.iter().map(|v| &**v).collect()
}

/// Applies the denoising corruption to a copy of `x` (seeded).
pub fn corrupt(x: ArrayView2<'_, f32>, c: &Corruption, rng: &mut Rng) -> Array2<f32> {
    let mut y = x.to_owned();
    for mut row in y.rows_mut() {
        if rng.uniform() < c.frame_drop {
            row.fill(0.0);
            continue;
        }
        if c.noise_std > 0.0 {
            for v in row.iter_mut() {
                *v += (rng.normal() * c.noise_std) as f32;
            }
        }
    }
    y
}

impl<T: Float> Params<T> for AutoEncoder<T> {
    fn visit(&self, f: &mut Visit<'_, T>) {
        self.encoder
            .visit(&mut |n, s, v| f(&format!("encoder.{n}"), s, v));
        self.embed
            .visit(&mut |n, s, v| f(&format!("embed.{n}"), s, v));
        self.decoder
            .visit(&mut |n, s, v| f(&format!("decoder.{n}"), s, v));
        self.output
            .visit(&mut |n, s, v| f(&format!("output.{n}"), s, v));
    }
    fn visit_mut(&mut self, f: &mut VisitMut<'_, T>) {
        self.encoder
            .visit_mut(&mut |n, s, v| f(&format!("encoder.{n}"), s, v));
        self.embed
            .visit_mut(&mut |n, s, v| f(&format!("embed.{n}"), s, v));
        self.decoder
            .visit_mut(&mut |n, s, v| f(&format!("decoder.{n}"), s, v));
        self.output
            .visit_mut(&mut |n, s, v| f(&format!("output.{n}"), s, v));
    }
}

/// Metadata key holding the JSON config inside `encoder.safetensors`.
const CONFIG_KEY: &str = "hark.autoencoder.config";

impl AutoEncoder<f32> {
    /// Writes the weights and config to one safetensors file (config in metadata),
    /// atomically.
    pub fn save(&self, path: &Path) -> Result<()> {
        let mut tensors = Vec::new();
        self.visit(&mut |name, shape, values| {
            tensors.push(NamedTensor {
                name: name.to_string(),
                shape: shape.to_vec(),
                values: values.to_vec(),
            })
        });
        let json = serde_json::to_string(&self.config)
            .map_err(|e| Error::Invalid(format!("serialising auto-encoder config: {e}")))?;
        let meta = std::collections::HashMap::from([(CONFIG_KEY.to_string(), json)]);
        save_tensors(path, &tensors, Some(meta))
    }

    /// Loads `path`'s weights under `config` (to go on training them): the networks
    /// it describes (input size and kind, layers, widths) must be the file's, while
    /// the front-end and window settings are taken from `config`.
    pub fn load_as(path: &Path, config: AutoEncoderConfig) -> Result<Self> {
        let mut model = Self::load(path)?;
        let arch = |c: &AutoEncoderConfig| {
            (
                c.input_dim,
                c.hidden_dim,
                c.num_layers,
                c.bidirectional,
                c.embed_dim,
                c.decoder_hidden_dim,
                c.input_kind.clone(),
            )
        };
        if arch(&model.config) != arch(&config) {
            return Err(Error::Model {
                path: path.to_path_buf(),
                msg: format!(
                    "encoder has (input, hidden, layers, bidirectional, embed, decoder \
                     hidden, input kind) = {:?}, but {:?} was asked for",
                    arch(&model.config),
                    arch(&config)
                ),
            });
        }
        model.config = config;
        Ok(model)
    }

    /// Loads a model written by [`AutoEncoder::save`]; errors name the file and tensor.
    pub fn load(path: &Path) -> Result<Self> {
        let file = TensorFile::open(path)?;
        let meta = file.metadata();
        let json = meta.get(CONFIG_KEY).ok_or_else(|| Error::Model {
            path: path.to_path_buf(),
            msg: format!("missing metadata {CONFIG_KEY}: not a hark auto-encoder"),
        })?;
        let config: AutoEncoderConfig = serde_json::from_str(json).map_err(|e| Error::Model {
            path: path.to_path_buf(),
            msg: format!("bad auto-encoder config: {e}"),
        })?;
        let mut model = AutoEncoder::new(config, &mut Rng::new(0))?;
        let mut err = None;
        model.visit_mut(&mut |name, shape, values| {
            if err.is_some() {
                return;
            }
            match file.get(name, shape) {
                Ok(v) => values.copy_from_slice(&v),
                Err(e) => err = Some(e),
            }
        });
        if let Some(e) = err {
            return Err(e);
        }
        if let Some(bad) = model.first_non_finite() {
            return Err(Error::Model {
                path: path.to_path_buf(),
                msg: format!("tensor {bad} holds NaN or infinite values"),
            });
        }
        Ok(model)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::nn::gradcheck::check_param_grads;

    fn tiny(bidirectional: bool) -> AutoEncoderConfig {
        AutoEncoderConfig {
            input_dim: 3,
            hidden_dim: 4,
            num_layers: 2,
            bidirectional,
            embed_dim: 3,
            decoder_hidden_dim: 4,
            input_kind: "fbank".into(),
            frontend: Default::default(),
            segments: Default::default(),
        }
    }

    fn segs(rng: &mut Rng) -> Vec<Array2<f64>> {
        [5usize, 3, 4]
            .iter()
            .map(|&t| Array2::from_shape_fn((t, 3), |_| rng.normal()))
            .collect()
    }

    #[test]
    fn gradients_match_finite_differences() {
        for bi in [false, true] {
            let mut rng = Rng::new(11);
            let model = AutoEncoder::<f64>::new(tiny(bi), &mut rng).unwrap();
            let data = segs(&mut rng);
            let views: Vec<_> = data.iter().map(|a| a.view()).collect();
            let mut grads = model.zeros_like();
            model.loss_and_grad(&views, &views, &mut grads).unwrap();
            check_param_grads(
                &model,
                &grads,
                |m| {
                    let mut g = m.zeros_like();
                    m.loss_and_grad(&views, &views, &mut g).unwrap()
                },
                1e-6,
            );
        }
    }

    #[test]
    fn loss_is_mse_against_reversed_targets() {
        // With every weight zero, the output is 0 and the loss is mean(target²),
        // independent of order; the gradient w.r.t. the output bias is -2·mean(target).
        let mut rng = Rng::new(1);
        let mut model = AutoEncoder::<f64>::new(tiny(false), &mut rng).unwrap();
        model.zero();
        let t = Array2::from_shape_vec((2, 3), vec![1.0, 2.0, 3.0, -1.0, 0.0, 5.0]).unwrap();
        let mut g = model.zeros_like();
        let loss = model
            .loss_and_grad(&[t.view()], &[t.view()], &mut g)
            .unwrap();
        assert!((loss - (1.0 + 4.0 + 9.0 + 1.0 + 0.0 + 25.0) / 6.0).abs() < 1e-12);
        // d/db_d = Σ_t 2(0 - x_td)/6
        let want = [-2.0 * 0.0 / 6.0, -2.0 * 2.0 / 6.0, -2.0 * 8.0 / 6.0];
        for (got, want) in g.output.bias.iter().zip(want) {
            assert!((got - want).abs() < 1e-12);
        }
    }

    #[test]
    fn window_embedding_equals_separate_embedding() {
        let mut rng = Rng::new(5);
        let model = AutoEncoder::<f32>::new(
            AutoEncoderConfig {
                num_layers: 1,
                ..tiny(false)
            },
            &mut rng,
        )
        .unwrap();
        let frames = Array2::from_shape_fn((12, 3), |_| rng.normal() as f32);
        let starts = [0, 3, 9];
        let lengths = [2, 5];
        let fast = model
            .embed_windows(frames.view(), &starts, &lengths)
            .unwrap();
        for (i, &st) in starts.iter().enumerate() {
            for (j, &l) in lengths.iter().enumerate() {
                let end = (st + l).min(12);
                let one = model.embed_batch(&[frames.slice(s![st..end, ..])]).unwrap();
                for d in 0..3 {
                    let a = fast[[i * 2 + j, d]];
                    assert!(
                        (a - one[[0, d]]).abs() < 1e-5,
                        "({st},{l}) {a} vs {}",
                        one[[0, d]]
                    );
                }
            }
        }
    }

    #[test]
    fn save_load_roundtrip_and_errors() {
        let dir = std::env::temp_dir().join(format!("hark-ae-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let p = dir.join("encoder.safetensors");
        let mut rng = Rng::new(2);
        let model = AutoEncoder::<f32>::new(tiny(true), &mut rng).unwrap();
        model.save(&p).unwrap();
        let back = AutoEncoder::load(&p).unwrap();
        let x = Array2::from_shape_fn((4, 3), |(i, j)| (i * 3 + j) as f32 * 0.1);
        assert_eq!(
            model.embed_batch(&[x.view()]).unwrap(),
            back.embed_batch(&[x.view()]).unwrap()
        );
        // load_as keeps the weights and takes the new window settings, but refuses
        // a different network.
        let mut windows = tiny(true);
        windows.segments.hop_frames += 1;
        let again = AutoEncoder::load_as(&p, windows.clone()).unwrap();
        assert_eq!(again.config(), &windows);
        assert_eq!(
            model.embed_batch(&[x.view()]).unwrap(),
            again.embed_batch(&[x.view()]).unwrap()
        );
        let err = AutoEncoder::<f32>::load_as(&p, tiny(false))
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("encoder.safetensors") && err.contains("asked for"),
            "{err}"
        );
        let bytes = std::fs::read(&p).unwrap();
        std::fs::write(&p, &bytes[..bytes.len() / 2]).unwrap();
        assert!(
            AutoEncoder::load(&p)
                .unwrap_err()
                .to_string()
                .contains("encoder.safetensors")
        );
    }

    #[test]
    fn training_reduces_reconstruction_loss() {
        use crate::nn::optim::AdamConfig;
        let mut rng = Rng::new(3);
        let model_cfg = AutoEncoderConfig {
            num_layers: 1,
            hidden_dim: 16,
            embed_dim: 8,
            decoder_hidden_dim: 16,
            ..tiny(false)
        };
        let mut model = AutoEncoder::<f32>::new(model_cfg, &mut rng).unwrap();
        // Two "words": smooth ramps in different directions.
        let data: Vec<Array2<f32>> = (0..8)
            .map(|k| {
                let len = 6 + k % 3;
                Array2::from_shape_fn((len, 3), |(t, d)| {
                    let x = t as f32 / len as f32;
                    if k % 2 == 0 {
                        x * (d as f32 - 1.0)
                    } else {
                        (1.0 - x) * d as f32 * 0.5
                    }
                })
            })
            .collect();
        let views: Vec<_> = data.iter().map(|a| a.view()).collect();
        let mut adam = AdamConfig {
            learning_rate: 0.01,
            ..AdamConfig::default()
        }
        .init(&model)
        .unwrap();
        let mut first = None;
        let mut last = 0.0;
        for _ in 0..150 {
            let mut g = model.zeros_like();
            last = model.loss_and_grad(&views, &views, &mut g).unwrap();
            first.get_or_insert(last);
            adam.step(&mut model, &mut g);
        }
        assert!(
            last < 0.2 * first.unwrap(),
            "loss {} -> {last}",
            first.unwrap()
        );
    }

    #[test]
    fn corruption_is_seeded() {
        let x = Array2::<f32>::ones((20, 2));
        let c = Corruption {
            noise_std: 0.1,
            frame_drop: 0.2,
        };
        let a = corrupt(x.view(), &c, &mut Rng::new(4));
        let b = corrupt(x.view(), &c, &mut Rng::new(4));
        assert_eq!(a, b);
        assert_ne!(a, x);
    }
}
