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
    /// Tools held back by trust: `(tool, why, the command that approves it)`.
    pub quarantined: Vec<(String, String, String)>,
    /// The poisoning scan's findings, as shown to the client.
    pub findings: Vec<serde_json::Value>,
    /// The commands that review and approve held tools, as the user types them.
    pub diff_command: String,
}

pub async fn run(config: &Config, limit: Duration) -> anyhow::Result<Vec<Status>> {
    let engine = Engine::start(config)?;
    engine.settle(limit).await;
    let registry = std::sync::Arc::clone(engine.gateway.registry());
    let snap = registry.snapshot();
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
            quarantined: e
                .held
                .iter()
                .map(|h| {
                    let approve = registry.trust().approve_command(&e.name, h.name());
                    (h.name().to_owned(), h.why(), approve)
                })
                .collect(),
            findings: e.findings.iter().map(|f| f.to_json()).collect(),
            diff_command: registry.trust().diff_command(&e.name),
        })
        .collect())
}
