//! Shared helpers for the integration tests.
#![allow(dead_code)] // each helper is used by some test modules, not all

use std::path::PathBuf;
use std::process::{Command, Output};

/// Path of the built `hark` binary.
pub fn hark_bin() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_hark"))
}

/// Runs `hark` with `args` and returns its output.
pub fn hark(args: &[&str]) -> Output {
    Command::new(hark_bin())
        .args(args)
        .output()
        .expect("failed to run hark")
}

/// A fresh temporary directory for one test.
pub fn tmpdir(tag: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("hark-it-{tag}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

/// Repository root.
pub fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}
