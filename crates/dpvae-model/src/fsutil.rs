//! Atomic file writes with the model's error type, over [`dpvae_core::atomic`] (the one implementation: sibling
//! temporary file, fsync, rename, directory fsync).

use std::path::Path;

use dpvae_core::atomic::AtomicError;

use crate::error::{ModelError, Result};

/// Write `bytes` to `path` so a reader sees either the old file or the complete new one.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    if path.file_name().is_none() {
        return Err(ModelError::InvalidInput(format!(
            "{} is not a file path",
            path.display()
        )));
    }
    dpvae_core::atomic::write_bytes_atomic(path, bytes).map_err(|e| match e {
        AtomicError::Io { source, .. } | AtomicError::Fill(source) => ModelError::io(path, source),
    })
}

/// Write `bytes` to `path` and fsync it (for the files of a directory that is renamed into place once complete).
pub fn write_synced(path: &Path, bytes: &[u8]) -> Result<()> {
    dpvae_core::atomic::write_synced(path, bytes).map_err(|e| ModelError::io(path, e))
}
