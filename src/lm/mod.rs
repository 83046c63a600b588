//! Word language models.
//!
//! Scores are **natural logarithms** throughout the library (ARPA files store log10;
//! the reader converts with `ln 10`). A model is a deterministic automaton over word
//! ids: [`LanguageModel::start`] gives the state after `<s>`, [`LanguageModel::score`]
//! scores one word and returns the next state, and [`LanguageModel::final_score`] is
//! `ln p(</s> | state)`. States are small `Copy` values so decoders can hash them.
//!
//! - [`arpa`]: an n-gram model read from an ARPA file (KenLM-compatible, plain or
//!   gzipped), with exact back-off semantics.
//! - [`build`]: counts n-grams in text and estimates an interpolated modified
//!   Kneser-Ney or Witten-Bell model, written as ARPA (`hark lm build`).

pub mod arpa;
pub mod build;

use std::fmt::Debug;
use std::hash::Hash;

pub use arpa::ArpaLm;
pub use build::{LmBuildConfig, Smoothing};

/// Index of a word in a language model's vocabulary.
pub type LmWordId = u32;

/// ln(10): converts ARPA log10 values to natural logarithms.
pub const LN_10: f32 = std::f32::consts::LN_10;

/// A word language model seen as a deterministic automaton (cf. KenLM's `Model::Score`).
pub trait LanguageModel {
    /// The history summary after some words; equal states have equal futures.
    type State: Copy + Eq + Hash + Debug;
    /// The state after the sentence start `<s>`.
    fn start(&self) -> Self::State;
    /// The state with no history at all (scores are unigram probabilities); decoders
    /// use it for LM look-ahead.
    fn null_state(&self) -> Self::State;
    /// `(ln p(word | state), next state)`. Unknown ids score as `<unk>`.
    fn score(&self, state: Self::State, word: LmWordId) -> (f32, Self::State);
    /// `ln p(</s> | state)`.
    fn final_score(&self, state: Self::State) -> f32;
    /// The id of a word (case-sensitive, as written in the model), if in the vocabulary.
    fn word_id(&self, word: &str) -> Option<LmWordId>;
    /// The id of `<unk>`, if the model has one.
    fn unk(&self) -> Option<LmWordId>;
}

/// The empty language model: every word scores 0 (useful for acoustic-only decoding).
#[derive(Debug, Clone, Copy, Default)]
pub struct NoLm;

impl LanguageModel for NoLm {
    type State = ();
    fn start(&self) {}
    fn null_state(&self) {}
    fn score(&self, _state: (), _word: LmWordId) -> (f32, ()) {
        (0.0, ())
    }
    fn final_score(&self, _state: ()) -> f32 {
        0.0
    }
    fn word_id(&self, _word: &str) -> Option<LmWordId> {
        Some(0)
    }
    fn unk(&self) -> Option<LmWordId> {
        Some(0)
    }
}

/// A fast, non-cryptographic hasher for small integer keys (FxHash's multiply-rotate),
/// used for the decoders' state tables.
#[derive(Debug, Clone, Copy, Default)]
pub struct FxHasher {
    hash: u64,
}

const FX_K: u64 = 0xf135_7aea_2e62_a9c5;

impl std::hash::Hasher for FxHasher {
    #[inline]
    fn write(&mut self, bytes: &[u8]) {
        for chunk in bytes.chunks(8) {
            let mut b = [0u8; 8];
            b[..chunk.len()].copy_from_slice(chunk);
            self.write_u64(u64::from_le_bytes(b));
        }
    }
    #[inline]
    fn write_u64(&mut self, i: u64) {
        self.hash = (self.hash.rotate_left(5) ^ i).wrapping_mul(FX_K);
    }
    #[inline]
    fn write_u32(&mut self, i: u32) {
        self.write_u64(u64::from(i));
    }
    #[inline]
    fn write_usize(&mut self, i: usize) {
        self.write_u64(i as u64);
    }
    #[inline]
    fn finish(&self) -> u64 {
        // fold the high bits down: hashbrown uses the top 7 bits as tags and the low bits as index
        self.hash.rotate_left(26)
    }
}

/// `BuildHasher` for [`FxHasher`].
pub type FxBuild = std::hash::BuildHasherDefault<FxHasher>;
/// A `HashMap` using [`FxHasher`].
pub type FxHashMap<K, V> = std::collections::HashMap<K, V, FxBuild>;

/// Forwards [`LanguageModel`] through a pointer type, so decoders can borrow a model
/// (`&L`) or share one between threads (`Arc<L>`).
macro_rules! forward_lm {
    ($($ptr:ty),*) => {$(
        impl<L: LanguageModel + ?Sized> LanguageModel for $ptr {
            type State = L::State;
            fn start(&self) -> Self::State {
                (**self).start()
            }
            fn null_state(&self) -> Self::State {
                (**self).null_state()
            }
            #[inline]
            fn score(&self, state: Self::State, word: LmWordId) -> (f32, Self::State) {
                (**self).score(state, word)
            }
            fn final_score(&self, state: Self::State) -> f32 {
                (**self).final_score(state)
            }
            fn word_id(&self, word: &str) -> Option<LmWordId> {
                (**self).word_id(word)
            }
            fn unk(&self) -> Option<LmWordId> {
                (**self).unk()
            }
        }
    )*};
}

forward_lm!(&L, std::sync::Arc<L>);
