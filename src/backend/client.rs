//! The gateway's face toward one backend: the rmcp `ClientHandler` that receives the
//! backend's notifications and routes them where they belong.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use rmcp::model::{
    ClientCapabilities, ClientConfig, Implementation, ProgressNotificationParam, ProgressToken,
    ProtocolVersion,
};
use rmcp::service::NotificationContext;
use rmcp::{ClientHandler, Peer, RoleClient, RoleServer};
use tokio::sync::mpsc;

/// What a backend's notifications ask its actor to do.
#[derive(Debug)]
pub(crate) enum ActorCommand {
    /// The backend sent `notifications/tools/list_changed`.
    RefreshTools,
}

/// Backend progress token → the client that asked and the token it used.
///
/// rmcp stamps its own progress token on every outgoing request, so the client's token
/// cannot pass through; we map it back here.
#[derive(Clone, Default)]
pub(crate) struct ProgressRoutes(Arc<Mutex<HashMap<ProgressToken, Route>>>);

#[derive(Clone)]
struct Route {
    peer: Peer<RoleServer>,
    token: ProgressToken,
}

impl ProgressRoutes {
    pub(crate) fn insert(
        &self,
        ours: ProgressToken,
        peer: Peer<RoleServer>,
        theirs: ProgressToken,
    ) {
        self.lock().insert(
            ours,
            Route {
                peer,
                token: theirs,
            },
        );
    }

    pub(crate) fn remove(&self, ours: &ProgressToken) {
        self.lock().remove(ours);
    }

    fn get(&self, ours: &ProgressToken) -> Option<Route> {
        self.lock().get(ours).cloned()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<ProgressToken, Route>> {
        match self.0.lock() {
            Ok(guard) => guard,
            Err(poisoned) => poisoned.into_inner(),
        }
    }
}

/// The `ClientHandler` of one backend connection.
pub(crate) struct BackendClient {
    pub(crate) name: Arc<str>,
    /// The version offered in `initialize` (`protocol_version` in gateway.yaml, else the
    /// latest that has `initialize`).
    pub(crate) protocol: ProtocolVersion,
    pub(crate) progress: ProgressRoutes,
    pub(crate) mailbox: mpsc::Sender<ActorCommand>,
}

impl ClientHandler for BackendClient {
    fn get_info(&self) -> ClientConfig {
        // Sampling, elicitation and roots are not declared: the gateway does not relay
        // them yet, and a declared-but-empty `roots` makes some servers (filesystem)
        // drop the directories they were started with.
        ClientConfig::new(
            ClientCapabilities::default(),
            Implementation::new("mcp-gateway", env!("CARGO_PKG_VERSION")),
        )
        .with_protocol_version(self.protocol.clone())
    }

    async fn on_progress(
        &self,
        params: ProgressNotificationParam,
        _context: NotificationContext<RoleClient>,
    ) {
        let Some(route) = self.progress.get(&params.progress_token) else {
            return;
        };
        let mut forwarded = ProgressNotificationParam::new(route.token, params.progress);
        forwarded.total = params.total;
        forwarded.message = params.message;
        if let Err(e) = route.peer.notify_progress(forwarded).await {
            tracing::debug!(backend = %self.name, "progress not forwarded: {e}");
        }
    }

    async fn on_tool_list_changed(&self, _context: NotificationContext<RoleClient>) {
        // Re-listing needs a request/response round trip on this same connection, so it
        // must not run inside the notification handler: hand it to the actor.
        let _ = self.mailbox.try_send(ActorCommand::RefreshTools);
    }
}
