//! Atomic output with the data layer's error type: a thin wrapper over [`dpvae_core::atomic`], the one
//! implementation (temporary file in the target directory, fsync, rename, directory fsync). A crash or error
//! mid-write leaves the old file (or nothing), never a half-written one.

use std::fs;
use std::io::{BufWriter, Write};
use std::path::Path;

pub use dpvae_core::atomic::{AtomicError, sync_parent_dir, temp_path};

use crate::error::{DataError, Result};

fn into_data_error(e: AtomicError<DataError>) -> DataError {
    match e {
        AtomicError::Io { path, source } => DataError::io(path, source),
        AtomicError::Fill(e) => e,
    }
}

/// Write `path` atomically: `fill` writes the content into a buffered temporary file, which is
/// flushed, synced and renamed over `path` only when `fill` succeeds.
pub fn write_atomic<F>(path: &Path, fill: F) -> Result<()>
where
    F: FnOnce(&mut BufWriter<fs::File>) -> Result<()>,
{
    dpvae_core::atomic::write_atomic(path, fill).map_err(into_data_error)
}

/// Write a byte buffer atomically.
pub fn write_bytes_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    write_atomic(path, |w| {
        w.write_all(bytes).map_err(|e| DataError::io(path, e))
    })
}
