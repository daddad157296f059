//! Approvals of capability files, kept outside the files: `<data dir>/capability-pins.json`
//! maps each file (its canonical absolute path) to the SHA-256 of the text the user
//! approved. Whoever can edit a capability file cannot edit its approval along with it,
//! so an edited file stays quarantined until the user approves it again (`cap pin`).
//!
//! A file the gateway has never seen is recorded on first load (trust on first use, as for
//! a backend's tools); `cap pin` and `cap import` record what the user ran them on. The
//! hash is [`super::pin::digest`]: the text without any `sha256:` line, so an in-file pin
//! line of the older format neither helps nor hurts.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};

use crate::export::file::{Access, write_with};

/// The store's file name inside the data directory.
pub const PINS_FILE: &str = "capability-pins.json";

/// One approval.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Record {
    pub sha256: String,
    /// Who approved it: `cap pin`, `cap import`, `first load` or `in-file pin`.
    pub how: String,
    /// Seconds since the Unix epoch.
    pub at: u64,
}

/// Canonical path → approval.
pub type Pins = BTreeMap<String, Record>;

#[derive(Debug, Default, Serialize, Deserialize)]
struct StoreFile {
    version: u32,
    files: Pins,
}

/// Why the store could not be read or written.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("cannot read the capability pins {}: {source}", path.display())]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error(
        "the capability pins {} are damaged ({source}); move the file away to start over \
         (every capability file is then approved again on its next load)",
        path.display()
    )]
    Damaged {
        path: PathBuf,
        source: serde_json::Error,
    },
    #[error("cannot write the capability pins {}: {message}", path.display())]
    Write { path: PathBuf, message: String },
}

/// The pin store at one path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PinStore {
    path: PathBuf,
}

impl PinStore {
    /// The store in the gateway's data directory; `None` when there is none.
    pub fn default_location() -> Option<PinStore> {
        crate::config::data_dir().map(|d| PinStore::at(d.join(PINS_FILE)))
    }

    pub fn at(path: PathBuf) -> PinStore {
        PinStore { path }
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Every approval; none when the store does not exist yet.
    ///
    /// # Errors
    ///
    /// An unreadable or damaged store. (Callers treat that as "nothing is approved"
    /// only where refusing is the safe side.)
    pub fn read(&self) -> Result<Pins, StoreError> {
        let text = match std::fs::read_to_string(&self.path) {
            Ok(text) => text,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Pins::new()),
            Err(source) => {
                return Err(StoreError::Read {
                    path: self.path.clone(),
                    source,
                });
            }
        };
        let file: StoreFile =
            serde_json::from_str(&text).map_err(|source| StoreError::Damaged {
                path: self.path.clone(),
                source,
            })?;
        Ok(file.files)
    }

    /// Records approvals of `(file, sha256)` by `how`, keeping every other record.
    /// Written to a temp file and renamed, so a reader never sees half a store.
    ///
    /// # Errors
    ///
    /// The store cannot be read (damaged) or written.
    pub fn record(&self, approvals: &[(PathBuf, String)], how: &str) -> Result<(), StoreError> {
        if approvals.is_empty() {
            return Ok(());
        }
        let mut files = self.read()?;
        let at = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_secs());
        for (file, sha256) in approvals {
            files.insert(
                key(file),
                Record {
                    sha256: sha256.clone(),
                    how: how.to_owned(),
                    at,
                },
            );
        }
        let mut text =
            serde_json::to_string_pretty(&StoreFile { version: 1, files }).unwrap_or_default();
        text.push('\n');
        // Atomic and owner-only, like the tool pins: it names the files a person uses.
        write_with(&self.path, text.as_bytes(), Access::Private).map_err(|e| StoreError::Write {
            path: self.path.clone(),
            message: format!("{e:#}"),
        })
    }
}

/// The key a file is recorded under: its canonical absolute path (a symlinked directory
/// and its target are one file), or the absolute path when it cannot be resolved.
pub fn key(file: &Path) -> String {
    std::fs::canonicalize(file)
        .or_else(|_| std::path::absolute(file))
        .unwrap_or_else(|_| file.to_path_buf())
        .to_string_lossy()
        .into_owned()
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn records_survive_and_merge() {
        let dir = std::env::temp_dir().join(format!("mcp-gw-pins-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let store = PinStore::at(dir.join("sub").join(PINS_FILE));
        assert!(store.read().unwrap().is_empty());
        store
            .record(&[(dir.join("a.yaml"), "aa".into())], "cap pin")
            .unwrap();
        store
            .record(&[(dir.join("b.yaml"), "bb".into())], "first load")
            .unwrap();
        let pins = store.read().unwrap();
        assert_eq!(pins.len(), 2);
        assert_eq!(pins[&key(&dir.join("a.yaml"))].sha256, "aa");
        assert_eq!(pins[&key(&dir.join("b.yaml"))].how, "first load");
        std::fs::write(store.path(), "{ not json").unwrap();
        assert!(store.read().unwrap_err().to_string().contains("damaged"));
        let _ = std::fs::remove_dir_all(&dir);
    }
}
