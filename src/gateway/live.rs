//! What a config reload changes on the client-facing side: the tool surface (`mode`,
//! `surfaced_tools`, `policy`) and the report of a config file that could not be loaded.
//!
//! A bad `gateway.yaml` is said where the agent looks: `gateway_list_servers` carries it
//! (file, line, column, message), and a call that cannot be served because of it says so.

use std::path::PathBuf;
use std::sync::Arc;

use serde_json::{Value, json};

use super::{Gateway, lock};
use crate::config::{Config, ConfigError, Mode, SurfacedTool};
use crate::policy::Policy;

/// The part of the config that shapes `tools/list` and what calls may do.
#[derive(Debug, PartialEq, Eq)]
pub(super) struct Surface {
    pub mode: Mode,
    pub surfaced: Vec<SurfacedTool>,
    pub policy: Policy,
}

impl Surface {
    pub fn of(config: &Config) -> Surface {
        Surface {
            mode: config.mode,
            surfaced: config.surfaced_tools.clone(),
            policy: config.policy.clone(),
        }
    }
}

/// A config file on disk that is not the one running.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigProblem {
    /// The full message, starting with `file:line:col` when the problem is in the text.
    pub message: String,
    pub file: Option<PathBuf>,
    pub line: Option<usize>,
    pub column: Option<usize>,
    /// Whether an earlier good config is still running (a bad edit), or none ever loaded
    /// (started on a broken file: no backends run).
    pub kept_last_good: bool,
}

impl ConfigProblem {
    pub fn new(error: &ConfigError, file: Option<PathBuf>, kept_last_good: bool) -> Self {
        let at = error.location();
        ConfigProblem {
            message: error.to_string(),
            file: at.map(|a| a.file.clone()).or(file),
            line: at.and_then(|a| a.line),
            column: at.and_then(|a| a.column),
            kept_last_good,
        }
    }

    /// What an agent reads: the error, and what is running meanwhile.
    pub fn summary(&self) -> String {
        if self.kept_last_good {
            format!(
                "gateway.yaml has an error; the last good config is still running: {}",
                self.message
            )
        } else {
            format!(
                "gateway.yaml could not be loaded, so no backends are running until it is fixed \
                 (it is reloaded on save): {}",
                self.message
            )
        }
    }

    pub(super) fn to_json(&self) -> Value {
        let mut row = json!({
            "state": "error",
            "error": self.message,
            "running": if self.kept_last_good { "last good config" } else { "nothing" },
        });
        if let Some(file) = &self.file {
            row["file"] = json!(file.display().to_string());
        }
        if let Some(line) = self.line {
            row["line"] = json!(line);
        }
        if let Some(column) = self.column {
            row["column"] = json!(column);
        }
        row
    }
}

impl Gateway {
    pub(super) fn surface(&self) -> Arc<Surface> {
        Arc::clone(&lock(&self.inner.surface))
    }

    /// Take `mode`, `surfaced_tools` and `policy` from a reloaded config; the client hears of it
    /// when its tool list changes.
    pub async fn apply_surface(&self, config: &Config) {
        self.inner.failsafe.configure(config);
        let next = Surface::of(config);
        let changed = {
            let mut slot = lock(&self.inner.surface);
            if **slot == next {
                false
            } else {
                *slot = Arc::new(next);
                true
            }
        };
        if changed {
            self.announce_tools_changed().await;
        }
        self.apply_trust(config);
    }

    /// Take `scan:` and `audit:` from a reloaded config: a changed scan policy sorts every
    /// backend's tools again (the follower re-indexes what changed).
    fn apply_trust(&self, config: &Config) {
        {
            let mut audit = lock(&self.inner.audit);
            let same = audit.as_ref().map(|a| a.config()) == config.audit.as_ref();
            if !same {
                *audit = config
                    .audit
                    .clone()
                    .map(|a| Arc::new(crate::audit::AuditLog::new(a)));
            }
        }
        let registry = &self.inner.registry;
        if registry.trust().scan_policy() != config.scan {
            registry.trust().set_scan(config.scan.clone());
            registry.regate_all();
        }
    }

    pub(super) fn audit(&self) -> Option<Arc<crate::audit::AuditLog>> {
        lock(&self.inner.audit).clone()
    }

    /// Report (or clear, with `None`) a config file that could not be loaded.
    pub fn set_config_problem(&self, problem: Option<ConfigProblem>) {
        *lock(&self.inner.config_problem) = problem.map(Arc::new);
    }

    pub fn config_problem(&self) -> Option<Arc<ConfigProblem>> {
        lock(&self.inner.config_problem).clone()
    }
}
