//! The opt-in audit log (`audit:` in `gateway.yaml`): one JSON line per backend tool call
//! (`gateway_invoke`, or a flat/surfaced tool), saying when, for which client, which server
//! and tool, the arguments' shape (keys and JSON types; values only when
//! `record_values: true`, and then with every known credential and secret-named value
//! masked), how long it took, how it ended and what the gateway decided before calling.
//!
//! The file is owner-only and rotated by size (`<path>.1` is the newest old file). A write
//! that fails is logged once and never fails the call: the audit trail is a record, not a
//! gate.

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::{Duration, SystemTime};

use serde_json::{Map, Value, json};

use crate::config::{AuditConfig, MASK, looks_secret, scrub};

/// How a call ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// The backend answered with a result (`isError` results included: the call was made).
    Ok,
    /// The call was made (or tried) and failed: timeout, transport, backend error.
    Error,
    /// The gateway did not call the backend.
    Refused,
}

impl Outcome {
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Ok => "ok",
            Outcome::Error => "error",
            Outcome::Refused => "refused",
        }
    }
}

/// One call, as recorded.
pub struct Record<'a> {
    pub client: Option<String>,
    pub server: &'a str,
    pub tool: &'a str,
    pub arguments: &'a Map<String, Value>,
    pub duration: Duration,
    pub outcome: Outcome,
    /// What the gateway decided before calling: `allowed`, `quarantined`, `unknown`,
    /// `unavailable`, or whatever a policy layer decides.
    pub decision: &'a str,
    /// Whether the backend's result was an error result (`isError`).
    pub is_error: bool,
}

/// The open log.
pub struct AuditLog {
    config: AuditConfig,
    file: Mutex<Option<(File, u64)>>,
}

impl AuditLog {
    pub fn new(config: AuditConfig) -> AuditLog {
        AuditLog {
            config,
            file: Mutex::new(None),
        }
    }

    pub fn path(&self) -> &Path {
        &self.config.path
    }

    pub fn config(&self) -> &AuditConfig {
        &self.config
    }

    pub fn record(&self, record: &Record<'_>) {
        let arguments = if self.config.record_values {
            values(&Value::Object(record.arguments.clone()), "")
        } else {
            shape(&Value::Object(record.arguments.clone()))
        };
        let mut line = json!({
            "time": crate::clock::rfc3339(SystemTime::now()),
            "client": record.client,
            "server": record.server,
            "tool": record.tool,
            "arguments": arguments,
            "duration_ms": u64::try_from(record.duration.as_millis()).unwrap_or(u64::MAX),
            "outcome": record.outcome.as_str(),
            "decision": record.decision,
        });
        if record.is_error {
            line["is_error"] = json!(true);
        }
        // Credentials registered by the loaded config never reach the file, whatever field
        // they hide in.
        let mut text = scrub(&line.to_string()).into_owned();
        text.push('\n');
        if let Err(e) = self.append(text.as_bytes()) {
            tracing::warn!("audit log {}: {e}", self.config.path.display());
        }
    }

    fn append(&self, line: &[u8]) -> std::io::Result<()> {
        let mut slot = self.file.lock().unwrap_or_else(|p| p.into_inner());
        if slot.is_none() {
            *slot = Some(open(&self.config.path)?);
        }
        let size = slot.as_ref().map_or(0, |(_, size)| *size);
        if size > 0 && size + line.len() as u64 > self.config.max_bytes as u64 {
            *slot = None;
            rotate(&self.config.path, self.config.keep)?;
            *slot = Some(open(&self.config.path)?);
        }
        if let Some((file, size)) = slot.as_mut() {
            file.write_all(line)?;
            *size += line.len() as u64;
        }
        Ok(())
    }
}

fn open(path: &Path) -> std::io::Result<(File, u64)> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)?;
    }
    let mut options = OpenOptions::new();
    options.create(true).append(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let file = options.open(path)?;
    let size = file.metadata()?.len();
    Ok((file, size))
}

/// `<path>.<n>` for the n-th newest old file.
pub fn rotated(path: &Path, n: usize) -> PathBuf {
    let mut name = path.as_os_str().to_owned();
    name.push(format!(".{n}"));
    PathBuf::from(name)
}

/// Shift `<path>.k` → `<path>.k+1` (the oldest beyond `keep` drops), then `<path>` → `<path>.1`.
fn rotate(path: &Path, keep: usize) -> std::io::Result<()> {
    let _ = std::fs::remove_file(rotated(path, keep));
    for n in (1..keep).rev() {
        let from = rotated(path, n);
        if from.exists() {
            std::fs::rename(&from, rotated(path, n + 1))?;
        }
    }
    std::fs::rename(path, rotated(path, 1))
}

/// The arguments' shape: objects keep their keys, every value becomes its JSON type, an
/// array the shape of its first item.
pub fn shape(value: &Value) -> Value {
    match value {
        Value::Object(map) => {
            Value::Object(map.iter().map(|(k, v)| (k.clone(), shape(v))).collect())
        }
        Value::Array(items) => Value::Array(items.first().map(shape).into_iter().collect()),
        Value::String(_) => json!("string"),
        Value::Number(_) => json!("number"),
        Value::Bool(_) => json!("boolean"),
        Value::Null => json!("null"),
    }
}

/// The arguments themselves, with values under secret-sounding keys (or of a credential's
/// shape) masked. Registered credentials are scrubbed from the whole line afterwards.
fn values(value: &Value, key: &str) -> Value {
    match value {
        Value::Object(map) => {
            Value::Object(map.iter().map(|(k, v)| (k.clone(), values(v, k))).collect())
        }
        Value::Array(items) => Value::Array(items.iter().map(|v| values(v, key)).collect()),
        Value::String(s) if looks_secret(key, s) => json!(MASK),
        other => other.clone(),
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;

    #[test]
    fn shape_keeps_keys_and_types_only() {
        let args = json!({"path": "/etc/x", "n": 3, "deep": {"token": "sk-123456789"}, "list": ["a", "b"]});
        assert_eq!(
            shape(&args),
            json!({"path": "string", "n": "number", "deep": {"token": "string"}, "list": ["string"]})
        );
        let kept = values(&args, "");
        assert_eq!(kept["deep"]["token"], MASK);
        assert_eq!(kept["path"], "/etc/x");
    }

    #[test]
    fn the_log_rotates_by_size() {
        let dir = std::env::temp_dir().join(format!("mcp-gw-audit-unit-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let path = dir.join("audit.jsonl");
        let log = AuditLog::new(AuditConfig {
            path: path.clone(),
            record_values: false,
            max_bytes: 1024,
            keep: 2,
        });
        let args = Map::new();
        for _ in 0..40 {
            log.record(&Record {
                client: Some("c".into()),
                server: "s",
                tool: "t",
                arguments: &args,
                duration: Duration::from_millis(1),
                outcome: Outcome::Ok,
                decision: "allowed",
                is_error: false,
            });
        }
        assert!(rotated(&path, 1).is_file() && rotated(&path, 2).is_file());
        assert!(!rotated(&path, 3).exists());
        for p in [path.clone(), rotated(&path, 1)] {
            let len = std::fs::metadata(&p).unwrap().len();
            assert!(len <= 1024, "{} is {len} bytes", p.display());
        }
        let _ = std::fs::remove_dir_all(&dir);
    }
}
