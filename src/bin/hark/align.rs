//! `hark align`: forced alignment of a known transcript (word and phone times).

use std::io::Write;
use std::path::PathBuf;

use anyhow::{Context, bail};
use hark::decode::align::{ForcedAligner, to_ctm, to_json, to_textgrid};
use hark::decode::{DecoderConfig, DecoderKind, HmmTopology};
use hark::recognizer::Recognizer;

/// Arguments of `hark align`.
#[derive(Debug, clap::Args)]
#[command(after_help = "Examples:\n  \
    hark align --text \"go forward ten meters\" audio/go_forward_ten_meters.wav\n  \
    hark align --format textgrid --text \"yes\" audio/yes.wav > yes.TextGrid")]
pub struct AlignArgs {
    /// The words spoken (looked up in the bundle's lexicon; unknown words use the
    /// letter-to-sound fallback, with a warning).
    #[arg(long)]
    text: String,
    /// WAV/FLAC input.
    input: PathBuf,
    /// Model bundle (default: models/default).
    #[arg(long)]
    model: Option<PathBuf>,
    /// json: words and phones with times; ctm: one word per line; textgrid: Praat.
    #[arg(long, default_value = "json", value_parser = ["json", "ctm", "textgrid"])]
    format: String,
    /// Do not insert optional silences between words.
    #[arg(long)]
    no_silence: bool,
}

/// Runs `hark align`.
pub fn run(args: AlignArgs) -> anyhow::Result<()> {
    let dir = crate::model_dir::resolve(args.model.as_deref())?;
    let rec = Recognizer::load(
        &dir,
        DecoderConfig {
            kind: DecoderKind::Greedy,
            ..Default::default()
        },
    )
    .with_context(|| format!("loading model {}", dir.display()))?;
    let res = rec.resources();
    let Some(lexicon) = res.lexicon.as_deref() else {
        bail!("{}: the bundle has no lexicon.txt", dir.display());
    };
    let topology = if res.is_hybrid() {
        HmmTopology::LeftToRight {
            num_states: 3,
            self_loop_prob: 0.5,
        }
    } else {
        HmmTopology::Ctc
    };
    let aligner = ForcedAligner::new(res.tokens.clone(), topology, !args.no_silence)?;
    let wave = hark::audio::load_16k(&args.input)?;
    let log_post = rec.log_posteriors(&wave.samples)?;
    let frames = log_post.nrows();
    let d = res.decodable(rec.decoder_config(), log_post)?;
    let (ali, oov) = aligner
        .align_text(d.as_ref(), lexicon, &args.text)
        .with_context(|| format!("aligning {}", args.input.display()))?;
    if !oov.is_empty() {
        eprintln!(
            "hark: warning: not in the lexicon (letter-to-sound fallback used): {}",
            oov.join(" ")
        );
    }
    let shift = rec.frame_shift_secs();
    let text = match args.format.as_str() {
        "json" => to_json(&ali, shift),
        "ctm" => {
            let utt = args
                .input
                .file_stem()
                .map(|s| s.to_string_lossy().into_owned())
                .unwrap_or_default();
            to_ctm(&utt, &ali.words, shift)
        }
        _ => to_textgrid(&ali, frames, shift),
    };
    let mut out = std::io::stdout().lock();
    out.write_all(text.as_bytes())?;
    if !text.ends_with('\n') {
        writeln!(out)?;
    }
    Ok(())
}
