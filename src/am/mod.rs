//! Acoustic models: the network that turns feature frames into log-posteriors over
//! tokens, its bundle format (`config.json` + `model.safetensors` with PyTorch tensor
//! names), its priors and its training.

pub mod adapt;
pub mod io;
pub mod model;
pub mod priors;
pub mod train;

pub use model::{
    AcousticModel, Architecture, Encoder, FORMAT_VERSION, InputNorm, ModelCache, ModelConfig,
    Objective, RecurrentKind,
};
pub use train::{SpeedConfig, Targets, TrainConfig, TrainExample, TrainReport, VtlpConfig, train};
