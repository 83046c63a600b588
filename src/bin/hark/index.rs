//! `hark index`: embed recordings into a search index (created or extended).

use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::{Context, bail};
use hark::qbe::index::Index;
use hark::qbe::search::Embedder;

use crate::model_dir;

/// Arguments of `hark index`.
#[derive(Debug, clap::Args)]
#[command(
    after_help = "Example:\n  hark index --model models/default recordings/ --out recordings.idx\n\n\
INPUT is a WAV/FLAC file, a directory of them, or a manifest. An existing index at\n\
OUT is extended: recordings already in it are skipped (or re-embedded with\n\
--reindex). An index remembers the encoder and acoustic model that built it; another\n\
one cannot extend or search it (--reindex re-embeds the given recordings afresh).\n\
The index is written to a temporary file and renamed over OUT at the end, so an\n\
interrupted run leaves the previous index intact."
)]
pub struct IndexArgs {
    /// Recordings: files, directories or manifests.
    #[arg(required = true)]
    inputs: Vec<PathBuf>,
    /// Index file to create or extend.
    #[arg(long)]
    out: PathBuf,
    /// Model bundle (its encoder.safetensors, and its acoustic model when the
    /// encoder works on posteriors).
    #[arg(long)]
    model: Option<PathBuf>,
    /// Encoder to use instead of the bundle's encoder.safetensors.
    #[arg(long)]
    encoder: Option<PathBuf>,
    /// Re-embed recordings that are already in the index.
    #[arg(long)]
    reindex: bool,
    /// Worker threads.
    #[arg(long, default_value_t = 1)]
    threads: usize,
}

/// The embedder of `--model` / `--encoder`: the encoder file is `--encoder`, else
/// the bundle's `encoder.safetensors`; the bundle is required unless `--encoder`
/// is given (its acoustic model is then only needed for posterior frames).
pub fn load_embedder(model: Option<&Path>, encoder: Option<&Path>) -> anyhow::Result<Embedder> {
    let bundle = match (model, encoder) {
        (Some(m), _) => Some(model_dir::resolve(Some(m))?),
        (None, Some(_)) => model_dir::resolve(None).ok(),
        (None, None) => Some(model_dir::resolve(None)?),
    };
    let enc = match (encoder, &bundle) {
        (Some(e), _) => e.to_path_buf(),
        (None, Some(b)) => b.join("encoder.safetensors"),
        (None, None) => bail!("no encoder: pass --encoder FILE or --model DIR"),
    };
    if !enc.is_file() {
        bail!(
            "encoder {} does not exist; train one with `hark train-encoder` or pass --encoder",
            enc.display()
        );
    }
    Embedder::load(&enc, bundle.as_deref())
        .with_context(|| format!("loading encoder {}", enc.display()))
}

/// The name a recording is stored under: its absolute path.
pub fn recording_name(p: &Path) -> String {
    std::path::absolute(p)
        .unwrap_or_else(|_| p.to_path_buf())
        .to_string_lossy()
        .into_owned()
}

/// Runs `hark index`.
pub fn run(args: IndexArgs, quiet: bool) -> anyhow::Result<()> {
    let t0 = Instant::now();
    let embedder = load_embedder(args.model.as_deref(), args.encoder.as_deref())?;
    let files = crate::transcribe::expand_inputs(&args.inputs)?;
    let mut index = if args.out.exists() {
        let ix = Index::load(&args.out).with_context(|| {
            format!(
                "cannot extend {} (delete it to start a new index)",
                args.out.display()
            )
        })?;
        if ix.dim() != embedder.dim() {
            bail!(
                "{} holds {}-dimensional vectors but the encoder makes {}; use another --out",
                args.out.display(),
                ix.dim(),
                embedder.dim()
            );
        }
        match embedder.check_index(&ix) {
            Ok(()) => ix,
            // Vectors of two embedders must not mix: --reindex starts afresh.
            Err(_) if args.reindex => {
                eprintln!(
                    "{}: built with another encoder; re-embedding only the given recordings",
                    args.out.display()
                );
                Index::new(embedder.dim())?
            }
            Err(e) => {
                return Err(e).with_context(|| format!("cannot extend {}", args.out.display()));
            }
        }
    } else {
        Index::new(embedder.dim())?
    };
    let todo: Vec<(String, PathBuf)> = files
        .iter()
        .map(|p| (recording_name(p), p.clone()))
        .filter(|(name, _)| args.reindex || !index.contains_file(name))
        .collect();
    let skipped = files.len() - todo.len();
    let bar = crate::util::progress_bar(todo.len() as u64, quiet);
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(args.threads.max(1))
        .build()?;
    let mut audio_secs = 0.0;
    let mut added = 0usize;
    // Frames are computed in parallel, a chunk at a time; vectors join the index in
    // input order.
    for chunk in todo.chunks(16 * args.threads.max(1)) {
        use rayon::prelude::*;
        let frames: Vec<anyhow::Result<(ndarray::Array2<f32>, f64)>> = pool.install(|| {
            chunk
                .par_iter()
                .map(|(_, p)| {
                    let wave = hark::audio::load_16k(p)?;
                    let secs = wave.duration_secs();
                    let f = embedder.frontend().compute(&wave.samples)?;
                    Ok((f, secs))
                })
                .collect()
        });
        for ((name, path), f) in chunk.iter().zip(frames) {
            let (f, secs) = f.with_context(|| format!("indexing {}", path.display()))?;
            added += embedder
                .index_frames(&mut index, name, f.view())
                .with_context(|| format!("indexing {}", path.display()))?;
            audio_secs += secs;
            bar.inc(1);
        }
    }
    bar.finish_and_clear();
    index
        .save(&args.out)
        .with_context(|| format!("writing {}", args.out.display()))?;
    eprintln!(
        "indexed {} recordings ({:.1} min, {} segments; {} already indexed) in {:.1} s -> {} ({} recordings, {} segments)",
        todo.len(),
        audio_secs / 60.0,
        added,
        skipped,
        t0.elapsed().as_secs_f64(),
        args.out.display(),
        index.files().len(),
        index.len()
    );
    Ok(())
}
