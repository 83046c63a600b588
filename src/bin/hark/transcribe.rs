//! `hark transcribe` and `hark posteriors`: audio in, words (or posteriors) out.

use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use hark::decode::{DecoderConfig, DecoderKind};
use hark::manifest::Manifest;
use hark::recognizer::{Recognizer, Transcript};
use rayon::prelude::*;

/// Arguments of `hark transcribe`.
#[derive(Debug, clap::Args)]
#[command(after_help = "Examples:\n  \
    hark transcribe audio/yes.wav\n  \
    hark transcribe --decoder hmm --format json audio/\n  \
    hark transcribe --format srt --model models/default talk.wav > talk.srt\n  \
    hark transcribe --format json --out talk.json long_talk.wav\n  \
    hark transcribe --adapt --decoder hmm speaker1/\n  \
    arecord -q -f S16_LE -r 16000 -c 1 | hark transcribe -\n\n\
Files longer than --max-chunk-secs (30 s) are read in blocks and cut into pieces,\n\
recognised one by one, so an hour-long recording needs little memory: a piece ends\n\
at the first pause of --end-pause-ms (300 ms) after some sound, or, to stay under\n\
the maximum, at the first pause of 200 ms after --min-chunk-secs (2 s).\n\n\
`-` reads a WAV stream from standard input (a microphone, sox, ffmpeg; its length may\n\
be unknown) and transcribes it live: each piece is written, and flushed, as soon as\n\
its end pause has come in, with times on the stream's clock.")]
pub struct TranscribeArgs {
    /// WAV/FLAC files, directories of them, or manifests (.jsonl); `-` alone: a WAV
    /// stream on standard input, transcribed live, piece by piece.
    #[arg(required = true)]
    inputs: Vec<PathBuf>,
    /// Model bundle (default: models/default).
    #[arg(long)]
    model: Option<PathBuf>,
    /// greedy (CTC best path), beam (CTC prefix beam + lexicon + LM) or hmm (Viterbi).
    #[arg(long, default_value = "beam", value_parser = ["greedy", "beam", "hmm"])]
    decoder: String,
    /// Beam (beam: hypotheses; hmm: nats). Larger → slower, more accurate.
    #[arg(long)]
    beam: Option<f32>,
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
    /// Output format.
    #[arg(long, default_value = "text", value_parser = ["text", "json", "srt", "vtt", "ctm"])]
    format: String,
    /// Worker threads (0 = all cores).
    #[arg(long, default_value_t = 0)]
    threads: usize,
    /// Write the results to this file instead of stdout (atomically: a temporary
    /// file renamed into place, so an interrupted run leaves the previous file).
    #[arg(long)]
    out: Option<PathBuf>,
    /// Two passes with unsupervised speaker adaptation: decode every input with hmm,
    /// fine-tune a copy of the network on the phones found (as `hark adapt`), then
    /// transcribe with it. The inputs should be one speaker's; the more speech, the
    /// better (minutes, not seconds).
    #[arg(long)]
    adapt: bool,
    #[command(flatten)]
    chunking: ChunkArgs,
}

/// How long files are cut into pieces (`transcribe`, `segment`).
#[derive(Debug, clap::Args)]
pub struct ChunkArgs {
    /// Longest piece a long file is cut into, seconds; files up to this long stay
    /// whole. Larger → more context, more memory.
    #[arg(long, default_value_t = 30.0)]
    max_chunk_secs: f64,
    /// Shortest piece cut at a short pause, seconds.
    #[arg(long, default_value_t = 2.0)]
    min_chunk_secs: f64,
    /// A pause this long (ms) ends a piece wherever it falls; 0 = cut only to stay
    /// under --max-chunk-secs.
    #[arg(long, default_value_t = 300.0)]
    end_pause_ms: f64,
}

impl ChunkArgs {
    /// The library's chunking settings (validated).
    pub fn config(&self) -> hark::Result<hark::audio::ChunkConfig> {
        let c = hark::audio::ChunkConfig {
            max_chunk_secs: self.max_chunk_secs,
            min_chunk_secs: self.min_chunk_secs,
            end_pause_ms: self.end_pause_ms,
            ..Default::default()
        };
        c.validate()?;
        Ok(c)
    }
}

/// Expands inputs: files stay, directories give their .wav/.flac files (sorted),
/// manifests (.jsonl or Kaldi dirs with wav.scp) give their audio paths.
pub fn expand_inputs(inputs: &[PathBuf]) -> anyhow::Result<Vec<PathBuf>> {
    let mut out = Vec::new();
    for p in inputs {
        if p.is_dir() && p.join("wav.scp").is_file() {
            let m = Manifest::load(p)?;
            out.extend(m.utterances.iter().map(|u| m.audio_path(u)));
        } else if p.is_dir() {
            let mut files: Vec<PathBuf> = std::fs::read_dir(p)
                .with_context(|| format!("reading directory {}", p.display()))?
                .filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|f| {
                    f.extension().is_some_and(|e| {
                        e.eq_ignore_ascii_case("wav") || e.eq_ignore_ascii_case("flac")
                    })
                })
                .collect();
            files.sort();
            if files.is_empty() {
                bail!("{}: no .wav or .flac files", p.display());
            }
            out.extend(files);
        } else if p.extension().is_some_and(|e| e == "jsonl") {
            let m = Manifest::load(p)?;
            out.extend(m.utterances.iter().map(|u| m.audio_path(u)));
        } else {
            out.push(p.clone());
        }
    }
    Ok(out)
}

fn timestamp(secs: f64, sep: char) -> String {
    let ms = (secs * 1000.0).round().max(0.0) as u64;
    format!(
        "{:02}:{:02}:{:02}{sep}{:03}",
        ms / 3_600_000,
        (ms / 60_000) % 60,
        (ms / 1000) % 60,
        ms % 1000
    )
}

/// Subtitle cues: words grouped into lines of at most 7 words or 3.5 s.
fn cues(t: &Transcript) -> Vec<(f64, f64, String)> {
    let mut out = Vec::new();
    let mut cur: Vec<&hark::recognizer::TimedWord> = Vec::new();
    for w in &t.words {
        if let Some(first) = cur.first()
            && (cur.len() >= 7 || w.end - first.start > 3.5)
        {
            out.push(cue(&cur));
            cur.clear();
        }
        cur.push(w);
    }
    if !cur.is_empty() {
        out.push(cue(&cur));
    }
    out
}

fn cue(ws: &[&hark::recognizer::TimedWord]) -> (f64, f64, String) {
    let text = ws
        .iter()
        .map(|w| w.word.as_str())
        .collect::<Vec<_>>()
        .join(" ");
    (ws[0].start, ws[ws.len() - 1].end, text)
}

fn round3(x: f64) -> f64 {
    (x * 1000.0).round() / 1000.0
}

fn write_one(
    out: &mut impl Write,
    path: &Path,
    t: &Transcript,
    format: &str,
    decoder: &str,
) -> std::io::Result<()> {
    match format {
        "text" => writeln!(out, "{}\t{}", path.display(), t.text),
        "json" => {
            let words: Vec<serde_json::Value> = t
                .words
                .iter()
                .map(|w| {
                    serde_json::json!({"word": w.word, "start": round3(w.start),
                        "end": round3(w.end), "conf": round3(w.conf as f64)})
                })
                .collect();
            let obj = serde_json::json!({
                "file": path.display().to_string(),
                "text": t.text,
                "words": words,
                "decoder": decoder,
                "duration": round3(t.duration),
                "rtf": (t.rtf() * 1e4).round() / 1e4,
            });
            writeln!(out, "{obj}")
        }
        "ctm" => {
            let utt = path
                .file_stem()
                .map(|s| s.to_string_lossy().into_owned())
                .unwrap_or_default();
            for w in &t.words {
                writeln!(
                    out,
                    "{utt} 1 {:.3} {:.3} {} {:.3}",
                    w.start,
                    w.end - w.start,
                    w.word,
                    w.conf
                )?;
            }
            Ok(())
        }
        "srt" => write_cues(out, t, true, &mut 0),
        _ => {
            // vtt: the header is written once by the caller.
            writeln!(out, "NOTE {}\n", path.display())?;
            write_cues(out, t, false, &mut 0)
        }
    }
}

/// Writes `t`'s subtitle cues as SRT (numbered from `*count + 1`) or WebVTT,
/// counting them in `count`.
fn write_cues(
    out: &mut impl Write,
    t: &Transcript,
    srt: bool,
    count: &mut usize,
) -> std::io::Result<()> {
    let sep = if srt { ',' } else { '.' };
    for (s, e, text) in cues(t) {
        *count += 1;
        if srt {
            writeln!(out, "{count}")?;
        }
        writeln!(
            out,
            "{} --> {}\n{text}\n",
            timestamp(s, sep),
            timestamp(e, sep)
        )?;
    }
    Ok(())
}

/// Runs `hark transcribe`.
pub fn run(args: TranscribeArgs, quiet: bool) -> anyhow::Result<()> {
    let dir = crate::model_dir::resolve(args.model.as_deref())?;
    let config = DecoderConfig {
        kind: args.decoder.parse::<DecoderKind>()?,
        beam: args.beam,
        lm_weight: args.lm_weight,
        word_bonus: args.word_bonus,
        pron_weight: args.pron_weight,
        ..Default::default()
    };
    let chunking = args.chunking.config()?;
    let live = args.inputs.iter().any(|p| p.as_os_str() == "-");
    if live && (args.inputs.len() > 1 || args.adapt) {
        bail!("`-` (standard input) must be the only input, without --adapt");
    }
    let mut rec = Recognizer::load(&dir, config)
        .with_context(|| format!("loading model {}", dir.display()))?
        .with_chunking(chunking.clone())?;
    if live {
        return run_live(&rec, &args, chunking);
    }
    let files = expand_inputs(&args.inputs)?;
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(args.threads)
        .build()
        .context("starting worker threads")?;
    if args.adapt {
        hark::am::adapt::check_model(rec.model(), &rec.resources().tokens)
            .with_context(|| format!("adapting {}", dir.display()))?;
        let cfg = hark::am::adapt::AdaptConfig {
            num_shards: pool.current_num_threads(),
            ..Default::default()
        };
        let (model, _, _) =
            pool.install(|| crate::adapt::adapt_to_files(&rec, &dir, &files, &cfg, true, quiet))?;
        rec.set_model(model)?;
    }
    let bar = crate::util::progress_bar(files.len() as u64, quiet);
    let results: Vec<hark::Result<Transcript>> = pool.install(|| {
        files
            .par_iter()
            .map(|f| {
                let r = rec.transcribe_file(f);
                bar.inc(1);
                r
            })
            .collect()
    });
    bar.finish_and_clear();
    let mut out: Vec<u8> = Vec::new();
    if args.format == "vtt" {
        writeln!(out, "WEBVTT\n")?;
    }
    let mut failed = 0usize;
    for (f, r) in files.iter().zip(results) {
        match r {
            Ok(t) => write_one(&mut out, f, &t, &args.format, &args.decoder)?,
            Err(e) => {
                failed += 1;
                eprintln!("hark: error: {:#}", anyhow::Error::new(e));
            }
        }
    }
    match &args.out {
        Some(path) => hark::fsio::write_atomic(path, &out)?,
        None => std::io::stdout().lock().write_all(&out)?,
    }
    if failed > 0 {
        bail!("{failed} of {} inputs failed", files.len());
    }
    Ok(())
}

/// `hark transcribe -`: a WAV stream on standard input, cut at its pauses as it
/// comes in ([`Chunker::live`](hark::audio::Chunker::live)); each piece with words
/// is written and flushed at once (to `--out` only at the end, atomically), with
/// word times on the stream's clock. Subtitle cues are numbered across pieces.
fn run_live(
    rec: &Recognizer,
    args: &TranscribeArgs,
    chunking: hark::audio::ChunkConfig,
) -> anyhow::Result<()> {
    use std::io::IsTerminal;
    if std::io::stdin().is_terminal() {
        bail!(
            "`-` reads a WAV stream from standard input, which is a terminal here: pipe \
             audio into it (e.g. `arecord -q -f S16_LE -r 16000 -c 1 | hark transcribe -`)"
        );
    }
    let stream =
        hark::audio::AudioStream::from_pipe(Path::new("<stdin>"), Box::new(std::io::stdin()))?;
    let mut chunker = hark::audio::Chunker::live(stream, chunking)?;
    let mut kept: Vec<u8> = Vec::new();
    let mut emit = |bytes: &[u8]| -> std::io::Result<()> {
        if args.out.is_some() {
            kept.extend_from_slice(bytes);
            return Ok(());
        }
        let mut o = std::io::stdout().lock();
        o.write_all(bytes)?;
        o.flush()
    };
    if args.format == "vtt" {
        emit(b"WEBVTT\n\n")?;
    }
    let mut cue_no = 0usize;
    while let Some(chunk) = chunker.next_chunk()? {
        let mut t = rec.transcribe(&chunk.samples)?;
        if t.words.is_empty() {
            continue;
        }
        for w in &mut t.words {
            w.start += chunk.start_secs;
            w.end += chunk.start_secs;
        }
        let mut piece: Vec<u8> = Vec::new();
        match args.format.as_str() {
            f @ ("srt" | "vtt") => write_cues(&mut piece, &t, f == "srt", &mut cue_no)?,
            f => write_one(&mut piece, Path::new("-"), &t, f, &args.decoder)?,
        }
        emit(&piece)?;
    }
    if let Some(path) = &args.out {
        hark::fsio::write_atomic(path, &kept)?;
    }
    Ok(())
}

/// Arguments of `hark posteriors`.
#[derive(Debug, clap::Args)]
#[command(
    after_help = "Example:\n  hark posteriors audio/yes.wav --out yes.npy\n  \
    hark decode --posteriors yes.npy --model models/default"
)]
pub struct PosteriorsArgs {
    /// WAV/FLAC input.
    input: PathBuf,
    /// Output .npy file (log-posteriors [frames, tokens], f32).
    #[arg(long)]
    out: PathBuf,
    /// Model bundle (default: models/default).
    #[arg(long)]
    model: Option<PathBuf>,
}

/// Runs `hark posteriors`.
pub fn run_posteriors(args: PosteriorsArgs) -> anyhow::Result<()> {
    let dir = crate::model_dir::resolve(args.model.as_deref())?;
    if args.input.extension().is_some_and(|e| e == "npy") {
        let model = hark::am::AcousticModel::load(&dir)
            .with_context(|| format!("loading model {}", dir.display()))?;
        let feats = hark::fsio::read_npy(&args.input)?;
        let post = model
            .log_posteriors(&feats)
            .with_context(|| format!("computing posteriors of {}", args.input.display()))?;
        hark::fsio::write_npy(&args.out, &post)?;
        return Ok(());
    }
    let rec = Recognizer::load(
        &dir,
        DecoderConfig {
            kind: DecoderKind::Greedy,
            ..Default::default()
        },
    )
    .with_context(|| format!("loading model {}", dir.display()))?;
    let wave = hark::audio::load_16k(&args.input)?;
    let lp = rec.log_posteriors(&wave.samples)?;
    hark::fsio::write_npy(&args.out, &lp)?;
    Ok(())
}
