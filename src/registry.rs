//! The registry: an immutable snapshot of every backend, its state and its tools.
//!
//! Readers take an `Arc<Snapshot>` and never block writers; a writer builds a new snapshot
//! and swaps it in. Every swap bumps a version on a `watch` channel, so waiters (a call
//! to a backend that is still starting, the terminal commands) wake without polling.

// Logging and resources/subscribe are deprecated by SEP-2577 / 2026-07-28, yet
// initialize-era clients and backends use them, and the gateway passes them on.
#![allow(deprecated)]

use std::collections::BTreeMap;
use std::sync::{Arc, RwLock};
use std::time::{Duration, SystemTime};

use rmcp::model::{LoggingMessageNotificationParam, Prompt, ServerPeerInfo, Tool};
use tokio::sync::{Notify, broadcast, watch};

use crate::target::BackendHandle;
use crate::trust::{BackendTrust, Finding, Gated, Held, Trust};

/// Where a backend is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ServerState {
    Starting,
    Ready,
    Failed,
    Disabled,
    /// Not running, by design: a lazy backend before its first call, or one stopped after
    /// `idle_timeout`. Its tools stay listed and searchable; a call starts it.
    Idle,
}

impl ServerState {
    pub fn as_str(self) -> &'static str {
        match self {
            ServerState::Starting => "starting",
            ServerState::Ready => "ready",
            ServerState::Failed => "failed",
            ServerState::Disabled => "disabled",
            ServerState::Idle => "idle",
        }
    }
}

/// How the gateway reaches a backend.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TransportKind {
    Stdio,
    Http,
    /// REST APIs described by capability files, served in process.
    Capability,
}

impl TransportKind {
    pub fn as_str(self) -> &'static str {
        match self {
            TransportKind::Stdio => "stdio",
            TransportKind::Http => "http",
            TransportKind::Capability => "capability",
        }
    }
}

/// One backend as the rest of the gateway sees it.
#[derive(Clone)]
pub struct ServerEntry {
    pub name: String,
    pub description: Option<String>,
    pub transport: TransportKind,
    pub state: ServerState,
    /// The tools served: as the backend listed them, with schemas normalised (see
    /// [`normalize_tool`]), less the ones held back by `trust`.
    pub tools: Arc<[Tool]>,
    /// Everything the backend listed (normalised), held tools included: what a re-check of
    /// trust (an approval) starts from.
    pub listed: Arc<[Tool]>,
    /// Tools held back (quarantined) until approved, with why.
    pub held: Arc<[Held]>,
    /// The poisoning scan's findings on its tools (warnings and blocks).
    pub findings: Arc<[Finding]>,
    /// How its tools are trusted; `None` for capability tools (scanned, not pinned).
    pub trust: Option<BackendTrust>,
    pub last_error: Option<String>,
    /// Spawn → tools listed, for the last successful start.
    pub startup: Option<Duration>,
    /// The live connection; `Some` exactly when `state` is `Ready`.
    pub handle: Option<BackendHandle>,
    /// Problems that do not stop the backend (capability files refused or kept at their
    /// previous version), for `gateway_list_servers`.
    pub problems: Vec<String>,
    /// What an MCP backend answered to `initialize` (capabilities, instructions), while
    /// it is ready.
    pub server: Option<Arc<ServerPeerInfo>>,
    /// The backend's prompts, as listed (empty unless it offers prompts).
    pub prompts: Arc<[Prompt]>,
    /// Failed starts in a row (reset by a start that succeeds).
    pub attempts: u32,
    /// When the next start is due; `None` while starting, ready, or waiting for a config
    /// change (a permanent error).
    pub next_retry: Option<SystemTime>,
    /// Asks the backend's actor to retry now instead of at `next_retry` (or to start, when
    /// it is idle).
    pub retry_now: Option<Arc<Notify>>,
    /// Why it is idle, while it is (`state` is `Idle`).
    pub idle: Option<IdleReason>,
    /// How long a call waits for it to start from idle: its `start_timeout` and the
    /// `tools/list` after it.
    pub start_wait: Duration,
}

/// Why a backend is not running though nothing is wrong.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IdleReason {
    /// `start: lazy`, not called yet (its tools come from the cached list).
    Lazy,
    /// Stopped after this long without a call.
    Stopped(Duration),
}

impl std::fmt::Display for IdleReason {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            IdleReason::Lazy => f.write_str("idle (lazy): starts on its first call"),
            IdleReason::Stopped(after) => write!(
                f,
                "stopped after {} idle: starts on its next call",
                crate::config::human_duration(*after)
            ),
        }
    }
}

impl ServerEntry {
    pub fn new(name: &str, description: Option<String>, transport: TransportKind) -> Self {
        ServerEntry {
            name: name.to_owned(),
            description,
            transport,
            state: ServerState::Starting,
            tools: Arc::from(Vec::new()),
            listed: Arc::from(Vec::new()),
            held: Arc::from(Vec::new()),
            findings: Arc::from(Vec::new()),
            trust: None,
            last_error: None,
            startup: None,
            handle: None,
            problems: Vec::new(),
            server: None,
            prompts: Arc::from(Vec::new()),
            attempts: 0,
            next_retry: None,
            retry_now: None,
            idle: None,
            start_wait: Duration::from_secs(30),
        }
    }

    pub fn tool(&self, name: &str) -> Option<&Tool> {
        self.tools.iter().find(|t| t.name == name)
    }

    /// The held-back tool `name`, if it is one.
    pub fn held_tool(&self, name: &str) -> Option<&Held> {
        self.held.iter().find(|h| h.name() == name)
    }

    /// Set everything the backend listed, served and held as `gated` says.
    pub fn set_tools(&mut self, listed: Arc<[Tool]>, gated: Gated) {
        if *self.tools != *gated.visible {
            self.tools = gated.visible.into();
        }
        self.listed = listed;
        self.held = gated.held.into();
        self.findings = gated.findings.into();
    }

    /// No tools at all (the backend failed or stopped).
    pub fn clear_tools(&mut self) {
        self.tools = Arc::from(Vec::new());
        self.listed = Arc::from(Vec::new());
        self.held = Arc::from(Vec::new());
        self.findings = Arc::from(Vec::new());
    }
}

/// Every backend at one instant, sorted by name.
#[derive(Clone, Default)]
pub struct Snapshot {
    pub servers: BTreeMap<String, Arc<ServerEntry>>,
}

impl Snapshot {
    pub fn server(&self, name: &str) -> Option<&Arc<ServerEntry>> {
        self.servers.get(name)
    }

    /// Every `(server, tool)` of every ready backend, in name order.
    pub fn tools(&self) -> impl Iterator<Item = (&str, &Tool)> {
        self.servers
            .values()
            .flat_map(|s| s.tools.iter().map(move |t| (s.name.as_str(), t)))
    }

    pub fn starting(&self) -> Vec<&str> {
        self.servers
            .values()
            .filter(|s| s.state == ServerState::Starting)
            .map(|s| s.name.as_str())
            .collect()
    }
}

/// What a backend tells the client beyond its tool list, in the backend's own terms
/// (URIs un-namespaced); `proxy` turns them into what the client sees.
#[derive(Debug, Clone)]
pub enum BackendEvent {
    /// Its resource list changed (or it came or went with resources).
    ResourcesChanged { backend: Arc<str> },
    /// Its prompt list changed (or it came or went with prompts).
    PromptsChanged { backend: Arc<str> },
    /// A subscribed resource changed.
    ResourceUpdated { backend: Arc<str>, uri: String },
    /// A `notifications/message` log entry.
    Log {
        backend: Arc<str>,
        message: LoggingMessageNotificationParam,
    },
}

/// How many backend events may wait for a slow client before the oldest are dropped
/// (and the drop logged).
const EVENT_BACKLOG: usize = 256;

/// Shared, swappable [`Snapshot`].
pub struct Registry {
    current: RwLock<Arc<Snapshot>>,
    trust: Arc<Trust>,
    version: watch::Sender<u64>,
    events: broadcast::Sender<BackendEvent>,
}

impl Default for Registry {
    fn default() -> Self {
        Registry {
            current: RwLock::new(Arc::new(Snapshot::default())),
            trust: Arc::new(Trust::default()),
            version: watch::Sender::new(0),
            events: broadcast::Sender::new(EVENT_BACKLOG),
        }
    }
}

impl Registry {
    /// A registry whose backends' tools pass `trust` (pins and the poisoning scan).
    pub fn with_trust(trust: Arc<Trust>) -> Registry {
        Registry {
            trust,
            ..Registry::default()
        }
    }

    pub fn trust(&self) -> &Arc<Trust> {
        &self.trust
    }

    /// Sort `tools` listed by `name` into served and held (see [`Trust::admit`]); a tool
    /// another server already serves under the same name is a shadowing finding.
    pub fn admit(&self, name: &str, backend: Option<&BackendTrust>, tools: &[Tool]) -> Gated {
        let snap = self.snapshot();
        let owners = crate::trust::tool_owners(
            snap.servers.values().map(|s| (s.name.as_str(), &*s.tools)),
            name,
        );
        self.trust
            .admit(name, backend, tools, &|tool| owners.get(tool).cloned())
    }

    /// When the pin file changed on disk (an approval, from `tools approve`), sort every
    /// backend's tools again, so an approved tool is served without a restart. One `stat`
    /// otherwise; called before each listing, search and call.
    pub fn recheck_trust(&self) {
        if !self.trust.reload_if_changed() {
            return;
        }
        self.regate_all();
    }

    /// Sort every backend's tools again (the pins or the scan policy changed).
    pub fn regate_all(&self) {
        let snap = self.snapshot();
        for entry in snap.servers.values() {
            if entry.listed.is_empty() {
                continue;
            }
            let listed = Arc::clone(&entry.listed);
            let gated = self.admit(&entry.name, entry.trust.as_ref(), &listed);
            let unchanged = gated.held.len() == entry.held.len() && *gated.visible == *entry.tools;
            if unchanged {
                continue;
            }
            self.update(&entry.name, |e| {
                // A newer list arrived meanwhile: its own admission stands.
                if Arc::ptr_eq(&e.listed, &listed) {
                    e.set_tools(listed, gated);
                }
            });
        }
    }

    /// Announce a backend event to whoever follows them (the client-facing server).
    pub fn announce(&self, event: BackendEvent) {
        // No follower (terminal commands) is fine: nobody to tell.
        let _ = self.events.send(event);
    }

    /// Follow backend events from now on.
    pub fn events(&self) -> broadcast::Receiver<BackendEvent> {
        self.events.subscribe()
    }

    pub fn snapshot(&self) -> Arc<Snapshot> {
        // A poisoned lock only means a writer panicked between read and swap; the Arc
        // inside is still a whole snapshot, so keep serving it.
        match self.current.read() {
            Ok(guard) => Arc::clone(&guard),
            Err(poisoned) => Arc::clone(&poisoned.into_inner()),
        }
    }

    /// Replace one backend's entry (or add it).
    pub fn put(&self, entry: ServerEntry) {
        self.swap(|snap| {
            snap.servers.insert(entry.name.clone(), Arc::new(entry));
        });
    }

    /// Take a backend out (a reload removed it). Its tools leave the index on the next
    /// follower round, like any other change.
    pub fn remove(&self, name: &str) {
        self.swap(|snap| {
            snap.servers.remove(name);
        });
    }

    /// Change one backend's entry in place; a no-op if it is gone.
    pub fn update(&self, name: &str, change: impl FnOnce(&mut ServerEntry)) {
        self.swap(|snap| {
            if let Some(entry) = snap.servers.get_mut(name) {
                change(Arc::make_mut(entry));
            }
        });
    }

    /// Bumped by every swap.
    pub fn version(&self) -> u64 {
        *self.version.borrow()
    }

    /// A receiver that changes whenever the snapshot does.
    pub fn subscribe(&self) -> watch::Receiver<u64> {
        self.version.subscribe()
    }

    fn swap(&self, change: impl FnOnce(&mut Snapshot)) {
        let mut guard = match self.current.write() {
            Ok(guard) => guard,
            Err(poisoned) => poisoned.into_inner(),
        };
        let mut next = Snapshot::clone(&guard);
        change(&mut next);
        *guard = Arc::new(next);
        drop(guard);
        self.version.send_modify(|v| *v += 1);
    }

    /// Wait until `name` has left `Starting` (or `limit` passes) and return its entry.
    pub async fn wait_settled(&self, name: &str, limit: Duration) -> Option<Arc<ServerEntry>> {
        self.wait_until(name, limit, |e| e.state != ServerState::Starting)
            .await
    }

    /// Wait until `name`'s entry satisfies `done` or is gone (or `limit` passes), and
    /// return it.
    pub async fn wait_until(
        &self,
        name: &str,
        limit: Duration,
        done: impl Fn(&ServerEntry) -> bool,
    ) -> Option<Arc<ServerEntry>> {
        let mut changes = self.subscribe();
        let deadline = tokio::time::Instant::now() + limit;
        loop {
            let entry = self.snapshot().server(name).cloned();
            match &entry {
                Some(e) if !done(e) => {}
                _ => return entry,
            }
            if tokio::time::timeout_at(deadline, changes.changed())
                .await
                .is_err()
            {
                return entry;
            }
        }
    }

    /// Wait until no backend is `Starting` (or `limit` passes); `progress` sees each change.
    pub async fn wait_all_settled(&self, limit: Duration, mut progress: impl FnMut(&Snapshot)) {
        let mut changes = self.subscribe();
        let deadline = tokio::time::Instant::now() + limit;
        loop {
            let snap = self.snapshot();
            progress(&snap);
            if snap.starting().is_empty() {
                return;
            }
            if tokio::time::timeout_at(deadline, changes.changed())
                .await
                .is_err()
            {
                return;
            }
        }
    }
}

/// Make a backend's tool safe to re-export: some real servers send an `inputSchema`
/// without `"type": "object"`, which strict clients (the Python SDK) reject for the whole list.
pub fn normalize_tool(mut tool: Tool) -> Tool {
    if !tool.input_schema.contains_key("type") {
        let mut schema = (*tool.input_schema).clone();
        schema.insert("type".into(), serde_json::Value::from("object"));
        tool.input_schema = Arc::new(schema);
    }
    tool
}
