//! Opening a backend connection: spawning a stdio child in its own process group with its
//! stderr captured, or connecting to a Streamable HTTP server.

use std::collections::{BTreeMap, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use process_wrap::tokio::{CommandWrap, KillOnDrop, ProcessGroup};
use rmcp::RoleClient;
use rmcp::service::{RunningService, ServiceExt};
use rmcp::transport::streamable_http_client::{
    StreamableHttpClientTransport, StreamableHttpClientTransportConfig,
};
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::ChildStderr;
use tokio_util::sync::CancellationToken;

use super::client::BackendClient;
use super::progress::{ProgressRoutes, Tapped};
use super::stdio::ChildTransport;
use crate::config::{BackendConfig, Transport, child_env};

/// The last lines a stdio backend wrote to stderr, kept so a failure can say why.
#[derive(Clone, Default)]
pub(crate) struct StderrTail(Arc<Mutex<VecDeque<String>>>);

impl StderrTail {
    const KEEP: usize = 20;

    fn push(&self, line: String) {
        let mut lines = self.lock();
        if lines.len() == Self::KEEP {
            lines.pop_front();
        }
        lines.push_back(line);
    }

    /// The last few non-empty lines, joined, for an error message.
    pub(crate) fn summary(&self) -> Option<String> {
        let lines = self.lock();
        let tail: Vec<&str> = lines
            .iter()
            .rev()
            .filter(|l| !l.trim().is_empty())
            .take(3)
            .map(String::as_str)
            .collect();
        (!tail.is_empty()).then(|| tail.into_iter().rev().collect::<Vec<_>>().join(" | "))
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, VecDeque<String>> {
        match self.0.lock() {
            Ok(guard) => guard,
            Err(poisoned) => poisoned.into_inner(),
        }
    }
}

/// A spawned child or an HTTP endpoint, not yet initialized.
pub(crate) enum Opened {
    Stdio(ChildTransport),
    Http(StreamableHttpClientTransport<reqwest::Client>),
}

impl Opened {
    /// Process group of a stdio child (its pid), so shutdown can reach grandchildren.
    pub(crate) fn process_group(&self) -> Option<u32> {
        match self {
            Opened::Stdio(child) => child.id(),
            Opened::Http(_) => None,
        }
    }
}

/// Why a backend could not be reached.
#[derive(Debug, thiserror::Error)]
pub(crate) enum ConnectError {
    #[error("cannot start `{command}`: {source}")]
    Spawn {
        command: String,
        source: std::io::Error,
    },
    #[error("invalid header `{0}`")]
    Header(String),
    #[error("{0}")]
    Initialize(String),
}

impl ConnectError {
    /// Retrying cannot help: the command does not exist or the config is wrong.
    pub(crate) fn is_permanent(&self) -> bool {
        !matches!(self, ConnectError::Initialize(_))
    }
}

/// Spawn the child (or prepare the HTTP transport); cheap and synchronous so the caller
/// learns the process group before anything can be awaited.
pub(crate) fn open(
    name: &Arc<str>,
    config: &BackendConfig,
    stderr: &StderrTail,
    max_message_bytes: usize,
) -> Result<Opened, ConnectError> {
    match &config.transport {
        Transport::Stdio {
            command,
            args,
            env,
            cwd,
            inherit_env,
        } => {
            let mut cmd = tokio::process::Command::new(command);
            cmd.args(args)
                .env_clear()
                .envs(child_env(env, *inherit_env));
            if let Some(dir) = cwd {
                cmd.current_dir(dir);
            }
            crate::sys::die_with_parent(&mut cmd);
            let mut wrapped = CommandWrap::from(cmd);
            // Its own process group, so `npx`/`uvx` grandchildren die with it.
            wrapped.wrap(ProcessGroup::leader()).wrap(KillOnDrop);
            let (child, pipe) =
                ChildTransport::spawn(wrapped, max_message_bytes).map_err(|source| {
                    ConnectError::Spawn {
                        command: command.clone(),
                        source,
                    }
                })?;
            if let Some(pipe) = pipe {
                tokio::spawn(pump_stderr(name.clone(), pipe, stderr.clone()));
            }
            Ok(Opened::Stdio(child))
        }
        Transport::Http { url, headers } => {
            Ok(Opened::Http(StreamableHttpClientTransport::with_client(
                http_client(),
                StreamableHttpClientTransportConfig::with_uri(url.as_str())
                    .custom_headers(header_map(headers)?),
            )))
        }
    }
}

/// Run the MCP `initialize` handshake; `cancel` later closes the connection.
pub(crate) async fn handshake(
    opened: Opened,
    client: BackendClient,
    progress: ProgressRoutes,
    stderr: &StderrTail,
    cancel: CancellationToken,
) -> Result<RunningService<RoleClient, BackendClient>, ConnectError> {
    let served = match opened {
        Opened::Stdio(child) => {
            client
                .serve_with_ct(Tapped::new(child, progress), cancel)
                .await
        }
        Opened::Http(http) => {
            client
                .serve_with_ct(Tapped::new(http, progress), cancel)
                .await
        }
    };
    served.map_err(|e| initialize_error(e, stderr))
}

fn initialize_error(e: impl std::fmt::Display, stderr: &StderrTail) -> ConnectError {
    // A child that dies during the handshake only says "connection closed"; its stderr
    // usually says why (missing env var, bad argument), so attach it.
    match stderr.summary() {
        Some(tail) => ConnectError::Initialize(format!("{e}; stderr: {tail}")),
        None => ConnectError::Initialize(e.to_string()),
    }
}

async fn pump_stderr(name: Arc<str>, pipe: ChildStderr, tail: StderrTail) {
    let mut lines = BufReader::new(pipe).lines();
    while let Ok(Some(line)) = lines.next_line().await {
        tracing::info!(target: "backend", backend = %name, "{line}");
        tail.push(line);
    }
}

fn header_map(
    headers: &BTreeMap<String, String>,
) -> Result<std::collections::HashMap<http::HeaderName, http::HeaderValue>, ConnectError> {
    headers
        .iter()
        .map(|(k, v)| {
            let name = http::HeaderName::try_from(k.as_str())
                .map_err(|_| ConnectError::Header(k.clone()))?;
            let value = http::HeaderValue::try_from(v.as_str())
                .map_err(|_| ConnectError::Header(k.clone()))?;
            Ok((name, value))
        })
        .collect()
}

/// One shared HTTP client: keep-alive pooling off (rmcp's default, which avoids
/// delayed-ACK stalls on small POSTs) and redirects limited to the same origin's few hops.
fn http_client() -> reqwest::Client {
    static CLIENT: std::sync::OnceLock<reqwest::Client> = std::sync::OnceLock::new();
    CLIENT
        .get_or_init(|| {
            reqwest::Client::builder()
                .pool_max_idle_per_host(0)
                .connect_timeout(Duration::from_secs(10))
                .redirect(reqwest::redirect::Policy::limited(3))
                .build()
                .unwrap_or_default()
        })
        .clone()
}
