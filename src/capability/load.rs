//! Where capabilities come from: the embedded catalog and the configured directories.
//!
//! A [`Loader`] remembers the last good version of every file, so a reload re-parses only
//! files whose text changed, and a broken edit keeps the previous version serving (reported
//! as a problem) — except a pin mismatch, which withdraws the tool: a tampered file must not
//! keep running under the approval its pin recorded.

use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use super::pin::{self, PinState};
use super::{Capability, builtin, validate};

/// Where one capability was read from.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub enum Source {
    /// A file of the embedded catalog, by its path under `capabilities/`.
    Builtin(&'static str),
    File(PathBuf),
}

impl fmt::Display for Source {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Source::Builtin(path) => write!(f, "builtin:{path}"),
            Source::File(path) => write!(f, "{}", path.display()),
        }
    }
}

/// One capability ready to serve.
#[derive(Debug, Clone)]
pub struct LoadedCapability {
    pub source: Source,
    pub capability: Arc<Capability>,
    pub warnings: Vec<String>,
    pub pinned: bool,
}

/// A file that is not (or no longer) served as written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoadProblem {
    pub source: Source,
    pub message: String,
    /// The pin did not match: a possible rug pull.
    pub pin_mismatch: bool,
}

impl fmt::Display for LoadProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.source, self.message)
    }
}

/// Everything one load produced, sorted by tool name.
#[derive(Debug, Clone, Default)]
pub struct Loaded {
    pub capabilities: BTreeMap<String, LoadedCapability>,
    pub problems: Vec<LoadProblem>,
}

/// Why one file's text is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FileError {
    #[error(
        "RUG-PULL? the file changed after it was pinned (pinned sha256 {pinned}, content is \
         {actual}); it is not loaded until re-pinned with `mcp-gateway cap pin`"
    )]
    PinMismatch { pinned: String, actual: String },
    #[error(transparent)]
    Invalid(#[from] validate::Invalid),
}

/// Checks the pin, then parses and validates one file's text.
pub fn load_text(text: &str) -> Result<(Capability, Vec<String>, bool), FileError> {
    let pinned = match pin::check(text) {
        PinState::Mismatch { pinned, actual } => {
            return Err(FileError::PinMismatch { pinned, actual });
        }
        PinState::Valid => true,
        PinState::Unpinned => false,
    };
    let (cap, warnings) = validate::parse(text)?;
    Ok((cap, warnings, pinned))
}

/// Loads the catalog and directories, remembering good versions across reloads.
pub struct Loader {
    builtin: bool,
    directories: Vec<PathBuf>,
    /// Path → (text, what it loaded as) for the last good version of each file.
    good: HashMap<PathBuf, (String, LoadedCapability)>,
    builtins: Option<Loaded>,
}

impl Loader {
    pub fn new(builtin: bool, directories: Vec<PathBuf>) -> Loader {
        Loader {
            builtin,
            directories,
            good: HashMap::new(),
            builtins: None,
        }
    }

    pub fn directories(&self) -> &[PathBuf] {
        &self.directories
    }

    /// Loads everything now. Directory files override built-ins of the same name.
    pub fn load(&mut self) -> Loaded {
        let mut out = if self.builtin {
            self.builtins.get_or_insert_with(load_builtin).clone()
        } else {
            Loaded::default()
        };
        let mut seen = Vec::new();
        for dir in &self.directories {
            let mut files = Vec::new();
            if let Err(e) = collect(dir, &mut files) {
                out.problems.push(LoadProblem {
                    source: Source::File(dir.clone()),
                    message: format!("cannot read the capability directory: {e}"),
                    pin_mismatch: false,
                });
            }
            files.sort();
            seen.extend(files);
        }
        let mut from_dirs: BTreeMap<String, Source> = BTreeMap::new();
        for path in &seen {
            let Some(loaded) = self.file(path, &mut out.problems) else {
                continue;
            };
            let name = loaded.capability.name.clone();
            if let Some(first) = from_dirs.get(&name) {
                out.problems.push(LoadProblem {
                    source: loaded.source,
                    message: format!("duplicate tool name `{name}` (already defined by {first})"),
                    pin_mismatch: false,
                });
                continue;
            }
            from_dirs.insert(name.clone(), loaded.source.clone());
            out.capabilities.insert(name, loaded);
        }
        self.good.retain(|path, _| seen.contains(path));
        out
    }

    fn file(&mut self, path: &Path, problems: &mut Vec<LoadProblem>) -> Option<LoadedCapability> {
        let source = Source::File(path.to_path_buf());
        let text = match std::fs::read_to_string(path) {
            Ok(text) => text,
            Err(e) => {
                problems.push(LoadProblem {
                    source,
                    message: format!("cannot read: {e}"),
                    pin_mismatch: false,
                });
                return self.good.get(path).map(|(_, l)| l.clone());
            }
        };
        if let Some((old, loaded)) = self.good.get(path)
            && *old == text
        {
            return Some(loaded.clone());
        }
        match load_text(&text) {
            Ok((cap, warnings, pinned)) => {
                let loaded = LoadedCapability {
                    source,
                    capability: Arc::new(cap),
                    warnings,
                    pinned,
                };
                self.good.insert(path.to_path_buf(), (text, loaded.clone()));
                Some(loaded)
            }
            Err(e @ FileError::PinMismatch { .. }) => {
                self.good.remove(path);
                problems.push(LoadProblem {
                    source,
                    message: e.to_string(),
                    pin_mismatch: true,
                });
                None
            }
            Err(e) => {
                let previous = self.good.get(path).map(|(_, l)| l.clone());
                let kept = if previous.is_some() {
                    "; the previous version stays loaded"
                } else {
                    ""
                };
                problems.push(LoadProblem {
                    source,
                    message: format!("{e}{kept}"),
                    pin_mismatch: false,
                });
                previous
            }
        }
    }
}

/// The embedded catalog. A built-in that fails to load is a bug the tests catch; it is
/// reported like any other problem rather than stopping the gateway.
pub fn load_builtin() -> Loaded {
    let mut out = Loaded::default();
    for (path, text) in builtin::FILES {
        let source = Source::Builtin(path);
        match load_text(text) {
            Ok((cap, warnings, pinned)) => {
                let name = cap.name.clone();
                out.capabilities.insert(
                    name,
                    LoadedCapability {
                        source,
                        capability: Arc::new(cap),
                        warnings,
                        pinned,
                    },
                );
            }
            Err(e) => out.problems.push(LoadProblem {
                source,
                message: e.to_string(),
                pin_mismatch: matches!(e, FileError::PinMismatch { .. }),
            }),
        }
    }
    out
}

/// Every capability file under `dir`, recursively: `*.yaml` / `*.yml`, not hidden (editors
/// write hidden swap and backup files next to the ones being edited).
pub fn collect(dir: &Path, files: &mut Vec<PathBuf>) -> std::io::Result<()> {
    for entry in std::fs::read_dir(dir)? {
        let path = entry?.path();
        let hidden = path
            .file_name()
            .and_then(|n| n.to_str())
            .is_none_or(|n| n.starts_with('.'));
        if hidden {
            continue;
        }
        if path.is_dir() {
            collect(&path, files)?;
        } else if is_capability_file(&path) {
            files.push(path);
        }
    }
    Ok(())
}

pub fn is_capability_file(path: &Path) -> bool {
    matches!(
        path.extension().and_then(|e| e.to_str()),
        Some("yaml" | "yml")
    )
}
