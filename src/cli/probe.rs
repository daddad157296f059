//! Start every backend once, wait for each to settle, and report how it went: for `list`
//! and `doctor`. The backends are stopped again before returning.

use std::time::Duration;

use super::engine::Engine;
use crate::config::Config;
use crate::registry::{ServerState, TransportKind};

/// One backend after its start attempt.
#[derive(Debug, Clone)]
pub struct Status {
    pub name: String,
    pub transport: TransportKind,
    pub state: ServerState,
    pub tools: usize,
    pub tool_names: Vec<String>,
    /// Problems that do not stop the backend (a tool skipped for a bad definition, a
    /// capability file refused).
    pub problems: Vec<String>,
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
            transport: e.transport,
            state: e.state,
            tools: e.tools.len(),
            tool_names: e.tools.iter().map(|t| t.name.to_string()).collect(),
            problems: e.problems.clone(),
            start: e.startup,
            error: match e.state {
                ServerState::Starting => Some(super::engine::slow_start(limit)),
                _ => e.last_error.clone(),
            },
        })
        .collect())
}
