//! Backends: one actor per configured MCP server (stdio child or Streamable HTTP), and the
//! supervisor that starts them in the background and stops them all on shutdown.
//!
//! This is the only module that spawns processes or opens MCP client connections.

mod actor;
mod call;
mod client;
mod connect;
mod list;
mod progress;
mod stdio;

use std::sync::Arc;
use std::time::Duration;

use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

pub use crate::target::{BackendHandle, CallError, Caller};

use crate::config::{BackendConfig, Config, Transport};
use crate::registry::{Registry, ServerEntry, ServerState, TransportKind};

/// Owns every backend actor.
pub struct Supervisor {
    tasks: TaskTracker,
    shutdown: CancellationToken,
}

impl Supervisor {
    /// Register every backend as `starting` (or `disabled`) at once, and start the enabled
    /// ones in the background as soon as `go` is cancelled. Every change of a backend's
    /// state or tools is a registry swap ([`Registry::subscribe`] hears it).
    pub fn start(
        config: &Config,
        registry: &Arc<Registry>,
        shutdown: &CancellationToken,
        go: &CancellationToken,
    ) -> Supervisor {
        let tasks = TaskTracker::new();
        let shutdown = shutdown.child_token();
        let gated = |work| gated(go.clone(), shutdown.clone(), work);
        for backend in config.backends.values() {
            let mut entry = ServerEntry::new(
                &backend.name,
                backend.description.clone(),
                transport_kind(backend),
            );
            if !backend.enabled {
                entry.state = ServerState::Disabled;
                registry.put(entry);
                continue;
            }
            registry.put(entry);
            let actor = actor::Actor {
                name: Arc::from(backend.name.as_str()),
                config: backend.clone(),
                registry: Arc::clone(registry),
                max_message_bytes: config.limits.max_message_bytes,
                shutdown: shutdown.clone(),
            };
            tasks.spawn(gated(Box::pin(actor.run())));
        }
        let caps = &config.capabilities;
        if caps.serves_anything() {
            if config.backends.contains_key(&caps.name) {
                tracing::warn!(
                    "capabilities are not served: a backend is already named `{}` \
                     (set `capabilities.name`)",
                    caps.name
                );
            } else {
                tasks.spawn(gated(Box::pin(crate::capability::start(
                    caps,
                    registry,
                    shutdown.clone(),
                ))));
            }
        }
        tasks.close();
        Supervisor { tasks, shutdown }
    }

    /// Stop every backend and wait (bounded) until each has been taken down.
    pub async fn shutdown(&self) {
        self.shutdown.cancel();
        if tokio::time::timeout(Duration::from_secs(3), self.tasks.wait())
            .await
            .is_err()
        {
            tracing::warn!("some backends did not stop in time");
        }
    }
}

/// Run `work` once `go` is cancelled, unless shutdown comes first.
async fn gated(
    go: CancellationToken,
    shutdown: CancellationToken,
    work: std::pin::Pin<Box<dyn std::future::Future<Output = ()> + Send>>,
) {
    tokio::select! {
        () = go.cancelled() => work.await,
        () = shutdown.cancelled() => {}
    }
}

fn transport_kind(backend: &BackendConfig) -> TransportKind {
    match backend.transport {
        Transport::Stdio { .. } => TransportKind::Stdio,
        Transport::Http { .. } => TransportKind::Http,
    }
}
