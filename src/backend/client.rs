//! The gateway's face toward one backend: the rmcp `ClientHandler` that receives the
//! backend's notifications and routes them where they belong. (Progress is not among
//! them: it is taken off the transport, in order, by `progress.rs`.)

use rmcp::model::{ClientCapabilities, ClientConfig, Implementation, ProtocolVersion};
use rmcp::service::NotificationContext;
use rmcp::{ClientHandler, RoleClient};
use tokio::sync::mpsc;

/// What a backend's notifications ask its actor to do.
#[derive(Debug)]
pub(crate) enum ActorCommand {
    /// The backend sent `notifications/tools/list_changed`.
    RefreshTools,
}

/// The `ClientHandler` of one backend connection.
pub(crate) struct BackendClient {
    /// The version offered in `initialize` (`protocol_version` in gateway.yaml, else the
    /// latest that has `initialize`).
    pub(crate) protocol: ProtocolVersion,
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

    async fn on_tool_list_changed(&self, _context: NotificationContext<RoleClient>) {
        // Re-listing needs a request/response round trip on this same connection, so it
        // must not run inside the notification handler: hand it to the actor.
        let _ = self.mailbox.try_send(ActorCommand::RefreshTools);
    }
}
