//! The supervisor: starts one actor per configured backend, reconciles the running set with
//! each reloaded config by backend name, and stops everything on shutdown.
//!
//! Reconciling (DESIGN §3, invariant 3): an added backend starts, a removed one stops (its
//! whole process group, as at shutdown) and leaves the registry, a changed one is stopped
//! and started again, and an untouched one keeps its process, its session and its
//! in-flight calls. The search index follows the registry by itself, so only the affected
//! backends are re-indexed.

use std::collections::BTreeMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use super::actor;
use super::slots::StartSlots;
use crate::config::{BackendConfig, CapabilitiesConfig, Config, Transport};
use crate::registry::{Registry, ServerEntry, ServerState, TransportKind};
use crate::relay::Relay;

/// Longest a reload waits for a stopped backend before starting its replacement. An actor
/// takes its process group down within 1.3 s (stdin closed, SIGTERM, SIGKILL).
const STOP_WAIT: Duration = Duration::from_secs(3);

/// Owns every backend actor.
pub struct Supervisor {
    registry: Arc<Registry>,
    /// A child of the root token: cancelling it stops every actor.
    shutdown: CancellationToken,
    /// Actors start once this is cancelled (the client's handshake is done).
    go: CancellationToken,
    tasks: TaskTracker,
    running: tokio::sync::Mutex<Running>,
    /// Handed to every actor: the backends' requests to the client go through it.
    relay: Arc<Relay>,
    /// Shared by every actor: a stdio backend holds one while it starts.
    starts: StartSlots,
}

#[derive(Default)]
struct Running {
    backends: BTreeMap<String, Slot>,
    capabilities: Option<CapabilitySlot>,
}

/// One configured backend and, unless it is disabled, its actor.
struct Slot {
    config: BackendConfig,
    max_message_bytes: usize,
    actor: Option<ActorTask>,
}

struct CapabilitySlot {
    config: CapabilitiesConfig,
    actor: ActorTask,
}

/// A running actor: its own stop token and its task.
struct ActorTask {
    stop: CancellationToken,
    done: JoinHandle<()>,
}

impl ActorTask {
    /// Ask it to stop; the handle says when it has.
    fn stop(self) -> JoinHandle<()> {
        self.stop.cancel();
        self.done
    }
}

/// What a reconcile did, by backend name.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Reconciled {
    pub added: Vec<String>,
    pub removed: Vec<String>,
    pub restarted: Vec<String>,
    pub kept: Vec<String>,
}

impl Reconciled {
    pub fn is_empty(&self) -> bool {
        self.added.is_empty() && self.removed.is_empty() && self.restarted.is_empty()
    }
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
        relay: &Arc<Relay>,
    ) -> Supervisor {
        let mut supervisor = Supervisor {
            registry: Arc::clone(registry),
            shutdown: shutdown.child_token(),
            go: go.clone(),
            tasks: TaskTracker::new(),
            running: tokio::sync::Mutex::new(Running::default()),
            relay: Arc::clone(relay),
            starts: StartSlots::new(),
        };
        let mut running = Running::default();
        for backend in config.backends.values() {
            let slot = supervisor.launch(backend, config.limits.max_message_bytes);
            running.backends.insert(backend.name.clone(), slot);
        }
        running.capabilities = supervisor.launch_capabilities(config);
        supervisor.running = tokio::sync::Mutex::new(running);
        supervisor
    }

    /// Bring the running backends in line with `config` (see the module docs). Calls are
    /// serialised: a second reload waits for the first to finish.
    pub async fn reconcile(&self, config: &Config) -> Reconciled {
        let mut running = self.running.lock().await;
        let mut report = Reconciled::default();
        let max = config.limits.max_message_bytes;

        // Capabilities first, and waited for: the capability actor updates its entry by
        // name, and a backend may now be taking that name.
        let wanted = served_capabilities(config);
        if running.capabilities.as_ref().map(|c| &c.config) != wanted {
            if let Some(old) = running.capabilities.take() {
                let _ = tokio::time::timeout(STOP_WAIT, old.actor.stop()).await;
                if !running.backends.contains_key(&old.config.name) {
                    self.registry.remove(&old.config.name);
                }
            }
            running.capabilities = self.launch_capabilities(config);
        }

        let mut stopping = Vec::new();
        let gone: Vec<String> = running
            .backends
            .keys()
            .filter(|name| !config.backends.contains_key(*name))
            .cloned()
            .collect();
        for name in gone {
            if let Some(slot) = running.backends.remove(&name) {
                stopping.extend(slot.actor.map(ActorTask::stop));
                self.registry.remove(&name);
                tracing::info!(backend = %name, "removed from gateway.yaml: stopped");
                report.removed.push(name);
            }
        }
        let mut restart = Vec::new();
        for (name, new) in &config.backends {
            match running.backends.get_mut(name) {
                None => {
                    let slot = self.launch(new, max);
                    running.backends.insert(name.clone(), slot);
                    tracing::info!(backend = %name, "added to gateway.yaml: starting");
                    report.added.push(name.clone());
                }
                Some(slot)
                    if same_connection(&slot.config, new) && slot.max_message_bytes == max =>
                {
                    if slot.config.description != new.description {
                        let description = new.description.clone();
                        self.registry.update(name, |e| e.description = description);
                    }
                    slot.config = new.clone();
                    report.kept.push(name.clone());
                }
                Some(slot) => {
                    stopping.extend(slot.actor.take().map(ActorTask::stop));
                    restart.push(new);
                    tracing::info!(backend = %name, "changed in gateway.yaml: restarting");
                    report.restarted.push(name.clone());
                }
            }
        }
        // Every stop was asked for above, so these run side by side: the wait is the
        // slowest one, not the sum.
        for done in stopping {
            if tokio::time::timeout(STOP_WAIT, done).await.is_err() {
                tracing::warn!("a stopped backend did not finish in time");
            }
        }
        for new in restart {
            let slot = self.launch(new, max);
            running.backends.insert(new.name.clone(), slot);
        }
        report
    }

    /// Stop backend `name` and start it again, whatever its state (a failed one is tried
    /// at once): what `mcp-gateway restart <name>` asks a running gateway for.
    pub async fn restart(&self, name: &str) -> Result<(), String> {
        let mut running = self.running.lock().await;
        let known: Vec<&str> = running.backends.keys().map(String::as_str).collect();
        let Some(slot) = running.backends.get(name) else {
            if running
                .capabilities
                .as_ref()
                .is_some_and(|c| c.config.name == name)
            {
                return Err(format!(
                    "`{name}` is the capability backend: it reloads its files by itself"
                ));
            }
            return Err(format!(
                "no backend `{name}` in this gateway; backends: {}",
                known.join(", ")
            ));
        };
        if slot.actor.is_none() {
            return Err(format!("backend `{name}` is disabled in gateway.yaml"));
        }
        let (config, max) = (slot.config.clone(), slot.max_message_bytes);
        if let Some(actor) = running.backends.remove(name).and_then(|s| s.actor)
            && tokio::time::timeout(STOP_WAIT, actor.stop()).await.is_err()
        {
            tracing::warn!(backend = %name, "did not stop in time; starting it anyway");
        }
        tracing::info!(backend = %name, "restart asked for: starting again");
        let slot = self.launch(&config, max);
        running.backends.insert(name.to_owned(), slot);
        Ok(())
    }

    /// Stop every backend and wait (bounded) until each has been taken down.
    pub async fn shutdown(&self) {
        self.shutdown.cancel();
        self.tasks.close();
        if tokio::time::timeout(Duration::from_secs(3), self.tasks.wait())
            .await
            .is_err()
        {
            tracing::warn!("some backends did not stop in time");
        }
    }

    /// Register `backend` (as `starting`, or `disabled`) and start its actor.
    fn launch(&self, backend: &BackendConfig, max_message_bytes: usize) -> Slot {
        let mut entry = ServerEntry::new(
            &backend.name,
            backend.description.clone(),
            transport_kind(backend),
        );
        entry.trust = Some(crate::trust::BackendTrust::of(backend));
        entry.start_wait = backend.start_timeout + backend.timeout;
        let actor = if backend.enabled {
            let retry_now = Arc::new(tokio::sync::Notify::new());
            entry.retry_now = Some(Arc::clone(&retry_now));
            self.registry.put(entry);
            let stop = self.shutdown.child_token();
            let actor = actor::Actor {
                name: Arc::from(backend.name.as_str()),
                config: backend.clone(),
                trust: crate::trust::BackendTrust::of(backend),
                registry: Arc::clone(&self.registry),
                max_message_bytes,
                shutdown: stop.clone(),
                retry_now,
                relay: Arc::clone(&self.relay),
                starts: self.starts.clone(),
            };
            let done = self.spawn(stop.clone(), Box::pin(actor.run()));
            Some(ActorTask { stop, done })
        } else {
            entry.state = ServerState::Disabled;
            self.registry.put(entry);
            None
        };
        Slot {
            config: backend.clone(),
            max_message_bytes,
            actor,
        }
    }

    fn launch_capabilities(&self, config: &Config) -> Option<CapabilitySlot> {
        let caps = served_capabilities(config)?;
        let stop = self.shutdown.child_token();
        let work = crate::capability::start(caps, &self.registry, stop.clone());
        let done = self.spawn(stop.clone(), Box::pin(work));
        Some(CapabilitySlot {
            config: caps.clone(),
            actor: ActorTask { stop, done },
        })
    }

    /// Run `work` once `go` is cancelled, unless `stop` comes first.
    fn spawn(
        &self,
        stop: CancellationToken,
        work: Pin<Box<dyn Future<Output = ()> + Send>>,
    ) -> JoinHandle<()> {
        let go = self.go.clone();
        self.tasks.spawn(async move {
            tokio::select! {
                () = go.cancelled() => work.await,
                () = stop.cancelled() => {}
            }
        })
    }
}

/// The capability section, when it is served: enabled, and its name not taken by a backend.
fn served_capabilities(config: &Config) -> Option<&CapabilitiesConfig> {
    let caps = &config.capabilities;
    if !caps.serves_anything() {
        return None;
    }
    if config.backends.contains_key(&caps.name) {
        tracing::warn!(
            "capabilities are not served: a backend is already named `{}` \
             (set `capabilities.name`)",
            caps.name
        );
        return None;
    }
    Some(caps)
}

/// Whether a running backend can stay as it is under `new`: everything but its
/// description (shown, never sent to the backend) is the same.
fn same_connection(old: &BackendConfig, new: &BackendConfig) -> bool {
    let mut old = old.clone();
    old.description.clone_from(&new.description);
    // Limits and the breaker live on the client-facing side (`crate::failsafe`).
    old.failsafe.clone_from(&new.failsafe);
    old == *new
}

fn transport_kind(backend: &BackendConfig) -> TransportKind {
    match backend.transport {
        Transport::Stdio { .. } => TransportKind::Stdio,
        Transport::Http { .. } => TransportKind::Http,
    }
}
