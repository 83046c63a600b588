//! `hark segment`: cut long recordings into the pieces `hark transcribe` recognises.

use std::path::PathBuf;

use anyhow::{Context, bail};
use hark::audio::{AudioStream, Chunker, Waveform};

/// Arguments of `hark segment`.
#[derive(Debug, clap::Args)]
#[command(after_help = "Example:\n  \
    hark segment long_talk.wav --out talk_pieces/\n  \
    hark transcribe --format json talk_pieces/segments.jsonl\n\n\
Writes OUT/<name>-NNNN.wav (16 kHz, 16-bit) per piece and OUT/segments.jsonl, a\n\
manifest whose lines also give each piece's \"source\" file and \"offset\" (seconds)\n\
in it. The pieces are exactly those `hark transcribe` cuts with the same options,\n\
so transcribing them one by one gives the long file's words (16-bit sources at\n\
16 kHz are copied bit for bit; other inputs are resampled and rounded to 16 bits).")]
pub struct SegmentArgs {
    /// WAV/FLAC files, directories of them, or manifests.
    #[arg(required = true)]
    inputs: Vec<PathBuf>,
    /// Output folder (created if missing).
    #[arg(long)]
    out: PathBuf,
    #[command(flatten)]
    chunking: crate::transcribe::ChunkArgs,
}

/// One line of `segments.jsonl`.
#[derive(serde::Serialize)]
struct Line {
    id: String,
    audio: String,
    text: String,
    duration: f64,
    source: String,
    offset: f64,
}

/// Runs `hark segment`.
pub fn run(args: SegmentArgs, quiet: bool) -> anyhow::Result<()> {
    let config = args.chunking.config()?;
    let files = crate::transcribe::expand_inputs(&args.inputs)?;
    let mut stems = std::collections::HashSet::new();
    for f in &files {
        let stem = f
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_default();
        if !stems.insert(stem.clone()) {
            bail!(
                "{}: a second input named {stem:?}; segment it into another --out folder",
                f.display()
            );
        }
    }
    std::fs::create_dir_all(&args.out)
        .with_context(|| format!("creating {}", args.out.display()))?;
    let bar = crate::util::progress_bar(files.len() as u64, quiet);
    let mut manifest = String::new();
    let mut pieces = 0usize;
    for f in &files {
        let stem = f
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_default();
        let stream = AudioStream::open(f)?;
        let mut chunker = Chunker::new(stream, config.clone())?;
        let mut i = 0usize;
        while let Some(c) = chunker.next_chunk()? {
            let id = format!("{stem}-{i:04}");
            let name = format!("{id}.wav");
            let wave = Waveform::new(c.samples, 16_000);
            hark::audio::write_wav_16bit(&args.out.join(&name), &wave)?;
            let line = Line {
                id,
                audio: name,
                text: String::new(),
                duration: wave.duration_secs(),
                source: f.display().to_string(),
                offset: c.start_secs,
            };
            manifest.push_str(&serde_json::to_string(&line)?);
            manifest.push('\n');
            i += 1;
        }
        pieces += i;
        bar.inc(1);
    }
    bar.finish_and_clear();
    let path = args.out.join("segments.jsonl");
    hark::fsio::write_atomic(&path, manifest.as_bytes())?;
    println!(
        "{pieces} pieces of {} files: {}",
        files.len(),
        path.display()
    );
    Ok(())
}
