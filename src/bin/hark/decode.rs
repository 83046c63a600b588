//! `hark decode`: decode posterior matrices (`.npy`) made anywhere.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::Context;
use hark::decode::{DecoderConfig, DecodingResources, ResourcePaths};

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
    /// beam: hypotheses kept per frame (default 128); hmm: beam width in nats (default 24).
    /// Larger: slower, more accurate.
    #[arg(long)]
    beam: Option<f32>,
    /// beam: drop hypotheses this far (nats) below the best. Larger: slower, more accurate.
    #[arg(long, default_value_t = 25.0)]
    beam_threshold: f32,
    /// LM weight (default 1.2, tuned on the dev split with the default bundle's LM).
    #[arg(long)]
    lm_weight: Option<f32>,
    /// Word insertion bonus in nats, negative for a penalty (default −0.5).
    #[arg(long, allow_negative_numbers = true)]
    word_bonus: Option<f32>,
    /// Weight of the lexicon's pronunciation log-probabilities (default 1; 0 ignores
    /// them).
    #[arg(long)]
    pron_weight: Option<f32>,
    /// hmm: maximum active tokens per frame.
    #[arg(long, default_value_t = 7000)]
    max_active: usize,
    /// hmm with priors: states per phone (1-3; default 1 for frames of 20 ms or more,
    /// else 3).
    #[arg(long)]
    hmm_states: Option<usize>,
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

/// Runs `hark decode`.
pub fn run(args: DecodeArgs, _quiet: bool) -> anyhow::Result<()> {
    let mats = args
        .posteriors
        .iter()
        .map(|p| {
            hark::fsio::read_npy(p).with_context(|| format!("reading posteriors {}", p.display()))
        })
        .collect::<anyhow::Result<Vec<_>>>()?;
    let paths = ResourcePaths {
        model: args.model.clone(),
        tokens: args.tokens.clone(),
        lexicon: args.lexicon.clone(),
        lm: args.lm.clone(),
        priors: args.priors.clone(),
    };
    let res = DecodingResources::load(&paths, mats.first().map(|m| m.ncols()))?;
    let config = DecoderConfig {
        kind: args.decoder.parse()?,
        beam: args.beam,
        beam_threshold: args.beam_threshold,
        lm_weight: args.lm_weight,
        word_bonus: args.word_bonus,
        pron_weight: args.pron_weight,
        max_active: args.max_active,
        hmm_states: args.hmm_states.or(Some(DecoderConfig::hmm_states_for(
            args.frame_shift_ms / 1000.0,
        ))),
        acoustic_scale: args.acoustic_scale,
        nbest: args.nbest,
        ..Default::default()
    };
    let mut decoder = res.build_decoder(&config)?;
    let shift = args.frame_shift_ms / 1000.0;
    let mut out = std::io::stdout().lock();
    let (mut frames, mut secs) = (0usize, 0.0f64);
    for (path, m) in args.posteriors.iter().zip(mats) {
        frames += m.nrows();
        let d = res
            .decodable(&config, m)
            .with_context(|| format!("{}", path.display()))?;
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
