//! `mcp-gateway serve`: MCP over stdin/stdout until the client closes stdin or a signal.

use std::process::ExitCode;

use rmcp::ServiceExt;
use rmcp::service::ServerInitializeError;

use super::engine::Engine;
use crate::config::Config;
use crate::gateway::follow_changes;

pub(super) async fn run(config: Config) -> anyhow::Result<ExitCode> {
    let Engine {
        gateway,
        index,
        supervisor,
        shutdown,
        changes,
    } = Engine::start(&config)?;
    drop(index);
    tracing::info!(
        "serving on stdio; {} backend(s) starting in the background",
        config.backends.len()
    );
    let follower = tokio::spawn(follow_changes(gateway.clone(), changes, shutdown.clone()));

    // Backends start in the background: `initialize` is answered at once.
    match gateway
        .serve_with_ct(rmcp::transport::stdio(), shutdown.child_token())
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

    shutdown.cancel();
    supervisor.shutdown().await;
    let _ = follower.await;
    Ok(ExitCode::SUCCESS)
}
