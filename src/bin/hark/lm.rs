//! `hark lm build`: estimate an n-gram LM from text.

use std::path::PathBuf;

use anyhow::Context;
use hark::lexicon::Lexicon;
use hark::lm::{LmBuildConfig, Smoothing};

/// Arguments of `hark lm`.
#[derive(Debug, clap::Args)]
pub struct LmArgs {
    #[command(subcommand)]
    command: LmCommand,
}

#[derive(Debug, clap::Subcommand)]
enum LmCommand {
    /// Count n-grams in text (one sentence per line) and write an ARPA LM.
    ///
    /// Example: `hark lm build corpus.txt --order 3 --vocab lexicon.txt --out lm.arpa`
    Build(BuildArgs),
}

#[derive(Debug, clap::Args)]
#[command(
    after_help = "Example:\n  hark lm build corpus.txt --order 3 --vocab lexicon.txt --prune 0,1,2 --out lm.arpa"
)]
struct BuildArgs {
    /// Text files, one sentence per line (a manifest's `text` fields work once extracted).
    #[arg(required = true)]
    text: Vec<PathBuf>,
    /// N-gram order (1-4).
    #[arg(long, default_value_t = 3)]
    order: usize,
    /// Restrict the vocabulary to a lexicon's words; other words become <unk>.
    #[arg(long)]
    vocab: Option<PathBuf>,
    /// kn (interpolated modified Kneser-Ney) or wb (Witten-Bell).
    #[arg(long, default_value = "kn", value_parser = ["kn", "wb"])]
    smoothing: String,
    /// Minimum counts per order, comma-separated from unigrams (e.g. 0,1,2 drops
    /// trigrams seen once). Larger: smaller model.
    #[arg(long, value_delimiter = ',')]
    prune: Vec<u64>,
    /// Output ARPA file (written atomically).
    #[arg(long)]
    out: PathBuf,
}

/// Runs `hark lm`.
pub fn run(args: LmArgs, quiet: bool) -> anyhow::Result<()> {
    let LmCommand::Build(a) = args.command;
    let mut text = String::new();
    for p in &a.text {
        text.push_str(
            &std::fs::read_to_string(p).with_context(|| format!("reading {}", p.display()))?,
        );
        text.push('\n');
    }
    let vocab = match &a.vocab {
        Some(p) => Some(Lexicon::read(p)?.words),
        None => None,
    };
    let config = LmBuildConfig {
        order: a.order,
        smoothing: if a.smoothing == "wb" {
            Smoothing::WittenBell
        } else {
            Smoothing::ModifiedKneserNey
        },
        prune: a.prune.clone(),
        vocab,
    };
    let model = hark::lm::build::build(text.lines(), &config)?;
    if model.num_oov_tokens > 0 {
        eprintln!(
            "hark: warning: {} words of the text are not in the vocabulary and were mapped to <unk>",
            model.num_oov_tokens
        );
    }
    model.write_arpa(&a.out)?;
    if !quiet {
        eprintln!(
            "wrote {} (n-grams per order: {:?})",
            a.out.display(),
            model.counts()
        );
    }
    Ok(())
}
