//! `hark bench`: every decoder on the same posteriors of a test manifest — error
//! rates, real-time factor per stage, peak memory.

use std::io::Write;
use std::path::PathBuf;
use std::time::Instant;

use anyhow::{Context, bail};
use hark::decode::{DecoderConfig, DecoderKind};
use hark::eval::ErrorStats;
use hark::manifest::Manifest;
use hark::recognizer::Recognizer;
use rayon::prelude::*;

/// Arguments of `hark bench`.
#[derive(Debug, clap::Args)]
#[command(
    after_help = "Example:\n  hark bench --model models/mine data/corpus/test.jsonl --decoders greedy,beam,hmm\n\n\
Features and network run once per utterance (timed per stage, one thread per\n\
utterance); each decoder then decodes the same posteriors. PER compares the decoder's\n\
phones with the manifest's \"phones\" (SIL ignored), WER its words with \"text\".\n\
Peak memory is the process's peak resident set size (VmHWM)."
)]
pub struct BenchArgs {
    /// Test manifest (JSONL or Kaldi data directory).
    manifest: PathBuf,
    /// Model bundle (default: models/default).
    #[arg(long)]
    model: Option<PathBuf>,
    /// Decoders to run, comma-separated.
    #[arg(long, default_value = "greedy,beam,hmm", value_delimiter = ',')]
    decoders: Vec<String>,
    /// Beam for beam/hmm (default: each decoder's own).
    #[arg(long)]
    beam: Option<f32>,
    /// LM weight (default: each decoder's own).
    #[arg(long)]
    lm_weight: Option<f32>,
    /// Use at most this many utterances (0 = all).
    #[arg(long, default_value_t = 0)]
    limit: usize,
    /// table (human) or json (one object).
    #[arg(long, default_value = "table", value_parser = ["table", "json"])]
    format: String,
}

/// One utterance after the first stage: log-posteriors, audio seconds, seconds spent
/// on features and on the network.
type Staged = (ndarray::Array2<f32>, f64, f64, f64);

/// Peak resident set size of this process in MB (Linux `/proc/self/status`).
fn peak_rss_mb() -> Option<f64> {
    let s = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = s.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kb: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb / 1024.0)
}

/// Runs `hark bench`.
pub fn run(args: BenchArgs, quiet: bool) -> anyhow::Result<()> {
    let dir = crate::model_dir::resolve(args.model.as_deref())?;
    let kinds: Vec<DecoderKind> = args
        .decoders
        .iter()
        .map(|d| d.parse::<DecoderKind>())
        .collect::<hark::Result<_>>()?;
    let rec = Recognizer::load(&dir, DecoderConfig::default())
        .with_context(|| format!("loading model {}", dir.display()))?;
    let manifest = Manifest::load(&args.manifest)?;
    let mut utts = manifest.utterances.clone();
    if args.limit > 0 {
        utts.truncate(args.limit);
    }
    if utts.is_empty() {
        bail!("{}: no utterances", args.manifest.display());
    }
    // Stage 1: audio, features, network, once per utterance.
    let bar = crate::util::progress_bar(utts.len() as u64, quiet);
    bar.set_message("features + network");
    let staged: Vec<anyhow::Result<Staged>> = utts
        .par_iter()
        .map(|u| {
            let path = manifest.audio_path(u);
            let wave = hark::audio::load_16k(&path)?;
            let t0 = Instant::now();
            let feats = rec.features(&wave.samples)?;
            let t1 = Instant::now();
            let post = rec.model().log_posteriors(&feats)?;
            let t2 = Instant::now();
            bar.inc(1);
            Ok((
                post,
                wave.duration_secs(),
                (t1 - t0).as_secs_f64(),
                (t2 - t1).as_secs_f64(),
            ))
        })
        .collect();
    bar.finish_and_clear();
    let mut posts = Vec::with_capacity(utts.len());
    let (mut audio_secs, mut feat_secs, mut net_secs, mut frames) = (0.0, 0.0, 0.0, 0usize);
    for (u, r) in utts.iter().zip(staged) {
        let (p, dur, tf, tn) = r.with_context(|| format!("utterance {}", u.id))?;
        audio_secs += dur;
        feat_secs += tf;
        net_secs += tn;
        frames += p.nrows();
        posts.push(p);
    }
    // Stage 2: every decoder on the same posteriors, one thread.
    let mut rows = Vec::new();
    for kind in kinds {
        let config = DecoderConfig {
            kind,
            beam: args.beam,
            lm_weight: args.lm_weight,
            ..Default::default()
        };
        let res = rec.resources();
        let mut decoder = res.build_decoder(&config)?;
        let (mut per, mut wer) = (ErrorStats::default(), ErrorStats::default());
        let mut dec_secs = 0.0;
        let mut failed = 0usize;
        for (u, p) in utts.iter().zip(&posts) {
            let d = res.decodable(&config, p.clone())?;
            let t0 = Instant::now();
            let hyps = decoder.decode(d.as_ref());
            dec_secs += t0.elapsed().as_secs_f64();
            let best = match hyps {
                Ok(h) if !h.is_empty() => h.into_iter().next().expect("non-empty"),
                _ => {
                    failed += 1;
                    hark::decode::Hypothesis::default()
                }
            };
            if let Some(ref_phones) = &u.phones {
                let r: Vec<&str> = ref_phones
                    .split_whitespace()
                    .filter(|p| *p != "SIL")
                    .collect();
                let h: Vec<&str> = best
                    .phones
                    .iter()
                    .map(|p| p.phone.as_str())
                    .filter(|p| *p != "SIL" && *p != "<blk>")
                    .collect();
                per.add(&ErrorStats::compute(&r, &h));
            }
            if res.lexicon.is_some() && kind != DecoderKind::Greedy {
                wer.add(&ErrorStats::compute_words(&u.text, &best.text()));
            }
        }
        rows.push(serde_json::json!({
            "decoder": kind.name(),
            "utterances": utts.len(),
            "failed": failed,
            "per": per.rate(),
            "per_detail": per.report("PER"),
            "wer": (wer.ref_len > 0).then(|| wer.rate()),
            "wer_detail": (wer.ref_len > 0).then(|| wer.report("WER")),
            "rtf_features": feat_secs / audio_secs,
            "rtf_network": net_secs / audio_secs,
            "rtf_decoder": dec_secs / audio_secs,
            "rtf_total": (feat_secs + net_secs + dec_secs) / audio_secs,
            "decoder_frames_per_sec": frames as f64 / dec_secs.max(1e-9),
        }));
    }
    let report = serde_json::json!({
        "model": dir.display().to_string(),
        "manifest": args.manifest.display().to_string(),
        "audio_hours": audio_secs / 3600.0,
        "peak_rss_mb": peak_rss_mb(),
        "decoders": rows,
    });
    let mut out = std::io::stdout().lock();
    if args.format == "json" {
        writeln!(out, "{}", serde_json::to_string_pretty(&report)?)?;
        return Ok(());
    }
    writeln!(
        out,
        "{} utterances, {:.2} h of audio; peak RSS {:.0} MB",
        utts.len(),
        audio_secs / 3600.0,
        peak_rss_mb().unwrap_or(f64::NAN)
    )?;
    writeln!(
        out,
        "{:<8} {:>7} {:>7} {:>9} {:>9} {:>9} {:>9} {:>12}",
        "decoder", "PER%", "WER%", "RTF feat", "RTF net", "RTF dec", "RTF all", "dec frames/s"
    )?;
    for r in report["decoders"].as_array().into_iter().flatten() {
        let f = |k: &str| r[k].as_f64().unwrap_or(f64::NAN);
        writeln!(
            out,
            "{:<8} {:>7.2} {:>7} {:>9.4} {:>9.4} {:>9.4} {:>9.4} {:>12.0}",
            r["decoder"].as_str().unwrap_or("?"),
            f("per"),
            r["wer"]
                .as_f64()
                .map_or("-".to_string(), |w| format!("{w:.2}")),
            f("rtf_features"),
            f("rtf_network"),
            f("rtf_decoder"),
            f("rtf_total"),
            f("decoder_frames_per_sec"),
        )?;
    }
    for r in report["decoders"].as_array().into_iter().flatten() {
        writeln!(
            out,
            "{}: {}",
            r["decoder"].as_str().unwrap_or("?"),
            r["per_detail"].as_str().unwrap_or("")
        )?;
        if let Some(w) = r["wer_detail"].as_str() {
            writeln!(out, "{}: {w}", r["decoder"].as_str().unwrap_or("?"))?;
        }
    }
    Ok(())
}
