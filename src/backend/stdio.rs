//! The transport to a stdio backend: its stdin and stdout, framed with the gateway's size
//! limit, and the child process it belongs to.
//!
//! In place of rmcp's `TokioChildProcess` because of what happens to a message over the
//! limit: rmcp drops it and the call waits out its whole timeout. Here a response too big
//! to keep becomes an error response for its own request id, so the call fails at once
//! with the size and the limit, and the connection stays usable.

use std::process::ExitStatus;
use std::time::Duration;

use process_wrap::tokio::{ChildWrapper, CommandWrap};
use rmcp::RoleClient;
use rmcp::model::{
    ClientJsonRpcMessage, ErrorCode, ErrorData, JsonRpcMessage, RequestId, ServerJsonRpcMessage,
};
use rmcp::transport::Transport;
use serde_json::{Value, json};
use tokio::io::AsyncWriteExt;
use tokio::process::{ChildStderr, ChildStdin, ChildStdout};

use crate::framing::{Frame, LineReader, Oversized};

/// `error.data.reason` of the error put in place of an oversized response, so the call
/// can tell it from an error the backend sent (see `call.rs`).
pub(crate) const TOO_LARGE: &str = "mcp-gateway: message too large";

/// How long `close` waits for the child to exit after its stdin closes; the actor's own
/// SIGTERM/SIGKILL clock runs meanwhile.
const EXIT_WAIT: Duration = Duration::from_secs(3);

type Stdin = std::sync::Arc<tokio::sync::Mutex<Option<ChildStdin>>>;

pub(crate) struct ChildTransport {
    child: Option<Box<dyn ChildWrapper>>,
    lines: LineReader<ChildStdout>,
    stdin: Stdin,
    exit: ExitNote,
}

/// How the child ended, once the transport has seen it end: for the error that says so.
#[derive(Clone, Default)]
pub(crate) struct ExitNote(std::sync::Arc<std::sync::Mutex<Option<ExitStatus>>>);

impl ExitNote {
    fn set(&self, status: ExitStatus) {
        if let Ok(mut slot) = self.0.lock() {
            *slot = Some(status);
        }
    }

    /// "exited with status 3", "killed by signal 9 (SIGKILL)", or `None` if not seen.
    pub(crate) fn describe(&self) -> Option<String> {
        let status = (*self.0.lock().ok()?)?;
        if let Some(code) = status.code() {
            return Some(format!("exited with status {code}"));
        }
        #[cfg(unix)]
        {
            use std::os::unix::process::ExitStatusExt;
            if let Some(signal) = status.signal() {
                let name = nix::sys::signal::Signal::try_from(signal)
                    .map(|s| format!(" ({})", s.as_str()))
                    .unwrap_or_default();
                return Some(format!("killed by signal {signal}{name}"));
            }
        }
        Some(format!("ended ({status})"))
    }
}

impl ChildTransport {
    /// Spawn `command` with piped stdin, stdout and stderr; the stderr pipe is returned
    /// for the caller to drain.
    pub(crate) fn spawn(
        mut command: CommandWrap,
        max_message_bytes: usize,
    ) -> std::io::Result<(ChildTransport, Option<ChildStderr>)> {
        command
            .command_mut()
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped());
        let mut child = command.spawn()?;
        let missing = |what| std::io::Error::other(format!("the child's {what} is not piped"));
        let stdin = child.stdin().take().ok_or_else(|| missing("stdin"))?;
        let stdout = child.stdout().take().ok_or_else(|| missing("stdout"))?;
        let stderr = child.stderr().take();
        Ok((
            ChildTransport {
                child: Some(child),
                lines: LineReader::new(stdout, max_message_bytes),
                stdin: std::sync::Arc::new(tokio::sync::Mutex::new(Some(stdin))),
                exit: ExitNote::default(),
            },
            stderr,
        ))
    }

    pub(crate) fn id(&self) -> Option<u32> {
        self.child.as_ref().and_then(|c| c.id())
    }

    /// Where the child's exit status is noted when the transport sees it end.
    pub(crate) fn exit_note(&self) -> ExitNote {
        self.exit.clone()
    }

    /// Wait (at most `limit`) for the child to exit and note how it did.
    async fn note_exit(&mut self, limit: Duration) {
        if let Some(child) = self.child.as_mut()
            && let Ok(Ok(status)) = tokio::time::timeout(limit, child.wait()).await
        {
            self.exit.set(status);
        }
    }
}

/// The error that stands in for an oversized response, or `None` for a message that
/// answers nothing (a request or notification too big to read is dropped). Shared with the
/// HTTP transport (`http.rs`), so both name the size and the limit the same way.
pub(crate) fn stand_in(over: &Oversized, limit: usize) -> Option<ServerJsonRpcMessage> {
    let id = match over.id.as_ref()? {
        Value::String(s) => RequestId::String(s.as_str().into()),
        Value::Number(n) => RequestId::Number(n.as_i64()?),
        _ => return None,
    };
    if over.has_method {
        return None;
    }
    let error = ErrorData::new(
        ErrorCode::INTERNAL_ERROR,
        format!(
            "the response of {} bytes is over the limit of {limit} bytes",
            over.size
        ),
        Some(json!({"reason": TOO_LARGE, "size": over.size, "limit": limit})),
    );
    Some(JsonRpcMessage::error(error, Some(id)))
}

/// A response (an `id`, no `method`) that does not decode: an error for its request, so the
/// call says what was wrong now instead of timing out.
fn unreadable_response(line: &[u8], error: &serde_json::Error) -> Option<ServerJsonRpcMessage> {
    let value: Value = serde_json::from_slice(line).ok()?;
    if value.get("method").is_some() {
        return None;
    }
    let id = match value.get("id")? {
        Value::String(s) => RequestId::String(s.as_str().into()),
        Value::Number(n) => RequestId::Number(n.as_i64()?),
        _ => return None,
    };
    let error = ErrorData::new(
        ErrorCode::INTERNAL_ERROR,
        format!("the backend's response is not valid MCP: {error}"),
        None,
    );
    Some(JsonRpcMessage::error(error, Some(id)))
}

impl Transport<RoleClient> for ChildTransport {
    type Error = std::io::Error;

    fn send(
        &mut self,
        item: ClientJsonRpcMessage,
    ) -> impl Future<Output = Result<(), Self::Error>> + Send + 'static {
        let bytes = serde_json::to_vec(&item).map(|mut b| {
            b.push(b'\n');
            b
        });
        let stdin = std::sync::Arc::clone(&self.stdin);
        async move {
            let bytes = bytes?;
            let mut guard = stdin.lock().await;
            let Some(pipe) = guard.as_mut() else {
                return Err(std::io::Error::new(
                    std::io::ErrorKind::NotConnected,
                    "the backend's stdin is closed",
                ));
            };
            pipe.write_all(&bytes).await?;
            pipe.flush().await
        }
    }

    async fn receive(&mut self) -> Option<ServerJsonRpcMessage> {
        loop {
            match self.lines.next().await {
                Frame::Line => {
                    match serde_json::from_slice::<ServerJsonRpcMessage>(self.lines.line()) {
                        Ok(message) => return Some(message),
                        Err(e) => {
                            if let Some(error) = unreadable_response(self.lines.line(), &e) {
                                return Some(error);
                            }
                            // Servers print banners and junk on stdout; skip it, as rmcp does.
                            tracing::debug!("ignoring a line that is not MCP: {e}");
                        }
                    }
                }
                Frame::Oversized(over) => {
                    tracing::warn!(
                        "backend sent a message of {} bytes, over the {}-byte limit",
                        over.size,
                        self.lines.max()
                    );
                    if let Some(error) = stand_in(&over, self.lines.max()) {
                        return Some(error);
                    }
                }
                Frame::Eof => {
                    // Its stdout closed: it is exiting. Note how, for the error message.
                    self.note_exit(Duration::from_millis(500)).await;
                    return None;
                }
                Frame::Io(e) => {
                    tracing::debug!("cannot read from the backend: {e}");
                    return None;
                }
            }
        }
    }

    async fn close(&mut self) -> Result<(), Self::Error> {
        // EOF on stdin is the MCP way to ask a stdio server to exit.
        drop(self.stdin.lock().await.take());
        self.note_exit(EXIT_WAIT).await;
        Ok(())
    }
}

impl Drop for ChildTransport {
    fn drop(&mut self) {
        let Some(mut child) = self.child.take() else {
            return;
        };
        if super::shim::in_use() {
            // Never SIGKILL a shim: it could not take the tree below it down. Ask it to,
            // unless it has exited and been waited for (its pid may be reused then). An
            // unwaited child is reaped in the background by tokio.
            #[cfg(unix)]
            if let (Ok(None), Some(pid)) = (child.try_wait(), child.id()) {
                super::shim::kill_now(pid);
            }
        } else {
            // The command is wrapped with `KillOnDrop`; start the kill without waiting.
            let _ = child.start_kill();
        }
    }
}
