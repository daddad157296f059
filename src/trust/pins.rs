//! The pin store: one JSON file per `gateway.yaml` in the user's data dir
//! (`<data dir>/pins/<config file name>-<hash of its path>.json`, or under `$MCP_GATEWAY_PINS`),
//! holding, per backend, each pinned tool's hash and definition and the last definition seen
//! for each tool that is held back (changed, new under `trust: review`, or blocked by the
//! scan), so `tools diff` can show old against new and `tools approve` can accept exactly
//! what was shown, without a running gateway.
//!
//! One file per config, because backend names belong to a config: two projects may each
//! call a different server `github`. The file is written atomically and owner-only (it says
//! which servers a person uses); the gateway re-reads it when its size or modification time
//! changes, which is how an approval reaches a running gateway.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

use serde::{Deserialize, Serialize};
use serde_json::Value;
use serde_json::value::RawValue;
use sha2::{Digest, Sha256};

use crate::export::file::{Access, write_with};

/// A directory to keep pin files in instead of the data dir (tests, portable setups).
pub const PINS_ENV: &str = "MCP_GATEWAY_PINS";

/// Why the pin file could not be read or written.
#[derive(Debug, thiserror::Error)]
pub enum PinError {
    #[error("cannot read the pin file {}: {source}", path.display())]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error(
        "the pin file {} is not valid ({source}); it was left as it is and no tool is pinned \
         until it is fixed or removed",
        path.display()
    )]
    Parse {
        path: PathBuf,
        source: serde_json::Error,
    },
    #[error("cannot write the pin file {}: {message}", path.display())]
    Write { path: PathBuf, message: String },
}

/// The file as stored.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct PinFile {
    /// The `gateway.yaml` these pins belong to, for a person reading the file.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub config: Option<String>,
    #[serde(default)]
    pub servers: BTreeMap<String, ServerPins>,
}

/// One backend's pins.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ServerPins {
    /// A hash of the backend's command and arguments (or URL) when it was pinned.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub origin: Option<String>,
    /// Accepted definitions, by tool name.
    #[serde(default)]
    pub tools: BTreeMap<String, Pin>,
    /// Definitions seen but held back, by tool name: what `tools approve` accepts.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub pending: BTreeMap<String, Pending>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Pin {
    pub sha256: String,
    pub definition: Definition,
    pub pinned_at: String,
    /// Accepted by a person (`tools approve`), not at first sight: the scan's blocking
    /// findings on exactly this definition are then shown as warnings.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub approved: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Pending {
    pub sha256: String,
    pub definition: Definition,
    pub seen_at: String,
    /// Why it is held, in words (`description changed`, `new tool`, `blocked: …`).
    pub why: Vec<String>,
}

/// A tool definition as stored: its JSON text, parsed only where it is shown or compared
/// part by part. Every listed tool has one, and as JSON trees they were most of a pin
/// file's memory (12 MB at 2,375 tools) and of the time to write it.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Definition(Box<RawValue>);

impl Definition {
    pub fn of(value: &Value) -> Definition {
        // A `Value` always serializes; `null` only to have no panic path.
        Definition(
            serde_json::value::to_raw_value(value).unwrap_or_else(|_| RawValue::NULL.to_owned()),
        )
    }

    /// The definition as JSON (`null` if the file held something unparsable there, which
    /// reading it already refuses).
    pub fn value(&self) -> Value {
        serde_json::from_str(self.0.get()).unwrap_or_default()
    }
}

/// Same text: a definition read back from the file equals the one written.
impl PartialEq for Definition {
    fn eq(&self, other: &Self) -> bool {
        self.0.get() == other.0.get()
    }
}

/// Where pin files live: `$MCP_GATEWAY_PINS`, else `<data dir>/pins`.
pub fn pins_dir() -> Option<PathBuf> {
    match std::env::var_os(PINS_ENV) {
        Some(dir) if !dir.is_empty() => Some(PathBuf::from(dir)),
        _ => {
            directories::ProjectDirs::from("", "", "mcp-gateway").map(|d| d.data_dir().join("pins"))
        }
    }
}

/// The pin file of the config at `source` (`None`: the built-in defaults).
pub fn pin_file(dir: &Path, source: Option<&Path>) -> PathBuf {
    let Some(source) = source else {
        return dir.join("default.json");
    };
    let real = std::fs::canonicalize(source).unwrap_or_else(|_| source.to_path_buf());
    let digest = Sha256::digest(real.to_string_lossy().as_bytes());
    let tag: String = digest[..6].iter().map(|b| format!("{b:02x}")).collect();
    let stem: String = real
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default()
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' {
                c
            } else {
                '_'
            }
        })
        .take(40)
        .collect();
    dir.join(format!("{stem}-{tag}.json"))
}

/// What identifies one version of the file on disk.
type Stamp = Option<(SystemTime, u64)>;

fn stamp(path: &Path) -> Stamp {
    let meta = std::fs::metadata(path).ok()?;
    Some((meta.modified().ok()?, meta.len()))
}

/// Reads `path`; a missing file is an empty store.
pub fn read(path: &Path) -> Result<PinFile, PinError> {
    match std::fs::read_to_string(path) {
        Ok(text) => serde_json::from_str(&text).map_err(|source| PinError::Parse {
            path: path.to_owned(),
            source,
        }),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(PinFile::default()),
        Err(source) => Err(PinError::Read {
            path: path.to_owned(),
            source,
        }),
    }
}

/// Writes `file` to `path` atomically, owner-only.
pub fn write(path: &Path, file: &PinFile) -> Result<(), PinError> {
    let mut text = serde_json::to_string_pretty(file).map_err(|e| PinError::Write {
        path: path.to_owned(),
        message: e.to_string(),
    })?;
    text.push('\n');
    write_with(path, text.as_bytes(), Access::Private).map_err(|e| PinError::Write {
        path: path.to_owned(),
        message: format!("{e:#}"),
    })
}

/// How long a pin change waits for another process (a running gateway, `tools approve`) to
/// finish its own before going ahead (see [`crate::lockfile`]).
const LOCK_WAIT: Duration = Duration::from_secs(5);

/// The lock taken across read → change → write of the pin file at `path`.
pub fn turn(path: &Path) -> Option<crate::lockfile::Held> {
    crate::lockfile::exclusive(&path.with_extension("lock"), LOCK_WAIT)
}

/// Within this long of the last write, a change is written once the burst is over, not at
/// once: hundreds of backends listing their tools at start would otherwise rewrite the
/// whole (growing) file once each, blocking the runtime's few threads on disk.
const BURST: Duration = Duration::from_millis(250);

/// The pin file of one config, cached in memory and re-read when it changes on disk.
pub struct PinStore {
    path: PathBuf,
    config: Option<String>,
    state: Arc<Mutex<Loaded>>,
}

struct Loaded {
    stamp: Stamp,
    /// `Err` while the file on disk does not parse: nothing is pinned or written then.
    file: Result<PinFile, String>,
    /// When this process last wrote the file.
    written: Option<Instant>,
    /// Changes not written yet; a thread writes them at the end of the burst.
    pending: bool,
}

impl Loaded {
    fn write(&mut self, path: &Path) {
        let Ok(file) = &self.file else { return };
        match write(path, file) {
            Ok(()) => self.stamp = stamp(path),
            // Pins stay in memory for this run; the next change tries again.
            Err(e) => tracing::error!("{e}"),
        }
        self.written = Some(Instant::now());
        self.pending = false;
    }
}

impl PinStore {
    pub fn open(path: PathBuf, config: Option<&Path>) -> PinStore {
        let store = PinStore {
            config: config.map(|c| c.display().to_string()),
            state: Arc::new(Mutex::new(Loaded {
                stamp: None,
                file: Ok(PinFile::default()),
                written: None,
                pending: false,
            })),
            path,
        };
        // A missing file is the empty store it starts with.
        store.refresh();
        store
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Loaded> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Re-read the file if it changed on disk since it was last read or written; whether
    /// it did. One `stat` when it did not.
    pub fn refresh(&self) -> bool {
        // Looked at under the lock: a write of ours in between (the burst's writer thread)
        // would otherwise look like someone else's, and every backend's tools would be
        // sorted again for nothing.
        let mut state = self.lock();
        let now = stamp(&self.path);
        if state.stamp == now {
            return false;
        }
        state.stamp = now;
        state.file = read(&self.path).map_err(|e| e.to_string());
        if let Err(e) = &state.file {
            tracing::error!("{e}");
        }
        true
    }

    /// Why the file is not in use, if it is not.
    pub fn problem(&self) -> Option<String> {
        self.lock().file.as_ref().err().cloned()
    }

    /// Run `change` on `server`'s current pins (re-read first if the file changed) and write
    /// the file when it changed them. `None` when the file is unusable (see
    /// [`PinStore::problem`]).
    pub fn update<T>(&self, server: &str, change: impl FnOnce(&mut ServerPins) -> T) -> Option<T> {
        // Across the re-read and the write: another process's change in between would be
        // written over. Always before the in-process state, as everywhere here.
        let _turn = turn(&self.path);
        self.refresh();
        let mut state = self.lock();
        let file = state.file.as_mut().ok()?;
        // Only this server's pins are copied to see what changed: each backend's tool list
        // comes through here, and copying every server's pins for each was quadratic.
        let before = file.servers.get(server).cloned();
        let pins = file.servers.entry(server.to_owned()).or_default();
        let out = change(pins);
        if before.as_ref() != Some(pins) {
            if file.config.is_none() {
                file.config.clone_from(&self.config);
            }
            let in_burst = state.written.is_some_and(|at| at.elapsed() < BURST);
            if !in_burst {
                state.write(&self.path);
            } else if !state.pending {
                state.pending = true;
                let (shared, path) = (Arc::clone(&self.state), self.path.clone());
                std::thread::spawn(move || {
                    std::thread::sleep(BURST);
                    let _turn = turn(&path);
                    let mut state = shared.lock().unwrap_or_else(|p| p.into_inner());
                    // Someone else wrote the file meanwhile (an approval): theirs stands,
                    // and what was pending is pinned again when next listed.
                    if state.pending && stamp(&path) == state.stamp {
                        state.write(&path);
                    }
                    state.pending = false;
                });
            }
        }
        Some(out)
    }

    /// Write now what a burst left pending: a tool was just held back, and `tools diff`
    /// and `tools approve` read the file.
    pub fn flush(&self) {
        let _turn = turn(&self.path);
        let mut state = self.lock();
        if state.pending {
            state.write(&self.path);
        }
    }

    /// A copy of the current pins.
    pub fn snapshot(&self) -> Option<PinFile> {
        self.refresh();
        self.lock().file.as_ref().ok().cloned()
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;

    #[test]
    fn definitions_read_back_as_written_from_this_and_earlier_files() {
        // Earlier versions wrote each definition as a pretty-printed tree inside the file.
        let definition = serde_json::json!({"name": "t", "inputSchema": {"type": "object"}});
        let earlier = serde_json::json!({"servers": {"s": {"tools": {"t": {
            "sha256": "ab", "definition": definition, "pinned_at": "then"
        }}}}});
        let file: PinFile =
            serde_json::from_str(&serde_json::to_string_pretty(&earlier).unwrap()).unwrap();
        let pinned = &file.servers["s"].tools["t"].definition;
        assert_eq!(pinned.value(), definition);
        let again: PinFile =
            serde_json::from_str(&serde_json::to_string_pretty(&file).unwrap()).unwrap();
        assert_eq!(again, file);
        assert_eq!(Definition::of(&definition).value(), definition);
    }

    #[test]
    fn pin_files_are_per_config_and_readable() {
        let dir = Path::new("/data/pins");
        let a = pin_file(dir, Some(Path::new("/nonexistent/a/gateway.yaml")));
        let b = pin_file(dir, Some(Path::new("/nonexistent/b/gateway.yaml")));
        assert_ne!(a, b);
        assert!(
            a.file_name()
                .unwrap()
                .to_string_lossy()
                .starts_with("gateway-")
        );
        assert_eq!(pin_file(dir, None), dir.join("default.json"));
    }
}
