//! Building a decoder from settings and a model bundle's resources.
//!
//! The command line (`hark decode`, `hark transcribe`, `hark bench`) and the
//! [`crate::recognizer::Recognizer`] all construct decoders here, so one set of
//! defaults and one set of checks serves every entry point.

use std::path::PathBuf;
use std::sync::Arc;

use ndarray::Array2;
use serde::{Deserialize, Serialize};

use crate::decode::{
    CtcGreedy, CtcPrefixBeamSearch, Decodable, Decoder, HmmTopology, LogPosteriors,
    PrefixBeamConfig, ScaledLikelihoods, ViterbiConfig, ViterbiDecoder,
};
use crate::error::{Error, Result};
use crate::lexicon::Lexicon;
use crate::lm::{ArpaLm, NoLm};
use crate::phones::TokenTable;

/// The decoder families.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum DecoderKind {
    /// CTC best path: the most likely token per frame, repeats and blanks removed.
    Greedy,
    /// CTC prefix beam search (lexicon + word LM when available).
    #[default]
    Beam,
    /// Token-passing Viterbi over phone HMMs × lexicon × LM (hybrid when priors exist).
    Hmm,
}

impl std::str::FromStr for DecoderKind {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        match s {
            "greedy" => Ok(DecoderKind::Greedy),
            "beam" => Ok(DecoderKind::Beam),
            "hmm" => Ok(DecoderKind::Hmm),
            o => Err(Error::Config(format!(
                "unknown decoder {o:?} (expected greedy, beam or hmm)"
            ))),
        }
    }
}

impl DecoderKind {
    /// Lower-case name.
    pub fn name(self) -> &'static str {
        match self {
            DecoderKind::Greedy => "greedy",
            DecoderKind::Beam => "beam",
            DecoderKind::Hmm => "hmm",
        }
    }
}

/// Decoder settings shared by every entry point. `None` means the family's default.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct DecoderConfig {
    /// Which decoder.
    pub kind: DecoderKind,
    /// beam: hypotheses kept per frame (default 128); hmm: beam width in nats
    /// (default 24). Larger → slower, more accurate.
    pub beam: Option<f32>,
    /// beam: drop hypotheses this far (nats) below the best. Larger → slower, more
    /// accurate.
    pub beam_threshold: f32,
    /// LM weight (default [`DEFAULT_LM_WEIGHT`] for both).
    pub lm_weight: Option<f32>,
    /// Word insertion bonus in nats, negative for a penalty (default −0.5 for both,
    /// tuned on the dev split).
    pub word_bonus: Option<f32>,
    /// Weight of the lexicon's pronunciation log-probabilities (default 1; 0 ignores
    /// them; no effect on a lexicon without probabilities).
    pub pron_weight: Option<f32>,
    /// hmm: maximum active tokens per frame. Larger → slower, more accurate.
    pub max_active: usize,
    /// hmm with priors: states per phone (1–3); `None` = [`DecoderConfig::hmm_states_for`]
    /// the model's frame rate where known (the recognizer), else 3.
    pub hmm_states: Option<usize>,
    /// hmm with priors: self-loop probability of each HMM state.
    pub self_loop_prob: f32,
    /// hmm with priors: acoustic scale applied to log(posterior / prior).
    pub acoustic_scale: f32,
    /// hmm with priors: exponent of the prior in the division.
    pub prior_scale: f32,
    /// Hypotheses returned per utterance.
    pub nbest: usize,
}

/// Default beam of the beam decoder (hypotheses kept per frame).
pub const DEFAULT_BEAM_SIZE: usize = 128;
/// LM weight of both lexicon decoders when none is given: tuned on the dev split with
/// the default bundle's unpruned 3-gram (1.0 → 1.2 took hmm WER from 12.63 to 12.20 %).
pub const DEFAULT_LM_WEIGHT: f32 = 1.2;
/// Default beam of the hmm decoder (nats), chosen on the dev split with the default
/// bundle (session 7: 3×256 model, lexicon with probabilities): beams 16 / 20 / 24 /
/// 28 / 32 give WER 8.96 / 8.65 / 8.49 / 8.41 / 8.41 % at decoder real-time factor
/// 0.0005 / 0.0018 / 0.0039 / 0.0099 / 0.019. (Up to session 6 it was 16, Kaldi's
/// default: the flatter scores of the models then made beam 24 cost up to 0.07 × real
/// time.)
pub const DEFAULT_HMM_BEAM: f32 = 24.0;

impl DecoderConfig {
    /// The beam this setting decodes with: hypotheses for beam, nats for hmm, `None`
    /// for greedy.
    pub fn effective_beam(&self) -> Option<f32> {
        match self.kind {
            DecoderKind::Greedy => None,
            DecoderKind::Beam => Some(
                self.beam
                    .map_or(DEFAULT_BEAM_SIZE as f32, |b| b.max(1.0).floor()),
            ),
            DecoderKind::Hmm => Some(self.beam.unwrap_or(DEFAULT_HMM_BEAM)),
        }
    }
}

impl DecoderConfig {
    /// States per phone HMM for frames `frame_shift_secs` apart: 3 for 10 ms frames
    /// (the classic topology, ≥ 30 ms per phone), 1 for subsampled frames (≥ 20 ms),
    /// where three states would forbid the short phones of fast speech.
    pub fn hmm_states_for(frame_shift_secs: f64) -> usize {
        if frame_shift_secs >= 0.02 { 1 } else { 3 }
    }
}

impl Default for DecoderConfig {
    fn default() -> Self {
        DecoderConfig {
            kind: DecoderKind::Beam,
            beam: None,
            beam_threshold: 25.0,
            lm_weight: None,
            word_bonus: None,
            pron_weight: None,
            max_active: 7000,
            hmm_states: None,
            self_loop_prob: 0.5,
            acoustic_scale: 1.0,
            prior_scale: 1.0,
            nbest: 1,
        }
    }
}

/// Everything a decoder needs besides the posteriors: token table, lexicon, LM and
/// phone priors (each optional except the tokens). The LM is shared, not copied,
/// between the decoders of different threads.
#[derive(Debug, Clone)]
pub struct DecodingResources {
    /// Output token table (columns of the posteriors).
    pub tokens: TokenTable,
    /// Pronunciation lexicon; without it beam and hmm decode phones.
    pub lexicon: Option<Arc<Lexicon>>,
    /// Word LM (needs a lexicon).
    pub lm: Option<Arc<ArpaLm>>,
    /// Natural-log phone priors, one per column (makes `hmm` a hybrid decoder).
    pub log_priors: Option<Vec<f32>>,
}

/// Paths of the decoding resources; a bundle directory fills in what is not given.
#[derive(Debug, Clone, Default)]
pub struct ResourcePaths {
    /// Model bundle directory.
    pub model: Option<PathBuf>,
    /// `tokens.txt`.
    pub tokens: Option<PathBuf>,
    /// `lexicon.txt`.
    pub lexicon: Option<PathBuf>,
    /// `lm.arpa` or `lm.arpa.gz`.
    pub lm: Option<PathBuf>,
    /// `priors.txt`.
    pub priors: Option<PathBuf>,
}

fn bundle_file(
    model: &Option<PathBuf>,
    explicit: &Option<PathBuf>,
    names: &[&str],
) -> Option<PathBuf> {
    if explicit.is_some() {
        return explicit.clone();
    }
    let dir = model.as_ref()?;
    names.iter().map(|n| dir.join(n)).find(|p| p.exists())
}

impl DecodingResources {
    /// Loads the resources. `num_columns` picks the built-in token table when no
    /// `tokens.txt` is found (41 → CTC, 40 → hybrid).
    pub fn load(paths: &ResourcePaths, num_columns: Option<usize>) -> Result<Self> {
        if let Some(m) = &paths.model
            && !m.is_dir()
        {
            return Err(Error::Config(format!(
                "model directory {} does not exist",
                m.display()
            )));
        }
        let tokens = match bundle_file(&paths.model, &paths.tokens, &["tokens.txt"]) {
            Some(p) => TokenTable::read(&p)?,
            None => match num_columns {
                Some(41) | None => TokenTable::ctc_default(),
                Some(40) => TokenTable::hybrid_default(),
                Some(n) => {
                    return Err(Error::Config(format!(
                        "{n} posterior columns: give a token table (the built-in ones have 41 or 40)"
                    )));
                }
            },
        };
        let lexicon = bundle_file(&paths.model, &paths.lexicon, &["lexicon.txt"])
            .map(|p| Lexicon::read(&p))
            .transpose()?
            .map(Arc::new);
        let lm = bundle_file(&paths.model, &paths.lm, &["lm.arpa", "lm.arpa.gz"])
            .map(|p| ArpaLm::read(&p))
            .transpose()?
            .map(Arc::new);
        if lm.is_some() && lexicon.is_none() {
            return Err(Error::Config("an LM needs a lexicon".into()));
        }
        let log_priors = match bundle_file(&paths.model, &paths.priors, &["priors.txt"]) {
            Some(p) => {
                let text = std::fs::read_to_string(&p).map_err(|e| Error::io(&p, "reading", e))?;
                Some(ScaledLikelihoods::parse_priors(&text, &p)?)
            }
            None => None,
        };
        if let Some(pri) = &log_priors
            && pri.len() != tokens.len()
        {
            return Err(Error::dim(
                "phone priors vs token table",
                tokens.len(),
                pri.len(),
            ));
        }
        Ok(DecodingResources {
            tokens,
            lexicon,
            lm,
            log_priors,
        })
    }

    /// Whether `hmm` searches left-to-right phone HMMs (a frame-level model: the
    /// token table has no CTC blank) rather than the CTC topology. Posteriors are
    /// divided by the priors when `priors.txt` is present.
    pub fn is_hybrid(&self) -> bool {
        self.tokens.blank().is_none()
    }

    /// Wraps one utterance's log-posteriors as the decoder's input: scaled
    /// likelihoods for the hybrid HMM decoder, log-posteriors otherwise.
    pub fn decodable(
        &self,
        config: &DecoderConfig,
        log_post: Array2<f32>,
    ) -> Result<Box<dyn Decodable>> {
        if log_post.ncols() != self.tokens.len() {
            return Err(Error::dim(
                "posterior columns vs token table",
                self.tokens.len(),
                log_post.ncols(),
            ));
        }
        Ok(match (&self.log_priors, config.kind) {
            (Some(pri), DecoderKind::Hmm) => Box::new(ScaledLikelihoods::new(
                &log_post,
                pri,
                config.acoustic_scale,
                config.prior_scale,
            )?),
            _ => Box::new(LogPosteriors::new(log_post)?),
        })
    }

    /// Builds a decoder (reuse it across utterances of one thread).
    pub fn build_decoder(&self, config: &DecoderConfig) -> Result<Box<dyn Decoder + Send>> {
        let lex = self.lexicon.as_deref();
        match &self.lm {
            Some(lm) => build(config, &self.tokens, lex, Arc::clone(lm), self.is_hybrid()),
            None => build(config, &self.tokens, lex, NoLm, self.is_hybrid()),
        }
    }
}

fn build<L: crate::lm::LanguageModel + Send + 'static>(
    config: &DecoderConfig,
    tokens: &TokenTable,
    lexicon: Option<&Lexicon>,
    lm: L,
    hybrid: bool,
) -> Result<Box<dyn Decoder + Send>>
where
    L::State: Send,
{
    let nbest = config.nbest.max(1);
    Ok(match config.kind {
        DecoderKind::Greedy => Box::new(CtcGreedy::new(tokens.clone())),
        DecoderKind::Beam => {
            if tokens.blank().is_none() {
                return Err(Error::Config(
                    "the beam decoder needs a CTC model (token table with <blk> at 0); use hmm"
                        .into(),
                ));
            }
            let cfg = PrefixBeamConfig {
                beam_size: config
                    .beam
                    .map_or(DEFAULT_BEAM_SIZE, |b| b.max(1.0) as usize),
                beam_threshold: config.beam_threshold,
                lm_weight: config.lm_weight.unwrap_or(DEFAULT_LM_WEIGHT),
                word_bonus: config.word_bonus.unwrap_or(-0.5),
                pron_weight: config.pron_weight.unwrap_or(1.0),
                nbest,
                ..Default::default()
            };
            match lexicon {
                Some(lex) => Box::new(CtcPrefixBeamSearch::with_lexicon(
                    lex,
                    tokens.clone(),
                    lm,
                    cfg,
                )?),
                None => Box::new(CtcPrefixBeamSearch::phones(tokens.clone(), cfg)?),
            }
        }
        DecoderKind::Hmm => {
            let topology = if hybrid {
                HmmTopology::LeftToRight {
                    num_states: config.hmm_states.unwrap_or(3),
                    self_loop_prob: config.self_loop_prob,
                }
            } else {
                HmmTopology::Ctc
            };
            let cfg = ViterbiConfig {
                beam: config.beam.unwrap_or(DEFAULT_HMM_BEAM),
                max_active: config.max_active,
                lm_weight: config.lm_weight.unwrap_or(DEFAULT_LM_WEIGHT),
                word_penalty: config.word_bonus.unwrap_or(-0.5),
                pron_weight: config.pron_weight.unwrap_or(1.0),
                topology,
                nbest,
                ..Default::default()
            };
            match lexicon {
                Some(lex) => Box::new(ViterbiDecoder::new(lex, tokens, lm, cfg)?),
                None => Box::new(ViterbiDecoder::phone_loop(tokens, cfg)?),
            }
        }
    })
}
