//! Calling a tool on an MCP backend on behalf of a client: timeouts, cancellation and
//! progress forwarded, the result passed through untouched.

use std::time::Duration;

use rmcp::model::{
    CallToolRequest, CallToolRequestParams, CallToolResult, CancelledNotificationParam,
    ClientRequest, ProgressNotificationParam, ProgressToken, ServerResult,
};
use rmcp::service::{PeerRequestOptions, ServiceError};
use rmcp::{ErrorData, Peer, RoleClient, RoleServer};

use super::connect::StderrTail;
use super::progress::ProgressRoutes;
use super::stdio::TOO_LARGE;
use crate::target::{CallError, CallFuture, Caller, RequestFuture, ToolTarget};

/// An MCP server connection as a call target.
pub(crate) struct McpTarget {
    /// Calls on this connection, for the idle stop.
    pub(crate) activity: std::sync::Arc<super::lazy::Activity>,
    pub(crate) peer: Peer<RoleClient>,
    pub(crate) progress: ProgressRoutes,
    pub(crate) timeout: Duration,
    pub(crate) stderr: StderrTail,
    /// Told which client each call is for, so the backend's requests reach that client.
    pub(crate) relay: std::sync::Arc<crate::relay::Relay>,
}

impl ToolTarget for McpTarget {
    fn call_tool<'a>(
        &'a self,
        backend: &'a str,
        params: CallToolRequestParams,
        caller: Caller,
    ) -> CallFuture<'a> {
        Box::pin(Call { backend, mcp: self }.run(params, caller))
    }

    fn request<'a>(
        &'a self,
        backend: &'a str,
        request: ClientRequest,
        caller: Caller,
    ) -> RequestFuture<'a> {
        Box::pin(Call { backend, mcp: self }.plain(request, caller))
    }
}

/// One call on one connection.
struct Call<'a> {
    backend: &'a str,
    mcp: &'a McpTarget,
}

impl Call<'_> {
    async fn run(
        self,
        params: CallToolRequestParams,
        caller: Caller,
    ) -> Result<CallToolResult, CallError> {
        let mcp = self.mcp;
        let _busy = mcp.activity.begin();
        let _calling = mcp
            .relay
            .calling(self.backend, caller.peer.as_ref(), caller.round.as_ref());
        // The timeout restarts on each progress notification: a long job that reports
        // progress is alive, a silent one past its budget is not.
        let options = PeerRequestOptions::with_timeout(mcp.timeout).reset_timeout_on_progress();
        let request = ClientRequest::CallToolRequest(CallToolRequest::new(params));
        let handle = mcp
            .peer
            .send_request_with_option(request, options)
            .await
            .map_err(|e| self.unsent(e))?;
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
                response = &mut response => self.result(response),
                () = caller.cancelled.cancelled() => Err(self.cancel(id).await),
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
                    return self.result(response);
                }
                () = caller.cancelled.cancelled() => return Err(self.cancel(id).await),
            }
        }
    }

    /// A request without progress (resources, prompts, completion, logging): the answer
    /// as the backend gave it, or the client's cancellation passed on.
    async fn plain(
        self,
        request: ClientRequest,
        caller: Caller,
    ) -> Result<ServerResult, CallError> {
        let _busy = self.mcp.activity.begin();
        let _calling =
            self.mcp
                .relay
                .calling(self.backend, caller.peer.as_ref(), caller.round.as_ref());
        let options = PeerRequestOptions::with_timeout(self.mcp.timeout);
        let handle = self
            .mcp
            .peer
            .send_request_with_option(request, options)
            .await
            .map_err(|e| self.unsent(e))?;
        let id = handle.id.clone();
        tokio::select! {
            response = handle.await_response() => response.map_err(|e| self.service_error(e)),
            () = caller.cancelled.cancelled() => Err(self.cancel(id).await),
        }
    }

    fn result(
        &self,
        response: Result<ServerResult, ServiceError>,
    ) -> Result<CallToolResult, CallError> {
        match response {
            Ok(ServerResult::CallToolResult(result)) => Ok(result),
            Ok(_) => Err(CallError::Unexpected {
                backend: self.backend.to_owned(),
            }),
            Err(e) => Err(self.service_error(e)),
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
            tracing::debug!(backend = %self.backend, "progress not forwarded: {e}");
        }
    }

    async fn cancel(&self, id: rmcp::model::RequestId) -> CallError {
        let notice =
            CancelledNotificationParam::new(Some(id), Some("cancelled by the client".into()));
        if let Err(e) = self.mcp.peer.notify_cancelled(notice).await {
            tracing::debug!(backend = %self.backend, "cancellation not forwarded: {e}");
        }
        CallError::Cancelled
    }

    /// A failure to hand the request to the connection: it was never written, so the
    /// backend never saw it (what makes a retry safe for any tool).
    fn unsent(&self, e: ServiceError) -> CallError {
        match self.service_error(e) {
            CallError::Closed { backend, detail } => CallError::Unsent { backend, detail },
            other => other,
        }
    }

    fn service_error(&self, e: ServiceError) -> CallError {
        let backend = self.backend.to_owned();
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
            // The write of the request itself failed: the backend never had it whole.
            ServiceError::TransportSend(_) => CallError::Unsent {
                backend,
                detail: self.stderr_detail(),
            },
            ServiceError::TransportClosed => CallError::Closed {
                backend,
                detail: self.stderr_detail(),
            },
            other => CallError::Closed {
                backend,
                detail: format!(": {other}"),
            },
        }
    }
}

impl Call<'_> {
    fn stderr_detail(&self) -> String {
        self.mcp
            .stderr
            .summary()
            .map(|t| format!("; stderr: {t}"))
            .unwrap_or_default()
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
