//! `hark posteriors`: features in, log-posteriors out (the decoder seam).

use std::path::PathBuf;

use anyhow::{Context, bail};
use hark::am::AcousticModel;

/// Arguments of `hark posteriors`.
#[derive(Debug, clap::Args)]
#[command(
    after_help = "Example:\n  hark posteriors --model models/default utt1.npy --out utt1.post.npy\n\n\
INPUT is currently a feature matrix (.npy, [frames, feat_dim], e.g. from `hark features`);\n\
the output is log-posteriors [frames', num_tokens] as f32 .npy."
)]
pub struct PosteriorsArgs {
    /// Model bundle directory.
    #[arg(long, default_value = "models/default")]
    model: PathBuf,
    /// Input features (.npy).
    input: PathBuf,
    /// Output .npy file.
    #[arg(long)]
    out: PathBuf,
}

/// Runs `hark posteriors`.
pub fn run(args: PosteriorsArgs) -> anyhow::Result<()> {
    if args.input.extension().is_none_or(|e| e != "npy") {
        bail!(
            "{}: expected a .npy feature matrix (this build computes posteriors from precomputed features)",
            args.input.display()
        );
    }
    let model = AcousticModel::load(&args.model)
        .with_context(|| format!("loading model {}", args.model.display()))?;
    let feats = hark::fsio::read_npy(&args.input)?;
    let post = model
        .log_posteriors(&feats)
        .with_context(|| format!("computing posteriors of {}", args.input.display()))?;
    hark::fsio::write_npy(&args.out, &post)?;
    Ok(())
}
