//! Live config: each reload event (a change of `gateway.yaml`, SIGHUP) loads the file
//! again; a good one is reconciled into the running gateway (backends by name, the tool
//! surface), a bad one is reported and the last good config keeps running (DESIGN §3,
//! invariant 3).

use std::path::PathBuf;
use std::sync::Arc;

use tokio_util::sync::CancellationToken;

use crate::backend::Supervisor;
use crate::config::Config;
use crate::control::{Control, Load, digest};
use crate::gateway::{ConfigProblem, Gateway};
use crate::watch::ConfigWatch;

/// The running config and what a reload needs to replace it.
pub struct Live {
    /// The file to load; `None` when none was found (a reload then looks again).
    pub path: Option<PathBuf>,
    /// The last config that loaded; `None` when `serve` started on a broken file.
    pub current: Option<Config>,
    pub supervisor: Arc<Supervisor>,
    pub gateway: Gateway,
    /// Told the outcome of every load, for commands that ask the running gateway.
    pub control: Control,
}

impl Live {
    /// Reload on every event until shutdown.
    pub async fn follow(mut self, mut watch: ConfigWatch, shutdown: CancellationToken) {
        while let Some(event) = watch.next(&shutdown).await {
            tracing::debug!("config reload: {event:?}");
            self.reload().await;
        }
    }

    /// Load the file once and apply it, or report why not.
    pub async fn reload(&mut self) {
        // The bytes this load is about, so `add` and `remove` can tell their own edit landed.
        let sha256 = self
            .path
            .as_deref()
            .and_then(|p| std::fs::read(p).ok())
            .map(|bytes| digest(&bytes))
            .unwrap_or_default();
        match Config::load(self.path.as_deref()) {
            Ok(config) => {
                let summary = self.apply(config).await;
                self.control.loaded(Load {
                    sha256,
                    error: None,
                    summary,
                });
            }
            Err(e) => {
                self.control.loaded(Load {
                    sha256,
                    error: Some(e.to_string()),
                    summary: String::new(),
                });
                let kept = self.current.is_some();
                tracing::error!(
                    "{e}; {}",
                    if kept {
                        "the last good config keeps running"
                    } else {
                        "no backends run until it is fixed"
                    }
                );
                self.gateway.set_config_problem(Some(ConfigProblem::new(
                    &e,
                    self.path.clone(),
                    kept,
                )));
            }
        }
    }

    /// Run `config`; what changed, in words.
    async fn apply(&mut self, config: Config) -> String {
        self.gateway.set_config_problem(None);
        if self.current.as_ref() == Some(&config) {
            tracing::debug!("gateway.yaml reloaded: nothing changed");
            return "nothing changed".to_owned();
        }
        for warning in &config.warnings {
            tracing::warn!("{warning}");
        }
        if let Some(old) = &self.current
            && old.limits.max_message_bytes != config.limits.max_message_bytes
        {
            tracing::warn!(
                "limits.max_message_bytes applies to backends now and to the client's \
                 messages after the client restarts the gateway"
            );
        }
        let done = self.supervisor.reconcile(&config).await;
        self.gateway.apply_surface(&config).await;
        let summary = format!(
            "{} added, {} removed, {} restarted, {} unchanged",
            done.added.len(),
            done.removed.len(),
            done.restarted.len(),
            done.kept.len()
        );
        tracing::info!("gateway.yaml reloaded: {summary}");
        self.current = Some(config);
        summary
    }
}
