//! `hark convert`: store a safetensors file's tensors in another precision.

use std::path::PathBuf;

use hark::am::io::{StoredDtype, TensorFile, save_tensors_as};

/// Arguments of `hark convert`.
#[derive(Debug, clap::Args)]
#[command(
    after_help = "Tensor names, shapes and metadata are kept; hark reads F32, F16, BF16 and F64 \
alike (as f32). f16 halves a model's size for inference; keep the f32 file for training.\n\n\
Example:\n  hark convert --dtype f16 runs/big/model.safetensors --out models/mine/model.safetensors"
)]
pub struct ConvertArgs {
    /// Input safetensors file (a model.safetensors or encoder.safetensors).
    input: PathBuf,
    /// Output file (written atomically; may be the input).
    #[arg(long)]
    out: PathBuf,
    /// Precision to store: f32 or f16.
    #[arg(long, value_parser = ["f32", "f16"])]
    dtype: String,
}

/// Runs `hark convert`.
pub fn run(a: ConvertArgs, quiet: bool) -> anyhow::Result<()> {
    let file = TensorFile::open(&a.input)?;
    let tensors = file.all()?;
    let meta = file.metadata();
    let dtype = if a.dtype == "f16" {
        StoredDtype::F16
    } else {
        StoredDtype::F32
    };
    save_tensors_as(&a.out, &tensors, (!meta.is_empty()).then_some(meta), dtype)?;
    if !quiet {
        let n: usize = tensors.iter().map(|t| t.values.len()).sum();
        eprintln!(
            "wrote {} ({} tensors, {n} values as {})",
            a.out.display(),
            tensors.len(),
            a.dtype
        );
    }
    Ok(())
}
