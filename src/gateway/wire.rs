//! The client-facing stdio transport: newline-delimited JSON-RPC read with a size limit,
//! and the answers JSON-RPC asks for where rmcp would stay silent or answer vaguely.
//!
//! - a line that is not JSON (or not UTF-8): `-32700` with `"id": null`;
//! - valid JSON that is not a request, response or notification: `-32600`, with the
//!   request's `id` when one can be read, else `null`;
//! - a known method with parameters of the wrong shape: `-32602` (rmcp would take it for a
//!   custom method and answer `-32601`);
//! - a request whose `id` is still in flight: `-32600` for the duplicate; the original
//!   keeps its one answer;
//! - a message over `limits.max_message_bytes`: `-32600` naming its size and the limit.
//!
//! Messages that decode are passed to rmcp untouched: the checks cost nothing on that path
//! but a set insert and remove per request.

use std::collections::HashSet;
use std::sync::{Arc, Mutex};

use rmcp::RoleServer;
use rmcp::model::{
    CallToolRequestParams, ClientJsonRpcMessage, ClientNotification, ClientRequest, ErrorCode,
    JsonRpcMessage, RequestId, ServerJsonRpcMessage,
};
use rmcp::transport::Transport;
use serde_json::{Value, json};
use tokio::io::{AsyncRead, AsyncWrite, AsyncWriteExt};

use crate::framing::{Frame, LineReader, Oversized};
use crate::relay::Relay;
use crate::sync::lock;

/// The config key that sets the limit, named in the error so the user can raise it.
pub const LIMIT_KEY: &str = "limits.max_message_bytes";

/// Requests rmcp decodes into typed variants: when one of these comes out as a custom
/// request, its parameters were wrong. (Server→client methods are not listed: a client
/// sending them gets "method not found", as it should.)
const TYPED_METHODS: &[&str] = &[
    "initialize",
    "ping",
    "server/discover",
    "completion/complete",
    "logging/setLevel",
    "prompts/get",
    "prompts/list",
    "resources/list",
    "resources/templates/list",
    "resources/read",
    "resources/subscribe",
    "resources/unsubscribe",
    "subscriptions/listen",
    "tools/call",
    "tools/list",
];

type Writer<W> = Arc<tokio::sync::Mutex<Option<W>>>;

/// MCP over a byte stream pair (stdin/stdout in `serve`).
pub struct StdioWire<R, W> {
    lines: LineReader<R>,
    out: Writer<W>,
    /// Ids of requests passed to rmcp and not yet answered (or cancelled).
    in_flight: Arc<Mutex<HashSet<RequestId>>>,
    /// Where the client's progress on relayed requests is filed.
    relay: Option<Arc<Relay>>,
}

impl<R, W> StdioWire<R, W>
where
    R: AsyncRead + Unpin + Send,
    W: AsyncWrite + Unpin + Send + 'static,
{
    pub fn new(read: R, write: W, max_message_bytes: usize) -> Self {
        StdioWire {
            lines: LineReader::new(read, max_message_bytes),
            out: Arc::new(tokio::sync::Mutex::new(Some(write))),
            in_flight: Arc::default(),
            relay: None,
        }
    }

    /// File the client's progress notifications with `relay` as they are read. rmcp would
    /// hand each to the handler on a task of its own, racing the answer that follows it;
    /// filed here, in wire order, every step the client sent before its answer is queued
    /// before the answer reaches the relayed request, which forwards them first.
    pub fn with_relay(mut self, relay: Arc<Relay>) -> Self {
        self.relay = Some(relay);
        self
    }

    /// Answer a line rmcp never sees. Written from its own task: `receive` may be dropped
    /// at any await, and a half-written line would corrupt the stream.
    fn reply(&self, id: Option<Value>, code: ErrorCode, message: String) {
        let reply = json!({
            "jsonrpc": "2.0",
            "id": id.unwrap_or(Value::Null),
            "error": {"code": code.0, "message": message},
        });
        tracing::debug!("answering a malformed message: {reply}");
        let mut bytes = reply.to_string().into_bytes();
        bytes.push(b'\n');
        let out = Arc::clone(&self.out);
        tokio::spawn(async move {
            let _ = write_line(&out, &bytes).await;
        });
    }

    /// A decoded message: let it through, or answer it here.
    fn admit(&self, message: ClientJsonRpcMessage) -> Option<ClientJsonRpcMessage> {
        match &message {
            JsonRpcMessage::Request(request) => {
                if let ClientRequest::CustomRequest(custom) = &request.request
                    && TYPED_METHODS.contains(&custom.method.as_str())
                {
                    let why = params_error(&custom.method, custom.params.as_ref());
                    self.reply(Some(id_value(&request.id)), ErrorCode::INVALID_PARAMS, why);
                    return None;
                }
                if !lock(&self.in_flight).insert(request.id.clone()) {
                    self.reply(
                        Some(id_value(&request.id)),
                        ErrorCode::INVALID_REQUEST,
                        format!(
                            "request id {} is already in use by a request still in flight",
                            id_value(&request.id)
                        ),
                    );
                    return None;
                }
            }
            JsonRpcMessage::Notification(n)
                if let ClientNotification::ProgressNotification(p) = &n.notification =>
            {
                if let Some(relay) = &self.relay {
                    relay.client_progress(p.params.clone());
                }
            }
            // rmcp sends no answer to a cancelled request, so its id is free again.
            JsonRpcMessage::Notification(n) => {
                if let ClientNotification::CancelledNotification(c) = &n.notification
                    && let Some(id) = &c.params.request_id
                {
                    lock(&self.in_flight).remove(id);
                }
            }
            JsonRpcMessage::Response(_) | JsonRpcMessage::Error(_) => {}
        }
        Some(message)
    }

    /// A line that did not decode: say why, unless it was a notification (never answered).
    fn refuse(&self, line: &[u8], error: &serde_json::Error) {
        let Ok(value) = serde_json::from_slice::<Value>(line) else {
            self.reply(
                None,
                ErrorCode::PARSE_ERROR,
                format!("parse error: not a JSON message ({error})"),
            );
            return;
        };
        let Value::Object(object) = &value else {
            let what = if value.is_array() {
                "batches are not supported; send one request per line"
            } else {
                "a message must be a JSON object"
            };
            self.reply(
                None,
                ErrorCode::INVALID_REQUEST,
                format!("invalid request: {what}"),
            );
            return;
        };
        let id = object
            .get("id")
            .filter(|v| v.is_string() || v.is_number())
            .cloned();
        let method = object.get("method").and_then(Value::as_str);
        if method.is_some() && !object.contains_key("id") {
            tracing::debug!("ignoring a malformed notification: {error}");
            return;
        }
        // A response to one of our requests is never answered either.
        if method.is_none() && (object.contains_key("result") || object.contains_key("error")) {
            tracing::debug!("ignoring a malformed response: {error}");
            return;
        }
        let well_formed = object.get("jsonrpc").and_then(Value::as_str) == Some("2.0")
            && id.as_ref().is_some_and(valid_id);
        match method {
            Some(method) if well_formed && TYPED_METHODS.contains(&method) => {
                let why = params_error(method, object.get("params"));
                self.reply(id, ErrorCode::INVALID_PARAMS, why);
            }
            _ => self.reply(
                id,
                ErrorCode::INVALID_REQUEST,
                format!("invalid request: {error}"),
            ),
        }
    }

    fn oversized(&self, over: &Oversized) {
        if over.has_method && over.id.is_none() {
            tracing::warn!(
                "dropped a notification of {} bytes, over the {}-byte limit ({LIMIT_KEY})",
                over.size,
                self.lines.max()
            );
            return;
        }
        let message = format!(
            "message of {} bytes is over the limit of {} bytes (`{LIMIT_KEY}` in gateway.yaml)",
            over.size,
            self.lines.max()
        );
        tracing::warn!("{message}");
        self.reply(over.id.clone(), ErrorCode::INVALID_REQUEST, message);
    }
}

impl<R, W> Transport<RoleServer> for StdioWire<R, W>
where
    R: AsyncRead + Unpin + Send,
    W: AsyncWrite + Unpin + Send + 'static,
{
    type Error = std::io::Error;

    fn send(
        &mut self,
        item: ServerJsonRpcMessage,
    ) -> impl Future<Output = Result<(), Self::Error>> + Send + 'static {
        let answered = match &item {
            JsonRpcMessage::Response(r) => Some(r.id.clone()),
            JsonRpcMessage::Error(e) => e.id.clone(),
            _ => None,
        };
        if let Some(id) = answered {
            lock(&self.in_flight).remove(&id);
        }
        let bytes = serde_json::to_vec(&item).map(|mut b| {
            b.push(b'\n');
            b
        });
        let out = Arc::clone(&self.out);
        async move { write_line(&out, &bytes?).await }
    }

    async fn receive(&mut self) -> Option<ClientJsonRpcMessage> {
        loop {
            match self.lines.next().await {
                Frame::Line => {}
                Frame::Oversized(over) => {
                    self.oversized(&over);
                    continue;
                }
                Frame::Eof => return None,
                Frame::Io(e) => {
                    tracing::error!("cannot read from the client: {e}");
                    return None;
                }
            }
            match serde_json::from_slice::<ClientJsonRpcMessage>(self.lines.line()) {
                Ok(message) => {
                    if let Some(message) = self.admit(message) {
                        return Some(message);
                    }
                }
                Err(e) => self.refuse(self.lines.line(), &e),
            }
        }
    }

    async fn close(&mut self) -> Result<(), Self::Error> {
        if let Some(mut out) = self.out.lock().await.take() {
            out.flush().await?;
        }
        Ok(())
    }
}

async fn write_line<W: AsyncWrite + Unpin>(out: &Writer<W>, bytes: &[u8]) -> std::io::Result<()> {
    let mut guard = out.lock().await;
    let Some(out) = guard.as_mut() else {
        return Err(std::io::Error::new(
            std::io::ErrorKind::NotConnected,
            "the client connection is closed",
        ));
    };
    out.write_all(bytes).await?;
    out.flush().await
}

/// Why `params` do not fit `method`, as specific as serde can say.
fn params_error(method: &str, params: Option<&Value>) -> String {
    let detail = match (method, params) {
        (_, None) => "`params` is missing".to_owned(),
        ("tools/call", Some(p)) => {
            match serde_json::from_value::<CallToolRequestParams>(p.clone()) {
                Err(e) => e.to_string(),
                Ok(_) => "they do not match the method".to_owned(),
            }
        }
        (_, Some(_)) => "they do not match the method".to_owned(),
    };
    format!("invalid params for `{method}`: {detail}")
}

/// An id rmcp can carry: a string or an integer that fits an i64.
fn valid_id(id: &Value) -> bool {
    id.is_string() || id.is_i64()
}

fn id_value(id: &RequestId) -> Value {
    serde_json::to_value(id).unwrap_or(Value::Null)
}
