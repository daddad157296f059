//! Every write to a file the user owns goes through here: AI clients' config files and
//! `gateway.yaml`.
//!
//! An edit is planned first ([`plan_export`], [`gateway_yaml`]) as a [`Change`] holding the
//! text before and after, so a dry run can show the diff and a second run can see it has
//! nothing to do. [`apply`] then backs the file up, writes it atomically, and re-reads it to
//! check that it still parses and holds what we meant. Editors are lossless: only the
//! gateway's entry (and, when asked, entries we replace) changes; comments, key order,
//! indentation, line endings and unknown keys stay.

pub mod backup;
pub mod client;
pub mod file;
pub mod gateway_yaml;
pub mod import;
pub mod jsonc;
pub mod jsonc_edit;
pub mod secret;
pub mod toml;

use std::path::{Path, PathBuf};

use serde_json::Value;

pub use client::{Client, Format, Os, Place, Scope};
pub use jsonc_edit::{Entry, JsonEditError};

/// Why a user's file was not read or written. Each names the file.
#[derive(Debug, thiserror::Error)]
pub enum ExportError {
    #[error("{}", path.display())]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{}:{line}:{column}: {message} (the file was left untouched)", path.display())]
    Syntax {
        path: PathBuf,
        line: usize,
        column: usize,
        message: String,
    },
    #[error("{}: `{key}` is not an object; not editing it", path.display())]
    NotObject { path: PathBuf, key: String },
    #[error("{} links to {}, which is not writable (managed by another tool?); edit the source of the link instead", link.display(), target.display())]
    ReadOnlyLink { link: PathBuf, target: PathBuf },
    #[error("{}: not UTF-8 text", .0.display())]
    NotUtf8(PathBuf),
    #[error("{}: what was read back differs from what was written", .0.display())]
    Verify(PathBuf),
    #[error("{}: not a backup made by mcp-gateway (expected `<file>.mcp-gateway.bak.<time>`)", .0.display())]
    NotBackup(PathBuf),
    #[error("{client} has no {scope:?} scope config file")]
    NoScope { client: Client, scope: Scope },
    #[error("{}: the edit would not be a valid gateway.yaml: {message}", path.display())]
    InvalidResult { path: PathBuf, message: String },
    #[error("{0}")]
    Refused(String),
    #[error(
        "{} {why}; rolling back would lose that. What the rollback would change:\n{diff}\n\
         To roll back anyway (the current file is first saved as a new backup):\n  \
         mcp-gateway setup export --rollback {} --force",
        path.display(),
        shell_quote(backup)
    )]
    Changed {
        path: PathBuf,
        backup: PathBuf,
        why: String,
        diff: String,
    },
}

/// A path as a shell word: as is when it is plain, else single-quoted.
pub fn shell_quote(path: &Path) -> String {
    let s = path.display().to_string();
    if s.chars()
        .all(|c| c.is_ascii_alphanumeric() || "/._-:+".contains(c))
    {
        s
    } else {
        format!("'{}'", s.replace('\'', r"'\''"))
    }
}

impl ExportError {
    pub(crate) fn io(path: &Path, source: std::io::Error) -> Self {
        ExportError::Io {
            path: path.to_path_buf(),
            source,
        }
    }

    fn edit(path: &Path, e: JsonEditError) -> Self {
        match e {
            JsonEditError::Syntax {
                line,
                column,
                message,
            } => ExportError::Syntax {
                path: path.to_path_buf(),
                line,
                column,
                message,
            },
            JsonEditError::NotObject(key) => ExportError::NotObject {
                path: path.to_path_buf(),
                key,
            },
        }
    }
}

/// A planned edit of one file.
#[derive(Debug, Clone)]
pub struct Change {
    /// The file as the user knows it (maybe a symlink).
    pub path: PathBuf,
    /// The file written (the symlink's target).
    pub real_path: PathBuf,
    pub before: Option<String>,
    pub after: String,
    /// Server entries removed (with `--replace`).
    pub removed: Vec<String>,
    /// Who may read the written file.
    pub access: file::Access,
}

impl Change {
    pub fn is_noop(&self) -> bool {
        self.before.as_deref() == Some(self.after.as_str())
    }

    /// A unified diff, headed by the file's path.
    pub fn diff(&self) -> String {
        let before = self.before.as_deref().unwrap_or("");
        let name = self.path.display().to_string();
        similar::TextDiff::from_lines(before, &self.after)
            .unified_diff()
            .context_radius(3)
            .header(&format!("{name} (before)"), &format!("{name} (after)"))
            .to_string()
    }
}

/// The servers a client file lists, in file order, plus its whole parsed content.
#[derive(Debug, Clone)]
pub struct ClientServers {
    pub path: PathBuf,
    pub root: Value,
    pub servers: Vec<(String, Value)>,
}

/// Reads the servers under `container` in a JSON/JSONC file; `None` when the file or the
/// key does not exist.
pub fn read_servers_at(
    path: &Path,
    container: &[String],
) -> Result<Option<ClientServers>, ExportError> {
    let Some(text) = file::read(path)? else {
        return Ok(None);
    };
    if text.trim().is_empty() {
        return Ok(None);
    }
    let node = jsonc::parse(&text).map_err(|e| ExportError::edit(path, e.into()))?;
    let mut servers = &node;
    for key in container {
        match servers.get(key) {
            Some(child) => servers = child,
            None => return Ok(None),
        }
    }
    let servers = servers
        .members()
        .iter()
        .map(|m| (m.key.clone(), m.value.to_value()))
        .collect();
    Ok(Some(ClientServers {
        path: path.to_path_buf(),
        root: node.to_value(),
        servers,
    }))
}

/// Reads a client's servers; `None` when its file does not exist.
pub fn read_servers(
    client: Client,
    scope: Scope,
    place: &Place,
) -> Result<Option<ClientServers>, ExportError> {
    let Some(path) = client.path(scope, place) else {
        return Ok(None);
    };
    let Some(text) = file::read(&path)? else {
        return Ok(None);
    };
    let key = client.container()[0];
    let (root, servers) = match client.format() {
        Format::Toml => {
            let root = toml::to_json(&text).map_err(|e| ExportError::edit(&path, e))?;
            let servers = match root.get(key) {
                Some(Value::Object(map)) => {
                    map.iter().map(|(k, v)| (k.clone(), v.clone())).collect()
                }
                _ => Vec::new(),
            };
            (root, servers)
        }
        Format::Json => {
            if text.trim().is_empty() {
                return Ok(None);
            }
            let node = jsonc::parse(&text).map_err(|e| ExportError::edit(&path, e.into()))?;
            let servers = node
                .get(key)
                .map(|c| {
                    c.members()
                        .iter()
                        .map(|m| (m.key.clone(), m.value.to_value()))
                        .collect()
                })
                .unwrap_or_default();
            (node.to_value(), servers)
        }
    };
    Ok(Some(ClientServers {
        path,
        root,
        servers,
    }))
}

/// Plans setting `name` to the gateway's entry in a client's file and removing `remove`.
pub fn plan_export(
    client: Client,
    scope: Scope,
    place: &Place,
    name: &str,
    entry: &Entry,
    remove: &[String],
) -> Result<Change, ExportError> {
    let path = client
        .path(scope, place)
        .ok_or(ExportError::NoScope { client, scope })?;
    let real_path = file::resolve(&path)?;
    let before = file::read(&real_path)?;
    let start = match before.as_deref() {
        Some(t) if !t.trim().is_empty() => t.to_owned(),
        // A new (or empty) file: an empty document in the client's format.
        _ => match client.format() {
            Format::Json => "{}\n".to_owned(),
            Format::Toml => String::new(),
        },
    };
    let container = client.container();
    let edit = |text: &str| -> Result<String, JsonEditError> {
        let mut text = text.to_owned();
        for r in remove.iter().filter(|r| *r != name) {
            text = match client.format() {
                Format::Json => jsonc_edit::remove_member(&text, container, r)?,
                Format::Toml => toml::remove_member(&text, container[0], r)?,
            };
        }
        match client.format() {
            Format::Json => jsonc_edit::set_member(&text, container, name, entry),
            Format::Toml => toml::set_member(&text, container[0], name, entry),
        }
    };
    let after = edit(&start).map_err(|e| ExportError::edit(&path, e))?;
    Ok(Change {
        path,
        real_path,
        before,
        after,
        removed: remove.iter().filter(|r| *r != name).cloned().collect(),
        access: file::Access::Keep,
    })
}

/// Writes a planned change: backup, atomic write, re-read, record what was written, prune
/// old backups. Returns the backup's path, or `None` when there was nothing to do. `check`
/// validates the text read back.
pub fn apply(
    change: &Change,
    check: &dyn Fn(&str) -> Result<(), String>,
) -> Result<Option<PathBuf>, ExportError> {
    if change.is_noop() {
        return Ok(None);
    }
    // Someone else may have written the file since we planned: never overwrite that.
    if file::read(&change.real_path)? != change.before {
        return Err(ExportError::Refused(format!(
            "{} changed while we were editing it; run the command again",
            change.path.display()
        )));
    }
    let saved = backup::backup(&change.real_path)?;
    file::write_with(&change.real_path, change.after.as_bytes(), change.access)?;
    let back = file::read(&change.real_path)?.unwrap_or_default();
    if let Err(message) = check(&back) {
        let _ = backup::undo(&saved, &change.real_path);
        return Err(ExportError::InvalidResult {
            path: change.path.clone(),
            message,
        });
    }
    backup::record(&saved, Some(change.after.as_bytes()))?;
    backup::prune(&change.real_path, std::slice::from_ref(&saved))?;
    Ok(Some(saved))
}

/// Checks a client file read back after a write: it parses and holds `entry` under `name`.
pub fn verify_client(client: Client, text: &str, name: &str, entry: &Entry) -> Result<(), String> {
    let root = match client.format() {
        Format::Json => jsonc::parse(text)
            .map_err(|e| format!("line {}: {}", e.line, e.message))?
            .to_value(),
        Format::Toml => toml::to_json(text).map_err(|e| e.to_string())?,
    };
    let mut node = &root;
    for key in client.container() {
        node = node.get(key).ok_or("the servers key is missing")?;
    }
    let got = node.get(name).ok_or("the gateway entry is missing")?;
    let ok = entry.iter().all(|(k, v)| got.get(k) == Some(v));
    if ok {
        Ok(())
    } else {
        Err("the gateway entry differs from what was written".into())
    }
}
