//! The gateway's face toward one backend: the rmcp `ClientHandler` that receives the
//! backend's notifications and routes them where they belong. (Progress is not among
//! them: it is taken off the transport, in order, by `progress.rs`.)
//!
//! List changes that need a round trip go to the backend's actor; resource changes and
//! log messages are announced on the registry, where the client-facing side picks them
//! up. This module never sees the client-facing server.

// Logging and resources/subscribe are deprecated by SEP-2577 / 2026-07-28, yet
// initialize-era clients and backends use them, and the gateway passes them on.
#![allow(deprecated)]

use std::sync::Arc;

use rmcp::model::{
    ClientCapabilities, ClientConfig, Implementation, LoggingMessageNotificationParam,
    ProtocolVersion, ResourceUpdatedNotificationParam,
};
use rmcp::service::NotificationContext;
use rmcp::{ClientHandler, RoleClient};
use tokio::sync::mpsc;

use crate::registry::{BackendEvent, Registry};

/// What a backend's notifications ask its actor to do.
#[derive(Debug)]
pub(crate) enum ActorCommand {
    /// The backend sent `notifications/tools/list_changed`.
    RefreshTools,
    /// The backend sent `notifications/prompts/list_changed`.
    RefreshPrompts,
}

/// The `ClientHandler` of one backend connection.
pub(crate) struct BackendClient {
    pub(crate) name: Arc<str>,
    /// The version offered in `initialize` (`protocol_version` in gateway.yaml, else the
    /// latest that has `initialize`).
    pub(crate) protocol: ProtocolVersion,
    pub(crate) mailbox: mpsc::Sender<ActorCommand>,
    pub(crate) registry: Arc<Registry>,
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

    async fn on_prompt_list_changed(&self, _context: NotificationContext<RoleClient>) {
        let _ = self.mailbox.try_send(ActorCommand::RefreshPrompts);
    }

    async fn on_resource_list_changed(&self, _context: NotificationContext<RoleClient>) {
        self.registry.announce(BackendEvent::ResourcesChanged {
            backend: Arc::clone(&self.name),
        });
    }

    async fn on_resource_updated(
        &self,
        params: ResourceUpdatedNotificationParam,
        _context: NotificationContext<RoleClient>,
    ) {
        self.registry.announce(BackendEvent::ResourceUpdated {
            backend: Arc::clone(&self.name),
            uri: params.uri,
        });
    }

    async fn on_logging_message(
        &self,
        message: LoggingMessageNotificationParam,
        _context: NotificationContext<RoleClient>,
    ) {
        // The gateway's own log keeps a copy: the client may not be listening.
        tracing::info!(
            target: "backend",
            backend = %self.name,
            level = ?message.level,
            logger = message.logger.as_deref().unwrap_or(""),
            "{}",
            message.data
        );
        self.registry.announce(BackendEvent::Log {
            backend: Arc::clone(&self.name),
            message,
        });
    }
}
