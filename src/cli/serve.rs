//! `mcp-gateway serve`: MCP over stdin/stdout until the client closes stdin or a signal.

use std::process::ExitCode;

use rmcp::ServiceExt;
use rmcp::service::ServerInitializeError;

use tokio_util::sync::CancellationToken;

use super::engine::Engine;
use crate::config::Config;
use crate::gateway::wire::StdioWire;

/// Longest the backends wait for the client's handshake before starting anyway.
const HANDSHAKE_GRACE: std::time::Duration = std::time::Duration::from_millis(100);

pub(super) async fn run(config: Config) -> anyhow::Result<ExitCode> {
    // Backends start once the client's handshake is done (or after a moment, for clients
    // that send no `initialize`): a burst of child processes starting on a small machine
    // would otherwise delay the one reply the client is waiting for.
    let go = CancellationToken::new();
    let engine = Engine::start_when(&config, &go)?;
    tokio::spawn(async move {
        tokio::time::sleep(HANDSHAKE_GRACE).await;
        go.cancel();
    });
    tracing::info!(
        "serving on stdio; {} backend(s) starting in the background",
        config.backends.len()
    );
    // Backends start in the background: `initialize` is answered at once.
    match engine
        .gateway
        .clone()
        .serve_with_ct(
            stdio_wire(config.limits.max_message_bytes),
            engine.shutdown.child_token(),
        )
        .await
    {
        Ok(running) => {
            let reason = running.waiting().await;
            tracing::info!("client session ended: {reason:?}");
        }
        // The client went away before saying anything: nothing to report.
        Err(ServerInitializeError::ConnectionClosed(_)) => {}
        Err(e) => tracing::error!("MCP session failed to start: {e}"),
    }

    engine.stop().await;
    Ok(ExitCode::SUCCESS)
}

/// stdin/stdout as the MCP transport (rmcp's non-blocking pipes where it can).
fn stdio_wire(
    max_message_bytes: usize,
) -> StdioWire<rmcp::transport::StdioReader, rmcp::transport::StdioWriter> {
    let (read, write) = rmcp::transport::stdio_pipes();
    StdioWire::new(read, write, max_message_bytes)
}
