//! Writing a file the user owns: resolve symlinks, back up, write atomically, verify, roll
//! back.
//!
//! A write goes to a temp file in the target's own directory (same filesystem, so the rename
//! is atomic), takes the original's permissions, is synced, renamed over the target, then
//! read back and compared byte for byte. The backup sits beside the target as
//! `<file>.mcp-gateway.bak.<UTC timestamp>`; a target that did not exist gets an empty
//! `….absent` marker instead, so rolling back deletes what we created.

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

use super::ExportError;

const BACKUP_TAG: &str = ".mcp-gateway.bak.";
const ABSENT: &str = ".absent";

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
    match fs::read(path) {
        Ok(bytes) => String::from_utf8(bytes)
            .map(Some)
            .map_err(|_| ExportError::NotUtf8(path.to_path_buf())),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(ExportError::io(path, e)),
    }
}

/// Copies the current file (or an absence marker) beside it; returns the backup's path.
pub fn backup(path: &Path) -> Result<PathBuf, ExportError> {
    let stamp = timestamp();
    let exists = path.exists();
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        fs::create_dir_all(dir).map_err(|e| ExportError::io(dir, e))?;
    }
    for n in 0..1000 {
        let suffix = if n == 0 {
            String::new()
        } else {
            format!("-{n}")
        };
        let absent = if exists { "" } else { ABSENT };
        let name = format!("{}{BACKUP_TAG}{stamp}{suffix}{absent}", file_name(path));
        let candidate = path.with_file_name(name);
        if candidate.exists() {
            continue;
        }
        if exists {
            fs::copy(path, &candidate).map_err(|e| ExportError::io(&candidate, e))?;
        } else {
            fs::write(&candidate, b"").map_err(|e| ExportError::io(&candidate, e))?;
        }
        return Ok(candidate);
    }
    Err(ExportError::io(
        path,
        std::io::Error::other("too many backups this second"),
    ))
}

/// Atomically replaces `path` with `contents` and checks it reads back the same.
pub fn write_atomic(path: &Path, contents: &str) -> Result<(), ExportError> {
    let dir = path
        .parent()
        .filter(|d| !d.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    fs::create_dir_all(dir).map_err(|e| ExportError::io(dir, e))?;
    let tmp = dir.join(format!(
        ".{}.mcp-gateway.tmp.{}",
        file_name(path),
        std::process::id()
    ));
    let result = (|| {
        let mut f = fs::File::create(&tmp)?;
        f.write_all(contents.as_bytes())?;
        if let Ok(meta) = fs::metadata(path) {
            f.set_permissions(meta.permissions())?;
        }
        f.sync_all()?;
        fs::rename(&tmp, path)
    })();
    if let Err(e) = result {
        let _ = fs::remove_file(&tmp);
        return Err(ExportError::io(path, e));
    }
    match fs::read(path) {
        Ok(back) if back == contents.as_bytes() => Ok(()),
        Ok(_) => Err(ExportError::Verify(path.to_path_buf())),
        Err(e) => Err(ExportError::io(path, e)),
    }
}

/// Restores the file a backup was taken of, byte for byte (or removes it when the backup
/// says it did not exist). Returns the restored path.
pub fn rollback(backup: &Path) -> Result<PathBuf, ExportError> {
    let name = file_name(backup);
    let Some(at) = name.rfind(BACKUP_TAG) else {
        return Err(ExportError::NotBackup(backup.to_path_buf()));
    };
    let target = backup.with_file_name(&name[..at]);
    let target = resolve(&target)?;
    if name.ends_with(ABSENT) {
        match fs::remove_file(&target) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(ExportError::io(&target, e)),
        }
        return Ok(target);
    }
    let bytes = fs::read(backup).map_err(|e| ExportError::io(backup, e))?;
    let text = String::from_utf8(bytes).map_err(|_| ExportError::NotUtf8(backup.to_path_buf()))?;
    write_atomic(&target, &text)?;
    Ok(target)
}

fn file_name(path: &Path) -> String {
    path.file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default()
}

/// `YYYYMMDDTHHMMSSZ` in UTC, without a date crate.
fn timestamp() -> String {
    let secs = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let (days, rem) = (secs / 86_400, secs % 86_400);
    let (y, m, d) = civil_from_days(days as i64);
    format!(
        "{y:04}{m:02}{d:02}T{:02}{:02}{:02}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

/// Howard Hinnant's days-to-civil algorithm.
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn civil_dates() {
        assert_eq!(civil_from_days(0), (1970, 1, 1));
        assert_eq!(civil_from_days(20_000), (2024, 10, 4));
        assert_eq!(timestamp().len(), 16);
    }
}
