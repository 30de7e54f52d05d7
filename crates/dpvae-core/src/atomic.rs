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
/// ends ([`remove_in_flight`]); a [`InFlight`] guard holds each entry for as long as it exists. The same lock
/// makes creating a temporary and publishing one ([`publish`]) steps a signal cannot split: the handler takes
/// it and keeps it until the process ends, so once it has started no temporary is created or renamed into place.
static IN_FLIGHT: std::sync::Mutex<Vec<PathBuf>> = std::sync::Mutex::new(Vec::new());

/// Set by [`remove_in_flight`] before it waits for the registry: a publication that has not started by then
/// does not start.
static INTERRUPTED: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

/// Registers a temporary path for [`remove_in_flight`] while it lives; dropping it unregisters the path (the
/// caller has renamed or removed it by then).
pub struct InFlight(PathBuf);

impl InFlight {
    pub fn new(path: &Path) -> InFlight {
        in_flight().push(path.to_path_buf());
        InFlight(path.to_path_buf())
    }

    /// Create the temporary `path` with `create` and register it in one step, under the registry's lock: a
    /// signal handler that has started removing temporaries never misses one created after its sweep. Fails
    /// with [`io::ErrorKind::Interrupted`] once the process has been interrupted.
    pub fn create<T>(
        path: &Path,
        create: impl FnOnce(&Path) -> io::Result<T>,
    ) -> io::Result<(T, InFlight)> {
        let mut list = in_flight();
        if interrupted() {
            return Err(interrupted_error());
        }
        let made = create(path)?;
        list.push(path.to_path_buf());
        Ok((made, InFlight(path.to_path_buf())))
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

/// Whether a signal handler has started [`remove_in_flight`].
pub fn interrupted() -> bool {
    INTERRUPTED.load(std::sync::atomic::Ordering::SeqCst)
}

fn interrupted_error() -> io::Error {
    io::Error::new(
        io::ErrorKind::Interrupted,
        "interrupted by a signal; nothing was replaced",
    )
}

/// Run `step`, the rename or exchange that puts a complete temporary in its target's place, as one step a
/// signal cannot split: if [`remove_in_flight`] has started, `step` does not run (and the handler removes the
/// temporary); if `step` has started, the handler waits for it to finish before it removes anything. So an
/// interrupted write leaves the old output or the whole new one, never a half-written one.
pub fn publish<T>(step: impl FnOnce() -> io::Result<T>) -> io::Result<T> {
    let _list = in_flight();
    if interrupted() {
        return Err(interrupted_error());
    }
    step()
}

/// For a signal handler: stop every publication that has not started ([`publish`]), wait for one in progress,
/// remove every temporary file and directory being written now, and keep the registry locked (so no new one
/// is created or published) until `then` has run; its `then` ends the process. Returns what `then` returns.
pub fn remove_in_flight<T>(then: impl FnOnce(&[PathBuf]) -> T) -> T {
    INTERRUPTED.store(true, std::sync::atomic::Ordering::SeqCst);
    let list = in_flight();
    for p in list.iter() {
        remove_all(p);
    }
    then(&list)
}

/// Remove `path`, a file or a directory tree. Another thread may still be writing files into the directory
/// (the handler does not stop it), so removal is retried until the path is gone: once the directory itself
/// is removed nothing more can be created in it, and the temporary itself is created again only under the
/// registry's lock ([`InFlight::create`]), which the caller holds.
fn remove_all(path: &Path) {
    for _ in 0..1000 {
        match fs::symlink_metadata(path) {
            Err(e) if e.kind() == io::ErrorKind::NotFound => return,
            Err(_) => return,
            Ok(m) if m.is_dir() => {
                if fs::remove_dir_all(path).is_ok() {
                    return;
                }
            }
            Ok(_) => {
                if fs::remove_file(path).is_ok() {
                    return;
                }
            }
        }
        std::thread::sleep(std::time::Duration::from_millis(1));
    }
}

/// The temporary sibling used while `path` is being written: same directory (so `rename` is atomic), named after
/// the target, the process and the clock so concurrent writers do not collide: `.NAME.tmp-PID-N`.
pub fn temp_path(path: &Path) -> PathBuf {
    hidden_sibling(path, "tmp")
}

/// `.NAME.KIND-PID-N` beside `path`.
fn hidden_sibling(path: &Path, kind: &str) -> PathBuf {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "output".to_string());
    let unique = format!(
        ".{name}.{kind}-{}-{}",
        std::process::id(),
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.subsec_nanos())
            .unwrap_or(0)
    );
    path.with_file_name(unique)
}

/// The name of the output a file or directory called `name` is a temporary of, when `name` is one of the
/// hidden siblings dpvae's writers use: `.NAME.tmp-PID-N` ([`temp_path`]), `.NAME.old-PID-N` (an old directory
/// set aside by [`StagedDir::commit`]), and `.NAME.tmp-PID` / `.NAME.old-PID` (the model directory's names
/// before this form). A process killed with SIGKILL can leave them behind; they are safe to delete.
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
    let tmp = temp_path(path);
    let (file, _registered) = InFlight::create(&tmp, |p| {
        create_parent(p).and_then(|()| fs::File::create(p))
    })
    .map_err(io_err(&tmp))?;
    let result = (|| {
        let mut writer = BufWriter::new(file);
        fill(&mut writer).map_err(AtomicError::Fill)?;
        writer.flush().map_err(io_err(&tmp))?;
        let file = writer
            .into_inner()
            .map_err(|e| io_err(&tmp)(e.into_error()))?;
        file.sync_all().map_err(io_err(&tmp))?;
        publish(|| fs::rename(&tmp, path)).map_err(io_err(path))
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

/// Create the missing parent directories of `path`. Called under the registry's lock ([`InFlight::create`]):
/// the parent may be a temporary directory a signal handler has just removed, which must not come back.
fn create_parent(path: &Path) -> io::Result<()> {
    match parent_dir(path) {
        Some(dir) => fs::create_dir_all(dir),
        None => Ok(()),
    }
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

/// Best-effort fsync of the directory `dir` itself, so the entries written into it survive a crash once it is
/// renamed into place.
fn sync_dir(dir: &Path) {
    if let Ok(d) = fs::File::open(dir) {
        let _ = d.sync_all();
    }
}

/// A directory assembled under a hidden temporary name beside its target (`.NAME.tmp-PID-N`), then put in the
/// target's place in one step by [`StagedDir::commit`]. It is registered for [`remove_in_flight`] while it
/// exists, and removed when dropped without being committed (an error on the way).
pub struct StagedDir {
    tmp: PathBuf,
    target: PathBuf,
    committed: bool,
    _registered: InFlight,
}

impl StagedDir {
    /// Create the temporary directory for `target` (and `target`'s missing parent directories).
    pub fn new(target: &Path) -> io::Result<StagedDir> {
        let tmp = temp_path(target);
        let ((), registered) =
            InFlight::create(&tmp, |p| create_parent(p).and_then(|()| fs::create_dir(p)))?;
        Ok(StagedDir {
            tmp,
            target: target.to_path_buf(),
            committed: false,
            _registered: registered,
        })
    }

    /// The temporary directory to write into.
    pub fn path(&self) -> &Path {
        &self.tmp
    }

    /// The directory it will become.
    pub fn target(&self) -> &Path {
        &self.target
    }

    /// Put the complete directory in its target's place, as one step a signal cannot split ([`publish`]).
    ///
    /// Without `replace` the target must not exist: if it does (another process wrote it since the caller
    /// checked), this fails with [`io::ErrorKind::AlreadyExists`] and leaves it untouched (`renameat2` with
    /// `RENAME_NOREPLACE` on Linux). With `replace`, an existing target is swapped out in one step (`renameat2`
    /// with `RENAME_EXCHANGE`), so it names the old or the new directory at every moment, and the old one is
    /// then deleted. Where the exchange is not available the old directory is first renamed aside to
    /// `.NAME.old-PID-N`, which leaves a moment without the target (the old one survives under that name).
    pub fn commit(mut self, replace: bool) -> io::Result<()> {
        sync_dir(&self.tmp);
        let aside = hidden_sibling(&self.target, "old");
        let _aside = InFlight::new(&aside);
        let (tmp, target) = (&self.tmp, &self.target);
        let old = publish(|| {
            if replace {
                match exchange(tmp, target) {
                    Ok(()) => return Ok(Some(tmp.clone())),
                    // No target: published by the rename below.
                    Err(e) if e.kind() == io::ErrorKind::NotFound => {}
                    // The exchange failed before anything moved: fall back to two renames.
                    Err(_) if fs::symlink_metadata(target).is_ok() => {
                        fs::rename(target, &aside)?;
                        if let Err(e) = fs::rename(tmp, target) {
                            let _ = fs::rename(&aside, target);
                            return Err(e);
                        }
                        return Ok(Some(aside.clone()));
                    }
                    Err(_) => {}
                }
            }
            rename_noreplace(tmp, target).map(|()| None)
        })?;
        self.committed = true;
        sync_parent_dir(&self.target);
        match old {
            Some(old) => fs::remove_dir_all(old),
            None => Ok(()),
        }
    }
}

impl Drop for StagedDir {
    fn drop(&mut self) {
        if !self.committed {
            let _ = fs::remove_dir_all(&self.tmp);
        }
    }
}

/// An advisory lock on an output a command is about to write: the file `.NAME.lock` beside it, locked with
/// `flock` while the command runs and removed when the lock is dropped. Two processes writing one output
/// (two `dpvae train --out SAME`) used to both succeed, the later silently replacing the other's result; the
/// second now fails at once. Only dpvae takes it: it does not stop other programs.
pub struct OutputLock {
    path: PathBuf,
    _file: fs::File,
    _registered: InFlight,
}

impl OutputLock {
    /// Take the lock on `target`, creating its missing parent directories. When another process holds it,
    /// fails at once with [`io::ErrorKind::WouldBlock`] and a message naming `target`.
    pub fn acquire(target: &Path) -> io::Result<OutputLock> {
        if let Some(dir) = parent_dir(target) {
            fs::create_dir_all(dir)?;
        }
        let name = target
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_else(|| "output".to_string());
        let path = target.with_file_name(format!(".{name}.lock"));
        loop {
            let file = fs::OpenOptions::new()
                .read(true)
                .write(true)
                .create(true)
                .truncate(false)
                .open(&path)?;
            match file.try_lock() {
                Ok(()) => {}
                Err(fs::TryLockError::WouldBlock) => {
                    return Err(io::Error::new(
                        io::ErrorKind::WouldBlock,
                        format!(
                            "another dpvae process is writing {} now (it holds {}); wait for it to finish, \
                             or choose another output",
                            target.display(),
                            path.display()
                        ),
                    ));
                }
                Err(fs::TryLockError::Error(e)) => return Err(e),
            }
            // The holder removes the file when it is done: if it did so between our open and our lock, the
            // file we locked is no longer the one at `path`, and we start again.
            if same_file(&file, &path) {
                let registered = InFlight::new(&path);
                return Ok(OutputLock {
                    path,
                    _file: file,
                    _registered: registered,
                });
            }
        }
    }
}

impl Drop for OutputLock {
    fn drop(&mut self) {
        // Removed while still locked (the file is closed, and the lock released, after this).
        let _ = fs::remove_file(&self.path);
    }
}

#[cfg(unix)]
fn same_file(file: &fs::File, path: &Path) -> bool {
    use std::os::unix::fs::MetadataExt;
    match (file.metadata(), fs::metadata(path)) {
        (Ok(a), Ok(b)) => a.dev() == b.dev() && a.ino() == b.ino(),
        _ => false,
    }
}

#[cfg(not(unix))]
fn same_file(_: &fs::File, path: &Path) -> bool {
    path.exists()
}

/// Rename `from` to `to` unless `to` exists ([`io::ErrorKind::AlreadyExists`] then). On Linux one
/// `renameat2(RENAME_NOREPLACE)`; on file systems or platforms without it, a check and a rename (a rename over
/// an existing non-empty directory fails anyway).
fn rename_noreplace(from: &Path, to: &Path) -> io::Result<()> {
    #[cfg(target_os = "linux")]
    match renameat2(from, to, libc::RENAME_NOREPLACE) {
        Err(e) if matches!(e.raw_os_error(), Some(libc::EINVAL | libc::ENOSYS)) => {}
        done => return done,
    }
    if fs::symlink_metadata(to).is_ok() {
        return Err(io::ErrorKind::AlreadyExists.into());
    }
    fs::rename(from, to)
}

#[cfg(target_os = "linux")]
fn exchange(a: &Path, b: &Path) -> io::Result<()> {
    renameat2(a, b, libc::RENAME_EXCHANGE)
}

#[cfg(target_os = "linux")]
fn renameat2(a: &Path, b: &Path, flags: libc::c_uint) -> io::Result<()> {
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
            flags,
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

    fn staged(target: &Path, file: &str, content: &str) -> StagedDir {
        let staged = StagedDir::new(target).unwrap();
        fs::write(staged.path().join(file), content).unwrap();
        staged
    }

    fn entries(dir: &Path) -> Vec<String> {
        let mut names: Vec<String> = fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        names
    }

    #[test]
    fn replacing_a_directory_keeps_its_name_and_drops_the_old_content() {
        let root = tempfile::tempdir().unwrap();
        let dir = root.path().join("m");
        fs::create_dir(&dir).unwrap();
        fs::write(dir.join("a"), b"old").unwrap();
        fs::write(dir.join("stale"), b"old").unwrap();
        staged(&dir, "a", "new").commit(true).unwrap();
        assert_eq!(fs::read(dir.join("a")).unwrap(), b"new");
        assert!(!dir.join("stale").exists());
        assert_eq!(entries(root.path()), ["m"]);
    }

    /// Two writers of one output without `--force` both succeeded, the later replacing the other's output.
    #[test]
    fn a_target_that_appeared_meanwhile_is_not_replaced_without_replace() {
        let root = tempfile::tempdir().unwrap();
        let dir = root.path().join("m");
        let first = staged(&dir, "a", "first");
        let second = staged(&dir, "a", "second");
        first.commit(false).unwrap();
        let err = second.commit(false).unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::AlreadyExists);
        assert_eq!(fs::read_to_string(dir.join("a")).unwrap(), "first");
        // The loser's temporary is removed; an empty directory is not replaced either.
        assert_eq!(entries(root.path()), ["m"]);
        let empty = root.path().join("e");
        fs::create_dir(&empty).unwrap();
        let err = staged(&empty, "a", "x").commit(false).unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::AlreadyExists);
        assert_eq!(entries(&empty), Vec::<String>::new());
        staged(&empty, "a", "x").commit(true).unwrap();
        assert_eq!(entries(&empty), ["a"]);
    }

    #[test]
    fn a_dropped_staged_directory_is_removed() {
        let root = tempfile::tempdir().unwrap();
        drop(staged(&root.path().join("m"), "a", "x"));
        assert_eq!(entries(root.path()), Vec::<String>::new());
    }

    #[test]
    fn a_second_lock_on_one_output_fails_naming_it() {
        let root = tempfile::tempdir().unwrap();
        let target = root.path().join("m");
        let lock = OutputLock::acquire(&target).unwrap();
        let Err(err) = OutputLock::acquire(&target) else {
            panic!("a second lock was granted");
        };
        assert_eq!(err.kind(), io::ErrorKind::WouldBlock);
        assert!(
            err.to_string().contains(&target.display().to_string()),
            "{err}"
        );
        drop(lock);
        assert_eq!(entries(root.path()), Vec::<String>::new());
        drop(OutputLock::acquire(&target).unwrap());
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
