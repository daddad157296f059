//! Backups of user files, and rollbacks that never destroy newer data.
//!
//! Before the gateway writes a file it copies it beside itself as
//! `<file>.mcp-gateway.bak.<UTC time>`; a file that did not exist gets an empty `….absent`
//! marker instead, so rolling back deletes what we created. Beside each backup a
//! `<backup>.sha256` record holds the hash of what the gateway then wrote, in `sha256sum`
//! format (`sha256sum -c` in that folder says whether the file is still ours). A rollback
//! compares the file with that record: a client (or the user) may have written its own data
//! since, and restoring would silently throw it away, so it refuses, shows what would be lost,
//! and names `--force`. Even forced, the current file is first saved as a new backup.
//!
//! Only the newest [`KEEP`] backups of each file are kept; older ones (and their records)
//! are removed when a new one is made, never the ones a printed rollback command names.

use std::fs;
use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

use sha2::{Digest, Sha256};

use super::ExportError;
use super::file::{self, Access, file_name};

const BACKUP_TAG: &str = ".mcp-gateway.bak.";
const ABSENT: &str = ".absent";
const RECORD: &str = ".sha256";
/// How a record says the gateway left no file (it deleted one).
const NO_FILE: &str = "-";
/// Backups kept per file. Enough to step back through a few edits; few enough that a
/// config folder does not fill with them.
pub const KEEP: usize = 5;
/// Lines of diff shown when a rollback is refused; the rest is counted.
const DIFF_LINES: usize = 40;

/// What a rollback did.
#[derive(Debug)]
pub struct Restored {
    /// The file restored (or removed).
    pub target: PathBuf,
    /// The file already matched the backup; nothing was written.
    pub unchanged: bool,
    /// With `force`: the backup the file's newer content was saved to first.
    pub saved: Option<PathBuf>,
}

/// Copies the current file (or an absence marker) beside it; returns the backup's path.
pub fn backup(path: &Path) -> Result<PathBuf, ExportError> {
    let stamp = timestamp();
    let exists = path.exists();
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        fs::create_dir_all(dir).map_err(|e| ExportError::io(dir, e))?;
    }
    // Numbered after the newest backup of this second, never in a gap a prune left, so the
    // names sort in the order the backups were made.
    let first = backups_of(path)?
        .into_iter()
        .filter(|((s, _), _)| *s == stamp)
        .map(|((_, n), _)| n + 1)
        .max()
        .unwrap_or(0);
    for n in first..first + 1000 {
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
            // fs::copy keeps the permissions: a 0600 file's backup is 0600 too.
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

/// Records what the gateway wrote after taking `backup` (`None`: it removed the file).
pub fn record(backup: &Path, written: Option<&[u8]>) -> Result<(), ExportError> {
    let target = target_of(backup)?;
    let hash = written.map_or_else(|| NO_FILE.to_owned(), sha256);
    let line = format!("{hash}  {}\n", file_name(&target));
    let at = record_path(backup);
    fs::write(&at, line).map_err(|e| ExportError::io(&at, e))
}

/// Removes all but the newest [`KEEP`] backups of `path` (and their records), sparing `keep`.
pub fn prune(path: &Path, keep: &[PathBuf]) -> Result<(), ExportError> {
    let mut all = backups_of(path)?;
    // Newest first.
    all.sort_by(|a, b| b.0.cmp(&a.0));
    for (_, old) in all.into_iter().skip(KEEP) {
        if keep.iter().any(|k| same_file(k, &old)) {
            continue;
        }
        fs::remove_file(&old).map_err(|e| ExportError::io(&old, e))?;
        let _ = fs::remove_file(record_path(&old));
    }
    Ok(())
}

/// A backup's place in time: its timestamp, then the counter of backups within one second.
type Age = (String, u32);

/// The backups of `path` with their ages.
fn backups_of(path: &Path) -> Result<Vec<(Age, PathBuf)>, ExportError> {
    let dir = path
        .parent()
        .filter(|d| !d.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let prefix = format!("{}{BACKUP_TAG}", file_name(path));
    let entries = match fs::read_dir(dir) {
        Ok(e) => e,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(ExportError::io(dir, e)),
    };
    let mut out = Vec::new();
    for entry in entries.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        let Some(rest) = name.strip_prefix(&prefix) else {
            continue;
        };
        if rest.ends_with(RECORD) {
            continue;
        }
        let rest = rest.strip_suffix(ABSENT).unwrap_or(rest);
        let (stamp, n) = match rest.split_once('-') {
            Some((s, n)) => (s, n.parse().unwrap_or(0)),
            None => (rest, 0),
        };
        out.push(((stamp.to_owned(), n), entry.path()));
    }
    Ok(out)
}

/// Restores the file a backup was taken of, byte for byte (or removes it when the backup
/// says it did not exist). Refuses, saying what would be lost, when the file is no longer what
/// the gateway wrote; `force` restores anyway after saving the current file as a new backup.
pub fn rollback(backup: &Path, force: bool) -> Result<Restored, ExportError> {
    let target = file::resolve(&target_of(backup)?)?;
    let absent = file_name(backup).ends_with(ABSENT);
    let wanted: Option<Vec<u8>> = if absent {
        None
    } else {
        Some(fs::read(backup).map_err(|e| ExportError::io(backup, e))?)
    };
    let current = file::read_bytes(&target)?;
    if current == wanted {
        return Ok(Restored {
            target,
            unchanged: true,
            saved: None,
        });
    }
    let expected = read_record(backup);
    let ours = match (&expected, &current) {
        (Some(Some(hash)), Some(now)) => *hash == sha256(now),
        (Some(None), None) => true,
        // The file is gone: restoring it loses nothing.
        (_, None) => true,
        _ => false,
    };
    if !ours && !force {
        return Err(refusal(
            backup,
            &target,
            expected.is_some(),
            &current,
            &wanted,
        ));
    }
    // Forced, the current file is saved first whatever it holds: a forced rollback can
    // always be undone.
    let saved = if force {
        Some(self::backup(&target)?)
    } else {
        None
    };
    match &wanted {
        Some(bytes) => file::write_with(&target, bytes, Access::Keep)?,
        None => match fs::remove_file(&target) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(ExportError::io(&target, e)),
        },
    }
    if let Some(saved) = &saved {
        // Restored already: these failures must not read as a failed rollback.
        if let Err(e) = record(saved, wanted.as_deref()) {
            tracing::warn!("{e}: undoing this rollback will need --force");
        }
        if let Err(e) = prune(&target, &[saved.clone(), backup.to_path_buf()]) {
            tracing::warn!("removing old backups: {e}");
        }
    }
    Ok(Restored {
        target,
        unchanged: false,
        saved,
    })
}

/// Puts back a backup taken moments ago, when what we wrote failed its check. No record
/// check: the file holds exactly what this process just wrote.
pub(super) fn undo(backup: &Path, target: &Path) -> Result<(), ExportError> {
    if file_name(backup).ends_with(ABSENT) {
        let _ = fs::remove_file(target);
    } else {
        let bytes = fs::read(backup).map_err(|e| ExportError::io(backup, e))?;
        file::write_with(target, &bytes, Access::Keep)?;
    }
    let _ = fs::remove_file(backup);
    Ok(())
}

fn refusal(
    backup: &Path,
    target: &Path,
    has_record: bool,
    current: &Option<Vec<u8>>,
    wanted: &Option<Vec<u8>>,
) -> ExportError {
    let why = if has_record {
        "changed since mcp-gateway wrote it"
    } else {
        "may hold changes made after this backup (it has no record of what mcp-gateway wrote)"
    };
    let text = |b: &Option<Vec<u8>>| {
        b.as_deref()
            .map(|b| String::from_utf8_lossy(b).into_owned())
            .unwrap_or_default()
    };
    let name = target.display().to_string();
    let after = if wanted.is_some() {
        format!("{name} (after rollback)")
    } else {
        format!("{name} (deleted by rollback)")
    };
    let (now, then) = (text(current), text(wanted));
    let diff = similar::TextDiff::from_lines(now.as_str(), then.as_str())
        .unified_diff()
        .context_radius(2)
        .header(&format!("{name} (now)"), &after)
        .to_string();
    // Client files hold tokens; the diff goes to the terminal.
    let diff = super::secret::mask_text(&diff);
    let lines: Vec<&str> = diff.lines().collect();
    let mut shown = lines
        .iter()
        .take(DIFF_LINES)
        .copied()
        .collect::<Vec<_>>()
        .join("\n");
    if lines.len() > DIFF_LINES {
        shown.push_str(&format!("\n… {} more lines", lines.len() - DIFF_LINES));
    }
    ExportError::Changed {
        path: target.to_path_buf(),
        backup: backup.to_path_buf(),
        why: why.to_owned(),
        diff: shown,
    }
}

/// `Some(Some(hash))`: the gateway wrote that; `Some(None)`: it removed the file; `None`: no
/// readable record.
fn read_record(backup: &Path) -> Option<Option<String>> {
    let text = fs::read_to_string(record_path(backup)).ok()?;
    let word = text.split_whitespace().next()?;
    if word == NO_FILE {
        Some(None)
    } else if word.len() == 64 && word.bytes().all(|b| b.is_ascii_hexdigit()) {
        Some(Some(word.to_ascii_lowercase()))
    } else {
        None
    }
}

/// The file a backup was taken of.
fn target_of(backup: &Path) -> Result<PathBuf, ExportError> {
    let name = file_name(backup);
    match name.rfind(BACKUP_TAG) {
        Some(at) if !name.ends_with(RECORD) => Ok(backup.with_file_name(&name[..at])),
        _ => Err(ExportError::NotBackup(backup.to_path_buf())),
    }
}

fn record_path(backup: &Path) -> PathBuf {
    backup.with_file_name(format!("{}{RECORD}", file_name(backup)))
}

fn same_file(a: &Path, b: &Path) -> bool {
    a == b
        || match (fs::canonicalize(a), fs::canonicalize(b)) {
            (Ok(a), Ok(b)) => a == b,
            _ => false,
        }
}

fn sha256(bytes: &[u8]) -> String {
    Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// `YYYYMMDDTHHMMSSZ` in UTC, without a date crate.
fn timestamp() -> String {
    let secs = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let (days, rem) = (secs / 86_400, secs % 86_400);
    let (y, m, d) = crate::clock::civil_from_days(days as i64);
    format!(
        "{y:04}{m:02}{d:02}T{:02}{:02}{:02}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn civil_dates() {
        assert_eq!(crate::clock::civil_from_days(0), (1970, 1, 1));
        assert_eq!(crate::clock::civil_from_days(20_000), (2024, 10, 4));
        assert_eq!(timestamp().len(), 16);
    }

    #[test]
    fn a_backup_without_a_record_is_restored_only_when_forced() {
        let dir = std::env::temp_dir().join(format!("mcpgw-norecord-{}", std::process::id()));
        fs::create_dir_all(&dir).unwrap();
        let f = dir.join("c.json");
        fs::write(&f, "old\n").unwrap();
        let b = backup(&f).unwrap();
        fs::write(&f, "new\n").unwrap();
        let err = rollback(&b, false).unwrap_err().to_string();
        assert!(err.contains("no record of what mcp-gateway wrote"), "{err}");
        assert!(err.contains("-new") && err.contains("+old"), "{err}");
        assert_eq!(fs::read_to_string(&f).unwrap(), "new\n");
        let done = rollback(&b, true).unwrap();
        assert_eq!(fs::read_to_string(&f).unwrap(), "old\n");
        let saved = done.saved.unwrap();
        assert_eq!(fs::read_to_string(&saved).unwrap(), "new\n");
        assert!(rollback(&saved, false).is_ok());
        assert_eq!(fs::read_to_string(&f).unwrap(), "new\n");
        fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn backups_sort_by_time_then_counter() {
        let dir = std::env::temp_dir().join(format!("mcpgw-prune-{}", std::process::id()));
        fs::create_dir_all(&dir).unwrap();
        let f = dir.join("a.json");
        for name in [
            "a.json.mcp-gateway.bak.20260101T000000Z",
            "a.json.mcp-gateway.bak.20260101T000000Z-10",
            "a.json.mcp-gateway.bak.20260101T000000Z-2.absent",
            "a.json.mcp-gateway.bak.20260101T000000Z-2.absent.sha256",
            "b.json.mcp-gateway.bak.20270101T000000Z",
        ] {
            fs::write(dir.join(name), "").unwrap();
        }
        let mut all = backups_of(&f).unwrap();
        all.sort_by(|a, b| a.0.cmp(&b.0));
        let names: Vec<String> = all.iter().map(|(_, p)| file_name(p)).collect();
        assert_eq!(
            names,
            [
                "a.json.mcp-gateway.bak.20260101T000000Z",
                "a.json.mcp-gateway.bak.20260101T000000Z-2.absent",
                "a.json.mcp-gateway.bak.20260101T000000Z-10",
            ]
        );
        fs::remove_dir_all(&dir).unwrap();
    }
}
