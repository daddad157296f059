//! The capability backend: one actor that loads the capability set, registers it in the
//! registry as a backend (named by `capabilities.name`), and reloads it when a watched
//! directory changes. Calls go through [`CapabilitySet`] held by the backend handle.

use std::collections::{BTreeMap, HashSet};
use std::sync::Arc;

use rmcp::ErrorData;
use rmcp::model::{CallToolRequestParams, CallToolResult, Tool};
use tokio_util::sync::CancellationToken;

use super::executor::{ClientError, Executor, HostOverrides};
use super::load::{Loaded, Loader, Source, Trust};
use super::pins::PinStore;
use super::ssrf::NetworkPolicy;
use super::{Capability, watch};
use crate::config::CapabilitiesConfig;
use crate::registry::{Registry, ServerEntry, ServerState, TransportKind, normalize_tool};
use crate::target::{BackendHandle, CallError, CallFuture, Caller, ToolTarget};

/// The capabilities being served, and the executor that runs them. Cheap to clone.
#[derive(Clone)]
pub struct CapabilitySet {
    caps: Arc<BTreeMap<String, Arc<Capability>>>,
    executor: Arc<Executor>,
}

impl ToolTarget for CapabilitySet {
    fn call_tool<'a>(
        &'a self,
        backend: &'a str,
        params: CallToolRequestParams,
        caller: Caller,
    ) -> CallFuture<'a> {
        Box::pin(async move {
            tokio::select! {
                result = self.call(params) => result.map_err(|error| CallError::Backend {
                    backend: backend.to_owned(),
                    error,
                }),
                () = caller.cancelled.cancelled() => Err(CallError::Cancelled),
            }
        })
    }
}

impl CapabilitySet {
    pub fn new(loaded: &Loaded, executor: Arc<Executor>) -> CapabilitySet {
        let caps = loaded
            .capabilities
            .iter()
            .map(|(name, l)| (name.clone(), Arc::clone(&l.capability)))
            .collect();
        CapabilitySet {
            caps: Arc::new(caps),
            executor,
        }
    }

    pub fn tools(&self) -> Vec<Tool> {
        self.caps
            .values()
            .map(|c| normalize_tool(c.to_tool()))
            .collect()
    }

    /// # Errors
    ///
    /// An unknown tool name (a protocol error: nothing ran).
    pub async fn call(&self, params: CallToolRequestParams) -> Result<CallToolResult, ErrorData> {
        let Some(cap) = self.caps.get(params.name.as_ref()) else {
            return Err(ErrorData::invalid_params(
                format!("no capability `{}`", params.name),
                None,
            ));
        };
        Ok(self
            .executor
            .call(cap, params.arguments.unwrap_or_default())
            .await)
    }
}

/// Builds the executor for a config: its network policy plus the test host overrides.
///
/// # Errors
///
/// When the HTTP client cannot be built.
pub fn executor(config: &CapabilitiesConfig) -> Result<Executor, ClientError> {
    let policy = NetworkPolicy {
        allow_private: config.allow_private_networks,
        allowed_hosts: config.allowed_hosts.iter().cloned().collect(),
    };
    Executor::new(policy, HostOverrides::from_env())
        .map(|e| e.with_max_result_bytes(config.max_result_bytes))
}

/// The trust checks for `config`'s directory files, with the pin store in the data
/// directory. `record_new` records files seen for the first time (only `serve` does).
pub fn trust(config: &CapabilitiesConfig, record_new: bool) -> Trust {
    Trust {
        env_allow: config.env_allow.clone(),
        pins: PinStore::default_location(),
        record_new,
    }
}

/// Registers the capability backend as `starting` and returns its actor, which loads in the
/// background (a large directory must not delay `initialize`) and then follows changes.
pub fn start(
    config: &CapabilitiesConfig,
    registry: &Arc<Registry>,
    shutdown: CancellationToken,
) -> impl Future<Output = ()> + Send + 'static {
    let description = "REST APIs described by capability files".to_owned();
    registry.put(ServerEntry::new(
        &config.name,
        Some(description),
        TransportKind::Capability,
    ));
    let actor = Actor {
        logged: Default::default(),
        name: config.name.clone(),
        registry: Arc::clone(registry),
        shutdown,
        config: config.clone(),
    };
    actor.run()
}

struct Actor {
    /// Messages already logged, so a reload repeats none of them.
    logged: HashSet<String>,
    name: String,
    registry: Arc<Registry>,
    shutdown: CancellationToken,
    config: CapabilitiesConfig,
}

impl Actor {
    async fn run(mut self) {
        let executor = match executor(&self.config) {
            Ok(e) => Arc::new(e),
            Err(e) => {
                self.registry.update(&self.name, |entry| {
                    entry.state = ServerState::Failed;
                    entry.last_error = Some(e.to_string());
                });
                return;
            }
        };
        let dirs = self.config.directories.clone();
        let trust = trust(&self.config, true);
        // `cap pin` approves a quarantined file by writing the store: watch it too, so the
        // file comes back without a restart. Its directory must exist to be watched.
        let store = trust.pins.as_ref().map(|p| p.path().to_path_buf());
        if let Some(dir) = store.as_deref().and_then(std::path::Path::parent)
            && !dirs.is_empty()
            && let Err(e) = std::fs::create_dir_all(dir)
        {
            tracing::warn!("capabilities: cannot create {}: {e}", dir.display());
        }
        // Watch before the first load, so an edit during it is not missed.
        let (mut watcher, unwatched) = watch::watch(&dirs, store.as_deref());
        for (dir, why) in &unwatched {
            tracing::warn!("capabilities: {}: {why}", dir.display());
        }
        let mut loader = Loader::new(self.config.builtin, dirs, trust);
        loop {
            let (back, loaded) = match tokio::task::spawn_blocking(move || {
                let loaded = loader.load();
                (loader, loaded)
            })
            .await
            {
                Ok(done) => done,
                Err(e) => {
                    tracing::error!("capability loading failed: {e}");
                    return;
                }
            };
            loader = back;
            self.publish(&loaded, &executor);
            let next = async {
                match watcher.as_mut() {
                    Some(w) => w.next_batch().await,
                    None => std::future::pending().await,
                }
            };
            tokio::select! {
                batch = next => if batch.is_none() { watcher = None },
                () = self.shutdown.cancelled() => return,
            }
            tracing::debug!("capability files changed; reloading");
        }
    }

    /// Swaps in the new set. The tools `Arc` changes only when the tools did, so a reload
    /// that changed nothing visible is neither re-indexed nor announced.
    fn publish(&mut self, loaded: &Loaded, executor: &Arc<Executor>) {
        let set = CapabilitySet::new(loaded, Arc::clone(executor));
        let tools = set.tools();
        let mut problems = Vec::new();
        let mut seen = HashSet::new();
        let logged = &mut self.logged;
        for problem in &loaded.problems {
            let text = problem.to_string();
            if logged.insert(text.clone()) {
                if problem.quarantined {
                    tracing::error!("capabilities: {text}");
                } else {
                    tracing::warn!("capabilities: {text}");
                }
            }
            seen.insert(text.clone());
            problems.push(text);
        }
        for l in loaded.capabilities.values() {
            for w in &l.warnings {
                let text = format!("{}: {w}", l.source);
                if logged.insert(text.clone()) {
                    tracing::warn!("capabilities: {text}");
                }
                seen.insert(text);
            }
        }
        // Forget what is fixed, so it is logged again if it comes back.
        logged.retain(|t| seen.contains(t));
        let count = tools.len();
        // A capability file is third-party text: scanned like any backend's tools (not pinned
        // here: capability files carry their own pins). The built-in catalog is the binary's
        // own text: vouched for instead.
        self.registry.trust().vouch(
            loaded
                .capabilities
                .values()
                .filter(|l| matches!(l.source, Source::Builtin(_)))
                .map(|l| normalize_tool(l.capability.to_tool()))
                .collect(),
        );
        let gated = self.registry.admit(&self.name, None, &tools);
        for held in &gated.held {
            tracing::warn!(
                "capabilities: tool `{}` quarantined: {}",
                held.name(),
                held.why()
            );
        }
        let listed: Arc<[Tool]> = tools.into();
        self.registry.update(&self.name, |entry| {
            entry.set_tools(listed, gated);
            entry.state = ServerState::Ready;
            entry.handle = Some(BackendHandle::new(&self.name, Arc::new(set)));
            entry.problems = problems;
            entry.last_error = None;
        });
        tracing::info!(
            "capabilities: {count} tool(s) ready as `{}`{}",
            self.name,
            if loaded.problems.is_empty() {
                String::new()
            } else {
                format!("; {} file(s) with problems", loaded.problems.len())
            }
        );
    }
}
