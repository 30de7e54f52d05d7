//! Atomic file output: write a temporary file in the target's directory, flush and fsync it, rename it over the
//! target, then fsync the directory (where the platform allows opening one), so that after a crash or an error
//! mid-write a reader finds the old file (or nothing), never a half-written one.

use std::fs;
use std::io::{self, BufWriter, Write};
use std::path::{Path, PathBuf};

/// Why an atomic write failed: an I/O error on a named path, or the caller's own error from the fill closure.
#[derive(Debug)]
pub enum AtomicError<E> {
    /// Creating, writing, syncing or renaming `path` failed.
    Io { path: PathBuf, source: io::Error },
    /// The closure that writes the content failed.
    Fill(E),
}

impl<E: std::fmt::Display> std::fmt::Display for AtomicError<E> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            AtomicError::Io { path, source } => write!(f, "{}: {source}", path.display()),
            AtomicError::Fill(e) => e.fmt(f),
        }
    }
}

impl<E: std::error::Error + 'static> std::error::Error for AtomicError<E> {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            AtomicError::Io { source, .. } => Some(source),
            AtomicError::Fill(e) => Some(e),
        }
    }
}

fn io_err<E>(path: &Path) -> impl FnOnce(io::Error) -> AtomicError<E> + '_ {
    move |source| AtomicError::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// Temporary files and directories being written now, so a signal handler can remove them before the process
/// ends ([`remove_in_flight`]); a [`InFlight`] guard holds each entry for as long as it exists.
static IN_FLIGHT: std::sync::Mutex<Vec<PathBuf>> = std::sync::Mutex::new(Vec::new());

/// Registers a temporary path for [`remove_in_flight`] while it lives; dropping it unregisters the path (the
/// caller has renamed or removed it by then).
pub struct InFlight(PathBuf);

impl InFlight {
    pub fn new(path: &Path) -> InFlight {
        in_flight().push(path.to_path_buf());
        InFlight(path.to_path_buf())
    }
}

impl Drop for InFlight {
    fn drop(&mut self) {
        let mut list = in_flight();
        if let Some(k) = list.iter().rposition(|p| p == &self.0) {
            list.swap_remove(k);
        }
    }
}

fn in_flight() -> std::sync::MutexGuard<'static, Vec<PathBuf>> {
    IN_FLIGHT.lock().unwrap_or_else(|e| e.into_inner())
}

/// Remove every temporary file and directory being written now, and keep the registry locked (so no new one
/// starts) until `then` has run: for a signal handler, whose `then` ends the process. Returns what `then`
/// returns.
pub fn remove_in_flight<T>(then: impl FnOnce(&[PathBuf]) -> T) -> T {
    let list = in_flight();
    for p in list.iter() {
        if p.is_dir() {
            let _ = fs::remove_dir_all(p);
        } else {
            let _ = fs::remove_file(p);
        }
    }
    then(&list)
}

/// The temporary sibling used while `path` is being written: same directory (so `rename` is atomic), named after
/// the target, the process and the clock so concurrent writers do not collide.
pub fn temp_path(path: &Path) -> PathBuf {
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

/// The name of the output a file or directory called `name` is a temporary of, when `name` is one of the
/// hidden siblings dpvae's writers use: `.NAME.tmp-PID-N` ([`temp_path`]), and `.NAME.tmp-PID` /
/// `.NAME.old-PID` (a model directory being written, and the old one set aside where the exchange is not
/// available). A process killed with SIGKILL can leave them behind; they are safe to delete.
pub fn temporary_of(name: &str) -> Option<&str> {
    let rest = name.strip_prefix('.')?;
    let (base, tail) = rest
        .rsplit_once(".tmp-")
        .or_else(|| rest.rsplit_once(".old-"))?;
    let numbers: Vec<&str> = tail.split('-').collect();
    let numeric = |s: &&str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    (!base.is_empty() && (1..=2).contains(&numbers.len()) && numbers.iter().all(numeric))
        .then_some(base)
}

/// Write `path` atomically: `fill` writes the content into a buffered temporary file, which is flushed, fsynced
/// and renamed over `path` only when `fill` succeeds; the directory is then fsynced (best effort). Missing parent
/// directories are created. On failure the temporary file is removed and `path` is untouched.
pub fn write_atomic<E, F>(path: &Path, fill: F) -> Result<(), AtomicError<E>>
where
    F: FnOnce(&mut BufWriter<fs::File>) -> Result<(), E>,
{
    if let Some(dir) = parent_dir(path) {
        fs::create_dir_all(dir).map_err(io_err(dir))?;
    }
    let tmp = temp_path(path);
    let _registered = InFlight::new(&tmp);
    let result = (|| {
        let file = fs::File::create(&tmp).map_err(io_err(&tmp))?;
        let mut writer = BufWriter::new(file);
        fill(&mut writer).map_err(AtomicError::Fill)?;
        writer.flush().map_err(io_err(&tmp))?;
        let file = writer
            .into_inner()
            .map_err(|e| io_err(&tmp)(e.into_error()))?;
        file.sync_all().map_err(io_err(&tmp))?;
        fs::rename(&tmp, path).map_err(io_err(path))
    })();
    if result.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    result?;
    sync_parent_dir(path);
    Ok(())
}

/// Write a byte buffer to `path` atomically ([`write_atomic`]).
pub fn write_bytes_atomic(path: &Path, bytes: &[u8]) -> Result<(), AtomicError<io::Error>> {
    write_atomic(path, |w| w.write_all(bytes))
}

/// Write `bytes` to `path` and fsync the file (not atomic by itself: for files inside a directory that is
/// itself renamed into place once complete).
pub fn write_synced(path: &Path, bytes: &[u8]) -> io::Result<()> {
    let mut f = fs::File::create(path)?;
    f.write_all(bytes)?;
    f.sync_all()
}

fn parent_dir(path: &Path) -> Option<&Path> {
    path.parent().filter(|d| !d.as_os_str().is_empty())
}

/// Best-effort fsync of the directory holding `path`, so a completed rename survives a crash. Platforms where a
/// directory cannot be opened (Windows) or synced are skipped silently.
pub fn sync_parent_dir(path: &Path) {
    let dir = parent_dir(path).unwrap_or(Path::new("."));
    if let Ok(d) = fs::File::open(dir) {
        let _ = d.sync_all();
    }
}

/// Put the complete directory `new` where the directory `dir` is, then delete the old one. On Linux the two are
/// swapped in one step (`renameat2` with `RENAME_EXCHANGE`), so `dir` names the old or the new directory at every
/// moment and a crash leaves one of them there (the other under `new`). Where the exchange is not available, the
/// old directory is first renamed to `aside`, which leaves a moment without `dir` (the old one then survives under
/// `aside`).
pub fn replace_dir(new: &Path, dir: &Path, aside: &Path) -> io::Result<()> {
    if exchange(new, dir).is_ok() {
        sync_parent_dir(dir);
        return fs::remove_dir_all(new);
    }
    // The exchange failed before anything moved: fall back to two renames.
    fs::rename(dir, aside)?;
    fs::rename(new, dir)?;
    sync_parent_dir(dir);
    fs::remove_dir_all(aside)
}

#[cfg(target_os = "linux")]
fn exchange(a: &Path, b: &Path) -> io::Result<()> {
    use std::ffi::CString;
    use std::os::unix::ffi::OsStrExt;
    let a = CString::new(a.as_os_str().as_bytes())?;
    let b = CString::new(b.as_os_str().as_bytes())?;
    // SAFETY: both arguments are valid NUL-terminated paths that outlive the call; AT_FDCWD resolves relative
    // paths as rename(2) does.
    let rc = unsafe {
        libc::renameat2(
            libc::AT_FDCWD,
            a.as_ptr(),
            libc::AT_FDCWD,
            b.as_ptr(),
            libc::RENAME_EXCHANGE,
        )
    };
    if rc == 0 {
        Ok(())
    } else {
        Err(io::Error::last_os_error())
    }
}

#[cfg(not(target_os = "linux"))]
fn exchange(_: &Path, _: &Path) -> io::Result<()> {
    Err(io::ErrorKind::Unsupported.into())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replacing_a_directory_keeps_its_name_and_drops_the_old_content() {
        let root = tempfile::tempdir().unwrap();
        let (dir, new, aside) = (
            root.path().join("m"),
            root.path().join(".m.tmp"),
            root.path().join(".m.old"),
        );
        fs::create_dir(&dir).unwrap();
        fs::write(dir.join("a"), b"old").unwrap();
        fs::write(dir.join("stale"), b"old").unwrap();
        fs::create_dir(&new).unwrap();
        fs::write(new.join("a"), b"new").unwrap();
        replace_dir(&new, &dir, &aside).unwrap();
        assert_eq!(fs::read(dir.join("a")).unwrap(), b"new");
        assert!(!dir.join("stale").exists());
        assert!(!new.exists() && !aside.exists());
    }

    #[test]
    fn dpvae_temporaries_are_recognised_by_name() {
        let dir = tempfile::tempdir().unwrap();
        let tmp = temp_path(&dir.path().join("config.toml"));
        let name = tmp.file_name().unwrap().to_str().unwrap();
        assert_eq!(temporary_of(name), Some("config.toml"));
        assert_eq!(temporary_of(".model.tmp-544"), Some("model"));
        assert_eq!(temporary_of(".model.old-544-123"), Some("model"));
        assert_eq!(
            temporary_of(".config.toml.tmp-544-98765"),
            Some("config.toml")
        );
        for other in [
            "config.toml",
            ".config.toml",
            ".config.toml.tmp-",
            ".config.toml.tmp-a1",
            ".x.tmp-1-2-3",
            "x.tmp-1",
            "..tmp-1",
        ] {
            assert_eq!(temporary_of(other), None, "{other}");
        }
    }

    #[test]
    fn failed_write_leaves_no_file_and_keeps_old_content() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("sub").join("out.txt");
        write_bytes_atomic(&path, b"old").unwrap();
        let err = write_atomic(&path, |w| {
            w.write_all(b"partial").unwrap();
            Err("simulated failure")
        });
        assert!(matches!(err, Err(AtomicError::Fill("simulated failure"))));
        assert_eq!(fs::read(&path).unwrap(), b"old");
        let leftovers: Vec<_> = fs::read_dir(path.parent().unwrap()).unwrap().collect();
        assert_eq!(leftovers.len(), 1, "temporary file was not cleaned up");
        write_bytes_atomic(&path, b"new").unwrap();
        assert_eq!(fs::read(&path).unwrap(), b"new");
    }
}
