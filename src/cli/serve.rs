//! `mcp-gateway serve`: MCP over stdin/stdout until the client closes stdin or a signal.

use std::process::ExitCode;

use rmcp::ServiceExt;
use rmcp::service::ServerInitializeError;

use super::engine::Engine;
use crate::config::Config;

pub(super) async fn run(config: Config) -> anyhow::Result<ExitCode> {
    let engine = Engine::start(&config)?;
    tracing::info!(
        "serving on stdio; {} backend(s) starting in the background",
        config.backends.len()
    );
    // Backends start in the background: `initialize` is answered at once.
    match engine
        .gateway
        .clone()
        .serve_with_ct(rmcp::transport::stdio(), engine.shutdown.child_token())
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
