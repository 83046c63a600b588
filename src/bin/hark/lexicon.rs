//! `hark lexicon learn`: add the pronunciations a labelled corpus uses.

use std::path::PathBuf;

use hark::lexicon::Lexicon;
use hark::lexicon::learn::{LearnConfig, PronCounts, add_variants, set_probabilities};
use hark::manifest::Manifest;

/// Arguments of `hark lexicon`.
#[derive(Debug, clap::Args)]
pub struct LexiconArgs {
    #[command(subcommand)]
    command: LexiconCommand,
}

#[derive(Debug, clap::Subcommand)]
enum LexiconCommand {
    /// Learn pronunciation variants from manifests with phone labels.
    ///
    /// Example: `hark lexicon learn --lexicon lexicon.txt --out lexicon-learned.txt train.jsonl`
    Learn(LearnArgs),
}

#[derive(Debug, clap::Args)]
#[command(
    after_help = "Each utterance's phone labels are split into one piece per transcript word \
(cheapest edit distance to the word's pronunciations); pieces a word takes often enough \
become new alternates, after the word's existing pronunciations. Every pronunciation then \
gets a probability from how often the word's tokens took it (max-normalised, as Kaldi's \
lexiconp.txt), unless --no-probs.\n\nExample:\n  \
hark lexicon learn --lexicon models/default/lexicon.txt --out lexicon.txt data/corpus/train.jsonl"
)]
struct LearnArgs {
    /// Manifests whose utterances have `text` and `phones`.
    #[arg(required = true)]
    manifests: Vec<PathBuf>,
    /// The lexicon to extend (CMUdict format).
    #[arg(long)]
    lexicon: PathBuf,
    /// Output lexicon (written atomically).
    #[arg(long)]
    out: PathBuf,
    /// A variant must be seen at least this many times.
    #[arg(long, default_value_t = LearnConfig::default().min_count)]
    min_count: u32,
    /// ... and in at least this share of its word's tokens (0-1).
    #[arg(long, default_value_t = LearnConfig::default().min_share)]
    min_share: f64,
    /// At most this many new variants per word.
    #[arg(long, default_value_t = LearnConfig::default().max_new)]
    max_new: usize,
    /// Count added to every pronunciation before max-normalising the probabilities.
    #[arg(long, default_value_t = 1.0)]
    prob_smoothing: f64,
    /// Write no probabilities (every pronunciation as likely as the others).
    #[arg(long)]
    no_probs: bool,
}

/// Runs `hark lexicon`.
pub fn run(args: LexiconArgs, quiet: bool) -> anyhow::Result<()> {
    let LexiconCommand::Learn(a) = args.command;
    if !(0.0..=1.0).contains(&a.min_share) {
        anyhow::bail!("--min-share must be within 0..1, got {}", a.min_share);
    }
    if !(a.prob_smoothing.is_finite() && a.prob_smoothing >= 0.0) {
        anyhow::bail!("--prob-smoothing must be ≥ 0, got {}", a.prob_smoothing);
    }
    let mut lex = Lexicon::read(&a.lexicon)?;
    let mut counts = PronCounts::new(&lex);
    for m in &a.manifests {
        let manifest = Manifest::load(m)?;
        let before = counts.utterances;
        for u in &manifest.utterances {
            counts.add(&lex, &u.text, u.phones.as_deref());
        }
        if counts.utterances == before && !manifest.utterances.is_empty() {
            eprintln!(
                "hark: warning: {}: no utterance had phone labels and only lexicon words",
                m.display()
            );
        }
    }
    if counts.utterances == 0 {
        anyhow::bail!("no utterance could be aligned (they need `phones` and lexicon words)");
    }
    let config = LearnConfig {
        min_count: a.min_count,
        min_share: a.min_share,
        max_new: a.max_new,
    };
    let learned = counts.variants(&lex, &config);
    let prons_before = lex.prons.len();
    add_variants(&mut lex, &learned);
    let probs = if a.no_probs {
        vec![1.0; lex.prons.len()]
    } else {
        counts.probabilities(&lex, a.prob_smoothing)
    };
    set_probabilities(&mut lex, &probs);
    hark::fsio::write_atomic(&a.out, lex.to_text().as_bytes())?;
    if !quiet {
        let pct = |x: usize, n: usize| 100.0 * x as f64 / n.max(1) as f64;
        eprintln!(
            "aligned {} utterances ({} skipped), {} word tokens: {:.1} % already said as in the lexicon, \
             labels {:.2} % from the nearest pronunciations",
            counts.utterances,
            counts.skipped,
            counts.word_tokens,
            pct(counts.tokens_matching, counts.word_tokens),
            pct(counts.edits, counts.phones),
        );
        let words: std::collections::BTreeSet<_> = learned.iter().map(|l| l.word).collect();
        eprintln!(
            "added {} pronunciations to {} words ({} -> {}); wrote {}",
            learned.len(),
            words.len(),
            prons_before,
            lex.prons.len(),
            a.out.display()
        );
        if !a.no_probs {
            let below = probs.iter().filter(|&&p| p < 1.0).count();
            eprintln!("{below} pronunciations have a probability below 1");
        }
    }
    Ok(())
}
