//! The acoustic model: optional input normalisation → frame stacking/subsampling →
//! stacked (Bi)LSTM, GRU or RNN → linear output → log-softmax.
//!
//! [`AcousticModel::log_posteriors`] is the seam every decoder consumes:
//! features `[frames, feat_dim]` in, log-posteriors `[frames', num_tokens]` out,
//! where `frames' = ceil(frames / frame_subsampling)`.

use std::path::Path;

use ndarray::{Array1, Array2, ArrayRef2};
use serde::{Deserialize, Serialize};

use crate::am::io::{NamedTensor, TensorFile, save_tensors};
use crate::error::{Error, Result};
use crate::fsio::write_atomic;
use crate::nn::activation::log_softmax_inplace;
use crate::nn::params::{Visit, VisitMut};
use crate::nn::{Gru, Linear, Lstm, Params, RecurrentCache, RecurrentConfig, Rnn, SeqBatch};
use crate::rng::Rng;

/// The bundle format version this build writes and the newest it reads.
pub const FORMAT_VERSION: u32 = 1;

/// Recurrent cell type.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RecurrentKind {
    /// `nn.LSTM` (tensors prefixed `lstm.`).
    Lstm,
    /// `nn.GRU` (tensors prefixed `gru.`).
    Gru,
    /// `nn.RNN` with tanh (tensors prefixed `rnn.`).
    Rnn,
}

impl RecurrentKind {
    /// Tensor-name prefix of the recurrent stack.
    pub fn prefix(&self) -> &'static str {
        match self {
            RecurrentKind::Lstm => "lstm.",
            RecurrentKind::Gru => "gru.",
            RecurrentKind::Rnn => "rnn.",
        }
    }
}

/// Training objective, which also says how to read the outputs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Objective {
    /// Connectionist temporal classification; output 0 is the blank.
    Ctc,
    /// Frame-level cross-entropy against alignments (hybrid HMM decoding).
    Ce,
}

/// Network shape.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Architecture {
    /// Cell type.
    pub kind: RecurrentKind,
    /// Stacked recurrent layers.
    pub num_layers: usize,
    /// Hidden units per direction.
    pub hidden_dim: usize,
    /// Whether the recurrent layers are bidirectional.
    pub bidirectional: bool,
    /// Feature dimension of one input frame (before stacking).
    pub input_dim: usize,
    /// Number of output tokens (rows of `tokens.txt`).
    pub num_outputs: usize,
}

fn one() -> usize {
    1
}

/// `config.json` of a model bundle.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ModelConfig {
    /// Bundle format version ([`FORMAT_VERSION`]).
    pub format_version: u32,
    /// Network shape.
    pub architecture: Architecture,
    /// Training objective.
    pub objective: Objective,
    /// Consecutive frames concatenated into one network input (1 = none).
    #[serde(default = "one")]
    pub frame_stacking: usize,
    /// Keep every n-th stacked frame (1 = all). Larger → faster, coarser time.
    #[serde(default = "one")]
    pub frame_subsampling: usize,
    /// Whether `input_norm.mean`/`input_norm.std` (global CMVN) are applied first.
    #[serde(default)]
    pub normalize_input: bool,
    /// Feature extraction settings the model was trained with.
    #[serde(default)]
    pub features: serde_json::Value,
}

impl ModelConfig {
    /// Checks sizes.
    pub fn validate(&self) -> Result<()> {
        let a = &self.architecture;
        if a.num_outputs == 0 || self.frame_stacking == 0 || self.frame_subsampling == 0 {
            return Err(Error::Config(
                "num_outputs, frame_stacking and frame_subsampling must be positive".into(),
            ));
        }
        self.recurrent_config().validate()
    }

    /// The recurrent stack's configuration (input = stacked frame).
    pub fn recurrent_config(&self) -> RecurrentConfig {
        let a = &self.architecture;
        RecurrentConfig {
            input_dim: a.input_dim * self.frame_stacking,
            hidden_dim: a.hidden_dim,
            num_layers: a.num_layers,
            bidirectional: a.bidirectional,
        }
    }

    /// Reads `config.json`, rejecting newer format versions.
    pub fn load(path: &Path) -> Result<Self> {
        let text = std::fs::read_to_string(path).map_err(|e| Error::io(path, "reading", e))?;
        let value: serde_json::Value =
            serde_json::from_str(&text).map_err(|e| Error::parse(path, e.line(), e.to_string()))?;
        let version = value
            .get("format_version")
            .and_then(|v| v.as_u64())
            .ok_or_else(|| Error::parse(path, 0, "missing or invalid format_version"))?;
        if version > FORMAT_VERSION as u64 || version == 0 {
            return Err(Error::ModelVersion {
                path: path.to_path_buf(),
                expected: FORMAT_VERSION,
                got: version.min(u32::MAX as u64) as u32,
            });
        }
        let config: ModelConfig =
            serde_json::from_value(value).map_err(|e| Error::parse(path, 0, e.to_string()))?;
        config
            .validate()
            .map_err(|e| Error::parse(path, 0, e.to_string()))?;
        Ok(config)
    }
}

/// The recurrent part of the model.
#[derive(Debug, Clone, PartialEq)]
pub enum Encoder {
    /// LSTM stack.
    Lstm(Lstm<f32>),
    /// GRU stack.
    Gru(Gru<f32>),
    /// Elman RNN stack.
    Rnn(Rnn<f32>),
}

macro_rules! each {
    ($e:expr, $n:ident => $body:expr) => {
        match $e {
            Encoder::Lstm($n) => $body,
            Encoder::Gru($n) => $body,
            Encoder::Rnn($n) => $body,
        }
    };
}

impl Encoder {
    fn new(kind: RecurrentKind, config: RecurrentConfig, rng: &mut Rng) -> Result<Self> {
        Ok(match kind {
            RecurrentKind::Lstm => Encoder::Lstm(Lstm::new(config, rng)?),
            RecurrentKind::Gru => Encoder::Gru(Gru::new(config, rng)?),
            RecurrentKind::Rnn => Encoder::Rnn(Rnn::new(config, rng)?),
        })
    }

    /// Inference forward (see [`crate::nn::Recurrent::forward`]).
    pub fn forward(&self, x: &SeqBatch<f32>) -> Result<SeqBatch<f32>> {
        each!(self, n => n.forward(x))
    }

    fn forward_train(
        &self,
        x: &SeqBatch<f32>,
        dropout: f64,
        rng: &mut Rng,
    ) -> Result<(SeqBatch<f32>, RecurrentCache<f32>)> {
        each!(self, n => n.forward_train(x, dropout, rng))
    }

    fn backward(
        &self,
        cache: &RecurrentCache<f32>,
        dy: &Array2<f32>,
        grads: &mut Encoder,
    ) -> Array2<f32> {
        match (self, grads) {
            (Encoder::Lstm(n), Encoder::Lstm(g)) => n.backward(cache, dy, g),
            (Encoder::Gru(n), Encoder::Gru(g)) => n.backward(cache, dy, g),
            (Encoder::Rnn(n), Encoder::Rnn(g)) => n.backward(cache, dy, g),
            _ => panic!("invariant: gradient buffer has the model's architecture"),
        }
    }
}

/// Global input normalisation `(x − mean) / std` per feature.
#[derive(Debug, Clone, PartialEq)]
pub struct InputNorm {
    /// `[input_dim]`.
    pub mean: Array1<f32>,
    /// `[input_dim]`, positive.
    pub std: Array1<f32>,
}

/// Cache of a training forward pass.
#[derive(Debug, Clone)]
pub struct ModelCache {
    encoded: SeqBatch<f32>,
    recurrent: RecurrentCache<f32>,
}

/// An acoustic model (see the module docs).
#[derive(Debug, Clone, PartialEq)]
pub struct AcousticModel {
    /// Bundle configuration.
    pub config: ModelConfig,
    /// Optional global CMVN (present iff `config.normalize_input`).
    pub norm: Option<InputNorm>,
    /// Recurrent stack.
    pub encoder: Encoder,
    /// Output layer `[num_outputs, output_dim]` (tensors `output.weight`, `output.bias`).
    pub output: Linear<f32>,
}

impl AcousticModel {
    /// A freshly initialised model (PyTorch-style uniform initialisation from `rng`).
    pub fn new(config: ModelConfig, rng: &mut Rng) -> Result<Self> {
        config.validate()?;
        let rc = config.recurrent_config();
        let encoder = Encoder::new(config.architecture.kind, rc, rng)?;
        let output = Linear::new(rc.output_dim(), config.architecture.num_outputs, rng);
        let norm = config.normalize_input.then(|| InputNorm {
            mean: Array1::zeros(config.architecture.input_dim),
            std: Array1::ones(config.architecture.input_dim),
        });
        Ok(AcousticModel {
            config,
            norm,
            encoder,
            output,
        })
    }

    /// Feature dimension of one input frame.
    pub fn input_dim(&self) -> usize {
        self.config.architecture.input_dim
    }

    /// Number of output tokens.
    pub fn num_outputs(&self) -> usize {
        self.config.architecture.num_outputs
    }

    /// Number of output frames for `frames` input frames.
    pub fn num_output_frames(&self, frames: usize) -> usize {
        frames.div_ceil(self.config.frame_subsampling)
    }

    /// Sets global mean/variance normalisation (and enables it).
    pub fn set_input_norm(&mut self, mean: Array1<f32>, std: Array1<f32>) -> Result<()> {
        let d = self.input_dim();
        if mean.len() != d || std.len() != d {
            return Err(Error::dim(
                "input normalisation",
                d,
                mean.len().max(std.len()),
            ));
        }
        if std.iter().any(|&s| !(s > 0.0 && s.is_finite())) || mean.iter().any(|m| !m.is_finite()) {
            return Err(Error::NonFinite {
                op: "input normalisation statistics".into(),
            });
        }
        self.norm = Some(InputNorm { mean, std });
        self.config.normalize_input = true;
        Ok(())
    }

    /// Normalises, stacks and subsamples features `[frames, input_dim]` into network
    /// inputs `[frames', input_dim * frame_stacking]` (see [`AcousticModel::stack_frames`]).
    pub fn prepare_input(&self, feats: &ArrayRef2<f32>) -> Result<Array2<f32>> {
        Ok(self.stack_frames(&self.normalize_input(feats)?))
    }

    /// Checks the feature dimension and finiteness and applies the global input
    /// normalisation (if any).
    pub fn normalize_input(&self, feats: &ArrayRef2<f32>) -> Result<Array2<f32>> {
        let dim = feats.ncols();
        if dim != self.input_dim() {
            return Err(Error::dim(
                "acoustic model input",
                format!("{} features per frame", self.input_dim()),
                format!("{dim}"),
            ));
        }
        if feats.iter().any(|v| !v.is_finite()) {
            return Err(Error::NonFinite {
                op: "acoustic model input features".into(),
            });
        }
        let mut x = feats.to_owned();
        if let Some(n) = &self.norm {
            for mut row in x.rows_mut() {
                row -= &n.mean;
                row /= &n.std;
            }
        }
        Ok(x)
    }

    /// Stacks and subsamples normalised frames: output frame `j` concatenates input
    /// frames `j·sub .. j·sub + stack` (the last frame repeats past the end).
    pub fn stack_frames(&self, x: &ArrayRef2<f32>) -> Array2<f32> {
        let (stack, sub) = (self.config.frame_stacking, self.config.frame_subsampling);
        if stack == 1 && sub == 1 {
            return x.to_owned();
        }
        crate::features::stack_frames(x, stack, sub)
            .expect("invariant: ModelConfig::validate keeps stacking and subsampling >= 1")
    }

    /// Log-posteriors `[frames', num_outputs]` for one utterance's features
    /// `[frames, input_dim]` (each row sums to one in the probability domain).
    pub fn log_posteriors(&self, feats: &Array2<f32>) -> Result<Array2<f32>> {
        let x = self.prepare_input(feats)?;
        let frames = x.nrows();
        let batch = SeqBatch::new(x, vec![frames])?;
        let mut logits = self.logits(&batch)?.into_data();
        // Finite weights can still overflow (weights near f32::MAX); such a model
        // gives an error, never NaN posteriors.
        if logits.iter().any(|v| !v.is_finite()) {
            return Err(Error::NonFinite {
                op: "acoustic model output (weights or input normalisation out of range)".into(),
            });
        }
        log_softmax_inplace(&mut logits);
        Ok(logits)
    }

    /// Output logits for a batch of prepared inputs (time-major, padding rows zero).
    pub fn logits(&self, x: &SeqBatch<f32>) -> Result<SeqBatch<f32>> {
        let h = self.encoder.forward(x)?;
        x.with_data(self.output.forward(h.data()))
    }

    /// Training forward: logits `[max_len*batch, num_outputs]` and the cache.
    pub fn forward_train(
        &self,
        x: &SeqBatch<f32>,
        dropout: f64,
        rng: &mut Rng,
    ) -> Result<(SeqBatch<f32>, ModelCache)> {
        let (encoded, recurrent) = self.encoder.forward_train(x, dropout, rng)?;
        let logits = x.with_data(self.output.forward(encoded.data()))?;
        Ok((logits, ModelCache { encoded, recurrent }))
    }

    /// Backward from `dlogits`, accumulating parameter gradients into `grads` (a
    /// model of the same architecture, e.g. from [`AcousticModel::zeros_like`]).
    pub fn backward(&self, cache: &ModelCache, dlogits: &Array2<f32>, grads: &mut Self) {
        let dh = self
            .output
            .backward(cache.encoded.data(), dlogits, &mut grads.output);
        self.encoder
            .backward(&cache.recurrent, &dh, &mut grads.encoder);
    }

    /// A zero-valued copy (gradient buffer).
    pub fn zeros_like(&self) -> Self {
        let mut z = self.clone();
        z.zero();
        z
    }

    /// Writes `config.json` and `model.safetensors` into `dir` (created if needed).
    pub fn save(&self, dir: &Path) -> Result<()> {
        std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, "creating", e))?;
        let json = serde_json::to_string_pretty(&self.config)
            .map_err(|e| Error::Invalid(format!("serialising model config: {e}")))?;
        write_atomic(&dir.join("config.json"), format!("{json}\n").as_bytes())?;
        let mut tensors = self.named_tensors();
        if let Some(n) = &self.norm {
            for (name, a) in [("input_norm.mean", &n.mean), ("input_norm.std", &n.std)] {
                tensors.push(NamedTensor {
                    name: name.into(),
                    shape: vec![a.len()],
                    values: a.to_vec(),
                });
            }
        }
        let meta = [("format".to_string(), "pt".to_string())]
            .into_iter()
            .collect();
        save_tensors(&dir.join("model.safetensors"), &tensors, Some(meta))
    }

    /// All trainable tensors with their PyTorch names.
    pub fn named_tensors(&self) -> Vec<NamedTensor> {
        let mut out = Vec::new();
        self.visit(&mut |name, shape, v| {
            out.push(NamedTensor {
                name: name.to_string(),
                shape: shape.to_vec(),
                values: v.to_vec(),
            })
        });
        out
    }

    /// Reads a bundle directory written by [`AcousticModel::save`] or by PyTorch
    /// (`config.json` + `model.safetensors`).
    pub fn load(dir: &Path) -> Result<Self> {
        let config = ModelConfig::load(&dir.join("config.json"))?;
        let file = TensorFile::open(&dir.join("model.safetensors"))?;
        Self::from_tensors(config, &file)
    }

    /// Builds a model of `config` with the weights in `file`.
    pub fn from_tensors(config: ModelConfig, file: &TensorFile) -> Result<Self> {
        let mut model = AcousticModel::new(config, &mut Rng::new(0))?;
        let mut first_err = None;
        model.visit_mut(&mut |name, shape, v| {
            if first_err.is_some() {
                return;
            }
            match file.get(name, shape) {
                Ok(vals) => v.copy_from_slice(&vals),
                Err(e) => first_err = Some(e),
            }
        });
        if let Some(e) = first_err {
            return Err(e);
        }
        if model.config.normalize_input {
            let d = model.input_dim();
            let mean = Array1::from(file.get("input_norm.mean", &[d])?);
            let std = Array1::from(file.get("input_norm.std", &[d])?);
            // A standard deviation so small that dividing by it overflows turns
            // ordinary features into infinities.
            if let Some(i) = std
                .iter()
                .position(|&s| !(s > 0.0 && (1.0 / s).is_finite()))
            {
                return Err(file.err(format!(
                    "tensor input_norm.std has {} at index {i}; a standard deviation must be \
                     positive with a finite reciprocal",
                    std[i]
                )));
            }
            model.set_input_norm(mean, std)?;
        }
        Ok(model)
    }
}

impl Params<f32> for AcousticModel {
    fn visit(&self, f: &mut Visit<'_, f32>) {
        let prefix = self.config.architecture.kind.prefix();
        each!(&self.encoder, n => n.visit(&mut |name, s, v| f(&format!("{prefix}{name}"), s, v)));
        self.output
            .visit(&mut |name, s, v| f(&format!("output.{name}"), s, v));
    }
    fn visit_mut(&mut self, f: &mut VisitMut<'_, f32>) {
        let prefix = self.config.architecture.kind.prefix();
        each!(&mut self.encoder, n => n.visit_mut(&mut |name, s, v| f(&format!("{prefix}{name}"), s, v)));
        self.output
            .visit_mut(&mut |name, s, v| f(&format!("output.{name}"), s, v));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    pub(crate) fn tiny_config(kind: RecurrentKind, bidirectional: bool) -> ModelConfig {
        ModelConfig {
            format_version: FORMAT_VERSION,
            architecture: Architecture {
                kind,
                num_layers: 2,
                hidden_dim: 5,
                bidirectional,
                input_dim: 3,
                num_outputs: 4,
            },
            objective: Objective::Ctc,
            frame_stacking: 2,
            frame_subsampling: 2,
            normalize_input: true,
            features: serde_json::json!({"kind": "fbank", "num_mel_bins": 3}),
        }
    }

    fn tmp(tag: &str) -> std::path::PathBuf {
        let d = std::env::temp_dir().join(format!("hark-am-{tag}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        d
    }

    #[test]
    fn save_load_round_trip_is_lossless_for_every_kind() {
        for kind in [RecurrentKind::Lstm, RecurrentKind::Gru, RecurrentKind::Rnn] {
            let mut m = AcousticModel::new(tiny_config(kind, true), &mut Rng::new(3)).unwrap();
            m.set_input_norm(
                ndarray::arr1(&[0.5, -1.0, 2.0]),
                ndarray::arr1(&[1.0, 2.0, 0.25]),
            )
            .unwrap();
            let dir = tmp(&format!("rt-{kind:?}"));
            m.save(&dir).unwrap();
            let back = AcousticModel::load(&dir).unwrap();
            assert_eq!(back, m);
            let feats = Array2::from_shape_fn((7, 3), |(i, j)| (i as f32 * 0.3 - j as f32).sin());
            let lp = back.log_posteriors(&feats).unwrap();
            assert_eq!(lp.dim(), (4, 4));
            for row in lp.rows() {
                let s: f32 = row.iter().map(|v| v.exp()).sum();
                assert!((s - 1.0).abs() < 1e-5);
            }
        }
    }

    #[test]
    fn pytorch_names_are_used() {
        let m =
            AcousticModel::new(tiny_config(RecurrentKind::Lstm, true), &mut Rng::new(3)).unwrap();
        let names: Vec<String> = m.named_tensors().into_iter().map(|t| t.name).collect();
        assert!(names.contains(&"lstm.weight_ih_l0".to_string()));
        assert!(names.contains(&"lstm.bias_hh_l1_reverse".to_string()));
        assert_eq!(
            names[names.len() - 2..],
            ["output.weight".to_string(), "output.bias".to_string()]
        );
    }

    #[test]
    fn newer_format_version_is_rejected_with_model_version_error() {
        let m =
            AcousticModel::new(tiny_config(RecurrentKind::Gru, false), &mut Rng::new(3)).unwrap();
        let dir = tmp("ver");
        m.save(&dir).unwrap();
        let path = dir.join("config.json");
        let text = std::fs::read_to_string(&path).unwrap();
        std::fs::write(
            &path,
            text.replace("\"format_version\": 1", "\"format_version\": 99"),
        )
        .unwrap();
        match AcousticModel::load(&dir) {
            Err(Error::ModelVersion {
                expected: 1,
                got: 99,
                ..
            }) => {}
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn bad_bundles_give_errors_naming_file_and_tensor() {
        let m =
            AcousticModel::new(tiny_config(RecurrentKind::Lstm, false), &mut Rng::new(3)).unwrap();
        let dir = tmp("bad");
        m.save(&dir).unwrap();
        let st = dir.join("model.safetensors");
        // Missing tensor.
        let mut t = m.named_tensors();
        t.retain(|t| t.name != "lstm.weight_hh_l1");
        save_tensors(&st, &t, None).unwrap();
        let e = AcousticModel::load(&dir).unwrap_err().to_string();
        assert!(
            e.contains("model.safetensors") && e.contains("missing tensor lstm.weight_hh_l1"),
            "{e}"
        );
        // Wrong shape.
        let mut t = m.named_tensors();
        t[0].shape = vec![t[0].shape[1], t[0].shape[0]];
        save_tensors(&st, &t, None).unwrap();
        let e = AcousticModel::load(&dir).unwrap_err().to_string();
        assert!(
            e.contains("lstm.weight_ih_l0") && e.contains("shape"),
            "{e}"
        );
        // NaN weight.
        let mut t = m.named_tensors();
        t[2].values[1] = f32::NAN;
        save_tensors(&st, &t, None).unwrap();
        let e = AcousticModel::load(&dir).unwrap_err().to_string();
        assert!(
            e.contains("lstm.bias_ih_l0") && e.contains("non-finite"),
            "{e}"
        );
        // Truncated.
        m.save(&dir).unwrap();
        let bytes = std::fs::read(&st).unwrap();
        std::fs::write(&st, &bytes[..bytes.len() / 2]).unwrap();
        let e = AcousticModel::load(&dir).unwrap_err().to_string();
        assert!(
            e.contains("model.safetensors") && e.contains("truncated"),
            "{e}"
        );
        // Wrong feature dimension at inference.
        assert!(m.log_posteriors(&Array2::zeros((4, 5))).is_err());
    }

    #[test]
    fn stacking_and_subsampling_follow_the_documented_layout() {
        let mut cfg = tiny_config(RecurrentKind::Lstm, false);
        cfg.normalize_input = false;
        cfg.frame_stacking = 3;
        let m = AcousticModel::new(cfg, &mut Rng::new(1)).unwrap();
        let feats = Array2::from_shape_fn((5, 3), |(i, j)| (10 * i + j) as f32);
        let x = m.prepare_input(&feats).unwrap();
        // frames' = ceil(5/2) = 3; frame 2 stacks frames 4, 4, 4 (last repeats).
        assert_eq!(x.dim(), (3, 9));
        assert_eq!(
            x.row(1).to_vec(),
            vec![20., 21., 22., 30., 31., 32., 40., 41., 42.]
        );
        assert_eq!(
            x.row(2).to_vec(),
            vec![40., 41., 42., 40., 41., 42., 40., 41., 42.]
        );
    }
}
