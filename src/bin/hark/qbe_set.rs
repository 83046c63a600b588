//! `hark corpus qbe`: a query-by-example evaluation set from a test manifest.

use std::path::PathBuf;

use anyhow::Context;
use hark::manifest::Manifest;
use hark::qbe::words::{QbeSetConfig, read_lexicon, write_qbe_set};

/// Arguments of `hark corpus qbe`.
#[derive(Debug, clap::Args)]
#[command(
    after_help = "Example:\n  hark corpus qbe --manifest data/corpus/test.jsonl \\\n      --lexicon data/lexicon/cmudict.dict --out data/qbe\n\n\
Splits the manifest's voices into query voices and recording voices, cuts spoken\n\
queries (single words) from query-voice utterances into OUT/queries/, and writes\n\
OUT/qbe.jsonl listing for each query every occurrence of its word in the\n\
recording-voice utterances (word times come from the phone alignment, the text\n\
and the lexicon)."
)]
pub struct QbeSetArgs {
    /// Manifest with text and phone alignments (e.g. the test split).
    #[arg(long)]
    manifest: PathBuf,
    /// CMUdict-format lexicon for locating words in the alignments.
    #[arg(long)]
    lexicon: PathBuf,
    /// Output folder (queries/ and qbe.jsonl).
    #[arg(long)]
    out: PathBuf,
    /// Share of the audio whose voices speak the queries (the rest is searched).
    #[arg(long, default_value_t = 0.35)]
    query_fraction: f64,
    /// Shortest query word in phones.
    #[arg(long, default_value_t = 5)]
    min_phones: usize,
    /// Shortest query word in seconds.
    #[arg(long, default_value_t = 0.3)]
    min_secs: f64,
    /// Queries per word (from different voices where possible).
    #[arg(long, default_value_t = 3)]
    per_term: usize,
    /// Most queries in all.
    #[arg(long, default_value_t = 400)]
    max_queries: usize,
    /// Seed of the voice split and query choice.
    #[arg(long, default_value_t = 1)]
    seed: u64,
}

/// Runs `hark corpus qbe`.
pub fn run(args: QbeSetArgs) -> anyhow::Result<()> {
    let manifest = Manifest::load(&args.manifest)
        .with_context(|| format!("loading {}", args.manifest.display()))?;
    let lexicon = read_lexicon(&args.lexicon)?;
    let config = QbeSetConfig {
        query_fraction: args.query_fraction,
        min_phones: args.min_phones,
        min_secs: args.min_secs,
        max_queries_per_term: args.per_term,
        max_queries: args.max_queries,
        seed: args.seed,
        ..QbeSetConfig::default()
    };
    std::fs::create_dir_all(&args.out)
        .with_context(|| format!("creating {}", args.out.display()))?;
    let (plan, path) = write_qbe_set(&manifest, &lexicon, &config, &args.out)?;
    let terms: std::collections::BTreeSet<&str> =
        plan.queries.iter().map(|q| q.0.word.as_str()).collect();
    let relevant: usize = plan.queries.iter().map(|q| q.1.len()).sum();
    eprintln!(
        "{} queries of {} words from {} query voices; corpus {} recordings, {:.1} min; {:.1} relevant spans per query -> {}",
        plan.queries.len(),
        terms.len(),
        plan.query_speakers.len(),
        plan.corpus.len(),
        plan.corpus_secs / 60.0,
        relevant as f64 / plan.queries.len().max(1) as f64,
        path.display()
    );
    Ok(())
}
