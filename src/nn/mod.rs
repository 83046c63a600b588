//! Neural-network building blocks trained in Rust: linear and recurrent layers
//! (LSTM, GRU, Elman RNN) with backpropagation through time, CTC and cross-entropy
//! losses, Adam, gradient clipping, dropout and SpecAugment.
//!
//! Everything is generic over [`Float`] (`f32` for real work, `f64` for gradient
//! checks). Sequence batches are time-major ([`SeqBatch`]); parameters are visited
//! by PyTorch name through [`Params`], which is how optimisers and the safetensors
//! I/O reach them.

pub mod activation;
pub mod augment;
pub mod batch;
pub mod float;
pub mod gru;
pub mod init;
pub mod linear;
pub mod loss;
pub mod lstm;
pub mod matmul;
pub mod optim;
pub mod packed;
pub mod params;
pub mod recurrent;
pub mod rnn;

#[cfg(test)]
pub(crate) mod gradcheck;

pub use batch::SeqBatch;
pub use float::Float;
pub use gru::{Gru, GruCell};
pub use linear::Linear;
pub use lstm::{Lstm, LstmCell};
pub use params::Params;
pub use recurrent::{Cell, Recurrent, RecurrentCache, RecurrentConfig, StreamState};
pub use rnn::{Rnn, RnnCell};
