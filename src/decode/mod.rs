//! Decoders: log-posteriors → words, phones and times.
//!
//! Every decoder reads only a [`Decodable`] (the seam of `DESIGN.md`): a
//! `[frames, num_indices]` matrix of log-domain scores, column 0 the CTC blank when
//! the model has one. Nothing here knows about audio or networks.
//!
//! - [`CtcGreedy`]: best path, collapse repeats, drop blanks; frame-level token times.
//! - [`CtcPrefixBeamSearch`]: prefix beam search constrained by a pronunciation
//!   prefix tree ([`LexiconTree`]) with a word n-gram LM, or lexicon-free over phones.
//! - [`ViterbiDecoder`]: token passing over a search graph composed on the fly from
//!   phone HMMs ([`HmmTopology`]: CTC topology or left-to-right hybrid HMMs), the
//!   lexicon tree and the n-gram LM (exact back-off), with beam and max-active pruning.
//! - [`align`]: forced alignment of a known transcript and the JSON / CTM / TextGrid writers.

pub mod align;
pub mod ctc_greedy;
pub mod ctc_prefix_beam;
pub mod decodable;
pub mod factory;
pub mod hmm;
pub mod hypothesis;
pub mod prefix_tree;
pub mod synth;
pub mod viterbi;

pub use align::{Alignment, ForcedAligner};
pub use ctc_greedy::CtcGreedy;
pub use ctc_prefix_beam::{CtcPrefixBeamSearch, PrefixBeamConfig};
pub use decodable::{Decodable, LogPosteriors, ScaledLikelihoods};
pub use factory::{DecoderConfig, DecoderKind, DecodingResources, ResourcePaths};
pub use hmm::HmmTopology;
pub use hypothesis::{Hypothesis, PhoneSpan, WordSpan};
pub use prefix_tree::LexiconTree;
pub use viterbi::{ViterbiConfig, ViterbiDecoder};

/// `ln(e^a + e^b)` in f32, exact for `-inf` operands.
#[inline]
pub(crate) fn log_add(a: f32, b: f32) -> f32 {
    let (hi, lo) = if a > b { (a, b) } else { (b, a) };
    if lo == f32::NEG_INFINITY {
        return hi;
    }
    hi + (lo - hi).exp().ln_1p()
}

/// A decoder of whole utterances: hypotheses best first (cf. Kaldi's decoders; a
/// streaming `init / advance / best_path` can be added later).
pub trait Decoder {
    /// Decodes one utterance.
    fn decode(&mut self, d: &dyn Decodable) -> crate::Result<Vec<Hypothesis>>;
}

impl Decoder for CtcGreedy {
    fn decode(&mut self, d: &dyn Decodable) -> crate::Result<Vec<Hypothesis>> {
        Ok(vec![CtcGreedy::decode(self, d)?])
    }
}

impl<L: crate::lm::LanguageModel> Decoder for CtcPrefixBeamSearch<L> {
    fn decode(&mut self, d: &dyn Decodable) -> crate::Result<Vec<Hypothesis>> {
        CtcPrefixBeamSearch::decode(self, d)
    }
}

impl<L: crate::lm::LanguageModel> Decoder for ViterbiDecoder<L> {
    fn decode(&mut self, d: &dyn Decodable) -> crate::Result<Vec<Hypothesis>> {
        ViterbiDecoder::decode(self, d)
    }
}
