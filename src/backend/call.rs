//! Calling a tool on a ready backend on behalf of a client: timeouts, cancellation and
//! progress forwarded, the result passed through untouched.

use std::sync::Arc;
use std::time::Duration;

use rmcp::model::{
    CallToolRequest, CallToolRequestParams, CallToolResult, CancelledNotificationParam,
    ClientRequest, ProgressToken, ServerResult,
};
use rmcp::service::{PeerRequestOptions, ServiceError};
use rmcp::{ErrorData, Peer, RoleClient, RoleServer};
use tokio_util::sync::CancellationToken;

use super::client::ProgressRoutes;
use super::connect::StderrTail;
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
        let _route = match (caller.peer, caller.progress_token) {
            (Some(peer), Some(token)) => Some(RouteGuard::new(
                &mcp.progress,
                handle.progress_token.clone(),
                peer,
                token,
            )),
            _ => None,
        };
        tokio::select! {
            response = handle.await_response() => match response {
                Ok(ServerResult::CallToolResult(result)) => Ok(result),
                Ok(_) => Err(CallError::Unexpected { backend: self.name.to_string() }),
                Err(e) => Err(self.service_error(mcp, e)),
            },
            () = caller.cancelled.cancelled() => {
                let notice = CancelledNotificationParam::new(
                    Some(id),
                    Some("cancelled by the client".into()),
                );
                if let Err(e) = mcp.peer.notify_cancelled(notice).await {
                    tracing::debug!(backend = %self.name, "cancellation not forwarded: {e}");
                }
                Err(CallError::Cancelled)
            }
        }
    }

    fn service_error(&self, mcp: &McpTarget, e: ServiceError) -> CallError {
        let backend = self.name.to_string();
        match e {
            ServiceError::McpError(error) => CallError::Backend { backend, error },
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

/// Keeps a progress route for exactly as long as its call runs.
struct RouteGuard {
    routes: ProgressRoutes,
    token: ProgressToken,
}

impl RouteGuard {
    fn new(
        routes: &ProgressRoutes,
        ours: ProgressToken,
        peer: Peer<RoleServer>,
        theirs: ProgressToken,
    ) -> Self {
        routes.insert(ours.clone(), peer, theirs);
        RouteGuard {
            routes: routes.clone(),
            token: ours,
        }
    }
}

impl Drop for RouteGuard {
    fn drop(&mut self) {
        self.routes.remove(&self.token);
    }
}
