//! Backend log messages for 2026-07-28 clients. That revision has no `logging/setLevel`:
//! a request opts in to log messages with `io.modelcontextprotocol/logLevel` in its
//! `_meta`, and hears those at or above that level while it runs. For a tool call that
//! opted in, the backend it calls is set to that level (if it is ready: one still starting
//! is set on the next call) and its log lines are sent to the client until the call is
//! answered. A backend's log lines carry nothing that names a call, so two calls to the
//! same backend at once both hear its lines of that time.

// Logging is deprecated by SEP-2577 / 2026-07-28, yet clients of both eras use it.
#![allow(deprecated)]

use std::future::Future;
use std::sync::Arc;

use rmcp::model::{CallToolRequestParams, LoggingLevel, LoggingMessageNotificationParam};
use rmcp::service::RequestContext;
use rmcp::{Peer, RoleServer};
use tokio::sync::broadcast::error::RecvError;

use super::Gateway;
use super::meta::MetaTool;
use crate::proxy::prompts;
use crate::registry::{BackendEvent, Snapshot};
use crate::target::Caller;

/// A backend's log message as the client sees it: the logger prefixed with the backend's
/// name.
pub(super) fn forwarded(
    backend: &str,
    message: &LoggingMessageNotificationParam,
) -> LoggingMessageNotificationParam {
    let logger = match &message.logger {
        Some(logger) => format!("{backend}/{logger}"),
        None => backend.to_owned(),
    };
    let mut forwarded = LoggingMessageNotificationParam::new(message.level, message.data.clone());
    forwarded.logger = Some(logger);
    forwarded
}

impl Gateway {
    /// Run `call`, the tool call `request` of a 2026-07-28 client, with the log messages
    /// its `_meta` opted in to.
    pub(super) async fn with_logs<T>(
        &self,
        request: &CallToolRequestParams,
        context: &RequestContext<RoleServer>,
        call: impl Future<Output = T>,
    ) -> T {
        let Some(level) = context.meta.log_level() else {
            return call.await;
        };
        let Some(server) = self.server_of(request) else {
            return call.await;
        };
        // Subscribed before the level is set: nothing the call causes is missed.
        let mut events = self.inner.registry.events();
        self.set_backend_level(&server, level).await;
        let outcome = tokio::select! {
            biased;
            outcome = call => outcome,
            never = send_logs(&mut events, &server, level, &context.peer) => match never {},
        };
        // The lines the backend sent before its result were announced before the result
        // was read: they go out before it too.
        while let Ok(event) = events.try_recv() {
            send_log(event, &server, level, &context.peer).await;
        }
        outcome
    }

    /// The backend a tool call goes to, if the caller may see it.
    fn server_of(&self, request: &CallToolRequestParams) -> Option<String> {
        let server = match MetaTool::from_name(&request.name) {
            Some(MetaTool::Invoke) => request
                .arguments
                .as_ref()?
                .get("server")?
                .as_str()?
                .to_owned(),
            Some(_) => return None,
            None => {
                let snap = self.inner.registry.snapshot();
                self.flat_map(&snap).get(request.name.as_ref())?.0.clone()
            }
        };
        self.permits_server(&server).then_some(server)
    }

    /// `logging/setLevel` at `server`. Sent on every call that opts in: it is one quick
    /// request, and a backend that restarted since has forgotten any earlier one.
    async fn set_backend_level(&self, server: &str, level: LoggingLevel) {
        let snap = self.inner.registry.snapshot();
        let only = Snapshot {
            servers: snap
                .servers
                .iter()
                .filter(|(name, _)| *name == server)
                .map(|(name, entry)| (name.clone(), Arc::clone(entry)))
                .collect(),
        };
        for refused in prompts::set_level(&only, level, Caller::default()).await {
            tracing::debug!("log level not set at `{refused}`");
        }
    }
}

/// Send `server`'s log lines at or above `level` to `peer`, for as long as it is polled.
async fn send_logs(
    events: &mut tokio::sync::broadcast::Receiver<BackendEvent>,
    server: &str,
    level: LoggingLevel,
    peer: &Peer<RoleServer>,
) -> std::convert::Infallible {
    loop {
        match events.recv().await {
            Ok(event) => send_log(event, server, level, peer).await,
            Err(RecvError::Lagged(_)) => {}
            Err(RecvError::Closed) => std::future::pending().await,
        }
    }
}

/// `event` to `peer`, if it is a log line of `server` at or above `level`.
async fn send_log(event: BackendEvent, server: &str, level: LoggingLevel, peer: &Peer<RoleServer>) {
    let BackendEvent::Log { backend, message } = event else {
        return;
    };
    if *backend != *server || severity(message.level) < severity(level) {
        return;
    }
    if let Err(e) = peer
        .notify_logging_message(forwarded(&backend, &message))
        .await
    {
        tracing::debug!("log message not sent: {e}");
    }
}

/// `level`'s place in syslog order (debug lowest).
fn severity(level: LoggingLevel) -> u8 {
    match level {
        LoggingLevel::Debug => 0,
        LoggingLevel::Info => 1,
        LoggingLevel::Notice => 2,
        LoggingLevel::Warning => 3,
        LoggingLevel::Error => 4,
        LoggingLevel::Critical => 5,
        LoggingLevel::Alert => 6,
        LoggingLevel::Emergency => 7,
    }
}
