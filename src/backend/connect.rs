//! Opening a backend connection: spawning a stdio child in its own process group with its
//! stderr captured, or connecting to a Streamable HTTP server.

use std::collections::{BTreeMap, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use process_wrap::tokio::{CommandWrap, KillOnDrop, ProcessGroup};
use rmcp::RoleClient;
use rmcp::service::{ClientInitializeError, RunningService, ServiceExt};
use rmcp::transport::streamable_http_client::{
    StreamableHttpClientTransport, StreamableHttpClientTransportConfig, StreamableHttpError,
};
use rmcp::transport::worker::WorkerQuitReason;
use tokio::io::{AsyncBufReadExt, AsyncRead, BufReader};
use tokio_util::sync::CancellationToken;

use super::client::BackendClient;
use super::http::BoundedHttp;
use super::progress::{ProgressRoutes, Tapped};
use super::stdio::{ChildTransport, ExitNote};
use crate::config::{BackendConfig, OAuthConfig, Transport, child_env};

/// The last lines a stdio backend wrote to stderr, kept so a failure can say why.
#[derive(Clone, Default)]
pub(crate) struct StderrTail {
    lines: Arc<Mutex<VecDeque<String>>>,
    /// Cancelled when the pipe reaches its end (the process exited or closed it).
    closed: CancellationToken,
}

impl StderrTail {
    const KEEP: usize = 20;

    /// Wait (at most `limit`) until the backend's stderr is closed, so the lines a dying
    /// process wrote last are in the tail before an error message quotes it.
    pub(crate) async fn closed(&self, limit: Duration) {
        let _ = tokio::time::timeout(limit, self.closed.cancelled()).await;
    }

    fn push(&self, line: String) {
        let mut lines = self.lock();
        if lines.len() == Self::KEEP {
            lines.pop_front();
        }
        lines.push_back(line);
    }

    /// The OS error a shim reports when it could not start the command (its last line).
    pub(crate) fn spawn_failure(&self) -> Option<i32> {
        let lines = self.lock();
        lines
            .back()?
            .strip_prefix(super::shim::SPAWN_FAILED)?
            .trim()
            .parse()
            .ok()
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
        match self.lines.lock() {
            Ok(guard) => guard,
            Err(poisoned) => poisoned.into_inner(),
        }
    }
}

/// A spawned child or an HTTP endpoint, not yet initialized.
pub(crate) enum Opened {
    Stdio {
        child: Box<ChildTransport>,
        /// The configured command, for a "cannot start" error a shim reports.
        command: String,
    },
    Http(HttpPlan),
}

/// An HTTP backend's connection, planned: whether a stored OAuth token is used is decided
/// in [`handshake`], since finding the token's authorization server takes requests.
pub(crate) struct HttpPlan {
    name: Arc<str>,
    url: String,
    headers: std::collections::HashMap<http::HeaderName, http::HeaderValue>,
    oauth: OAuthConfig,
    max_message_bytes: usize,
}

impl HttpPlan {
    /// The transport, with the stored OAuth token when there is one (and the config has
    /// no `Authorization` header of its own, which wins).
    async fn transport(self) -> Result<StreamableHttpClientTransport<BoundedHttp>, ConnectError> {
        let has_own = self.headers.contains_key(&http::header::AUTHORIZATION);
        let authorized = if has_own {
            None
        } else {
            crate::auth::authorized_client(&self.name, &self.url, &self.oauth, http_client())
                .await
                .map_err(|e| ConnectError::Initialize(format!("OAuth: {e}")))?
        };
        // The same ceiling as a stdio backend's line on each SSE message. A JSON
        // (non-SSE) reply is held to rmcp's own 16 MiB bound.
        let client = match authorized {
            Some(auth) => BoundedHttp::with_oauth(auth, self.max_message_bytes),
            None => BoundedHttp::new(http_client(), self.max_message_bytes),
        };
        Ok(StreamableHttpClientTransport::with_client(
            client,
            StreamableHttpClientTransportConfig::with_uri(self.url.as_str())
                .custom_headers(self.headers),
        ))
    }

    /// The error a 401 becomes: the sign-in command, unless the config carries its own
    /// credentials or turned OAuth off.
    fn unauthorized(&self) -> ConnectError {
        let why = if self.headers.contains_key(&http::header::AUTHORIZATION) {
            "the server refused the configured `Authorization` header (HTTP 401)".to_owned()
        } else if !self.oauth.enabled {
            "the server needs authorization (HTTP 401) and `oauth.enabled` is false: give it a \
             token with `headers: {Authorization: \"Bearer ${TOKEN}\"}`"
                .to_owned()
        } else {
            crate::auth::login_hint(&self.name)
        };
        ConnectError::Unauthorized(why)
    }
}

impl Opened {
    /// Process group of a stdio child (its pid), so shutdown can reach grandchildren.
    pub(crate) fn process_group(&self) -> Option<u32> {
        match self {
            Opened::Stdio { child, .. } => child.id(),
            Opened::Http(_) => None,
        }
    }

    /// Where a stdio child's exit status will be noted (nothing for HTTP).
    pub(crate) fn exit_note(&self) -> ExitNote {
        match self {
            Opened::Stdio { child, .. } => child.exit_note(),
            Opened::Http(_) => ExitNote::default(),
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
    /// The server answered 401: what the user can do about it (`auth login`, mostly).
    #[error("{0}")]
    Unauthorized(String),
}

impl ConnectError {
    /// Retrying cannot help: the command does not exist, the config is wrong, or the server
    /// wants credentials we do not have.
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
            // On Linux under a shim that takes every descendant down with it (`shim`).
            let mut cmd = super::shim::wrap(command, args);
            cmd.env_clear().envs(child_env(env, *inherit_env));
            if let Some(dir) = cwd {
                cmd.current_dir(dir);
            }
            let mut wrapped = CommandWrap::from(cmd);
            // Its own process group, so `npx`/`uvx` grandchildren die with it. A shim is
            // never SIGKILLed on drop: it is asked to kill its tree (`ChildTransport`).
            wrapped.wrap(ProcessGroup::leader());
            if !super::shim::in_use() {
                wrapped.wrap(KillOnDrop);
            }
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
            Ok(Opened::Stdio {
                child: Box::new(child),
                command: command.clone(),
            })
        }
        Transport::Http {
            url,
            headers,
            oauth,
        } => Ok(Opened::Http(HttpPlan {
            name: name.clone(),
            url: url.clone(),
            headers: header_map(headers)?,
            oauth: oauth.clone(),
            max_message_bytes,
        })),
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
    let logs = (Arc::clone(&client.registry), Arc::clone(&client.name));
    let exit = opened.exit_note();
    match opened {
        Opened::Stdio { child, command } => match client
            .serve_with_ct(Tapped::new(*child, progress, logs), cancel)
            .await
        {
            Ok(service) => Ok(service),
            Err(e) => Err(initialize_error(&e, Some(&command), stderr, &exit).await),
        },
        Opened::Http(plan) => {
            let unauthorized = plan.unauthorized();
            let transport = plan.transport().await?;
            match client
                .serve_with_ct(Tapped::new(transport, progress, logs), cancel)
                .await
            {
                Ok(service) => Ok(service),
                Err(e) if e.auth_challenge().is_some() => Err(unauthorized),
                Err(e) => Err(initialize_error(&e, None, stderr, &exit).await),
            }
        }
    }
}

/// The cause of a failed handshake in the user's terms: the connection error (refused,
/// DNS, TLS, HTTP status) rather than rmcp's transport type names, and for a child that
/// died its last stderr lines. (A 401 is [`HttpPlan::unauthorized`].)
async fn initialize_error(
    e: &ClientInitializeError,
    command: Option<&str>,
    stderr: &StderrTail,
    exit: &ExitNote,
) -> ConnectError {
    let stdio = command.is_some();
    let cause = match e {
        ClientInitializeError::TransportError { error, .. } => {
            let chain = error_chain(error.error.as_ref());
            if stdio && is_closed_pipe(error.error.as_ref()) {
                exited_early(exit)
            } else {
                chain
            }
        }
        ClientInitializeError::ConnectionClosed(_) if stdio => exited_early(exit),
        other => other.to_string(),
    };
    if !stdio {
        return ConnectError::Initialize(cause);
    }
    // A child that dies during the handshake only says "connection closed"; its stderr
    // usually says why (missing env var, bad argument). Its last lines may still be in the
    // pipe: give the reader a moment to reach the end.
    stderr.closed(Duration::from_secs(1)).await;
    if let (Some(command), Some(code)) = (command, stderr.spawn_failure()) {
        return ConnectError::Spawn {
            command: command.to_owned(),
            source: std::io::Error::from_raw_os_error(code),
        };
    }
    match stderr.summary() {
        Some(tail) => ConnectError::Initialize(format!("{cause}; stderr: {tail}")),
        None => ConnectError::Initialize(cause),
    }
}

/// "the process exited before answering initialize", with its exit status when known.
fn exited_early(exit: &ExitNote) -> String {
    match exit.describe() {
        Some(how) => format!("the process {how} before answering initialize"),
        None => "the process exited before answering initialize".to_owned(),
    }
}

/// Every distinct message along an error's `source()` chain, outermost first, with a
/// plain-words lead for a refused connection.
fn error_chain(e: &(dyn std::error::Error + 'static)) -> String {
    let mut text = String::new();
    let mut refused = false;
    let mut current = Some(e);
    while let Some(err) = current {
        if let Some(io) = err.downcast_ref::<std::io::Error>() {
            refused |= io.kind() == std::io::ErrorKind::ConnectionRefused;
        }
        let message = err.to_string();
        // Wrappers often repeat their source's text; say each thing once.
        if !message.is_empty() && !text.contains(&message) {
            if !text.is_empty() {
                text.push_str(": ");
            }
            text.push_str(&message);
        }
        current = next_source(err);
    }
    if refused {
        format!("connection refused ({text})")
    } else {
        text
    }
}

/// An error's cause. rmcp's HTTP error keeps the reqwest error in a variant that is not
/// marked as its `source()`, which would hide the DNS or connection error; follow it.
fn next_source<'a>(
    err: &'a (dyn std::error::Error + 'static),
) -> Option<&'a (dyn std::error::Error + 'static)> {
    type HttpError = StreamableHttpError<reqwest::Error>;
    if let Some(HttpError::Client(inner)) = err.downcast_ref::<HttpError>() {
        return Some(inner);
    }
    if let Some(WorkerQuitReason::Fatal { error, .. }) =
        err.downcast_ref::<WorkerQuitReason<HttpError>>()
    {
        return Some(error);
    }
    err.source()
}

fn is_closed_pipe(e: &(dyn std::error::Error + 'static)) -> bool {
    let mut current = Some(e);
    while let Some(err) = current {
        if let Some(io) = err.downcast_ref::<std::io::Error>() {
            return matches!(
                io.kind(),
                std::io::ErrorKind::BrokenPipe
                    | std::io::ErrorKind::UnexpectedEof
                    | std::io::ErrorKind::ConnectionReset
            );
        }
        current = err.source();
    }
    false
}

/// Longest stderr line kept; the rest of a longer line is dropped (one line of a minified
/// bundle or a binary dump must not grow memory without bound).
const MAX_STDERR_LINE: usize = 8 * 1024;

/// Drain the child's stderr until it closes, whatever it writes: bytes, not text (a
/// non-UTF-8 byte is decoded lossily), with each line capped. Stopping early would close the
/// pipe and the child's next write would kill it with SIGPIPE.
///
/// Lines go to the tail (for error messages) and to the log at DEBUG only: at INFO a chatty
/// backend would fill the gateway's own log with its output.
async fn pump_stderr(name: Arc<str>, pipe: impl AsyncRead + Unpin, tail: StderrTail) {
    let mut reader = BufReader::new(pipe);
    let mut line = Vec::new();
    let mut cut = false;
    loop {
        let chunk = match reader.fill_buf().await {
            Ok([]) => break,
            Ok(chunk) => chunk,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => {
                tracing::debug!(target: "backend", backend = %name, "stderr unreadable: {e}");
                break;
            }
        };
        let (part, newline) = match chunk.iter().position(|b| *b == b'\n') {
            Some(at) => (&chunk[..at], true),
            None => (chunk, false),
        };
        let room = MAX_STDERR_LINE.saturating_sub(line.len());
        line.extend_from_slice(&part[..part.len().min(room)]);
        cut |= part.len() > room;
        let used = part.len() + usize::from(newline);
        reader.consume(used);
        if newline {
            emit_line(&name, &tail, &line, cut);
            line.clear();
            cut = false;
        }
    }
    if !line.is_empty() {
        emit_line(&name, &tail, &line, cut);
    }
    tail.closed.cancel();
}

fn emit_line(name: &str, tail: &StderrTail, bytes: &[u8], cut: bool) {
    let bytes = bytes.strip_suffix(b"\r").unwrap_or(bytes);
    let mut text = String::from_utf8_lossy(bytes).into_owned();
    if cut {
        text.push_str(" [line cut at 8 KiB]");
    }
    tracing::debug!(target: "backend", backend = %name, "{text}");
    tail.push(text);
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
/// delayed-ACK stalls on small POSTs), and at most 3 redirects, all within the origin the
/// backend's URL names: its headers often carry secrets (`X-API-Key: ${KEY}`), and reqwest
/// strips only `Authorization` on a cross-host redirect.
fn http_client() -> reqwest::Client {
    static CLIENT: std::sync::OnceLock<reqwest::Client> = std::sync::OnceLock::new();
    CLIENT
        .get_or_init(|| {
            let redirect = reqwest::redirect::Policy::custom(|attempt| {
                let same_origin = attempt
                    .previous()
                    .first()
                    .is_some_and(|first| first.origin() == attempt.url().origin());
                if attempt.previous().len() > 3 {
                    attempt.error("more than 3 redirects")
                } else if same_origin {
                    attempt.follow()
                } else {
                    let to = attempt.url().origin().ascii_serialization();
                    attempt.error(format!("redirected to another origin ({to}); not followed"))
                }
            });
            reqwest::Client::builder()
                .pool_max_idle_per_host(0)
                .connect_timeout(Duration::from_secs(10))
                .redirect(redirect)
                .build()
                .unwrap_or_default()
        })
        .clone()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn stderr_is_read_to_the_end_whatever_it_holds() {
        let mut bytes = b"bad \xff\xfe byte\r\n".to_vec();
        bytes.extend(std::iter::repeat_n(b'y', 100 * 1024));
        bytes.extend_from_slice(b"\nlast words");
        let tail = StderrTail::default();
        pump_stderr(Arc::from("t"), &bytes[..], tail.clone()).await;
        let lines: Vec<String> = tail.lock().iter().cloned().collect();
        assert_eq!(lines.len(), 3, "{lines:?}");
        assert_eq!(lines[0], "bad \u{fffd}\u{fffd} byte");
        assert!(lines[1].starts_with("yyy") && lines[1].ends_with("[line cut at 8 KiB]"));
        assert!(lines[1].len() < MAX_STDERR_LINE + 32, "{}", lines[1].len());
        assert_eq!(lines[2], "last words");
        // The end of the pipe is announced, so error messages can wait for the last lines.
        tail.closed(Duration::from_millis(10)).await;
        assert!(tail.closed.is_cancelled());
    }
}
