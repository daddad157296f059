//! Where capabilities come from: the embedded catalog and the configured directories.
//!
//! A [`Loader`] remembers the last good version of every file, so a reload re-parses only
//! files whose text changed, and a broken edit keeps the previous version serving (reported
//! as a problem). A directory file must also pass the [`Trust`] checks: its text must be
//! the one the user approved (`pins`: recorded on first load, or by `cap pin`) — a changed
//! file is quarantined, its tool withdrawn, until approved again — and it may read only
//! the environment variables `capabilities.env_allow` grants it. The built-in catalog is
//! part of the binary and passes both as shipped.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use super::pin::{self, PinState};
use super::pins::{self, PinStore, Pins};
use super::{Capability, builtin, validate};
use crate::config::EnvAllow;

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
    /// Approved in the pin store (built-ins: always).
    pub pinned: bool,
}

/// A file that is not (or no longer) served as written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoadProblem {
    pub source: Source,
    pub message: String,
    /// The text is not the approved one: the file is quarantined until `cap pin`.
    pub quarantined: bool,
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
        "QUARANTINED: changed since it was approved (approved sha256 {approved} by `{how}`, \
         the text is now {actual}); its tool is not served until you approve this version \
         with `mcp-gateway cap pin {file}`"
    )]
    Changed {
        file: String,
        approved: String,
        how: String,
        actual: String,
    },
    #[error(
        "QUARANTINED: its in-file `sha256:` pin ({pinned}) does not match its text \
         ({actual}); its tool is not served until you approve this version with \
         `mcp-gateway cap pin {file}`"
    )]
    PinMismatch {
        file: String,
        pinned: String,
        actual: String,
    },
    #[error(
        "capability `{name}` reads environment variable{s} {list}, which no \
         `capabilities.env_allow` entry in gateway.yaml allows for it (a capability may read \
         only the variables the config grants it); to allow {them}, add to gateway.yaml:\n  \
         capabilities:\n    env_allow:\n      {name}: [{vars}]",
        s = if missing.len() == 1 { "" } else { "s" },
        list = missing.iter().map(|v| format!("`{v}`")).collect::<Vec<_>>().join(", "),
        them = if missing.len() == 1 { "it" } else { "them" },
        vars = missing.iter().cloned().collect::<Vec<_>>().join(", ")
    )]
    EnvNotAllowed {
        name: String,
        missing: BTreeSet<String>,
    },
    #[error(transparent)]
    Invalid(#[from] validate::Invalid),
}

/// Parses and validates one file's text (no trust checks: see [`Loader`]).
pub fn load_text(text: &str) -> Result<(Capability, Vec<String>), FileError> {
    Ok(validate::parse(text)?)
}

/// What a directory file must pass besides being valid.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Trust {
    /// `capabilities.env_allow`.
    pub env_allow: Vec<EnvAllow>,
    /// Where approvals are kept; `None` (no data directory) leaves files unpinned.
    pub pins: Option<PinStore>,
    /// Record files seen for the first time as approved (`serve`); listing commands only
    /// read the store.
    pub record_new: bool,
}

impl Trust {
    /// The variables `cap` (read from `file`) reads that no `env_allow` entry grants it.
    pub fn env_refused(&self, cap: &Capability, file: &Path) -> BTreeSet<String> {
        let mut missing = cap.env_vars();
        if missing.is_empty() {
            return missing;
        }
        let file_text = file.to_string_lossy();
        let canonical = pins::key(file);
        for entry in &self.env_allow {
            let Ok(glob) = globset::Glob::new(&entry.pattern) else {
                continue; // validated with the config
            };
            let glob = glob.compile_matcher();
            let applies = if entry.by_path {
                glob.is_match(file_text.as_ref()) || glob.is_match(&canonical)
            } else {
                glob.is_match(&cap.name)
            };
            if applies {
                missing.retain(|v| !entry.vars.contains(v));
            }
        }
        missing
    }
}

/// Loads the catalog and directories, remembering good versions across reloads.
pub struct Loader {
    builtin: bool,
    directories: Vec<PathBuf>,
    trust: Trust,
    /// Path → (text, what it loaded as) for the last good version of each file.
    good: HashMap<PathBuf, (String, LoadedCapability)>,
    builtins: Option<Loaded>,
}

impl Loader {
    pub fn new(builtin: bool, directories: Vec<PathBuf>, trust: Trust) -> Loader {
        Loader {
            builtin,
            directories,
            trust,
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
                    quarantined: false,
                });
            }
            files.sort();
            seen.extend(files);
        }
        // An unreadable store approves nothing: every file that was approved before is
        // then quarantined, which is the safe side, and the problem says why.
        let approvals = match self.trust.pins.as_ref().map(PinStore::read) {
            Some(Ok(p)) => Some(p),
            Some(Err(e)) => {
                out.problems.push(LoadProblem {
                    source: Source::File(
                        self.trust
                            .pins
                            .as_ref()
                            .map(|p| p.path().to_path_buf())
                            .unwrap_or_default(),
                    ),
                    message: e.to_string(),
                    quarantined: true,
                });
                None
            }
            None => None,
        };
        let mut first_seen = Vec::new();
        let mut from_dirs: BTreeMap<String, Source> = BTreeMap::new();
        for path in &seen {
            let store = match (&self.trust.pins, &approvals) {
                (Some(_), Some(p)) => Approvals::Store(p),
                (Some(_), None) => Approvals::Unreadable,
                (None, _) => Approvals::None,
            };
            let Some(loaded) = self.file(path, store, &mut first_seen, &mut out.problems) else {
                continue;
            };
            let name = loaded.capability.name.clone();
            if let Some(first) = from_dirs.get(&name) {
                out.problems.push(LoadProblem {
                    source: loaded.source,
                    message: format!("duplicate tool name `{name}` (already defined by {first})"),
                    quarantined: false,
                });
                continue;
            }
            from_dirs.insert(name.clone(), loaded.source.clone());
            out.capabilities.insert(name, loaded);
        }
        self.good.retain(|path, _| seen.contains(path));
        if let Some(store) = self.trust.pins.as_ref().filter(|_| self.trust.record_new) {
            for (how, group) in [("first load", false), ("in-file pin", true)] {
                let batch: Vec<(PathBuf, String)> = first_seen
                    .iter()
                    .filter(|(_, _, in_file)| *in_file == group)
                    .map(|(p, d, _)| (p.clone(), d.clone()))
                    .collect();
                if let Err(e) = store.record(&batch, how) {
                    out.problems.push(LoadProblem {
                        source: Source::File(store.path().to_path_buf()),
                        message: format!("{e}; new capability files are served but not pinned"),
                        quarantined: false,
                    });
                }
            }
        }
        out
    }

    fn file(
        &mut self,
        path: &Path,
        approvals: Approvals<'_>,
        first_seen: &mut Vec<(PathBuf, String, bool)>,
        problems: &mut Vec<LoadProblem>,
    ) -> Option<LoadedCapability> {
        let source = Source::File(path.to_path_buf());
        let text = match std::fs::read_to_string(path) {
            Ok(text) => text,
            Err(e) => {
                problems.push(LoadProblem {
                    source,
                    message: format!("cannot read: {e}"),
                    quarantined: false,
                });
                return self.good.get(path).map(|(_, l)| l.clone());
            }
        };
        if let Some((old, loaded)) = self.good.get(path)
            && *old == text
        {
            return Some(loaded.clone());
        }
        let checked =
            validate::parse(&text)
                .map_err(FileError::from)
                .and_then(|(cap, warnings)| {
                    let pinned = approve(path, &text, approvals, first_seen)?;
                    let missing = self.trust.env_refused(&cap, path);
                    if !missing.is_empty() {
                        // Not recorded: a file first seen this way is approved once it may run.
                        first_seen.retain(|(p, _, _)| p != path);
                        return Err(FileError::EnvNotAllowed {
                            name: cap.name.clone(),
                            missing,
                        });
                    }
                    Ok((cap, warnings, pinned))
                });
        match checked {
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
            // The approved version must not keep running under a new text's name, nor a
            // version that reads what it may not.
            Err(e @ (FileError::Changed { .. } | FileError::PinMismatch { .. })) => {
                self.good.remove(path);
                problems.push(LoadProblem {
                    source,
                    message: e.to_string(),
                    quarantined: true,
                });
                None
            }
            Err(e @ FileError::EnvNotAllowed { .. }) => {
                self.good.remove(path);
                problems.push(LoadProblem {
                    source,
                    message: e.to_string(),
                    quarantined: false,
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
                    quarantined: false,
                });
                previous
            }
        }
    }
}

/// The approvals a load checks files against.
#[derive(Clone, Copy)]
enum Approvals<'a> {
    Store(&'a Pins),
    /// The store exists but cannot be read: nothing counts as approved.
    Unreadable,
    /// No data directory: files are served unpinned.
    None,
}

/// Whether `text` of `file` is the approved version: `Ok(true)` approved, `Ok(false)`
/// unpinned (no store) or first seen (queued in `first_seen` for recording), `Err` when
/// quarantined.
fn approve(
    file: &Path,
    text: &str,
    approvals: Approvals<'_>,
    first_seen: &mut Vec<(PathBuf, String, bool)>,
) -> Result<bool, FileError> {
    let actual = pin::digest(text);
    let shown = file.display().to_string();
    let pins = match approvals {
        Approvals::None => return Ok(false),
        Approvals::Unreadable => {
            return Err(FileError::Changed {
                file: shown,
                approved: "unknown (the pin store cannot be read)".into(),
                how: "unknown".into(),
                actual,
            });
        }
        Approvals::Store(pins) => pins,
    };
    match pins.get(&pins::key(file)) {
        Some(record) if record.sha256 == actual => Ok(true),
        Some(record) => Err(FileError::Changed {
            file: shown,
            approved: record.sha256.clone(),
            how: record.how.clone(),
            actual,
        }),
        // Never seen: an older in-file pin that no longer matches is still a refusal
        // (it was the user's approval); otherwise trust on first use.
        None => match pin::check(text) {
            PinState::Mismatch { pinned, actual } => Err(FileError::PinMismatch {
                file: shown,
                pinned,
                actual,
            }),
            state => {
                first_seen.push((file.to_path_buf(), actual, state == PinState::Valid));
                Ok(false)
            }
        },
    }
}

/// The embedded catalog. A built-in that fails to load is a bug the tests catch; it is
/// reported like any other problem rather than stopping the gateway.
pub fn load_builtin() -> Loaded {
    let mut out = Loaded::default();
    for (path, text) in builtin::FILES {
        let source = Source::Builtin(path);
        match load_text(text) {
            Ok((cap, warnings)) => {
                let name = cap.name.clone();
                out.capabilities.insert(
                    name,
                    LoadedCapability {
                        source,
                        capability: Arc::new(cap),
                        warnings,
                        pinned: true,
                    },
                );
            }
            Err(e) => out.problems.push(LoadProblem {
                source,
                message: e.to_string(),
                quarantined: false,
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

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    /// Built-ins are exempt from `env_allow` because they read nothing: a built-in that
    /// needs a variable must come with a default grant, and this test says so.
    #[test]
    fn builtins_read_no_environment() {
        let loaded = load_builtin();
        assert!(loaded.problems.is_empty(), "{:?}", loaded.problems);
        for (name, l) in &loaded.capabilities {
            assert!(
                l.capability.env_vars().is_empty(),
                "{name} reads the environment"
            );
        }
    }

    #[test]
    fn env_grants_by_name_and_path() {
        let text = "name: gh_repo\ndescription: d\nproviders:\n  primary:\n    config:\n      \
                    base_url: https://x.test\n      path: /a\n      headers: { A: \"{env.ONE}\" }\n\
                    auth: { type: bearer, key: env:TWO }\n";
        let (cap, _) = load_text(text).unwrap();
        assert_eq!(
            cap.env_vars().into_iter().collect::<Vec<_>>(),
            ["ONE", "TWO"]
        );
        let grant = |pattern: &str, by_path: bool, vars: &[&str]| EnvAllow {
            pattern: pattern.into(),
            by_path,
            vars: vars.iter().map(|v| (*v).to_owned()).collect(),
        };
        let file = Path::new("/caps/gh/repo.yaml");
        let mut trust = Trust::default();
        assert_eq!(trust.env_refused(&cap, file).len(), 2);
        trust.env_allow = vec![
            grant("gh_*", false, &["ONE"]),
            grant("/caps/gh/**", true, &["TWO"]),
        ];
        assert!(trust.env_refused(&cap, file).is_empty());
        trust.env_allow = vec![grant("other", false, &["ONE", "TWO"])];
        assert_eq!(trust.env_refused(&cap, file).len(), 2);
    }
}
