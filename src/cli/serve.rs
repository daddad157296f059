//! `mcp-gateway serve`: MCP over stdin/stdout until the client closes stdin or a signal;
//! with `--http`, also Streamable HTTP at `/mcp` (and with `--no-stdio`, only that).
//!
//! A config file that does not load does not stop `serve`: the client still gets its
//! meta-tools, the error is reported through them, and the file is watched, so fixing it
//! brings the backends up without restarting the client's session.

use std::net::SocketAddr;
use std::path::Path;
use std::process::ExitCode;

use anyhow::Context;
use rmcp::ServiceExt;
use rmcp::service::ServerInitializeError;

use tokio_util::sync::CancellationToken;

use super::engine::Engine;
use crate::config::{CapabilitiesConfig, Config, SurfacedTool};
use crate::control::{Control, Load, digest};
use crate::gateway::ConfigProblem;
use crate::gateway::wire::StdioWire;
use crate::http::{Listener, Options};
use crate::registry::{Registry, ServerState};
use crate::reload::Live;

/// Longest the backends wait for the client's handshake before starting anyway.
const HANDSHAKE_GRACE: std::time::Duration = std::time::Duration::from_millis(100);

#[derive(Debug, Default, clap::Args)]
pub struct ServeArgs {
    /// Also serve Streamable HTTP at /mcp on ADDR (default: `http.listen` in gateway.yaml,
    /// else 127.0.0.1:39400). Beyond loopback a bearer token is required.
    #[arg(long, value_name = "ADDR", num_args = 0..=1, default_missing_value = "")]
    pub http: Option<String>,
    /// Serve HTTP only, as a daemon (stdin is not read).
    #[arg(long, requires = "http")]
    pub no_stdio: bool,
    /// With no token configured, make one (or reuse the stored one), store it owner-only and
    /// print it once.
    #[arg(long, requires = "http")]
    pub generate_token: bool,
}

pub(super) async fn run(explicit: Option<&Path>, args: ServeArgs) -> anyhow::Result<ExitCode> {
    // Unusable command-line arguments are the one reason to exit before serving.
    let addr = args.http.as_deref().map(parse_addr).transpose()?;
    let (config, problem) = match Config::load(explicit) {
        Ok(config) => {
            for warning in &config.warnings {
                tracing::warn!("{warning}");
            }
            (Some(config), None)
        }
        Err(e) => {
            tracing::error!("{e}; serving the meta-tools only until it is fixed");
            (None, Some(e))
        }
    };
    let path = match &config {
        Some(c) => c.source.clone(),
        None => crate::config::discover(explicit),
    };
    // Nothing from a broken file runs, not even its capability settings: it may be the
    // edit that turned the built-in catalog off.
    let running = config.clone().unwrap_or_else(|| Config {
        // Tool pins are kept per config file: the fixed file's backends find theirs.
        source: path.clone(),
        capabilities: CapabilitiesConfig {
            enabled: false,
            ..CapabilitiesConfig::default()
        },
        ..Config::default()
    });

    // Backends start once the client's handshake is done (or after a moment, for clients
    // that send no `initialize`): a burst of child processes starting on a small machine
    // would otherwise delay the one reply the client is waiting for.
    let go = CancellationToken::new();
    let engine = Engine::start_when(&running, &go)?;
    if let Some(e) = &problem {
        engine
            .gateway
            .set_config_problem(Some(ConfigProblem::new(e, path.clone(), false)));
    }
    // The listener's settings (address, token, keys) are read once, at start: a live edit
    // of `http:` takes a restart of the daemon, said in docs/http.md.
    let listener = match addr {
        Some(addr) => {
            let options = Options {
                addr,
                generate_token: args.generate_token,
            };
            match Listener::bind(&engine.gateway, &running.http, &options, &engine.shutdown).await {
                Ok(listener) => Some(listener),
                Err(e) => {
                    engine.stop().await;
                    return Err(e).context("starting the HTTP listener");
                }
            }
        }
        None => None,
    };
    let control = Control::new(path.clone(), std::sync::Arc::clone(engine.supervisor()));
    if let Some(file) = &path {
        control.loaded(Load {
            sha256: std::fs::read(file).map(|b| digest(&b)).unwrap_or_default(),
            error: problem.as_ref().map(ToString::to_string),
            summary: "loaded at start".to_owned(),
        });
    }
    tokio::spawn(crate::control::serve(
        control.clone(),
        engine.shutdown.child_token(),
    ));
    let live = Live {
        path: path.clone(),
        current: config,
        supervisor: std::sync::Arc::clone(engine.supervisor()),
        gateway: engine.gateway.clone(),
        control,
    };
    let watch = crate::watch::watch(path.as_deref(), &engine.shutdown);
    let reloads = tokio::spawn(live.follow(watch, engine.shutdown.child_token()));
    if args.no_stdio {
        // No stdio handshake will come: start the backends now.
        go.cancel();
    } else {
        tokio::spawn(async move {
            tokio::time::sleep(HANDSHAKE_GRACE).await;
            go.cancel();
        });
    }
    let http = listener.map(|l| tokio::spawn(l.run(engine.shutdown.child_token())));
    tokio::spawn(check_surfaced(
        std::sync::Arc::clone(engine.gateway.registry()),
        served_names(&running),
        running.surfaced_tools.clone(),
        engine.shutdown.clone(),
    ));

    if args.no_stdio {
        engine.shutdown.cancelled().await;
    } else {
        serve_stdio(&engine, &running).await;
    }
    engine.shutdown.cancel();
    // A reload in progress finishes its reconcile first, so no backend it starts is missed
    // by the shutdown below.
    let _ = reloads.await;
    if let Some(http) = http {
        let _ = http.await;
    }
    engine.stop().await;
    Ok(ExitCode::SUCCESS)
}

async fn serve_stdio(engine: &Engine, config: &Config) {
    tracing::info!(
        "serving on stdio; {} backend(s) starting in the background",
        config.backends.len()
    );
    // Backends start in the background: `initialize` is answered at once.
    match engine
        .gateway
        .clone()
        .serve_with_ct(
            stdio_wire(config.limits.max_message_bytes)
                .with_relay(std::sync::Arc::clone(engine.gateway.client_relay())),
            engine.shutdown.child_token(),
        )
        .await
    {
        Ok(service) => {
            let reason = service.waiting().await;
            tracing::info!("client session ended: {reason:?}");
        }
        // The client went away before saying anything: nothing to report.
        Err(ServerInitializeError::ConnectionClosed(_)) => {}
        Err(e) => tracing::error!("MCP session failed to start: {e}"),
    }
}

/// `--http` with no value means "the configured address".
fn parse_addr(text: &str) -> anyhow::Result<Option<SocketAddr>> {
    if text.is_empty() {
        return Ok(None);
    }
    let addr = text.parse().with_context(|| {
        format!(
            "--http wants an address and port such as {}, not `{text}`",
            crate::config::DEFAULT_LISTEN
        )
    })?;
    Ok(Some(addr))
}

/// Every backend this config serves, the capability backend included.
fn served_names(config: &Config) -> Vec<String> {
    let mut names: Vec<String> = config.backends.keys().cloned().collect();
    if config.capabilities.serves_anything() {
        names.push(config.capabilities.name.clone());
    }
    names
}

/// Warn once for each `surfaced_tools` entry that names no server, or a tool its server
/// does not have once that server is ready: a typo there silently leaves the pinned tool
/// out of the client's list.
async fn check_surfaced(
    registry: std::sync::Arc<Registry>,
    served: Vec<String>,
    mut pending: Vec<SurfacedTool>,
    shutdown: CancellationToken,
) {
    let mut changes = registry.subscribe();
    while !pending.is_empty() {
        let snap = registry.snapshot();
        pending.retain(|pin| match snap.server(&pin.server) {
            // Configured, not registered yet (the capability backend registers itself).
            None if served.contains(&pin.server) => true,
            None => {
                tracing::warn!(
                    "surfaced_tools: no server `{}` (for tool `{}`)",
                    pin.server,
                    pin.tool
                );
                false
            }
            Some(entry) if entry.state == ServerState::Ready => {
                if entry.tool(&pin.tool).is_none() {
                    tracing::warn!(
                        "surfaced_tools: server `{}` has no tool `{}`",
                        pin.server,
                        pin.tool
                    );
                }
                false
            }
            // Starting, failed or disabled: check again when it changes.
            Some(_) => true,
        });
        tokio::select! {
            changed = changes.changed() => if changed.is_err() { return },
            () = shutdown.cancelled() => return,
        }
    }
}

/// stdin/stdout as the MCP transport (rmcp's non-blocking pipes where it can).
fn stdio_wire(
    max_message_bytes: usize,
) -> StdioWire<rmcp::transport::StdioReader, rmcp::transport::StdioWriter> {
    let (read, write) = rmcp::transport::stdio_pipes();
    StdioWire::new(read, write, max_message_bytes)
}
