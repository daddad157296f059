//! The gateway's face toward one backend: the rmcp `ClientHandler` that receives the
//! backend's notifications and routes them where they belong. (Progress and log messages
//! are not among them: they are taken off the transport, in order, by `progress.rs`.)
//!
//! List changes that need a round trip go to the backend's actor; resource changes and
//! log messages are announced on the registry, where the client-facing side picks them
//! up. The backend's requests to the client (sampling, elicitation, roots) go to the
//! [`Relay`]. This module never sees the client-facing server.

// Logging and resources/subscribe are deprecated by SEP-2577 / 2026-07-28, yet
// initialize-era clients and backends use them, and the gateway passes them on.
#![allow(deprecated)]

use std::sync::Arc;

use rmcp::model::{
    ClientCapabilities, ClientConfig, CreateMessageRequestParams, CreateMessageResult,
    CustomNotification, CustomRequest, CustomResult, ElicitRequestParams, ElicitResult,
    Implementation, ListRootsResult, LoggingMessageNotificationParam, ProtocolVersion,
    ResourceUpdatedNotificationParam,
};
use rmcp::service::{NotificationContext, RequestContext};
use rmcp::{ClientHandler, ErrorData, RoleClient};
use tokio::sync::mpsc;

use crate::registry::{BackendEvent, Registry};
use crate::relay::{Ask, Relay};

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
    /// What this connection tells the backend the client can do (the real client's
    /// sampling, elicitation and roots, as known when it connected).
    pub(crate) declared: ClientCapabilities,
    pub(crate) relay: Arc<Relay>,
}

impl BackendClient {
    fn ask(&self, context: RequestContext<RoleClient>) -> Ask {
        Ask {
            backend: Arc::clone(&self.name),
            context,
        }
    }
}

impl ClientHandler for BackendClient {
    fn get_info(&self) -> ClientConfig {
        // Exactly what the real client declared, so the backend asks only for what the
        // client can give (and a roots-aware server started with directories keeps them
        // when the client has no roots).
        ClientConfig::new(
            self.declared.clone(),
            Implementation::new("mcp-gateway", env!("CARGO_PKG_VERSION")),
        )
        .with_protocol_version(self.protocol.clone())
    }

    async fn create_message(
        &self,
        params: CreateMessageRequestParams,
        context: RequestContext<RoleClient>,
    ) -> Result<CreateMessageResult, ErrorData> {
        Ok(self.relay.create_message(params, self.ask(context)).await?)
    }

    async fn create_elicitation(
        &self,
        params: ElicitRequestParams,
        context: RequestContext<RoleClient>,
    ) -> Result<ElicitResult, ErrorData> {
        Ok(self
            .relay
            .create_elicitation(params, self.ask(context))
            .await?)
    }

    async fn list_roots(
        &self,
        context: RequestContext<RoleClient>,
    ) -> Result<ListRootsResult, ErrorData> {
        Ok(self.relay.list_roots(self.ask(context)).await?)
    }

    async fn on_custom_request(
        &self,
        request: CustomRequest,
        context: RequestContext<RoleClient>,
    ) -> Result<CustomResult, ErrorData> {
        let method = request.method.clone();
        match self.relay.custom(request, self.ask(context)).await {
            Some(answer) => Ok(answer?),
            None => Err(ErrorData::new(
                rmcp::model::ErrorCode::METHOD_NOT_FOUND,
                format!("mcp-gateway does not relay `{method}` to the client"),
                None,
            )),
        }
    }

    async fn on_custom_notification(
        &self,
        notification: CustomNotification,
        _context: NotificationContext<RoleClient>,
    ) {
        if notification.method == "notifications/elicitation/complete" {
            self.relay.elicitation_complete(notification).await;
        }
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
}

/// A backend's log message, announced on the registry as soon as the transport reads it
/// (see `progress.rs`): in order with the response it precedes, which a handler on a task
/// of its own would not be. The gateway's own log keeps a copy, as the client may not be
/// listening.
pub(crate) fn announce_log(
    registry: &Registry,
    backend: &Arc<str>,
    message: LoggingMessageNotificationParam,
) {
    tracing::info!(
        target: "backend",
        backend = %backend,
        level = ?message.level,
        logger = message.logger.as_deref().unwrap_or(""),
        "{}",
        message.data
    );
    registry.announce(BackendEvent::Log {
        backend: Arc::clone(backend),
        message,
    });
}
