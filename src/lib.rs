//! # hark
//!
//! Offline speech recognition and spoken-term search, written to be read:
//!
//! ```text
//! WAV ──audio──▶ samples f32 mono 16 kHz ──features──▶ frames [frames, feat_dim]
//!     ──acoustic model (LSTM/GRU)──▶ log-posteriors [frames, num_tokens]   (the seam)
//!     ──decoder (CTC greedy / prefix beam + LM / hybrid HMM-Viterbi)──▶ words + times
//! ```
//!
//! Decoders see only a log-posterior matrix, so posteriors made anywhere can be
//! decoded and benchmarked. Rows are frames throughout.
#![deny(missing_docs)]
#![cfg_attr(not(test), deny(clippy::unwrap_used))]

pub mod am;
pub mod audio;
pub mod corpus;
pub mod decode;
pub mod error;
pub mod eval;
pub mod features;
pub mod fsio;
pub mod lexicon;
pub mod lm;
pub mod manifest;
pub mod nn;
pub mod phones;
pub mod qbe;
pub mod recognizer;
pub mod rng;

pub use error::{Error, Result};
