//! `hark adapt`: unsupervised speaker adaptation — a copy of a bundle whose network
//! is fine-tuned to one speaker's recordings, without transcripts.

use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use hark::am::AcousticModel;
use hark::am::adapt::{AdaptConfig, AdaptReport};
use hark::am::io::{StoredDtype, TensorFile, save_tensors_as};
use hark::audio::{AudioStream, ChunkConfig, Chunker};
use hark::decode::{DecoderConfig, DecoderKind};
use hark::recognizer::Recognizer;
use rayon::prelude::*;

/// Arguments of `hark adapt`.
#[derive(Debug, clap::Args)]
#[command(
    after_help = "Decodes every recording with the hmm decoder (the bundle's lexicon and LM), \
fine-tunes a copy of the\nnetwork on what it found (a CTC model with CTC on its phones, a \
frame-level hybrid model with\ncross-entropy on its phone segmentation), and writes a new bundle: \
the source bundle's files\nwith the adapted network and adapt.json (what was done). \
Transcribe the same speaker with it\n(`hark transcribe --model OUT ...`). The recordings \
should be one speaker's (or one voice's, one\nchannel's); recordings longer than 30 s are \
cut at pauses. The transcripts of manifests are\nnot used.\n\n\
Example:\n  hark adapt --out runs/adapted-ked data/corpus/test-ked.jsonl\n  \
hark transcribe --model runs/adapted-ked --decoder hmm recording.wav"
)]
pub struct AdaptArgs {
    /// WAV/FLAC files, directories of them, or manifests (.jsonl) of one speaker.
    #[arg(required = true)]
    inputs: Vec<PathBuf>,
    /// Source bundle (default: models/default): a CTC or frame-level (hybrid) model,
    /// a lexicon and an LM.
    #[arg(long)]
    model: Option<PathBuf>,
    /// Directory of the adapted bundle (must not exist yet; written atomically).
    #[arg(long)]
    out: PathBuf,
    /// Passes over the recordings.
    #[arg(long, default_value_t = AdaptConfig::default().epochs)]
    epochs: usize,
    /// Adam learning rate.
    #[arg(long, default_value_t = AdaptConfig::default().learning_rate)]
    lr: f64,
    /// Dropout between the recurrent layers while adapting.
    #[arg(long, default_value_t = AdaptConfig::default().dropout)]
    dropout: f64,
    /// Rounds: each round after the first decodes with the previous round's network.
    #[arg(long, default_value_t = AdaptConfig::default().rounds)]
    rounds: usize,
    /// Precision of the stored network: f32, or f16 (half the size, faster inference).
    #[arg(long, default_value = "f32", value_parser = ["f32", "f16"])]
    dtype: String,
}

/// Runs `hark adapt`.
pub fn run(a: AdaptArgs, quiet: bool) -> anyhow::Result<()> {
    let dir = crate::model_dir::resolve(a.model.as_deref())?;
    if a.out.exists() {
        bail!(
            "{} already exists: choose a new directory for the adapted bundle",
            a.out.display()
        );
    }
    let config = AdaptConfig {
        epochs: a.epochs,
        learning_rate: a.lr,
        dropout: a.dropout,
        rounds: a.rounds,
        num_shards: rayon::current_num_threads(),
        ..AdaptConfig::default()
    };
    config.validate()?;
    let first_pass = DecoderConfig {
        kind: DecoderKind::Hmm,
        ..Default::default()
    };
    let rec = Recognizer::load(&dir, first_pass)
        .with_context(|| format!("loading model {}", dir.display()))?;
    hark::am::adapt::check_model(rec.model(), &rec.resources().tokens)
        .with_context(|| format!("adapting {}", dir.display()))?;
    let files = crate::transcribe::expand_inputs(&a.inputs)?;
    let t0 = std::time::Instant::now();
    let (model, report, info) = adapt_to_files(&rec, &dir, &files, &config, false, quiet)?;
    let took = t0.elapsed().as_secs_f64();
    let pieces = report.utterances;

    // The new bundle: every file of the source but the network, written to a
    // temporary sibling directory that is renamed into place at the end. Symbolic
    // links (models/hybrid shares the default bundle's lexicon and LM) are followed
    // and their targets copied.
    let tmp = temp_dir_for(&a.out)?;
    let result = (|| -> anyhow::Result<()> {
        for entry in
            std::fs::read_dir(&dir).with_context(|| format!("reading {}", dir.display()))?
        {
            let entry = entry?;
            let name = entry.file_name();
            if !entry.path().is_file() || name == "model.safetensors" || name == "config.json" {
                continue;
            }
            std::fs::copy(entry.path(), tmp.join(&name))
                .with_context(|| format!("copying {}", entry.path().display()))?;
        }
        model.save(&tmp)?;
        if a.dtype == "f16" {
            let path = tmp.join("model.safetensors");
            let file = TensorFile::open(&path)?;
            let meta = file.metadata();
            save_tensors_as(
                &path,
                &file.all()?,
                (!meta.is_empty()).then_some(meta),
                StoredDtype::F16,
            )?;
        }
        let mut info = info.clone();
        info["seconds"] = serde_json::json!(took);
        hark::fsio::write_atomic(
            &tmp.join("adapt.json"),
            format!("{}\n", serde_json::to_string_pretty(&info)?).as_bytes(),
        )?;
        std::fs::rename(&tmp, &a.out)
            .with_context(|| format!("moving the new bundle to {}", a.out.display()))?;
        Ok(())
    })();
    if result.is_err() {
        let _ = std::fs::remove_dir_all(&tmp);
    }
    result?;
    if !quiet {
        eprintln!(
            "{} of {pieces} pieces used, {took:.0} s; wrote {}",
            report.used,
            a.out.display()
        );
    }
    Ok(())
}

/// Adapts `rec`'s network to the recordings `files` (one speaker's): features of
/// every piece, the hmm first pass and the fine-tuning ([`Recognizer::adapt`]).
/// With `skip_bad`, recordings that cannot be read are left out (their error is
/// reported where they are transcribed); otherwise the first one is the error.
/// Returns the adapted network, the report and a JSON summary (for adapt.json).
pub fn adapt_to_files(
    rec: &Recognizer,
    dir: &Path,
    files: &[PathBuf],
    config: &AdaptConfig,
    skip_bad: bool,
    quiet: bool,
) -> anyhow::Result<(AcousticModel, AdaptReport, serde_json::Value)> {
    if files.is_empty() {
        bail!("no recordings given");
    }
    let bar = crate::util::progress_bar(files.len() as u64, quiet);
    bar.set_message("features");
    let pieces: Vec<anyhow::Result<Vec<Piece>>> = files
        .par_iter()
        .map(|f| {
            let r = features_of(rec, f).with_context(|| f.display().to_string());
            bar.inc(1);
            r
        })
        .collect();
    bar.finish_and_clear();
    let mut recordings = Vec::new();
    let (mut secs, mut readable) = (0.0, 0usize);
    for p in pieces {
        let p = match p {
            Ok(p) => p,
            Err(_) if skip_bad => continue,
            Err(e) => return Err(e),
        };
        readable += 1;
        for (id, feats, s) in p {
            secs += s;
            recordings.push((id, feats));
        }
    }
    let pieces = recordings.len();
    if !quiet {
        eprintln!(
            "adapting {} to {readable} recordings ({pieces} pieces, {:.1} min): hmm first \
             pass, then {} epochs...",
            dir.display(),
            secs / 60.0,
            config.epochs
        );
    }
    let first_pass = DecoderConfig {
        kind: DecoderKind::Hmm,
        ..Default::default()
    };
    let (model, report) = rec.adapt(recordings, &first_pass, config)?;
    if !quiet {
        let loss = |i: usize| report.train_loss.get(i).copied().unwrap_or(f64::NAN);
        eprintln!(
            "{} of {} pieces used ({} pseudo-label phones), training loss {:.3} → {:.3}",
            report.used,
            report.utterances,
            report.labels,
            loss(0),
            loss(report.train_loss.len().saturating_sub(1)),
        );
    }
    let info = serde_json::json!({
        "adapted_from": dir.display().to_string(),
        "recordings": readable,
        "pieces": pieces,
        "audio_secs": secs,
        "epochs": config.epochs,
        "learning_rate": config.learning_rate,
        "dropout": config.dropout,
        "rounds": config.rounds,
        "first_pass": "hmm",
        "report": report,
    });
    Ok((model, report, info))
}

/// One piece of a recording: id, features, seconds of audio.
type Piece = (String, ndarray::Array2<f32>, f64);

/// Features of a recording, cut at pauses into pieces of at most 30 s (as
/// `transcribe` cuts long files): `(id, features, seconds)` per piece.
fn features_of(rec: &Recognizer, path: &Path) -> anyhow::Result<Vec<Piece>> {
    let mut chunker = Chunker::new(AudioStream::open(path)?, ChunkConfig::default())?;
    let mut out = Vec::new();
    while let Some(chunk) = chunker.next_chunk()? {
        let secs = chunk.samples.len() as f64 / f64::from(hark::audio::SAMPLE_RATE_HZ);
        let id = format!("{}@{:.2}", path.display(), chunk.start_secs);
        out.push((id, rec.features(&chunk.samples)?, secs));
    }
    Ok(out)
}

/// A new empty directory next to `out`, for writing the bundle before the rename.
fn temp_dir_for(out: &Path) -> anyhow::Result<PathBuf> {
    let name = out
        .file_name()
        .with_context(|| format!("{} has no directory name", out.display()))?
        .to_string_lossy()
        .into_owned();
    let parent = match out.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    };
    std::fs::create_dir_all(&parent).with_context(|| format!("creating {}", parent.display()))?;
    let tmp = parent.join(format!(".{name}.tmp.{}", std::process::id()));
    if tmp.exists() {
        std::fs::remove_dir_all(&tmp).with_context(|| format!("removing {}", tmp.display()))?;
    }
    std::fs::create_dir(&tmp).with_context(|| format!("creating {}", tmp.display()))?;
    Ok(tmp)
}
