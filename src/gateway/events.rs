//! Backend events on their way to the client: resource and prompt list changes,
//! resource updates (URIs namespaced) and log messages (logger prefixed with the
//! backend's name). Initialize-era clients get plain notifications; 2026-07-28 clients
//! hear list changes and their resources' updates on `subscriptions/listen`.

// Logging and resources/subscribe are deprecated by SEP-2577 / 2026-07-28, yet
// initialize-era clients and backends use them, and the gateway passes them on.
#![allow(deprecated)]

use std::collections::BTreeSet;

use rmcp::ErrorData;
use rmcp::model::ResourceUpdatedNotificationParam;
use rmcp::service::SubscriptionContext;
use tokio::sync::broadcast::error::RecvError;
use tokio_util::sync::CancellationToken;

use super::Gateway;
use crate::proxy;
use crate::registry::BackendEvent;

/// A change a 2026-07-28 listener may want to hear.
#[derive(Debug, Clone)]
pub(super) enum ListChange {
    Prompts,
    Resources,
    /// A resource changed; its URI as the client knows it.
    Updated(String),
}

/// Relay backend events to the client until shutdown.
pub async fn follow_events(gateway: Gateway, shutdown: CancellationToken) {
    let mut events = gateway.registry().events();
    loop {
        tokio::select! {
            event = events.recv() => match event {
                Ok(event) => gateway.relay(event).await,
                Err(RecvError::Lagged(missed)) => {
                    // The client could not keep up; what was missed cannot be replayed,
                    // but lists can be re-read, so say they changed.
                    tracing::warn!("{missed} backend notifications not relayed: the client read too slowly");
                    gateway.relay_list(ListChange::Prompts).await;
                    gateway.relay_list(ListChange::Resources).await;
                }
                Err(RecvError::Closed) => return,
            },
            () = shutdown.cancelled() => return,
        }
    }
}

impl Gateway {
    async fn relay(&self, event: BackendEvent) {
        match event {
            BackendEvent::PromptsChanged { .. } => self.relay_list(ListChange::Prompts).await,
            BackendEvent::ResourcesChanged { .. } => self.relay_list(ListChange::Resources).await,
            BackendEvent::ResourceUpdated { backend, uri } => {
                let ns = proxy::namespace(&self.inner.registry.snapshot());
                let uri = ns.wrap(&backend, &uri);
                let _ = self
                    .inner
                    .lists_changed
                    .send(ListChange::Updated(uri.clone()));
                for upstream in self.upstreams().iter().filter(|u| u.hears(&backend)) {
                    let notice = ResourceUpdatedNotificationParam::new(uri.clone());
                    if let Err(e) = upstream.peer.notify_resource_updated(notice).await {
                        tracing::debug!("resources/updated not sent: {e}");
                    }
                }
            }
            BackendEvent::Log { backend, message } => {
                let forwarded = super::logs::forwarded(&backend, &message);
                // A backend's log lines go only to clients whose key may see that backend.
                for upstream in self.upstreams().iter().filter(|u| u.hears(&backend)) {
                    let sent = upstream
                        .peer
                        .notify_logging_message(forwarded.clone())
                        .await;
                    if let Err(e) = sent {
                        tracing::debug!("log message not relayed: {e}");
                    }
                }
            }
        }
    }

    async fn relay_list(&self, change: ListChange) {
        let _ = self.inner.lists_changed.send(change.clone());
        for upstream in self.upstreams() {
            let sent = match change {
                ListChange::Prompts => upstream.peer.notify_prompt_list_changed().await,
                ListChange::Resources => upstream.peer.notify_resource_list_changed().await,
                ListChange::Updated(_) => return,
            };
            if let Err(e) = sent {
                tracing::debug!("list_changed not sent: {e}");
            }
        }
    }

    /// Serve one `subscriptions/listen` stream until the client ends it.
    pub(super) async fn serve_subscription(
        &self,
        context: SubscriptionContext,
    ) -> Result<(), ErrorData> {
        let accepted = context.sink().accepted().clone();
        let watched: BTreeSet<String> = accepted
            .resource_subscriptions
            .clone()
            .unwrap_or_default()
            .into_iter()
            .collect();
        let mut tools = self.inner.tools_changed.subscribe();
        let mut lists = self.inner.lists_changed.subscribe();
        // The backends that own the watched resources must send their updates.
        self.subscribe_backends(&watched, true).await;
        let served = self
            .pump_subscription(&context, &accepted, &watched, &mut tools, &mut lists)
            .await;
        self.subscribe_backends(&watched, false).await;
        served
    }

    /// `resources/subscribe` (or `unsubscribe`) at the backends owning `uris`; a
    /// backend that cannot is logged, and its resource simply gets no updates.
    async fn subscribe_backends(&self, uris: &BTreeSet<String>, on: bool) {
        for uri in uris {
            let snap = self.inner.registry.snapshot();
            let ns = proxy::namespace(&snap);
            let caller = crate::target::Caller::default();
            if let Err(e) = proxy::resources::subscribe(&snap, &ns, uri, on, caller).await {
                tracing::warn!("subscription to {uri} not forwarded: {e}");
            }
        }
    }

    async fn pump_subscription(
        &self,
        context: &SubscriptionContext,
        accepted: &rmcp::model::SubscriptionFilter,
        watched: &BTreeSet<String>,
        tools: &mut tokio::sync::broadcast::Receiver<()>,
        lists: &mut tokio::sync::broadcast::Receiver<ListChange>,
    ) -> Result<(), ErrorData> {
        let sink = context.sink();
        loop {
            let sent = tokio::select! {
                change = tools.recv() => match change {
                    // A lagged receiver missed some changes; one notice covers them all.
                    Ok(()) | Err(RecvError::Lagged(_)) => sink.notify_tool_list_changed().await,
                    Err(RecvError::Closed) => return Ok(()),
                },
                change = lists.recv() => match change {
                    Ok(ListChange::Prompts) if accepted.prompts_list_changed == Some(true) => {
                        sink.notify_prompt_list_changed().await
                    }
                    Ok(ListChange::Resources) if accepted.resources_list_changed == Some(true) => {
                        sink.notify_resource_list_changed().await
                    }
                    Ok(ListChange::Updated(uri)) if watched.contains(&uri) => {
                        sink.notify_resource_updated(uri).await
                    }
                    Ok(_) => Ok(()),
                    Err(RecvError::Lagged(_)) => sink.notify_resource_list_changed().await,
                    Err(RecvError::Closed) => return Ok(()),
                },
                () = context.cancelled() => return Ok(()),
            };
            if sent.is_err() {
                return Ok(());
            }
        }
    }
}
