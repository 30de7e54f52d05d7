//! What the command-line integration tests share: the quiet `dpvae` binary and a simulated section.
// Each test binary compiles this module and uses part of it.
#![allow(dead_code)]

use std::path::{Path, PathBuf};

use assert_cmd::Command;

/// The `dpvae` binary under test, quiet.
pub fn dpvae() -> Command {
    let mut c = Command::cargo_bin("dpvae").unwrap();
    c.arg("-q");
    c
}

/// `dpvae simulate` (seed 3) into `dir/tissue.h5ad`.
pub fn simulate_sized(dir: &Path, n_spots: usize, n_genes: usize) -> PathBuf {
    let path = dir.join("tissue.h5ad");
    dpvae()
        .args(["simulate", "--n-spots", &n_spots.to_string(), "--n-genes"])
        .arg(n_genes.to_string())
        .args(["--seed", "3", "--out"])
        .arg(&path)
        .assert()
        .success();
    path
}
