//! `hark search`: find a spoken query in an index.

use std::io::Write;
use std::path::PathBuf;

use anyhow::Context;
use hark::qbe::index::Index;
use hark::qbe::search::DEFAULT_MAX_OVERLAP;

use crate::index::load_embedder;

/// Arguments of `hark search`.
#[derive(Debug, clap::Args)]
#[command(
    after_help = "Example:\n  hark search --index recordings.idx --top 5 query.wav\n\n\
text output: \"<rank>\\t<file>\\t<start_s>\\t<end_s>\\t<score>\" per hit, best first\n\
(score = cosine similarity)."
)]
pub struct SearchArgs {
    /// The spoken query (WAV/FLAC).
    query: PathBuf,
    /// Index made by `hark index` with the same encoder.
    #[arg(long)]
    index: PathBuf,
    /// Model bundle (encoder.safetensors and, for posterior frames, the acoustic model).
    #[arg(long)]
    model: Option<PathBuf>,
    /// Encoder to use instead of the bundle's encoder.safetensors.
    #[arg(long)]
    encoder: Option<PathBuf>,
    /// Hits to print.
    #[arg(long, default_value_t = 10)]
    top: usize,
    /// Largest overlap (fraction of the shorter span) allowed between two hits in
    /// one recording. Smaller → fewer near-duplicate hits.
    #[arg(long, default_value_t = DEFAULT_MAX_OVERLAP)]
    max_overlap: f32,
    /// Output format.
    #[arg(long, default_value = "text", value_parser = ["text", "json"])]
    format: String,
}

/// Runs `hark search`.
pub fn run(args: SearchArgs) -> anyhow::Result<()> {
    let embedder = load_embedder(args.model.as_deref(), args.encoder.as_deref())?;
    let index = Index::load(&args.index)?;
    if index.dim() != embedder.dim() {
        anyhow::bail!(
            "{} holds {}-dimensional vectors but the encoder makes {}: was it built with another encoder?",
            args.index.display(),
            index.dim(),
            embedder.dim()
        );
    }
    let t0 = std::time::Instant::now();
    let frames = embedder
        .frontend()
        .compute_file(&args.query)
        .with_context(|| format!("reading query {}", args.query.display()))?;
    let hits = embedder.search_frames(&index, &frames, args.top, args.max_overlap)?;
    let secs = t0.elapsed().as_secs_f64();
    let mut out = std::io::stdout().lock();
    if args.format == "json" {
        let v = serde_json::json!({
            "query": args.query.to_string_lossy(),
            "latency_ms": secs * 1e3,
            "hits": hits.iter().map(|h| serde_json::json!({
                "file": h.file, "start": h.start_s, "end": h.end_s, "score": h.score
            })).collect::<Vec<_>>(),
        });
        writeln!(out, "{v}")?;
    } else {
        for (r, h) in hits.iter().enumerate() {
            writeln!(
                out,
                "{}\t{}\t{:.2}\t{:.2}\t{:.4}",
                r + 1,
                h.file,
                h.start_s,
                h.end_s,
                h.score
            )?;
        }
    }
    Ok(())
}
