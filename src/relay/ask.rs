//! One backend request relayed to the client: checked against what the client declared,
//! sent with the backend's `_meta`, bounded in time, cancelled when the backend cancels,
//! the client's progress forwarded to the backend in order, and the answer returned to
//! the backend that asked (each relayed request is its own JSON-RPC request to the
//! client, so concurrent asks from several backends never trade answers).

// Sampling and roots are deprecated by SEP-2577, yet initialize-era clients use them.
#![allow(deprecated)]

use std::sync::Arc;
use std::time::Duration;

use rmcp::model::{
    CancelledNotificationParam, ClientCapabilities, ClientResult, CreateMessageRequest,
    CreateMessageRequestParams, CreateMessageResult, CustomRequest, CustomResult, ElicitRequest,
    ElicitRequestParams, ElicitResult, ElicitationCapability, ListRootsRequest, ListRootsResult,
    ProgressNotificationParam, ProgressToken, ServerRequest,
};
use rmcp::service::{PeerRequestOptions, RequestContext, ServiceError};
use rmcp::{Peer, RoleClient};

use super::{LegacyClient, Recipient, Relay, RelayError};

pub(super) const SAMPLING: &str = "sampling/createMessage";
pub(super) const ELICITATION: &str = "elicitation/create";
pub(super) const ROOTS: &str = "roots/list";

/// The longest the gateway itself waits for the client's answer (restarted by each
/// progress step). A backend's own, usually shorter, timeout ends the wait first: its
/// cancellation is passed on. Elicitation waits on a person, so this is generous.
pub const RELAY_TIMEOUT: Duration = Duration::from_secs(600);

/// A backend's request, as its connection received it.
pub struct Ask {
    pub backend: Arc<str>,
    pub context: RequestContext<RoleClient>,
}

impl Relay {
    /// `sampling/createMessage`, with `tools`/`toolChoice` only if the client declared
    /// `sampling.tools`.
    pub async fn create_message(
        &self,
        params: CreateMessageRequestParams,
        ask: Ask,
    ) -> Result<CreateMessageResult, RelayError> {
        let client = self.target(&ask.backend, SAMPLING)?;
        let Some(sampling) = &client.capabilities().sampling else {
            return Err(not_declared(SAMPLING, "sampling", &client));
        };
        if (params.tools.is_some() || params.tool_choice.is_some()) && sampling.tools.is_none() {
            return Err(not_declared(SAMPLING, "sampling.tools", &client));
        }
        let request = ServerRequest::CreateMessageRequest(CreateMessageRequest::new(params));
        match self.send(&client, SAMPLING, request, ask).await? {
            ClientResult::CreateMessageResult(result) => Ok(*result),
            _ => Err(RelayError::Unexpected { method: SAMPLING }),
        }
    }

    /// `elicitation/create` in form or URL mode, each only if the client declared it.
    pub async fn create_elicitation(
        &self,
        params: ElicitRequestParams,
        ask: Ask,
    ) -> Result<ElicitResult, RelayError> {
        let client = self.target(&ask.backend, ELICITATION)?;
        let url = matches!(params, ElicitRequestParams::UrlElicitationParams { .. });
        check_mode(&client, url)?;
        let request = ServerRequest::ElicitRequest(ElicitRequest::new(params));
        match self.send(&client, ELICITATION, request, ask).await? {
            ClientResult::ElicitResult(result) => Ok(result),
            _ => Err(RelayError::Unexpected {
                method: ELICITATION,
            }),
        }
    }

    /// `roots/list`: the client's roots, or an error — never an empty list in its place.
    pub async fn list_roots(&self, ask: Ask) -> Result<ListRootsResult, RelayError> {
        let client = self.target(&ask.backend, ROOTS)?;
        if client.capabilities().roots.is_none() {
            return Err(not_declared(ROOTS, "roots", &client));
        }
        let request = ServerRequest::ListRootsRequest(ListRootsRequest::default());
        match self.send(&client, ROOTS, request, ask).await? {
            ClientResult::ListRootsResult(result) => Ok(result),
            _ => Err(RelayError::Unexpected { method: ROOTS }),
        }
    }

    /// A sampling or elicitation request whose parameters rmcp's types do not take (a
    /// form schema richer than its `ElicitationSchema`, say): relayed as raw JSON, with
    /// the same checks. `None` for any other method.
    pub async fn custom(
        &self,
        request: CustomRequest,
        ask: Ask,
    ) -> Option<Result<CustomResult, RelayError>> {
        let method = match request.method.as_str() {
            SAMPLING => SAMPLING,
            ELICITATION => ELICITATION,
            _ => return None,
        };
        Some(self.custom_checked(method, request, ask).await)
    }

    async fn custom_checked(
        &self,
        method: &'static str,
        request: CustomRequest,
        ask: Ask,
    ) -> Result<CustomResult, RelayError> {
        let client = self.target(&ask.backend, method)?;
        let params = request.params.as_ref();
        if method == SAMPLING {
            let Some(sampling) = &client.capabilities().sampling else {
                return Err(not_declared(SAMPLING, "sampling", &client));
            };
            let tools =
                params.is_some_and(|p| p.get("tools").is_some() || p.get("toolChoice").is_some());
            if tools && sampling.tools.is_none() {
                return Err(not_declared(SAMPLING, "sampling.tools", &client));
            }
        } else {
            let url = params.and_then(|p| p.get("mode")).and_then(|m| m.as_str()) == Some("url");
            check_mode(&client, url)?;
        }
        let raw = CustomRequest::new(request.method, request.params);
        match self
            .send(&client, method, ServerRequest::CustomRequest(raw), ask)
            .await?
        {
            ClientResult::CustomResult(result) => Ok(result),
            other => serde_json::to_value(other)
                .map(CustomResult)
                .map_err(|_| RelayError::Unexpected { method }),
        }
    }

    async fn send(
        &self,
        recipient: &Recipient,
        method: &'static str,
        request: ServerRequest,
        ask: Ask,
    ) -> Result<ClientResult, RelayError> {
        match recipient {
            Recipient::Session(client) => self.send_to(client, method, request, ask).await,
            Recipient::Round(round) => round.ask(method, request, &ask.context).await,
        }
    }

    /// The request sent to an initialize-era client as a request of the gateway's own.
    async fn send_to(
        &self,
        client: &LegacyClient,
        method: &'static str,
        request: ServerRequest,
        ask: Ask,
    ) -> Result<ClientResult, RelayError> {
        let Ask { backend, context } = ask;
        // MCP: no requests to the client before it has said `initialized`.
        let mut initialized = self.initialized.subscribe();
        tokio::select! {
            ready = tokio::time::timeout(RELAY_TIMEOUT, initialized.wait_for(|done| *done)) => {
                if !matches!(ready, Ok(Ok(_))) {
                    return Err(RelayError::NoClient { method });
                }
            }
            () = context.ct.cancelled() => return Err(RelayError::Cancelled { method }),
        }
        // The backend's `_meta` goes along (rmcp puts its own progress token in it).
        let options = PeerRequestOptions::with_timeout(RELAY_TIMEOUT)
            .reset_timeout_on_progress()
            .with_meta(context.meta.clone());
        // Sent from a task of its own: the backend connection's request-scoped task-locals
        // (its request id and protocol version) must not be taken for the client's.
        let peer = client.peer.clone();
        let sent =
            tokio::spawn(async move { peer.send_request_with_option(request, options).await })
                .await
                .map_err(|_| RelayError::Closed { method })?
                .map_err(|e| service_error(method, e))?;
        let id = sent.id.clone();
        // Progress tokens are per client connection; only the stdio wire files them.
        let mut progress = context
            .meta
            .get_progress_token()
            .filter(|_| client.stdio)
            .map(|token| (token, self.progress.open(sent.progress_token.clone())));
        tracing::debug!(backend = %backend, %id, "relaying {method} to the client");
        let response = sent.await_response();
        tokio::pin!(response);
        loop {
            let step = async {
                match progress.as_mut() {
                    Some((_, route)) => route.rx.recv().await,
                    None => std::future::pending().await,
                }
            };
            tokio::select! {
                // A step the client sent before its answer reaches the backend before it.
                biased;
                Some(step) = step => {
                    if let Some((token, _)) = &progress {
                        forward(&context.peer, token, step, &backend).await;
                    }
                }
                response = &mut response => {
                    if let Some((token, route)) = progress.as_mut() {
                        while let Ok(step) = route.rx.try_recv() {
                            forward(&context.peer, token, step, &backend).await;
                        }
                    }
                    return response.map_err(|e| service_error(method, e));
                }
                () = context.ct.cancelled() => {
                    let notice = CancelledNotificationParam::new(
                        Some(id),
                        Some(format!("cancelled by backend `{backend}`")),
                    );
                    if let Err(e) = client.peer.notify_cancelled(notice).await {
                        tracing::debug!(backend = %backend, "cancellation not passed on: {e}");
                    }
                    return Err(RelayError::Cancelled { method });
                }
            }
        }
    }
}

/// Form or URL elicitation, each only if declared (an empty `elicitation: {}` means
/// form, as in 2025-06-18).
pub(super) fn check_mode(client: &Recipient, url: bool) -> Result<(), RelayError> {
    missing_mode(client.capabilities(), url).map_or(Ok(()), |capability| {
        Err(not_declared(ELICITATION, capability, client))
    })
}

/// The elicitation capability a request in this mode needs and the client lacks.
fn missing_mode(capabilities: &ClientCapabilities, url: bool) -> Option<&'static str> {
    let Some(ElicitationCapability {
        form, url: url_cap, ..
    }) = &capabilities.elicitation
    else {
        return Some("elicitation");
    };
    let form_ok = form.is_some() || url_cap.is_none();
    match (url, url_cap.is_some(), form_ok) {
        (true, false, _) => Some("elicitation.url"),
        (false, _, false) => Some("elicitation.form"),
        _ => None,
    }
}

fn not_declared(method: &'static str, capability: &'static str, client: &Recipient) -> RelayError {
    RelayError::NotDeclared {
        method,
        capability,
        client: client.client().to_owned(),
    }
}

async fn forward(
    backend: &Peer<RoleClient>,
    token: &ProgressToken,
    step: ProgressNotificationParam,
    name: &str,
) {
    let mut forwarded = ProgressNotificationParam::new(token.clone(), step.progress);
    forwarded.total = step.total;
    forwarded.message = step.message;
    if let Err(e) = backend.notify_progress(forwarded).await {
        tracing::debug!(backend = %name, "progress not passed on: {e}");
    }
}

fn service_error(method: &'static str, e: ServiceError) -> RelayError {
    match e {
        ServiceError::McpError(error) => RelayError::Client(error),
        ServiceError::Timeout { timeout } => RelayError::Timeout { method, timeout },
        ServiceError::UnexpectedResponse => RelayError::Unexpected { method },
        _ => RelayError::Closed { method },
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn caps(value: serde_json::Value) -> ClientCapabilities {
        serde_json::from_value(value).unwrap_or_default()
    }

    #[test]
    fn elicitation_modes_only_as_declared() {
        let both = caps(json!({"elicitation": {"form": {}, "url": {}}}));
        assert_eq!(missing_mode(&both, false), None);
        assert_eq!(missing_mode(&both, true), None);
        // `elicitation: {}` is form only (2025-06-18 clients).
        let bare = caps(json!({"elicitation": {}}));
        assert_eq!(missing_mode(&bare, false), None);
        assert_eq!(missing_mode(&bare, true), Some("elicitation.url"));
        let url_only = caps(json!({"elicitation": {"url": {}}}));
        assert_eq!(missing_mode(&url_only, false), Some("elicitation.form"));
        assert_eq!(missing_mode(&url_only, true), None);
        assert_eq!(missing_mode(&caps(json!({})), false), Some("elicitation"));
    }
}
