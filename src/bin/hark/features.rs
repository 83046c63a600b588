//! `hark features`: Kaldi-compatible fbank / MFCC features of one audio file.

use std::io::Write;
use std::path::PathBuf;

use anyhow::{Context, bail};
use hark::features::{CmvnMode, FeatureConfig, FeatureKind};

/// Arguments of `hark features`.
#[derive(Debug, clap::Args)]
#[command(after_help = "Examples:\n  \
    hark features --kind fbank audio/yes.wav --out yes.npy\n  \
    hark features --kind mfcc --cmvn utt --deltas audio/yes.wav --out yes.txt")]
pub struct FeaturesArgs {
    /// Feature type.
    #[arg(long, default_value = "fbank", value_parser = ["fbank", "mfcc"])]
    kind: String,
    /// Mel bins (default: 80 for fbank, 23 for mfcc).
    #[arg(long)]
    bins: Option<usize>,
    /// Cepstra kept (mfcc only).
    #[arg(long, default_value_t = 13)]
    ceps: usize,
    /// Per-utterance normalisation: none, utt (mean), utt-var (mean and variance).
    #[arg(long, default_value = "none", value_parser = ["none", "utt", "utt-var"])]
    cmvn: String,
    /// Append deltas and delta-deltas (Kaldi add-deltas, window 2).
    #[arg(long)]
    deltas: bool,
    /// Log-energy: extra first column for fbank, C0 for mfcc (default: off for fbank, on for mfcc).
    #[arg(long, value_parser = ["on", "off"])]
    energy: Option<String>,
    /// Gaussian dither in int16 units (0 = off, deterministic).
    #[arg(long, default_value_t = 0.0)]
    dither: f32,
    /// Seed of the dither noise.
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// Frames centred every shift with reflection at the ends, instead of Kaldi's snip-edges.
    #[arg(long)]
    no_snip_edges: bool,
    /// Input audio (WAV or FLAC, any rate; resampled to 16 kHz).
    input: PathBuf,
    /// Output file: .npy (float32 [frames, dim]) or .txt (one frame per line).
    #[arg(long)]
    out: PathBuf,
}

/// Runs `hark features`.
pub fn run(args: FeaturesArgs, quiet: bool) -> anyhow::Result<()> {
    let ext = args
        .out
        .extension()
        .and_then(|e| e.to_str())
        .map(str::to_ascii_lowercase);
    let as_npy = match ext.as_deref() {
        Some("npy") => true,
        Some("txt") => false,
        _ => bail!("{}: output must end in .npy or .txt", args.out.display()),
    };
    let mut config = FeatureConfig {
        kind: args.kind.parse::<FeatureKind>()?,
        num_bins: args.bins,
        num_ceps: args.ceps,
        use_energy: args.energy.as_deref().map(|e| e == "on"),
        cmvn: args.cmvn.parse::<CmvnMode>()?,
        delta_order: if args.deltas { 2 } else { 0 },
        ..Default::default()
    };
    config.frame.dither = args.dither;
    config.frame.dither_seed = args.seed;
    config.frame.snip_edges = !args.no_snip_edges;
    config.validate()?;

    let wave = hark::audio::load_16k(&args.input)?;
    let feats = config
        .compute(&wave)
        .with_context(|| format!("computing features of {}", args.input.display()))?;
    if as_npy {
        hark::fsio::write_npy(&args.out, &feats)?;
    } else {
        hark::fsio::write_atomic_with(&args.out, |w| {
            for row in feats.rows() {
                let mut first = true;
                for v in row {
                    if !first {
                        w.write_all(b" ")?;
                    }
                    first = false;
                    write!(w, "{v}")?;
                }
                w.write_all(b"\n")?;
            }
            Ok(())
        })?;
    }
    if !quiet {
        eprintln!(
            "{}: {} frames x {} ({:?}) -> {}",
            args.input.display(),
            feats.nrows(),
            feats.ncols(),
            config.kind,
            args.out.display()
        );
    }
    Ok(())
}
