//! Calling a tool on a ready backend on behalf of a client: timeouts, cancellation and
//! progress forwarded, the result passed through untouched.

use std::sync::Arc;
use std::time::Duration;

use rmcp::model::{
    CallToolRequest, CallToolRequestParams, CallToolResult, CancelledNotificationParam,
    ClientRequest, ProgressNotificationParam, ProgressToken, ServerResult,
};
use rmcp::service::{PeerRequestOptions, ServiceError};
use rmcp::{ErrorData, Peer, RoleClient, RoleServer};
use tokio_util::sync::CancellationToken;

use super::connect::StderrTail;
use super::progress::ProgressRoutes;
use super::stdio::TOO_LARGE;
use crate::capability::CapabilitySet;

/// A cheap, cloneable handle to a ready backend. Calls go straight to the connection's
/// peer (or the capability executor), so any number run at once; the actor owns the
/// connection's lifetime.
#[derive(Clone)]
pub struct BackendHandle {
    pub(crate) name: Arc<str>,
    pub(crate) target: Target,
}

/// What a backend is, behind its handle. A closed set: every kind of backend there is.
#[derive(Clone)]
pub(crate) enum Target {
    /// An MCP server connection.
    Mcp(McpTarget),
    /// The REST capabilities served by the capability backend.
    Capabilities(CapabilitySet),
}

#[derive(Clone)]
pub(crate) struct McpTarget {
    pub(crate) peer: Peer<RoleClient>,
    pub(crate) progress: ProgressRoutes,
    pub(crate) timeout: Duration,
    pub(crate) stderr: StderrTail,
}

/// The client a call is made for: where its progress goes and when it gives up.
pub struct Caller {
    pub peer: Option<Peer<RoleServer>>,
    pub progress_token: Option<ProgressToken>,
    pub cancelled: CancellationToken,
}

/// Why a call produced no backend result.
#[derive(Debug, thiserror::Error)]
pub enum CallError {
    #[error("the client cancelled the call")]
    Cancelled,
    #[error("backend `{backend}` did not answer within {timeout:?}")]
    Timeout { backend: String, timeout: Duration },
    #[error("backend `{backend}` went away during the call{detail}")]
    Closed { backend: String, detail: String },
    #[error("backend `{backend}` answered with an error: {error}")]
    Backend { backend: String, error: ErrorData },
    #[error("backend `{backend}` sent an unexpected response")]
    Unexpected { backend: String },
    #[error(
        "backend `{backend}` sent a response of {size} bytes, over the limit of {limit} bytes \
         (`limits.max_message_bytes` in gateway.yaml)"
    )]
    TooLarge {
        backend: String,
        size: u64,
        limit: u64,
    },
}

impl BackendHandle {
    /// A handle for the capability backend `name`.
    pub fn capabilities(name: &str, set: CapabilitySet) -> BackendHandle {
        BackendHandle {
            name: Arc::from(name),
            target: Target::Capabilities(set),
        }
    }

    pub async fn call_tool(
        &self,
        params: CallToolRequestParams,
        caller: Caller,
    ) -> Result<CallToolResult, CallError> {
        match &self.target {
            Target::Mcp(mcp) => self.call_mcp(mcp, params, caller).await,
            Target::Capabilities(set) => tokio::select! {
                result = set.call(params) => result.map_err(|error| CallError::Backend {
                    backend: self.name.to_string(),
                    error,
                }),
                () = caller.cancelled.cancelled() => Err(CallError::Cancelled),
            },
        }
    }

    async fn call_mcp(
        &self,
        mcp: &McpTarget,
        params: CallToolRequestParams,
        caller: Caller,
    ) -> Result<CallToolResult, CallError> {
        // The timeout restarts on each progress notification: a long job that reports
        // progress is alive, a silent one past its budget is not.
        let options = PeerRequestOptions::with_timeout(mcp.timeout).reset_timeout_on_progress();
        let request = ClientRequest::CallToolRequest(CallToolRequest::new(params));
        let handle = mcp
            .peer
            .send_request_with_option(request, options)
            .await
            .map_err(|e| self.service_error(mcp, e))?;
        let id = handle.id.clone();
        // Claimed whether or not the client wants progress: the claim closes the route.
        let mut claim = mcp.progress.claim(handle.progress_token.clone());
        let forward = match (caller.peer, caller.progress_token, claim.rx.take()) {
            (Some(peer), Some(token), Some(queue)) => Some((peer, token, queue)),
            _ => None,
        };
        let response = handle.await_response();
        tokio::pin!(response);
        let Some((peer, token, mut queue)) = forward else {
            return tokio::select! {
                response = &mut response => self.result(mcp, response),
                () = caller.cancelled.cancelled() => Err(self.cancel(mcp, id).await),
            };
        };
        loop {
            tokio::select! {
                // Progress first: a step queued before the response must go out before it.
                biased;
                Some(step) = queue.recv() => self.forward(&peer, &token, step).await,
                response = &mut response => {
                    // Every notification the backend sent before its response was queued
                    // before the response was read: drain them, then answer.
                    while let Ok(step) = queue.try_recv() {
                        self.forward(&peer, &token, step).await;
                    }
                    return self.result(mcp, response);
                }
                () = caller.cancelled.cancelled() => return Err(self.cancel(mcp, id).await),
            }
        }
    }

    fn result(
        &self,
        mcp: &McpTarget,
        response: Result<ServerResult, ServiceError>,
    ) -> Result<CallToolResult, CallError> {
        match response {
            Ok(ServerResult::CallToolResult(result)) => Ok(result),
            Ok(_) => Err(CallError::Unexpected {
                backend: self.name.to_string(),
            }),
            Err(e) => Err(self.service_error(mcp, e)),
        }
    }

    async fn forward(
        &self,
        peer: &Peer<RoleServer>,
        token: &ProgressToken,
        step: ProgressNotificationParam,
    ) {
        let mut forwarded = ProgressNotificationParam::new(token.clone(), step.progress);
        forwarded.total = step.total;
        forwarded.message = step.message;
        if let Err(e) = peer.notify_progress(forwarded).await {
            tracing::debug!(backend = %self.name, "progress not forwarded: {e}");
        }
    }

    async fn cancel(&self, mcp: &McpTarget, id: rmcp::model::RequestId) -> CallError {
        let notice =
            CancelledNotificationParam::new(Some(id), Some("cancelled by the client".into()));
        if let Err(e) = mcp.peer.notify_cancelled(notice).await {
            tracing::debug!(backend = %self.name, "cancellation not forwarded: {e}");
        }
        CallError::Cancelled
    }

    fn service_error(&self, mcp: &McpTarget, e: ServiceError) -> CallError {
        let backend = self.name.to_string();
        match e {
            ServiceError::McpError(error) => match too_large(&error) {
                Some((size, limit)) => CallError::TooLarge {
                    backend,
                    size,
                    limit,
                },
                None => CallError::Backend { backend, error },
            },
            ServiceError::Timeout { timeout } => CallError::Timeout { backend, timeout },
            ServiceError::TransportClosed | ServiceError::TransportSend(_) => CallError::Closed {
                backend,
                detail: mcp
                    .stderr
                    .summary()
                    .map(|t| format!("; stderr: {t}"))
                    .unwrap_or_default(),
            },
            other => CallError::Closed {
                backend,
                detail: format!(": {other}"),
            },
        }
    }
}

/// The size and limit of the error `stdio.rs` puts in place of an oversized response.
fn too_large(error: &ErrorData) -> Option<(u64, u64)> {
    let data = error.data.as_ref()?;
    if data.get("reason")?.as_str()? != TOO_LARGE {
        return None;
    }
    Some((data.get("size")?.as_u64()?, data.get("limit")?.as_u64()?))
}
