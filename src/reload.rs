//! Live config: each reload event (a change of `gateway.yaml`, SIGHUP) loads the file
//! again; a good one is reconciled into the running gateway (backends by name, the tool
//! surface), a bad one is reported and the last good config keeps running (DESIGN §3,
//! invariant 3).

use std::path::PathBuf;
use std::sync::Arc;

use tokio_util::sync::CancellationToken;

use crate::backend::Supervisor;
use crate::config::Config;
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
        match Config::load(self.path.as_deref()) {
            Ok(config) => self.apply(config).await,
            Err(e) => {
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

    async fn apply(&mut self, config: Config) {
        self.gateway.set_config_problem(None);
        if self.current.as_ref() == Some(&config) {
            tracing::debug!("gateway.yaml reloaded: nothing changed");
            return;
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
        tracing::info!(
            "gateway.yaml reloaded: {} added, {} removed, {} restarted, {} unchanged",
            done.added.len(),
            done.removed.len(),
            done.restarted.len(),
            done.kept.len()
        );
        self.current = Some(config);
    }
}
