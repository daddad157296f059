//! One actor per backend: it owns the connection, lists the tools, follows
//! `tools/list_changed`, restarts a crashed backend with backoff, and on shutdown takes
//! down the backend's whole process group.

use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use rmcp::model::{Prompt, Tool};
use rmcp::service::ClientCacheConfig;
use rmcp::{Peer, RoleClient};
use tokio::sync::{Notify, mpsc};
use tokio_util::sync::CancellationToken;

use super::call::McpTarget;
use super::client::{ActorCommand, BackendClient};
use super::connect::{self, ConnectError, StderrTail};
use super::lazy::{Activity, ToolCache};
use super::progress::ProgressRoutes;
use super::slots::StartSlots;
use crate::config::{BackendConfig, StartMode, Transport};
use crate::registry::{BackendEvent, IdleReason, Registry, ServerState, normalize_tool};
use crate::relay::Relay;
use crate::target::BackendHandle;

/// The first retry's delay; each failed start in a row doubles it, up to [`MAX_BACKOFF`].
const FIRST_BACKOFF: Duration = Duration::from_secs(1);
/// The longest wait between tries: a backend that comes back (VPN up, laptop awake, a
/// container started) is in use again within a minute, without anyone asking.
const MAX_BACKOFF: Duration = Duration::from_secs(60);
/// How long a lazy backend started at serve only to list its tools stays up after its last
/// call (a call may come while it lists): then it is idle until the next.
const LISTED_GRACE: Duration = Duration::from_secs(1);

pub(crate) struct Actor {
    pub(crate) name: Arc<str>,
    pub(crate) config: BackendConfig,
    /// How its tools are trusted (from `config`).
    pub(crate) trust: crate::trust::BackendTrust,
    pub(crate) registry: Arc<Registry>,
    /// `limits.max_message_bytes`: the longest line read from a stdio backend.
    pub(crate) max_message_bytes: usize,
    pub(crate) shutdown: CancellationToken,
    /// A call (or a person) asking for a retry now, instead of at the next backoff.
    pub(crate) retry_now: Arc<Notify>,
    /// Where the backend's requests to the client go, and what the client can do.
    pub(crate) relay: Arc<Relay>,
    /// Shared by every backend: a stdio backend starts in one.
    pub(crate) starts: StartSlots,
}

/// How one connection ended.
enum Ended {
    Shutdown,
    /// The client turned out to have capabilities this connection did not declare:
    /// connect again at once, declaring them.
    Redeclare,
    /// Stopped on purpose (idle, or listed for a lazy start): started again by a call.
    Idle(IdleReason),
    /// It failed; `ready` says whether it had served before failing.
    Failed {
        ready: bool,
        permanent: bool,
    },
}

impl Actor {
    /// Keep the backend up for as long as it is configured: a failed start is retried
    /// with capped exponential backoff and jitter, forever; a permanent error (command
    /// not found, invalid URL, auth refused) waits for a config change or a retry request.
    pub(crate) async fn run(self) {
        let cache = (self.config.start == StartMode::Lazy)
            .then(|| ToolCache::of(&self.config))
            .flatten();
        // A lazy backend with a cached list waits for its first call; without one it is
        // started now, only to list its tools, and stopped again once it has.
        let mut idle = match cache.as_ref().and_then(ToolCache::load) {
            Some(tools) => {
                tracing::info!(backend = %self.name, "lazy: {} tools from the cache", tools.len());
                self.publish_tools(tools, Vec::new());
                Some(IdleReason::Lazy)
            }
            None => None,
        };
        let mut only_to_list = cache.is_some() && idle.is_none();
        let mut failures: u32 = 0;
        loop {
            if let Some(reason) = idle.take() {
                if !self.wait_for_a_call(reason).await {
                    return;
                }
                only_to_list = false;
            }
            let delay = match self.run_once(cache.as_ref(), only_to_list).await {
                Ended::Shutdown => return,
                Ended::Redeclare => {
                    failures = 0;
                    continue;
                }
                Ended::Idle(reason) => {
                    failures = 0;
                    idle = Some(reason);
                    continue;
                }
                Ended::Failed { ready, permanent } => {
                    failures = if ready { 1 } else { failures.saturating_add(1) };
                    (!permanent).then(|| backoff(failures))
                }
            };
            self.publish(|e| {
                e.attempts = failures;
                e.next_retry = delay.map(|d| SystemTime::now() + d);
            });
            match delay {
                Some(d) => {
                    tracing::warn!(backend = %self.name, "retrying in {d:?} (attempt {failures})")
                }
                None => {
                    tracing::warn!(backend = %self.name, "not retrying until gateway.yaml changes or a call asks")
                }
            }
            let wait = async {
                match delay {
                    Some(d) => tokio::time::sleep(d).await,
                    None => std::future::pending().await,
                }
            };
            tokio::select! {
                () = wait => {}
                () = self.retry_now.notified() => {
                    tracing::info!(backend = %self.name, "retrying now, as asked");
                }
                () = self.shutdown.cancelled() => return,
            }
            // The error stays shown while the new attempt runs: it is still the latest.
            self.publish(|e| {
                e.state = ServerState::Starting;
                e.next_retry = None;
            });
        }
    }

    /// Idle until a call asks for the backend (`false`: shut down meanwhile).
    async fn wait_for_a_call(&self, reason: IdleReason) -> bool {
        self.publish(|e| {
            e.state = ServerState::Idle;
            e.idle = Some(reason);
            e.handle = None;
            e.next_retry = None;
        });
        tracing::info!(backend = %self.name, "{reason}");
        // A request stored while the actor was busy (a call that saw it idle while it was
        // being stopped) starts it at once: never lose a call's request.
        tokio::select! {
            () = self.retry_now.notified() => {}
            () = self.shutdown.cancelled() => return false,
        }
        tracing::info!(backend = %self.name, "starting: a call asks for it");
        self.publish(|e| {
            e.state = ServerState::Starting;
            e.idle = None;
        });
        true
    }

    /// One connection, from spawn to its end. `only_to_list`: a lazy backend started to
    /// fill its tool cache, stopped again once no call uses it.
    async fn run_once(&self, cache: Option<&ToolCache>, only_to_list: bool) -> Ended {
        // A local process waits for a start slot; a remote server costs this machine little.
        let slot = match self.config.transport {
            Transport::Stdio { .. } => tokio::select! {
                slot = self.starts.take() => Some(slot),
                () = self.shutdown.cancelled() => return Ended::Shutdown,
            },
            Transport::Http { .. } => None,
        };
        // From here: the time a slot was waited for is not the backend's.
        let started = Instant::now();
        let stderr = StderrTail::default();
        let progress = ProgressRoutes::default();
        let (mailbox, mut commands) = mpsc::channel(4);
        // Watched from before the declaration is read, so a client that becomes known
        // during the handshake is not missed.
        let mut client_known = self.relay.watch();
        let declared = self.relay.declared();
        let client = BackendClient {
            name: Arc::clone(&self.name),
            protocol: offered_version(&self.config),
            mailbox,
            registry: Arc::clone(&self.registry),
            declared: declared.clone(),
            relay: Arc::clone(&self.relay),
        };

        let opened = match connect::open(&self.name, &self.config, &stderr, self.max_message_bytes)
        {
            Ok(opened) => opened,
            Err(e) => return self.fail(&e, false),
        };
        let group = opened.process_group();
        let exit = opened.exit_note();
        let connection = self.shutdown.child_token();
        let handshake = connect::handshake(
            opened,
            client,
            progress.clone(),
            &stderr,
            connection.clone(),
        );
        let service = tokio::select! {
            r = tokio::time::timeout(self.config.start_timeout, handshake) => match r {
                Ok(Ok(service)) => service,
                Ok(Err(e)) => {
                    kill_group(group);
                    return self.fail(&e, false);
                }
                Err(_) => {
                    kill_group(group);
                    let e = ConnectError::Initialize(format!(
                        "no answer to initialize within {:?}",
                        self.config.start_timeout
                    ));
                    return self.fail(&e, false);
                }
            },
            () = self.shutdown.cancelled() => {
                kill_group(group);
                return Ended::Shutdown;
            }
        };
        // Up and answering: the slot goes to the next backend waiting.
        drop(slot);
        // The peer's list cache could hand back a stale list after a backend error; the
        // registry is our cache.
        service
            .peer()
            .set_response_cache_config(ClientCacheConfig::disabled())
            .await;
        let peer = service.peer().clone();
        // Told when the client's roots change, for as long as this connection lives.
        let _attached = self.relay.attach(&self.name, peer.clone());
        let activity = Arc::new(Activity::default());
        let handle = BackendHandle::new(
            &self.name,
            Arc::new(McpTarget {
                activity: Arc::clone(&activity),
                peer: peer.clone(),
                progress,
                timeout: self.config.timeout,
                stderr: stderr.clone(),
                relay: Arc::clone(&self.relay),
            }),
        );
        if let Err(e) = self.refresh_tools(&peer, cache).await {
            connection.cancel();
            kill_group(group);
            return self.fail(&ConnectError::Initialize(e), false);
        }
        let server = peer.peer_info();
        let caps = server.as_ref().map(|s| s.capabilities.clone());
        let offers_prompts = caps.as_ref().is_some_and(|c| c.prompts.is_some());
        let offers_resources = caps.as_ref().is_some_and(|c| c.resources.is_some());
        let prompts = if offers_prompts {
            self.list_prompts(&peer).await
        } else {
            Arc::from(Vec::new())
        };
        let startup = started.elapsed();
        tracing::info!(backend = %self.name, "ready in {startup:?}");
        self.publish(|e| {
            e.state = ServerState::Ready;
            e.handle = Some(handle);
            e.startup = Some(startup);
            e.last_error = None;
            e.server = server;
            e.prompts = prompts;
            e.attempts = 0;
        });
        // Its prompts and resources join the client's lists.
        self.announce_lists(offers_prompts, offers_resources);
        let idle_stop = match (self.config.idle_timeout, only_to_list) {
            (_, true) => Some((LISTED_GRACE, IdleReason::Lazy)),
            (Some(limit), false) => Some((limit, IdleReason::Stopped(limit))),
            (None, false) => None,
        };
        let idle = async {
            match idle_stop {
                Some((limit, _)) => activity.idle_for(limit).await,
                None => std::future::pending().await,
            }
        };
        tokio::pin!(idle);

        let closed = service.waiting();
        tokio::pin!(closed);
        loop {
            tokio::select! {
                _ = &mut closed => {
                    kill_group(group);
                    let detail = stderr.summary().map(|t| format!("; stderr: {t}")).unwrap_or_default();
                    let how = exit.describe().map_or_else(
                        || "connection closed (process exited?)".to_owned(),
                        |how| format!("connection closed: the process {how}"),
                    );
                    let e = ConnectError::Initialize(format!("{how}{detail}"));
                    return self.fail(&e, true);
                }
                Some(command) = commands.recv() => match command {
                    ActorCommand::RefreshTools => {
                        if let Err(e) = self.refresh_tools(&peer, cache).await {
                            tracing::warn!(
                                backend = %self.name,
                                "re-listing tools failed: {}",
                                self.config.transport.redact(&e.to_string())
                            );
                        }
                    }
                    ActorCommand::RefreshPrompts => {
                        let prompts = self.list_prompts(&peer).await;
                        self.publish(|e| e.prompts = prompts);
                        self.announce_lists(true, false);
                    }
                },
                Ok(()) = client_known.changed() => {
                    if self.relay.declared() != declared {
                        tracing::info!(
                            backend = %self.name,
                            "the client's capabilities are known now: reconnecting to declare them"
                        );
                        // Its tools stay listed meanwhile; calls wait for it to be ready.
                        self.publish(|e| {
                            e.state = ServerState::Starting;
                            e.handle = None;
                        });
                        stop(connection, group, closed).await;
                        return Ended::Redeclare;
                    }
                }
                () = &mut idle => {
                    let reason = idle_stop.map_or(IdleReason::Lazy, |(_, r)| r);
                    // Out of the registry first, so no new call picks this connection.
                    self.publish(|e| {
                        e.state = ServerState::Idle;
                        e.idle = Some(reason);
                        e.handle = None;
                    });
                    stop(connection, group, closed).await;
                    return Ended::Idle(reason);
                }
                () = self.shutdown.cancelled() => {
                    stop(connection, group, closed).await;
                    return Ended::Shutdown;
                }
            }
        }
    }

    async fn refresh_tools(
        &self,
        peer: &Peer<RoleClient>,
        cache: Option<&ToolCache>,
    ) -> Result<(), String> {
        let listed = tokio::time::timeout(self.config.timeout, super::list::list_tools(peer))
            .await
            .map_err(|_| format!("tools/list not answered within {:?}", self.config.timeout))?
            .map_err(|e| format!("tools/list failed: {e}"))?;
        for skipped in &listed.skipped {
            tracing::warn!(backend = %self.name, "{skipped}");
        }
        let tools: Vec<Tool> = listed.tools.into_iter().map(normalize_tool).collect();
        // A `list_changed` that changed nothing (some servers send one per call) must not
        // cost a re-index and a notification to the client: swap only a different list.
        let current = self.registry.snapshot().server(&self.name).cloned();
        if current.is_some_and(|old| *old.listed == *tools && old.problems == listed.skipped) {
            tracing::debug!(backend = %self.name, "tools/list unchanged ({} tools)", tools.len());
            return Ok(());
        }
        tracing::debug!(backend = %self.name, "{} tools", tools.len());
        if let Some(cache) = cache {
            cache.store(&self.name, &tools);
        }
        self.publish_tools(tools, listed.skipped);
        Ok(())
    }

    /// Put a listed (or cached) set of tools in the registry, through trust.
    fn publish_tools(&self, tools: Vec<Tool>, skipped: Vec<String>) {
        let listed_tools: Arc<[Tool]> = tools.into();
        let gated = self
            .registry
            .admit(&self.name, Some(&self.trust), &listed_tools);
        for held in &gated.held {
            tracing::warn!(backend = %self.name, "tool `{}` quarantined: {}", held.name(), held.why());
        }
        self.publish(|e| {
            e.set_tools(listed_tools, gated);
            e.problems = skipped;
        });
    }

    /// The backend's prompts; a failure leaves it without prompts (and says why) rather
    /// than failing a backend whose tools work.
    async fn list_prompts(&self, peer: &Peer<RoleClient>) -> Arc<[Prompt]> {
        match tokio::time::timeout(self.config.timeout, peer.list_all_prompts()).await {
            Ok(Ok(prompts)) => prompts.into(),
            Ok(Err(e)) => {
                tracing::warn!(backend = %self.name, "prompts/list failed: {e}");
                Arc::from(Vec::new())
            }
            Err(_) => {
                tracing::warn!(backend = %self.name, "prompts/list not answered in time");
                Arc::from(Vec::new())
            }
        }
    }

    fn announce_lists(&self, prompts: bool, resources: bool) {
        let backend = Arc::clone(&self.name);
        if prompts {
            let backend = Arc::clone(&backend);
            self.registry
                .announce(BackendEvent::PromptsChanged { backend });
        }
        if resources {
            self.registry
                .announce(BackendEvent::ResourcesChanged { backend });
        }
    }

    /// Change this backend's registry entry, unless the actor has been told to stop: a
    /// reload may already have put its replacement (same name) in the registry.
    fn publish(&self, change: impl FnOnce(&mut crate::registry::ServerEntry)) {
        if !self.shutdown.is_cancelled() {
            self.registry.update(&self.name, change);
        }
    }

    fn fail(&self, error: &ConnectError, ready: bool) -> Ended {
        self.note_failure(&error.to_string());
        Ended::Failed {
            ready,
            permanent: error.is_permanent(),
        }
    }

    fn note_failure(&self, error: &str) {
        // HTTP errors quote the URL (query string included): never log or show a credential.
        let error = &self.config.transport.redact(error);
        tracing::warn!(backend = %self.name, "failed: {error}");
        let mut had = (false, false);
        self.publish(|e| {
            let caps = e.server.as_ref().map(|s| &s.capabilities);
            had = (
                !e.prompts.is_empty(),
                caps.is_some_and(|c| c.resources.is_some()),
            );
            e.state = ServerState::Failed;
            e.handle = None;
            e.clear_tools();
            e.last_error = Some(error.to_owned());
            e.server = None;
            e.prompts = Arc::from(Vec::new());
        });
        // Its prompts and resources leave the client's lists.
        self.announce_lists(had.0, had.1);
    }
}

/// The version the config asks for (validated at load), else the latest with `initialize`.
fn offered_version(config: &BackendConfig) -> rmcp::model::ProtocolVersion {
    use rmcp::model::ProtocolVersion;
    config
        .protocol_version
        .as_deref()
        .and_then(|v| {
            ProtocolVersion::KNOWN_VERSIONS
                .iter()
                .find(|known| known.as_str() == v)
        })
        .cloned()
        .unwrap_or(ProtocolVersion::LATEST_WITH_INITIALIZE)
}

/// `FIRST_BACKOFF · 2^(failures-1)`, capped at [`MAX_BACKOFF`], then 80–100 % of that at
/// random, so backends that failed together (the network went down) do not retry in step.
fn backoff(failures: u32) -> Duration {
    use std::hash::{BuildHasher, Hasher};
    if let Some(fixed) = test_backoff() {
        return fixed;
    }
    let exponent = failures.saturating_sub(1).min(6);
    let full = (FIRST_BACKOFF * (1 << exponent)).min(MAX_BACKOFF);
    // A randomly keyed hasher's output is random enough for jitter; no RNG crate needed.
    let random = std::collections::hash_map::RandomState::new()
        .build_hasher()
        .finish();
    let fraction = 0.8 + 0.2 * (random % 1000) as f64 / 1000.0;
    full.mul_f64(fraction)
}

/// `MCP_GATEWAY_TEST_BACKOFF_MS`: a fixed retry delay, so a test can restart a backend a
/// thousand times in seconds. Read only by builds with the `test-hooks` feature (the test
/// suite's): in a release the backoff protects the machine from a crash loop.
fn test_backoff() -> Option<Duration> {
    if !cfg!(feature = "test-hooks") {
        return None;
    }
    static FIXED: std::sync::OnceLock<Option<Duration>> = std::sync::OnceLock::new();
    *FIXED.get_or_init(|| {
        let ms = std::env::var("MCP_GATEWAY_TEST_BACKOFF_MS").ok()?;
        ms.trim().parse().ok().map(Duration::from_millis)
    })
}

/// Close the connection the way the MCP spec asks (stdin closed, then SIGTERM, then
/// SIGKILL), but on a short clock: the client that closed our stdin is waiting for us.
/// Under a shim the last step is the shim's: told to kill now, it kills every descendant.
async fn stop(connection: CancellationToken, group: Option<u32>, closed: impl Future) {
    connection.cancel();
    let escalate = async {
        tokio::time::sleep(Duration::from_millis(300)).await;
        terminate_group(group);
        tokio::time::sleep(Duration::from_millis(700)).await;
        kill_group(group);
        std::future::pending::<()>().await;
    };
    let _ = tokio::time::timeout(Duration::from_millis(1300), async {
        tokio::select! {
            _ = closed => {}
            () = escalate => {}
        }
    })
    .await;
    // The leader may be gone while a grandchild (npx → node) lives on in its group.
    kill_group(group);
}

/// SIGKILL the backend's process group, or have its shim kill its whole tree.
fn kill_group(group: Option<u32>) {
    #[cfg(unix)]
    if let Some(group) = group {
        super::shim::kill_now(group);
    }
    #[cfg(not(unix))]
    let _ = group; // Windows: process-wrap's KillOnDrop ends the child when its transport drops.
}

/// SIGTERM to the backend's process group (its shim too, which then gives the command a
/// moment before killing everything below it).
fn terminate_group(group: Option<u32>) {
    #[cfg(unix)]
    {
        use nix::sys::signal::{Signal, killpg};
        use nix::unistd::Pid;
        if let Some(pgid) = group.and_then(|g| i32::try_from(g).ok()) {
            // ESRCH (the group is already gone) is the expected, happy outcome.
            let _ = killpg(Pid::from_raw(pgid), Signal::SIGTERM);
        }
    }
    #[cfg(not(unix))]
    let _ = group;
}
