//! Locating the real datasets for tests and experiments.
//!
//! Tests read real files from the directory named by `DPVAE_DATA` (CI sets it to `../shared/data`). The
//! convention is strict in one direction: when `DPVAE_DATA` is unset a test prints that it was skipped; when it
//! is set, a missing file is a failure, so CI can never silently test nothing.

use std::path::PathBuf;

/// The environment variable that names the real-data directory.
pub const DATA_ENV: &str = "DPVAE_DATA";

/// The real-data directory, if `DPVAE_DATA` is set.
pub fn data_dir() -> Option<PathBuf> {
    std::env::var_os(DATA_ENV)
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
}

/// Resolve `relative` under `DPVAE_DATA` for a test named `test`.
///
/// Returns `None` (after printing a skip notice) when `DPVAE_DATA` is unset, and panics with a clear message when
/// it is set but the file or folder is missing.
pub fn require(test: &str, relative: &str) -> Option<PathBuf> {
    let Some(dir) = data_dir() else {
        eprintln!(
            "skipped {test}: {DATA_ENV} is not set (set it to the shared data directory to run it)"
        );
        return None;
    };
    let path = dir.join(relative);
    assert!(
        path.exists(),
        "{test}: {DATA_ENV}={} is set but {} does not exist",
        dir.display(),
        path.display()
    );
    Some(path)
}
