//! `hark corpus`: text preparation, synthesis, label quality and importers.

use std::collections::HashSet;
use std::io::Write;
use std::path::PathBuf;

use anyhow::Context;
use hark::corpus::cmudict::CmuDict;
use hark::corpus::text::{SentenceFilter, generator_vocabulary, prepare_sentences};
use hark::corpus::{labels, synth};
use hark::manifest::Manifest;

/// Arguments of `hark corpus`.
#[derive(Debug, clap::Args)]
pub struct CorpusArgs {
    #[command(subcommand)]
    command: CorpusCommand,
}

#[derive(Debug, clap::Subcommand)]
enum CorpusCommand {
    /// Normalise raw English text into prompt sentences (all words in the lexicon).
    ///
    /// Example: `hark corpus text --lexicon data/lexicon/cmudict.dict sotu/*.txt
    /// --out data/text/sentences.txt --vocab-out models/default/lexicon.txt`
    Text(TextArgs),
    /// Synthesise train/dev/test manifests with the TTS engines (resumable).
    ///
    /// Example: `hark corpus synth --text data/text/sentences.txt --lexicon
    /// data/lexicon/cmudict.dict --hours 20 --seed 1 --jobs 2 --out data/corpus`
    Synth(SynthArgs),
    /// Phone error rate of manifest phone labels against the lexicon, per voice.
    ///
    /// Example: `hark corpus label-quality --lexicon data/lexicon/cmudict.dict
    /// data/corpus/train.jsonl`
    LabelQuality(LabelQualityArgs),
    /// Turn a LibriSpeech tree, a Kaldi data directory or TIMIT into a manifest.
    ///
    /// Example: `hark corpus import --format librispeech LibriSpeech/dev-clean
    /// --out data/dev-clean.jsonl`
    Import(ImportArgs),
    /// Build a query-by-example evaluation set (spoken word queries + relevant spans).
    ///
    /// Example: `hark corpus qbe --manifest data/corpus/test.jsonl --lexicon
    /// data/lexicon/cmudict.dict --out data/qbe`
    Qbe(crate::qbe_set::QbeSetArgs),
}

/// Arguments of `hark corpus text`.
#[derive(Debug, clap::Args)]
pub struct TextArgs {
    /// Raw text files (blank lines separate paragraphs).
    #[arg(required = true)]
    inputs: Vec<PathBuf>,
    /// CMUdict-format pronunciation dictionary.
    #[arg(long)]
    lexicon: PathBuf,
    /// Output: one normalised sentence per line.
    #[arg(long)]
    out: PathBuf,
    /// Also write the decoding-vocabulary lexicon (sentence words + the words of
    /// the command, letter and number generators).
    #[arg(long)]
    vocab_out: Option<PathBuf>,
    /// Fewest words per sentence.
    #[arg(long, default_value_t = 4)]
    min_words: usize,
    /// Most words per sentence.
    #[arg(long, default_value_t = 18)]
    max_words: usize,
}

/// Arguments of `hark corpus synth`.
#[derive(Debug, clap::Args)]
pub struct SynthArgs {
    /// Sentences from `hark corpus text`.
    #[arg(long, default_value = "data/text/sentences.txt")]
    text: PathBuf,
    /// CMUdict-format pronunciation dictionary.
    #[arg(long, default_value = "data/lexicon/cmudict.dict")]
    lexicon: PathBuf,
    /// Hours of training audio (dev and test get 5 % each, at least 0.1 h).
    #[arg(long, default_value_t = 20.0)]
    hours: f64,
    /// Hours of dev audio (overrides the default).
    #[arg(long)]
    dev_hours: Option<f64>,
    /// Hours of test audio (overrides the default).
    #[arg(long)]
    test_hours: Option<f64>,
    /// Seed of voices, prompts, prosody and channel.
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Parallel workers (each runs its own engine processes).
    #[arg(long, default_value_t = 1)]
    jobs: usize,
    /// The eSpeak NG phoneme-event helper (scripts/build-espeak-events.sh).
    #[arg(long, default_value = "data/tools/espeak-events")]
    espeak_helper: PathBuf,
    /// No channel augmentation (clean engine audio).
    #[arg(long)]
    clean: bool,
    /// Voices of the train and dev splits: `standard` (English flite, festival and
    /// eSpeak NG voices) or `borrowed` (festival's Italian, Finnish and Czech diphone
    /// voices speaking English phone strings; ids get a `b` prefix, so the corpus can
    /// be trained on together with a standard one built with the same seed).
    #[arg(long, default_value = "standard", value_parser = ["standard", "borrowed"])]
    voices: String,
    /// Output folder.
    #[arg(long)]
    out: PathBuf,
}

/// Arguments of `hark corpus label-quality`.
#[derive(Debug, clap::Args)]
pub struct LabelQualityArgs {
    /// Manifests with `phones`.
    #[arg(required = true)]
    manifests: Vec<PathBuf>,
    /// CMUdict-format pronunciation dictionary.
    #[arg(long)]
    lexicon: PathBuf,
    /// Group by `voice` or `engine`.
    #[arg(long, default_value = "voice", value_parser = ["voice", "engine"])]
    by: String,
}

/// Arguments of `hark corpus import`.
#[derive(Debug, clap::Args)]
pub struct ImportArgs {
    /// `librispeech`, `kaldi` or `timit`.
    #[arg(long, value_parser = ["librispeech", "kaldi", "timit"])]
    format: String,
    /// Corpus root (LibriSpeech split folder, Kaldi data dir, TIMIT root).
    src: PathBuf,
    /// Output manifest (converted audio goes to a `wavs/` folder beside it).
    #[arg(long)]
    out: PathBuf,
}

pub fn run(args: CorpusArgs, quiet: bool) -> anyhow::Result<()> {
    match args.command {
        CorpusCommand::Text(a) => text(a, quiet),
        CorpusCommand::Synth(a) => synth_cmd(a, quiet),
        CorpusCommand::LabelQuality(a) => label_quality(a),
        CorpusCommand::Import(a) => import(a, quiet),
        CorpusCommand::Qbe(a) => crate::qbe_set::run(a),
    }
}

fn text(a: TextArgs, quiet: bool) -> anyhow::Result<()> {
    let dict = CmuDict::load(&a.lexicon)?;
    let filter = SentenceFilter {
        min_words: a.min_words,
        max_words: a.max_words,
    };
    let mut seen = HashSet::new();
    let mut all = Vec::new();
    for p in &a.inputs {
        let raw = std::fs::read_to_string(p).with_context(|| format!("reading {}", p.display()))?;
        let kept = prepare_sentences(&raw, &dict, &filter, &mut seen);
        if !quiet {
            eprintln!("{}: {} sentences", p.display(), kept.len());
        }
        all.extend(kept);
    }
    let mut s = all.join("\n");
    s.push('\n');
    hark::fsio::write_atomic(&a.out, s.as_bytes())?;
    let words: usize = all.iter().map(|s| s.split(' ').count()).sum();
    println!(
        "{}\t{} sentences\t{} words",
        a.out.display(),
        all.len(),
        words
    );
    if let Some(v) = a.vocab_out {
        let mut vocab: Vec<String> = all
            .iter()
            .flat_map(|s| s.split(' ').map(str::to_string))
            .collect();
        vocab.extend(generator_vocabulary());
        let (lex, n) = dict.lexicon_text(vocab.iter().map(String::as_str));
        hark::fsio::write_atomic(&v, lex.as_bytes())?;
        println!("{}\t{n} words", v.display());
    }
    Ok(())
}

fn synth_cmd(a: SynthArgs, quiet: bool) -> anyhow::Result<()> {
    let mut cfg = synth::SynthConfig::new(&a.out, &a.text, &a.lexicon, a.hours);
    if let Some(h) = a.dev_hours {
        cfg.dev_hours = h;
    }
    if let Some(h) = a.test_hours {
        cfg.test_hours = h;
    }
    cfg.seed = a.seed;
    cfg.jobs = a.jobs;
    cfg.espeak_helper = a.espeak_helper;
    if a.voices == "borrowed" {
        cfg.voice_set = synth::VoiceSet::Borrowed;
    }
    if a.clean {
        cfg.channel = hark::corpus::augment::ChannelConfig {
            speed_prob: 0.0,
            reverb_prob: 0.0,
            band_prob: 0.0,
            noise_prob: 0.0,
            floor_snr_range: None,
            gain_range: (0.0, 0.0),
            ..Default::default()
        };
    }
    let mut last_line = std::time::Instant::now();
    let mut report = |p: &synth::SynthProgress| {
        if quiet || (last_line.elapsed().as_secs() < 10 && p.done_secs < p.target_secs) {
            return;
        }
        last_line = std::time::Instant::now();
        let el = p.elapsed.as_secs_f64().max(1e-9);
        let rate = p.made_secs / el; // audio seconds per wall second
        let left = (p.total_target_secs - p.total_done_secs).max(0.0);
        let eta = if rate > 0.0 { left / rate } else { f64::NAN };
        eprintln!(
            "[{:>6.0}s] {}: {} utts, {:.2}/{:.2} h | all splits {:.2}/{:.2} h | this run: {} utts, {:.1} utt/s, {:.0}x real time, {} failed | ETA {:.0} min",
            el,
            p.split.name(),
            p.done,
            p.done_secs / 3600.0,
            p.target_secs / 3600.0,
            p.total_done_secs / 3600.0,
            p.total_target_secs / 3600.0,
            p.made,
            p.made as f64 / el,
            rate,
            p.failed,
            eta / 60.0
        );
    };
    let t0 = std::time::Instant::now();
    let summary = synth::synthesize(&cfg, &mut report)?;
    let mut out = std::io::stdout().lock();
    for (split, (n, secs)) in &summary.splits {
        writeln!(out, "{split}\t{n} utterances\t{:.3} h", secs / 3600.0)?;
    }
    for (voice, secs) in &summary.voice_secs {
        writeln!(out, "voice\t{voice}\t{:.3} h", secs / 3600.0)?;
    }
    writeln!(
        out,
        "made {} utterances in {:.0} s ({} failed requests)",
        summary.made,
        t0.elapsed().as_secs_f64(),
        summary.failed
    )?;
    Ok(())
}

fn label_quality(a: LabelQualityArgs) -> anyhow::Result<()> {
    let dict = CmuDict::load(&a.lexicon)?;
    let mut utts = Vec::new();
    for m in &a.manifests {
        utts.extend(Manifest::load(m)?.utterances);
    }
    let by_engine = a.by == "engine";
    let q = labels::label_quality(&utts, &dict, |u| {
        let s = u.speaker.clone().unwrap_or_default();
        if by_engine {
            s.split('/').next().unwrap_or_default().to_string()
        } else {
            s
        }
    });
    let mut out = std::io::stdout().lock();
    writeln!(
        out,
        "group\tutterances\tskipped\tref_phones\tPER_primary%\tPER_best_variant%"
    )?;
    let mut total = labels::PerStats::default();
    for (g, s) in &q {
        writeln!(
            out,
            "{g}\t{}\t{}\t{}\t{:.2}\t{:.2}",
            s.utterances,
            s.skipped,
            s.primary_ref,
            s.primary_per(),
            s.best_per()
        )?;
        total.utterances += s.utterances;
        total.skipped += s.skipped;
        total.primary_errors += s.primary_errors;
        total.primary_ref += s.primary_ref;
        total.best_errors += s.best_errors;
        total.best_ref += s.best_ref;
    }
    writeln!(
        out,
        "all\t{}\t{}\t{}\t{:.2}\t{:.2}",
        total.utterances,
        total.skipped,
        total.primary_ref,
        total.primary_per(),
        total.best_per()
    )?;
    Ok(())
}

fn import(a: ImportArgs, quiet: bool) -> anyhow::Result<()> {
    let format: hark::corpus::import::Format = a.format.parse()?;
    let n = hark::corpus::import::import(format, &a.src, &a.out)?;
    if !quiet {
        eprintln!("imported {} utterances", n.utterances);
    }
    println!(
        "{}\t{} utterances\t{:.3} h",
        a.out.display(),
        n.utterances,
        n.seconds / 3600.0
    );
    Ok(())
}
