//! Finding the model bundle: `--model DIR`, else `$HARK_MODEL`, else the default
//! bundle `models/default`, looked up next to the binary's repository (so the
//! binary works from any working directory) and then in the source tree it was
//! built from.

use std::path::{Path, PathBuf};

use anyhow::bail;

/// The bundle directory to use.
pub fn resolve(explicit: Option<&Path>) -> anyhow::Result<PathBuf> {
    if let Some(p) = explicit {
        if !p.is_dir() {
            bail!("model directory {} does not exist", p.display());
        }
        return Ok(p.to_path_buf());
    }
    if let Some(p) = std::env::var_os("HARK_MODEL") {
        let p = PathBuf::from(p);
        if !p.is_dir() {
            bail!("HARK_MODEL={} is not a directory", p.display());
        }
        return Ok(p);
    }
    let mut candidates = Vec::new();
    if let Ok(exe) = std::env::current_exe() {
        // target/{release,debug}/hark → repository root
        for anc in exe.ancestors().skip(1).take(4) {
            candidates.push(anc.join("models").join("default"));
        }
    }
    let built_from = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("models")
        .join("default");
    if !candidates.contains(&built_from) {
        candidates.push(built_from);
    }
    for c in &candidates {
        if c.join("config.json").is_file() {
            return Ok(c.clone());
        }
    }
    bail!(
        "no model given and the default bundle was not found (looked in {}); pass --model DIR or set HARK_MODEL",
        candidates
            .iter()
            .map(|c| c.display().to_string())
            .collect::<Vec<_>>()
            .join(", ")
    )
}
