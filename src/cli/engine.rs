//! The running parts every command shares: registry, search index, gateway, backends, and
//! the follower that keeps the index in step with the backends.

use std::io::{IsTerminal, Write};
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use crate::backend::Supervisor;
use crate::config::Config;
use crate::gateway::{Gateway, follow_changes};
use crate::registry::{Registry, ServerState, Snapshot};
use crate::search::SearchIndex;

pub(super) struct Engine {
    pub gateway: Gateway,
    index: Arc<SearchIndex>,
    pub shutdown: CancellationToken,
    supervisor: Supervisor,
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
        let registry = Arc::new(Registry::default());
        let index = Arc::new(SearchIndex::with_semantics(crate::search::model::locate(
            config.search_model.as_deref(),
        ))?);
        // The built-in catalog's tools lose ties to the user's own backends.
        index.demote_server(Some(&config.capabilities.name));
        let (tx, changes) = mpsc::unbounded_channel();
        let supervisor = Supervisor::start(config, &registry, tx, &shutdown, go);
        let gateway = Gateway::new(config, registry, Arc::clone(&index), go.clone());
        let follower = tokio::spawn(follow_changes(gateway.clone(), changes, shutdown.clone()));
        Ok(Engine {
            gateway,
            index,
            shutdown,
            supervisor,
            follower,
        })
    }

    /// Wait until no backend is starting (at most `limit`), with a progress line for a
    /// person at a terminal: starting can take seconds (npx downloads).
    pub async fn settle(&self, limit: Duration) {
        self.gateway
            .registry()
            .wait_all_settled(limit, progress_line)
            .await;
        finish_progress_line();
    }

    /// Wait until `server` is no longer starting (at most `limit`), with the progress line.
    pub async fn settle_one(&self, server: &str, limit: Duration) {
        let registry = self.gateway.registry();
        let waiting = registry.wait_settled(server, limit);
        tokio::pin!(waiting);
        let mut ticker = tokio::time::interval(Duration::from_millis(250));
        loop {
            tokio::select! {
                _ = &mut waiting => break,
                _ = ticker.tick() => progress_line(&registry.snapshot()),
            }
        }
        finish_progress_line();
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

/// One updating status line on stderr, only when a person is watching.
fn progress_line(snap: &Snapshot) {
    if !std::io::stderr().is_terminal() || snap.servers.is_empty() {
        return;
    }
    let count = |state| snap.servers.values().filter(|s| s.state == state).count();
    let starting = snap.starting();
    eprint!(
        "\r\x1b[2Kbackends: {} ready, {} failed, {} starting{}",
        count(ServerState::Ready),
        count(ServerState::Failed),
        starting.len(),
        starting
            .first()
            .map_or(String::new(), |w| format!(" (waiting for {w})"))
    );
    let _ = std::io::stderr().flush();
}

fn finish_progress_line() {
    if std::io::stderr().is_terminal() {
        eprint!("\r\x1b[2K");
    }
}
