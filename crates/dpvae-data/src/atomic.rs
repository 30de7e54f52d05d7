//! Atomic output: write to a temporary file in the target directory, then rename over the target.
//! A crash or error mid-write leaves the old file (or nothing), never a half-written one.

use std::fs;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

use crate::error::{DataError, Result};

/// The temporary sibling used while `path` is being written: same directory, so `rename` is atomic.
fn temp_path(path: &Path) -> PathBuf {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "output".to_string());
    let unique = format!(
        ".{name}.tmp-{}-{}",
        std::process::id(),
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.subsec_nanos())
            .unwrap_or(0)
    );
    path.with_file_name(unique)
}

/// Write `path` atomically: `fill` writes the content into a buffered temporary file, which is
/// flushed, synced and renamed over `path` only when `fill` succeeds.
pub fn write_atomic<F>(path: &Path, fill: F) -> Result<()>
where
    F: FnOnce(&mut BufWriter<fs::File>) -> Result<()>,
{
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        fs::create_dir_all(dir).map_err(|e| DataError::io(dir, e))?;
    }
    let tmp = temp_path(path);
    let result = (|| {
        let file = fs::File::create(&tmp).map_err(|e| DataError::io(&tmp, e))?;
        let mut writer = BufWriter::new(file);
        fill(&mut writer)?;
        writer.flush().map_err(|e| DataError::io(&tmp, e))?;
        let file = writer
            .into_inner()
            .map_err(|e| DataError::io(&tmp, e.into_error()))?;
        file.sync_all().map_err(|e| DataError::io(&tmp, e))?;
        fs::rename(&tmp, path).map_err(|e| DataError::io(path, e))
    })();
    if result.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    result
}

/// Write a byte buffer atomically.
pub fn write_bytes_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    write_atomic(path, |w| {
        w.write_all(bytes).map_err(|e| DataError::io(path, e))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn failed_write_leaves_no_file_and_keeps_old_content() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("out.txt");
        write_bytes_atomic(&path, b"old").unwrap();
        let err = write_atomic(&path, |w| {
            w.write_all(b"partial").unwrap();
            Err(DataError::data("test", "simulated failure"))
        });
        assert!(err.is_err());
        assert_eq!(fs::read(&path).unwrap(), b"old");
        let leftovers: Vec<_> = fs::read_dir(dir.path()).unwrap().collect();
        assert_eq!(leftovers.len(), 1, "temporary file was not cleaned up");
    }
}
