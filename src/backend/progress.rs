//! Progress from a backend to the client that asked, every notification and in order.
//!
//! rmcp hands each incoming notification to the `ClientHandler` on a task of its own, so
//! a handler-based relay races the call's response (the last step arrives after the call
//! has returned and its route is gone) and even its own earlier steps. Instead the
//! transport itself is tapped: [`Tapped`] opens a queue for a `tools/call`'s progress token
//! as the request goes out, and files each progress notification into it as it comes in,
//! before the message reaches rmcp. The response is read after its notifications, so by
//! the time a call sees its result every notification sent before it is queued; the call
//! forwards the queue in order and only then returns (see `call.rs`).
//!
//! Log messages are announced from the same tap, so a call that hears its backend's log
//! lines (a 2026-07-28 client's, see `gateway::logs`) has them before its result.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use rmcp::RoleClient;
use rmcp::model::{
    ClientJsonRpcMessage, ClientRequest, GetMeta, JsonRpcMessage, ProgressNotificationParam,
    ProgressToken, ServerJsonRpcMessage, ServerNotification,
};
use rmcp::transport::Transport;
use tokio::sync::mpsc;

use super::client::announce_log;
use crate::registry::Registry;

/// Progress notifications queued per call before the call forwards them; a backend that
/// sends more than this while the client is not reading loses the excess (logged).
const QUEUE: usize = 4096;

/// Backend progress token → the queue of its call.
///
/// rmcp stamps its own progress token on every outgoing request, so the client's token
/// cannot pass through; the call maps it back when it forwards.
#[derive(Clone, Default)]
pub(crate) struct ProgressRoutes(Arc<Mutex<HashMap<ProgressToken, Slot>>>);

struct Slot {
    tx: mpsc::Sender<ProgressNotificationParam>,
    /// Taken by the call; `None` once it has.
    rx: Option<mpsc::Receiver<ProgressNotificationParam>>,
}

impl Slot {
    fn new() -> Slot {
        let (tx, rx) = mpsc::channel(QUEUE);
        Slot { tx, rx: Some(rx) }
    }
}

impl ProgressRoutes {
    /// The queue of `token`'s call, created if the request has not gone out yet. Dropping
    /// the returned guard closes the route.
    pub(crate) fn claim(&self, token: ProgressToken) -> Claim {
        let rx = self
            .lock()
            .entry(token.clone())
            .or_insert_with(Slot::new)
            .rx
            .take();
        Claim {
            routes: self.clone(),
            token,
            rx,
        }
    }

    fn open(&self, token: ProgressToken) {
        self.lock().entry(token).or_insert_with(Slot::new);
    }

    fn file(&self, param: ProgressNotificationParam) {
        let routes = self.lock();
        let Some(slot) = routes.get(&param.progress_token) else {
            return;
        };
        if let Err(mpsc::error::TrySendError::Full(p)) = slot.tx.try_send(param) {
            tracing::warn!(
                token = ?p.progress_token,
                "progress queue full ({QUEUE}); the client is not keeping up, dropped one"
            );
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<ProgressToken, Slot>> {
        match self.0.lock() {
            Ok(guard) => guard,
            Err(poisoned) => poisoned.into_inner(),
        }
    }
}

/// A call's hold on its progress queue.
pub(crate) struct Claim {
    routes: ProgressRoutes,
    token: ProgressToken,
    pub(crate) rx: Option<mpsc::Receiver<ProgressNotificationParam>>,
}

impl Drop for Claim {
    fn drop(&mut self) {
        self.routes.lock().remove(&self.token);
    }
}

/// A backend transport with its progress notifications filed by token, and its log
/// messages announced, on the way in. Progress still reaches rmcp too: it resets a call's
/// timeout on each one.
pub(crate) struct Tapped<T> {
    inner: T,
    routes: ProgressRoutes,
    /// Where log messages are announced, and which backend they are from.
    logs: (Arc<Registry>, Arc<str>),
}

impl<T> Tapped<T> {
    pub(crate) fn new(inner: T, routes: ProgressRoutes, logs: (Arc<Registry>, Arc<str>)) -> Self {
        Tapped {
            inner,
            routes,
            logs,
        }
    }
}

impl<T: Transport<RoleClient>> Transport<RoleClient> for Tapped<T> {
    type Error = T::Error;

    fn send(
        &mut self,
        item: ClientJsonRpcMessage,
    ) -> impl Future<Output = Result<(), Self::Error>> + Send + 'static {
        if let JsonRpcMessage::Request(request) = &item
            && let ClientRequest::CallToolRequest(_) = &request.request
            && let Some(token) = request.request.get_meta().get_progress_token()
        {
            // Before the request is written, so no notification can beat its queue.
            self.routes.open(token);
        }
        self.inner.send(item)
    }

    async fn receive(&mut self) -> Option<ServerJsonRpcMessage> {
        let message = self.inner.receive().await?;
        if let JsonRpcMessage::Notification(n) = &message {
            match &n.notification {
                ServerNotification::ProgressNotification(p) => self.routes.file(p.params.clone()),
                ServerNotification::LoggingMessageNotification(m) => {
                    let (registry, backend) = &self.logs;
                    announce_log(registry, backend, m.params.clone());
                }
                _ => {}
            }
        }
        Some(message)
    }

    async fn close(&mut self) -> Result<(), Self::Error> {
        self.inner.close().await
    }
}
