//! Progress the client reports on a request relayed to it, routed to the backend that
//! asked. rmcp stamps its own progress token on each request the gateway sends, so the
//! client's notifications name the gateway's token; each relayed request opens a queue
//! under that token and forwards what is filed there under the backend's own token.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use rmcp::model::{ProgressNotificationParam, ProgressToken};
use tokio::sync::mpsc;

/// Steps queued per request before the relay forwards them; more are dropped (logged).
const QUEUE: usize = 1024;

#[derive(Clone, Default)]
pub(super) struct Routes(
    Arc<Mutex<HashMap<ProgressToken, mpsc::Sender<ProgressNotificationParam>>>>,
);

impl Routes {
    /// Open the queue of the request that went out with `token`; dropping the route
    /// closes it.
    pub(super) fn open(&self, token: ProgressToken) -> Route {
        let (tx, rx) = mpsc::channel(QUEUE);
        super::lock(&self.0).insert(token.clone(), tx);
        Route {
            routes: self.clone(),
            token,
            rx,
        }
    }

    pub(super) fn file(&self, param: ProgressNotificationParam) {
        let routes = super::lock(&self.0);
        let Some(tx) = routes.get(&param.progress_token) else {
            return;
        };
        if let Err(mpsc::error::TrySendError::Full(p)) = tx.try_send(param) {
            tracing::warn!(token = ?p.progress_token, "relayed progress queue full; dropped one");
        }
    }
}

/// One relayed request's progress queue.
pub(super) struct Route {
    routes: Routes,
    token: ProgressToken,
    pub(super) rx: mpsc::Receiver<ProgressNotificationParam>,
}

impl Drop for Route {
    fn drop(&mut self) {
        super::lock(&self.routes.0).remove(&self.token);
    }
}
