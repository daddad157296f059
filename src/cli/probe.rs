//! Start every backend once, wait for each to settle, and report how it went: for `list`
//! and `doctor`. The backends are stopped again before returning.

use std::time::Duration;

use super::engine::Engine;
use crate::config::Config;
use crate::registry::ServerState;

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

pub async fn run(config: &Config, limit: Duration) -> anyhow::Result<Vec<Status>> {
    let engine = Engine::start(config)?;
    engine.settle(limit).await;
    let snap = engine.gateway.registry().snapshot();
    engine.stop().await;
    Ok(snap
        .servers
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
        .collect())
}
