//! The running parts every command shares: registry, search index, gateway, backends, and
//! the follower that keeps the index in step with the backends.

use std::io::{IsTerminal, Write};
use std::sync::Arc;
use std::time::Duration;

use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use crate::backend::Supervisor;
use crate::config::Config;
use crate::gateway::{Gateway, follow_changes, follow_events};
use crate::registry::{Registry, ServerState, Snapshot};
use crate::relay::Relay;
use crate::search::SearchIndex;

pub(super) struct Engine {
    pub gateway: Gateway,
    index: Arc<SearchIndex>,
    pub shutdown: CancellationToken,
    supervisor: Arc<Supervisor>,
    follower: JoinHandle<()>,
}

impl Engine {
    /// Start every backend in the background and return at once.
    pub fn start(config: &Config) -> anyhow::Result<Engine> {
        let go = CancellationToken::new();
        go.cancel();
        Engine::start_when(config, &go)
    }

    /// Register every backend now; start them when `go` is cancelled.
    pub fn start_when(config: &Config, go: &CancellationToken) -> anyhow::Result<Engine> {
        let shutdown = crate::shutdown::on_signals();
        let trust = Arc::new(crate::trust::Trust::for_config(config));
        let registry = Arc::new(Registry::with_trust(trust));
        let index = Arc::new(SearchIndex::with_semantics(crate::search::model::locate(
            config.search_model.as_deref(),
        ))?);
        // The built-in catalog's tools lose ties to the user's own backends.
        index.demote_server(Some(&config.capabilities.name));
        // Between the backends' requests to the client and the client.
        let relay = Arc::new(Relay::default());
        let supervisor = Arc::new(Supervisor::start(config, &registry, &shutdown, go, &relay));
        let gateway = Gateway::new(config, registry, Arc::clone(&index), go.clone(), relay);
        let (changes, events) = (gateway.clone(), gateway.clone());
        let stop = shutdown.clone();
        // One task follows both: tool changes (re-index) and other backend events.
        let follower = tokio::spawn(async move {
            tokio::join!(
                follow_changes(changes, stop.clone()),
                follow_events(events, stop)
            );
        });
        Ok(Engine {
            gateway,
            index,
            shutdown,
            supervisor,
            follower,
        })
    }

    /// The supervisor, for reloads to reconcile the backends with.
    pub fn supervisor(&self) -> &Arc<Supervisor> {
        &self.supervisor
    }

    /// Wait until no backend is starting (at most `limit`), showing which ones are still
    /// starting: starting can take seconds (npx downloads), and a silent wait looks hung.
    pub async fn settle(&self, limit: Duration) {
        self.settle_some(None, limit).await;
    }

    /// Wait until `server` is no longer starting (at most `limit`), with the same progress.
    pub async fn settle_one(&self, server: &str, limit: Duration) {
        self.settle_some(Some(server), limit).await;
    }

    async fn settle_some(&self, only: Option<&str>, limit: Duration) {
        let registry = self.gateway.registry();
        let waiting_for = |snap: &Snapshot| -> Vec<String> {
            snap.starting()
                .into_iter()
                .filter(|name| only.is_none_or(|o| o == *name))
                .map(str::to_owned)
                .collect()
        };
        let mut progress = Progress::new(limit);
        let mut changes = registry.subscribe();
        let deadline = tokio::time::Instant::now() + limit;
        let mut ticker = tokio::time::interval(Duration::from_millis(250));
        loop {
            let snap = registry.snapshot();
            let starting = waiting_for(&snap);
            if starting.is_empty() {
                break;
            }
            progress.show(&snap, &starting);
            tokio::select! {
                () = tokio::time::sleep_until(deadline) => break,
                changed = changes.changed() => if changed.is_err() { break },
                _ = ticker.tick() => {}
            }
        }
        progress.finish();
    }

    /// Wait (at most `limit`) until every indexed tool has its embedding, saying so on a
    /// terminal: the first search of a fresh machine downloads the model and embeds every
    /// tool, which takes seconds to minutes.
    pub async fn wait_semantic(&self, limit: Duration) {
        let index = Arc::clone(&self.index);
        if let crate::search::SemanticStatus::Pending(_) = index.semantic_status()
            && std::io::stderr().is_terminal()
        {
            eprintln!("preparing semantic search (first use: model download and tool embeddings)…");
        }
        let _ = tokio::task::spawn_blocking(move || index.wait_semantic(limit)).await;
    }

    /// Stop the backends and the follower; bounded.
    pub async fn stop(self) {
        self.shutdown.cancel();
        self.supervisor.shutdown().await;
        let _ = self.follower.await;
    }
}

/// What is said of a backend still starting when the wait is over.
pub(super) fn slow_start(limit: Duration) -> String {
    format!(
        "still starting after {}s: slow to start or hung (`--wait 60s` waits longer)",
        limit.as_secs_f32()
    )
}

/// What a person sees while backends start: an updating line at a terminal; otherwise
/// (a log, a script) a plain line after the first second and whenever the set of backends
/// still starting changes.
struct Progress {
    terminal: bool,
    began: std::time::Instant,
    limit: Duration,
    last: Vec<String>,
    shown: bool,
}

impl Progress {
    /// Quiet for this long: most backends are up before anyone would wonder.
    const GRACE: Duration = Duration::from_secs(1);

    fn new(limit: Duration) -> Progress {
        Progress {
            terminal: std::io::stderr().is_terminal(),
            began: std::time::Instant::now(),
            limit,
            last: Vec::new(),
            shown: false,
        }
    }

    fn show(&mut self, snap: &Snapshot, starting: &[String]) {
        let waited = self.began.elapsed();
        if waited < Self::GRACE {
            return;
        }
        let count = |state| snap.servers.values().filter(|s| s.state == state).count();
        let line = format!(
            "backends: {} ready, {} failed, still starting: {} ({}s of {}s; --wait changes it)",
            count(ServerState::Ready),
            count(ServerState::Failed),
            starting.join(", "),
            waited.as_secs(),
            self.limit.as_secs()
        );
        if self.terminal {
            eprint!("\r\x1b[2K{line}");
            let _ = std::io::stderr().flush();
        } else if starting != self.last.as_slice() {
            eprintln!("{line}");
            self.last = starting.to_vec();
        }
        self.shown = true;
    }

    fn finish(&self) {
        if self.terminal && self.shown {
            eprint!("\r\x1b[2K");
        }
    }
}
