//! `hark decode`: decode posterior matrices (`.npy`) made anywhere.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::{Context, bail};
use hark::decode::{
    CtcGreedy, CtcPrefixBeamSearch, Decodable, Decoder, HmmTopology, LogPosteriors,
    PrefixBeamConfig, ScaledLikelihoods, ViterbiConfig, ViterbiDecoder,
};
use hark::lexicon::Lexicon;
use hark::lm::{ArpaLm, LanguageModel, NoLm};
use hark::phones::TokenTable;

/// Arguments of `hark decode`.
#[derive(Debug, clap::Args)]
#[command(
    after_help = "Example:\n  hark decode --posteriors utt1.npy --tokens tokens.txt --lexicon lexicon.txt --lm lm.arpa --decoder beam --beam 16"
)]
pub struct DecodeArgs {
    /// Log-posterior matrices [frames, tokens] (.npy, f32 or f64).
    #[arg(long, required = true, num_args = 1..)]
    posteriors: Vec<PathBuf>,
    /// Model bundle directory: tokens.txt, lexicon.txt, lm.arpa(.gz), priors.txt are
    /// used when present (explicit flags win).
    #[arg(long)]
    model: Option<PathBuf>,
    /// Token table (one token per line). Default: the built-in CTC table for 41
    /// columns, the hybrid table for 40.
    #[arg(long)]
    tokens: Option<PathBuf>,
    /// Pronunciation lexicon (CMUdict format). Without it, beam and hmm decode phones.
    #[arg(long)]
    lexicon: Option<PathBuf>,
    /// Word n-gram LM (ARPA, may be gzipped).
    #[arg(long)]
    lm: Option<PathBuf>,
    /// Phone priors (probabilities or log-probabilities, one per column): makes `hmm`
    /// a hybrid decoder over left-to-right phone HMMs with scaled likelihoods.
    #[arg(long)]
    priors: Option<PathBuf>,
    /// greedy (CTC best path), beam (CTC prefix beam search) or hmm (token passing).
    #[arg(long, default_value = "beam", value_parser = ["greedy", "beam", "hmm"])]
    decoder: String,
    /// beam: hypotheses kept per frame (default 16); hmm: beam width in nats (default 16).
    /// Larger: slower, more accurate.
    #[arg(long)]
    beam: Option<f32>,
    /// beam: drop hypotheses this far (nats) below the best. Larger: slower, more accurate.
    #[arg(long, default_value_t = 25.0)]
    beam_threshold: f32,
    /// LM weight (default 0.8 for beam, 1.0 for hmm).
    #[arg(long)]
    lm_weight: Option<f32>,
    /// Word insertion bonus in nats (negative: a penalty).
    #[arg(long, default_value_t = 0.0, allow_negative_numbers = true)]
    word_bonus: f32,
    /// hmm: maximum active tokens per frame.
    #[arg(long, default_value_t = 7000)]
    max_active: usize,
    /// hmm with priors: states per phone (1-3).
    #[arg(long, default_value_t = 3)]
    hmm_states: usize,
    /// hmm with priors: acoustic scale applied to log(posterior / prior).
    #[arg(long, default_value_t = 1.0)]
    acoustic_scale: f32,
    /// Frame shift of the posteriors in milliseconds (for times in the output).
    #[arg(long, default_value_t = 10.0)]
    frame_shift_ms: f64,
    /// Number of hypotheses per input (json output lists them all).
    #[arg(long, default_value_t = 1)]
    nbest: usize,
    /// text: "<file>\t<words>"; json: one object per input.
    #[arg(long, default_value = "text", value_parser = ["text", "json"])]
    format: String,
    /// Print decoding speed (frames/s, decoding only) to stderr.
    #[arg(long)]
    timing: bool,
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

/// Runs `hark decode`.
pub fn run(args: DecodeArgs, _quiet: bool) -> anyhow::Result<()> {
    if let Some(m) = &args.model
        && !m.is_dir()
    {
        bail!("model directory {} does not exist", m.display());
    }
    let tokens_path = bundle_file(&args.model, &args.tokens, &["tokens.txt"]);
    let lexicon_path = bundle_file(&args.model, &args.lexicon, &["lexicon.txt"]);
    let lm_path = bundle_file(&args.model, &args.lm, &["lm.arpa", "lm.arpa.gz"]);
    let priors_path = bundle_file(&args.model, &args.priors, &["priors.txt"]);

    let mats = args
        .posteriors
        .iter()
        .map(|p| {
            hark::fsio::read_npy(p).with_context(|| format!("reading posteriors {}", p.display()))
        })
        .collect::<anyhow::Result<Vec<_>>>()?;
    let num_cols = mats.first().map_or(0, |m| m.ncols());
    let tokens = match &tokens_path {
        Some(p) => TokenTable::read(p)?,
        None if num_cols == 41 => TokenTable::ctc_default(),
        None if num_cols == 40 => TokenTable::hybrid_default(),
        None => {
            bail!("{num_cols} posterior columns: give --tokens (the built-in tables have 41 or 40)")
        }
    };
    let lexicon = lexicon_path.as_deref().map(Lexicon::read).transpose()?;
    let lm = lm_path.as_deref().map(ArpaLm::read).transpose()?;
    let log_priors = match &priors_path {
        Some(p) if args.decoder == "hmm" => {
            let text =
                std::fs::read_to_string(p).with_context(|| format!("reading {}", p.display()))?;
            Some(ScaledLikelihoods::parse_priors(&text, p)?)
        }
        _ => None,
    };
    if lm.is_some() && lexicon.is_none() {
        bail!("an LM needs a lexicon (--lexicon)");
    }
    // hybrid HMMs with priors, or when there is no blank to build the CTC topology from
    let hybrid = log_priors.is_some() || tokens.blank().is_none();
    let mut decoder: Box<dyn Decoder> = match &lm {
        Some(lm) => make_decoder(&args, &tokens, lexicon.as_ref(), lm, hybrid)?,
        None => make_decoder(&args, &tokens, lexicon.as_ref(), NoLm, hybrid)?,
    };
    let shift = args.frame_shift_ms / 1000.0;
    let mut out = std::io::stdout().lock();
    let (mut frames, mut secs) = (0usize, 0.0f64);
    for (path, m) in args.posteriors.iter().zip(mats) {
        if m.ncols() != tokens.len() {
            bail!(
                "{}: {} columns, but the token table has {}",
                path.display(),
                m.ncols(),
                tokens.len()
            );
        }
        frames += m.nrows();
        let d: Box<dyn Decodable> = match &log_priors {
            Some(pri) => Box::new(ScaledLikelihoods::new(&m, pri, args.acoustic_scale, 1.0)?),
            None => Box::new(LogPosteriors::new(m)?),
        };
        let t0 = Instant::now();
        let hyps = decoder
            .decode(d.as_ref())
            .with_context(|| format!("decoding {}", path.display()))?;
        secs += t0.elapsed().as_secs_f64();
        write_result(&mut out, path, &hyps, &args, shift)?;
    }
    if args.timing {
        eprintln!(
            "decoded {frames} frames in {secs:.4} s: {:.0} frames/s ({})",
            frames as f64 / secs.max(1e-9),
            args.decoder
        );
    }
    Ok(())
}

fn make_decoder<'a, L: LanguageModel + 'a>(
    args: &DecodeArgs,
    tokens: &TokenTable,
    lexicon: Option<&Lexicon>,
    lm: L,
    hybrid: bool,
) -> anyhow::Result<Box<dyn Decoder + 'a>> {
    Ok(match args.decoder.as_str() {
        "greedy" => Box::new(CtcGreedy::new(tokens.clone())),
        "beam" => {
            let config = PrefixBeamConfig {
                beam_size: args.beam.map_or(16, |b| b.max(1.0) as usize),
                beam_threshold: args.beam_threshold,
                lm_weight: args.lm_weight.unwrap_or(0.8),
                word_bonus: args.word_bonus,
                nbest: args.nbest.max(1),
                ..Default::default()
            };
            match lexicon {
                Some(lex) => Box::new(CtcPrefixBeamSearch::with_lexicon(
                    lex,
                    tokens.clone(),
                    lm,
                    config,
                )?),
                None => Box::new(CtcPrefixBeamSearch::phones(tokens.clone(), config)?),
            }
        }
        _ => {
            let topology = if hybrid {
                HmmTopology::LeftToRight {
                    num_states: args.hmm_states,
                    self_loop_prob: 0.5,
                }
            } else {
                HmmTopology::Ctc
            };
            let config = ViterbiConfig {
                beam: args.beam.unwrap_or(16.0),
                max_active: args.max_active,
                lm_weight: args.lm_weight.unwrap_or(1.0),
                word_penalty: args.word_bonus,
                topology,
                nbest: args.nbest.max(1),
                ..Default::default()
            };
            match lexicon {
                Some(lex) => Box::new(ViterbiDecoder::new(lex, tokens, lm, config)?),
                None => Box::new(ViterbiDecoder::phone_loop(tokens, config)?),
            }
        }
    })
}

fn round3(x: f64) -> f64 {
    (x * 1000.0).round() / 1000.0
}

fn write_result(
    out: &mut impl Write,
    path: &Path,
    hyps: &[hark::decode::Hypothesis],
    args: &DecodeArgs,
    shift: f64,
) -> anyhow::Result<()> {
    let best = &hyps[0];
    if args.format == "text" {
        writeln!(out, "{}\t{}", path.display(), best.text())?;
        return Ok(());
    }
    let words = |h: &hark::decode::Hypothesis| -> Vec<serde_json::Value> {
        h.words
            .iter()
            .map(|w| {
                serde_json::json!({
                    "word": w.word,
                    "start": round3(w.start as f64 * shift),
                    "end": round3(w.end as f64 * shift),
                    "conf": round3(f64::from(w.confidence)),
                })
            })
            .collect()
    };
    let nbest: Vec<serde_json::Value> = hyps
        .iter()
        .map(
            |h| serde_json::json!({"text": h.text(), "score": h.score, "confidence": h.confidence}),
        )
        .collect();
    let obj = serde_json::json!({
        "file": path.display().to_string(),
        "text": best.text(),
        "words": words(best),
        "phones": best.phone_text(),
        "score": best.score,
        "decoder": args.decoder,
        "nbest": nbest,
    });
    writeln!(out, "{obj}")?;
    Ok(())
}
