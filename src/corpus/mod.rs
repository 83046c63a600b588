//! The corpus recipe: text preparation, lexicon, TTS synthesis with phone labels
//! and alignments, channel augmentation, and importers for real corpora.
//!
//! ```text
//! raw text ──text::prepare_sentences──▶ sentences.txt ──synth::synthesize──▶
//!     {train,dev,test}.jsonl + wavs/ (16 kHz, phones + alignment per utterance)
//! LibriSpeech / Kaldi / TIMIT ──import──▶ manifest.jsonl
//! ```

pub mod augment;
pub mod borrowed;
pub mod cmudict;
pub mod engines;
pub mod import;
pub mod labels;
pub mod phonemap;
pub mod sphere;
pub mod synth;
pub mod text;
