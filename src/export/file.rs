//! Writing a file the user owns: resolve symlinks, write atomically, verify.
//!
//! A write goes to a temp file in the target's own directory (same filesystem, so the rename
//! is atomic), takes the original's permissions (or owner-only ones when it holds secrets),
//! is synced, renamed over the target, then read back and compared byte for byte. Backups and
//! rollbacks live in `export::backup`, which uses this module. This is the only writer of
//! user files in the crate.

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};

use super::ExportError;

/// Who may read the file once written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    /// The existing file's permissions; a new file gets the usual ones (umask).
    Keep,
    /// Owner only: the existing permissions without any group or other bits, `0600` for a new
    /// file. For files that hold secrets.
    Private,
}

/// The real file behind `path`: symlinks are followed so the link stays a link and the
/// edit lands in its target. A link whose target is not writable is refused with the reason
/// (Nix home-manager links these into the read-only store).
pub fn resolve(path: &Path) -> Result<PathBuf, ExportError> {
    let Ok(meta) = fs::symlink_metadata(path) else {
        return Ok(path.to_path_buf());
    };
    if !meta.file_type().is_symlink() {
        return Ok(path.to_path_buf());
    }
    let target = fs::canonicalize(path).map_err(|e| ExportError::io(path, e))?;
    let readonly = fs::metadata(&target).is_ok_and(|m| m.permissions().readonly())
        || target
            .parent()
            .and_then(|d| fs::metadata(d).ok())
            .is_some_and(|m| m.permissions().readonly());
    if readonly {
        return Err(ExportError::ReadOnlyLink {
            link: path.to_path_buf(),
            target,
        });
    }
    Ok(target)
}

/// Reads `path` as UTF-8; `None` when it does not exist.
pub fn read(path: &Path) -> Result<Option<String>, ExportError> {
    match read_bytes(path)? {
        Some(bytes) => String::from_utf8(bytes)
            .map(Some)
            .map_err(|_| ExportError::NotUtf8(path.to_path_buf())),
        None => Ok(None),
    }
}

/// Reads `path`; `None` when it does not exist.
pub fn read_bytes(path: &Path) -> Result<Option<Vec<u8>>, ExportError> {
    match fs::read(path) {
        Ok(bytes) => Ok(Some(bytes)),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(ExportError::io(path, e)),
    }
}

/// Whether every user of the machine may read `path` (false when it does not exist, and
/// always true where there are no Unix permissions).
pub fn world_readable(path: &Path) -> bool {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        fs::metadata(path).is_ok_and(|m| m.permissions().mode() & 0o004 != 0)
    }
    #[cfg(not(unix))]
    {
        path.exists()
    }
}

/// Atomically replaces `path` with `contents`, keeping its permissions, and checks it reads
/// back the same.
pub fn write_atomic(path: &Path, contents: &str) -> Result<(), ExportError> {
    write_with(path, contents.as_bytes(), Access::Keep)
}

/// [`write_atomic`] with a choice of who may read the result.
pub fn write_with(path: &Path, contents: &[u8], access: Access) -> Result<(), ExportError> {
    let dir = parent(path);
    fs::create_dir_all(dir).map_err(|e| ExportError::io(dir, e))?;
    let tmp = temp_name(path);
    let existing = fs::metadata(path).ok().map(|m| m.permissions());
    let result = (|| {
        let mut f = create_temp(&tmp, existing.is_some() || access == Access::Private)?;
        f.write_all(contents)?;
        if let Some(perms) = final_permissions(existing, access) {
            f.set_permissions(perms)?;
        }
        f.sync_all()?;
        fs::rename(&tmp, path)?;
        // The rename is durable only once the directory entry is.
        if let Ok(d) = fs::File::open(dir) {
            let _ = d.sync_all();
        }
        Ok::<(), std::io::Error>(())
    })();
    if let Err(e) = result {
        let _ = fs::remove_file(&tmp);
        return Err(ExportError::io(path, e));
    }
    match fs::read(path) {
        Ok(back) if back == contents => Ok(()),
        Ok(_) => Err(ExportError::Verify(path.to_path_buf())),
        Err(e) => Err(ExportError::io(path, e)),
    }
}

/// Writes several files, each atomically and verified as [`write_atomic`] does, but flushed to
/// disk together: a temp file per target is written, then all are synced, then renamed, then
/// each directory is synced once. A thousand one-file flushes (an OpenAPI import) cost seconds
/// on a busy disk; one batch costs about one flush. On an error no target is half-written.
pub fn write_all_atomic(files: &[(PathBuf, String)]) -> Result<(), ExportError> {
    let mut staged: Vec<(PathBuf, &Path)> = Vec::with_capacity(files.len());
    let result = (|| {
        for (path, contents) in files {
            let dir = parent(path);
            fs::create_dir_all(dir).map_err(|e| ExportError::io(dir, e))?;
            let tmp = temp_name(path);
            let existing = fs::metadata(path).ok().map(|m| m.permissions());
            let write = || {
                let mut f = create_temp(&tmp, existing.is_some())?;
                f.write_all(contents.as_bytes())?;
                if let Some(perms) = existing {
                    f.set_permissions(perms)?;
                }
                Ok::<(), std::io::Error>(())
            };
            staged.push((tmp.clone(), path));
            write().map_err(|e| ExportError::io(path, e))?;
        }
        sync_all_of(&staged)
    })();
    if let Err(e) = result {
        for (tmp, _) in &staged {
            let _ = fs::remove_file(tmp);
        }
        return Err(e);
    }
    let mut dirs: Vec<&Path> = Vec::new();
    for (i, (tmp, path)) in staged.iter().enumerate() {
        if let Err(e) = fs::rename(tmp, path) {
            for (rest, _) in &staged[i..] {
                let _ = fs::remove_file(rest);
            }
            return Err(ExportError::io(path, e));
        }
        if !dirs.contains(&parent(path)) {
            dirs.push(parent(path));
        }
    }
    for dir in dirs {
        if let Ok(d) = fs::File::open(dir) {
            let _ = d.sync_all();
        }
    }
    for (path, contents) in files {
        match fs::read(path) {
            Ok(back) if back == contents.as_bytes() => {}
            Ok(_) => return Err(ExportError::Verify(path.clone())),
            Err(e) => return Err(ExportError::io(path, e)),
        }
    }
    Ok(())
}

/// Syncs the staged temp files after all are written, from a few threads at once: the
/// filesystem's journal commits concurrent syncs together, where one after another each
/// waits for its own commit.
fn sync_all_of(staged: &[(PathBuf, &Path)]) -> Result<(), ExportError> {
    const THREADS: usize = 16;
    let chunk = staged.len().div_ceil(THREADS).max(1);
    std::thread::scope(|scope| {
        let workers: Vec<_> = staged
            .chunks(chunk)
            .map(|part| {
                scope.spawn(move || {
                    for (tmp, path) in part {
                        fs::File::open(tmp)
                            .and_then(|f| f.sync_all())
                            .map_err(|e| ExportError::io(path, e))?;
                    }
                    Ok(())
                })
            })
            .collect();
        workers.into_iter().try_for_each(|w| {
            w.join().unwrap_or_else(|_| {
                Err(ExportError::io(
                    Path::new("."),
                    std::io::Error::other("a sync thread panicked"),
                ))
            })
        })
    })
}

fn parent(path: &Path) -> &Path {
    path.parent()
        .filter(|d| !d.as_os_str().is_empty())
        .unwrap_or(Path::new("."))
}

fn temp_name(path: &Path) -> PathBuf {
    parent(path).join(format!(
        ".{}.mcp-gateway.tmp.{}",
        file_name(path),
        std::process::id()
    ))
}

/// The temp file; `owner_only` creates it `0600` so that no moment exists in which another
/// user could open it, whatever mode it ends with.
fn create_temp(tmp: &Path, owner_only: bool) -> std::io::Result<fs::File> {
    let mut options = fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    if owner_only {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    #[cfg(not(unix))]
    let _ = owner_only;
    options.open(tmp)
}

fn final_permissions(existing: Option<fs::Permissions>, access: Access) -> Option<fs::Permissions> {
    match access {
        Access::Keep => existing,
        #[cfg(unix)]
        Access::Private => {
            use std::os::unix::fs::PermissionsExt;
            let mode = existing.map_or(0o600, |p| p.mode() & 0o700);
            Some(fs::Permissions::from_mode(mode))
        }
        #[cfg(not(unix))]
        Access::Private => existing,
    }
}

pub(super) fn file_name(path: &Path) -> String {
    path.file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default()
}
