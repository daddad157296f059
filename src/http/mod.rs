//! The optional Streamable HTTP listener (`serve --http`): the same gateway (backends,
//! registry, index) at `/mcp` through rmcp's `StreamableHttpService`, plus `/health` and
//! `/metrics`, all behind the same Host/Origin/credential checks ([`guard`]).
//!
//! Secure by default: it binds loopback unless told otherwise, and an address beyond
//! loopback refuses to start without a bearer token. The client's `Authorization` header is
//! removed before the MCP service sees the request, so it can never reach a backend.

mod guard;
mod metrics;
mod routes;
pub mod token;

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use hyper::server::conn::http1;
use hyper_util::rt::{TokioIo, TokioTimer};
use rmcp::transport::streamable_http_server::session::local::LocalSessionManager;
use rmcp::transport::streamable_http_server::{StreamableHttpServerConfig, StreamableHttpService};
use tokio::net::{TcpListener, TcpStream};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::config::HttpConfig;
use crate::gateway::Gateway;

pub use guard::{Guard, Principal};
pub use metrics::Metrics;

/// How long a client may take to send a request's headers (slow-loris guard).
const HEADER_TIMEOUT: Duration = Duration::from_secs(30);
/// How long shutdown waits for open connections (SSE streams end with the token).
const DRAIN: Duration = Duration::from_secs(5);

/// Why the listener could not start.
#[derive(Debug, thiserror::Error)]
pub enum HttpError {
    #[error(
        "refusing to listen on {0} without a bearer token: set `http.token_env` or `http.token_file` \
         in gateway.yaml, or pass --generate-token (only loopback addresses may go without one)"
    )]
    NeedsToken(SocketAddr),
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        addr: SocketAddr,
        source: std::io::Error,
    },
    #[error("{0}")]
    Secret(String),
}

/// What the command line adds to the `http:` section.
#[derive(Debug, Clone, Default)]
pub struct Options {
    /// Overrides `http.listen`.
    pub addr: Option<SocketAddr>,
    /// Make (or reuse) a stored token when the config names none.
    pub generate_token: bool,
}

/// A bound listener, ready to serve.
pub struct Listener {
    tcp: TcpListener,
    app: Arc<routes::App>,
}

impl Listener {
    /// Check the credentials and bind. Every refusal happens here, before anything is served.
    pub async fn bind(
        gateway: &Gateway,
        config: &HttpConfig,
        options: &Options,
        shutdown: &CancellationToken,
    ) -> Result<Listener, HttpError> {
        let addr = options.addr.unwrap_or(config.listen);
        let token = match (&config.token, options.generate_token) {
            (Some(source), _) => Some(token::read(source)?),
            (None, true) => {
                let path = token::default_token_path().ok_or_else(|| {
                    HttpError::Secret("no data directory to keep the token in".into())
                })?;
                let (token, new) = token::generated(&path)?;
                if new {
                    // Shown once, on stderr: stdout may be carrying MCP.
                    eprintln!(
                        "mcp-gateway: generated an HTTP bearer token (kept in {}, mode 0600):\n{token}",
                        path.display()
                    );
                } else {
                    tracing::info!("HTTP bearer token: the one kept in {}", path.display());
                }
                Some(token)
            }
            (None, false) => None,
        };
        let mut keys = Vec::new();
        for key in &config.keys {
            keys.push((token::read(&key.secret)?, key.scope.clone()));
        }
        if !addr.ip().is_loopback() && token.is_none() && keys.is_empty() {
            return Err(HttpError::NeedsToken(addr));
        }
        let tcp = TcpListener::bind(addr)
            .await
            .map_err(|source| HttpError::Bind { addr, source })?;
        let bound = tcp
            .local_addr()
            .map_err(|source| HttpError::Bind { addr, source })?;
        let guard = Guard::new(config, bound, token.as_deref(), keys);

        let sessions = Arc::new(LocalSessionManager::default());
        // rmcp repeats the Host/Origin checks inside the MCP service (defence in depth);
        // the guard has already applied them, with exact ports, to every route.
        let mcp_config = StreamableHttpServerConfig::default()
            .with_allowed_hosts(guard.hosts().to_vec())
            .with_allowed_origins(guard.origins().to_vec())
            .enforce_origin_validation()
            .with_max_request_body_bytes(config.max_body_bytes)
            .with_cancellation_token(shutdown.child_token());
        let factory_gateway = gateway.clone();
        // Called per session and per stateless request: a clone of shared state.
        let mcp = StreamableHttpService::new(
            move || Ok(factory_gateway.clone()),
            Arc::clone(&sessions),
            mcp_config,
        );
        let metrics = Arc::new(Metrics::new());
        gateway.observe(Arc::clone(&metrics) as Arc<dyn crate::gateway::CallObserver>);
        tokio::spawn(
            Arc::clone(&metrics).follow_restarts(Arc::clone(gateway.registry()), shutdown.clone()),
        );
        tracing::info!(
            "serving Streamable HTTP on http://{bound}/mcp{}",
            if guard.requires_credentials() {
                " (bearer token required)"
            } else {
                ""
            }
        );
        Ok(Listener {
            tcp,
            app: Arc::new(routes::App {
                guard,
                mcp,
                sessions,
                metrics,
                registry: Arc::clone(gateway.registry()),
                max_sessions: config.max_sessions,
            }),
        })
    }

    /// The address actually bound (port 0 becomes a real port).
    pub fn local_addr(&self) -> Option<SocketAddr> {
        self.tcp.local_addr().ok()
    }

    /// Serve until `shutdown`, then give open connections a bounded moment to finish.
    pub async fn run(self, shutdown: CancellationToken) {
        let connections = TaskTracker::new();
        loop {
            tokio::select! {
                accepted = self.tcp.accept() => match accepted {
                    Ok((stream, _)) => {
                        connections.spawn(serve_connection(
                            Arc::clone(&self.app),
                            stream,
                            shutdown.clone(),
                        ));
                    }
                    // Out of descriptors and the like: keep serving the connections we have.
                    Err(e) => tracing::warn!("HTTP accept failed: {e}"),
                },
                () = shutdown.cancelled() => break,
            }
        }
        connections.close();
        let _ = tokio::time::timeout(DRAIN, connections.wait()).await;
    }
}

async fn serve_connection(app: Arc<routes::App>, stream: TcpStream, stop: CancellationToken) {
    let service = hyper::service::service_fn(move |request| {
        let app = Arc::clone(&app);
        async move { Ok::<_, Infallible>(app.handle(request).await) }
    });
    let mut builder = http1::Builder::new();
    builder
        .timer(TokioTimer::new())
        .header_read_timeout(HEADER_TIMEOUT);
    let connection = builder.serve_connection(TokioIo::new(stream), service);
    tokio::pin!(connection);
    tokio::select! {
        result = connection.as_mut() => {
            if let Err(e) = result {
                tracing::debug!("HTTP connection ended: {e}");
            }
        }
        () = stop.cancelled() => {
            connection.as_mut().graceful_shutdown();
            let _ = connection.await;
        }
    }
}
