//! Start every backend once, wait for each to settle, and report how it went: for `list`
//! and `doctor`. The backends are stopped again before returning.

use std::io::IsTerminal;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use crate::backend::Supervisor;
use crate::config::Config;
use crate::registry::{Registry, ServerState};

/// One backend after its start attempt.
#[derive(Debug, Clone)]
pub struct Status {
    pub name: String,
    pub state: ServerState,
    pub tools: usize,
    /// Spawn → `tools/list` answered.
    pub start: Option<Duration>,
    pub error: Option<String>,
}

pub async fn run(config: &Config, limit: Duration) -> Vec<Status> {
    let registry = Arc::new(Registry::default());
    let shutdown = CancellationToken::new();
    let (tx, _rx) = mpsc::unbounded_channel();
    let supervisor = Supervisor::start(config, &registry, tx, &shutdown);
    // Starting backends can take seconds (npx downloads): show it to a person at a terminal.
    let tty = std::io::stderr().is_terminal();
    let total = config.enabled_backends().count();
    registry
        .wait_all_settled(limit, |snap| {
            if tty {
                let waiting = snap.starting();
                eprint!(
                    "\r\x1b[Kstarting backends: {}/{total} settled{}",
                    total.saturating_sub(waiting.len()),
                    waiting
                        .first()
                        .map_or(String::new(), |w| format!(" (waiting for {w})"))
                );
            }
        })
        .await;
    if tty {
        eprint!("\r\x1b[K");
    }
    let snap = registry.snapshot();
    supervisor.shutdown().await;
    snap.servers
        .values()
        .map(|e| Status {
            name: e.name.clone(),
            state: e.state,
            tools: e.tools.len(),
            start: e.startup,
            error: match e.state {
                ServerState::Starting => Some(format!("did not start within {}s", limit.as_secs())),
                _ => e.last_error.clone(),
            },
        })
        .collect()
}
