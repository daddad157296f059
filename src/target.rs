//! What a tool call goes to: the handle the registry keeps for each ready backend, the
//! client a call is made for, and why a call can fail.
//!
//! A leaf, so that the registry can hold handles without knowing how calls are made:
//! `backend` (MCP connections) and `capability` (REST calls) each implement
//! [`ToolTarget`] and depend on this module and the registry, never the other way round.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use rmcp::model::{
    CallToolRequestParams, CallToolResult, ClientRequest, ProgressToken, ServerResult,
};
use rmcp::{ErrorData, Peer, RoleServer};
use tokio_util::sync::CancellationToken;

/// The future a [`ToolTarget`] call returns.
pub type CallFuture<'a> =
    Pin<Box<dyn Future<Output = Result<CallToolResult, CallError>> + Send + 'a>>;

/// The future a [`ToolTarget::request`] returns.
pub type RequestFuture<'a> =
    Pin<Box<dyn Future<Output = Result<ServerResult, CallError>> + Send + 'a>>;

/// Something that runs tool calls: an MCP connection or a capability set.
pub trait ToolTarget: Send + Sync {
    /// Call a tool for `caller`; `backend` is the name errors should carry.
    fn call_tool<'a>(
        &'a self,
        backend: &'a str,
        params: CallToolRequestParams,
        caller: Caller,
    ) -> CallFuture<'a>;

    /// Send any other MCP request (resources, prompts, completion, logging) with the
    /// call's timeout and cancellation. Only MCP connections have these; anything else
    /// says so.
    fn request<'a>(
        &'a self,
        backend: &'a str,
        request: ClientRequest,
        caller: Caller,
    ) -> RequestFuture<'a> {
        let _ = caller;
        let method = request.method().to_owned();
        Box::pin(async move {
            Err(CallError::Unsupported {
                backend: backend.to_owned(),
                method,
            })
        })
    }
}

/// A cheap, cloneable handle to a ready backend. Calls go straight to its target, so any
/// number run at once; the backend's actor owns the connection's lifetime.
#[derive(Clone)]
pub struct BackendHandle {
    name: Arc<str>,
    target: Arc<dyn ToolTarget>,
}

impl BackendHandle {
    pub fn new(name: &str, target: Arc<dyn ToolTarget>) -> BackendHandle {
        BackendHandle {
            name: Arc::from(name),
            target,
        }
    }

    pub async fn call_tool(
        &self,
        params: CallToolRequestParams,
        caller: Caller,
    ) -> Result<CallToolResult, CallError> {
        self.target.call_tool(&self.name, params, caller).await
    }

    /// Send a non-tool MCP request to this backend.
    pub async fn request(
        &self,
        request: ClientRequest,
        caller: Caller,
    ) -> Result<ServerResult, CallError> {
        self.target.request(&self.name, request, caller).await
    }

    /// Whether both handles are the same connection (a reconnect makes a new one).
    pub fn same(&self, other: &BackendHandle) -> bool {
        Arc::ptr_eq(&self.target, &other.target)
    }

    /// A number naming this connection while it lives (a reconnect makes a new one).
    pub fn connection(&self) -> usize {
        Arc::as_ptr(&self.target).cast::<()>() as usize
    }
}

/// The client a call is made for: where its progress goes and when it gives up
/// (`default()`: no client, as for a terminal command).
#[derive(Clone, Default)]
pub struct Caller {
    pub peer: Option<Peer<RoleServer>>,
    pub progress_token: Option<ProgressToken>,
    pub cancelled: CancellationToken,
    /// Where the backends' requests go during a 2026-07-28 client's tool call.
    pub round: Option<crate::relay::Round>,
}

/// Why a call produced no backend result.
#[derive(Debug, thiserror::Error)]
pub enum CallError {
    #[error("the client cancelled the call")]
    Cancelled,
    #[error("backend `{backend}` did not answer within {timeout:?}")]
    Timeout { backend: String, timeout: Duration },
    /// The connection failed before the request was written: the backend never saw it,
    /// so trying again cannot repeat a side effect.
    #[error("backend `{backend}` could not be sent the call{detail}")]
    Unsent { backend: String, detail: String },
    /// The gateway's own limits held the call back (`crate::failsafe`); never sent.
    #[error("{message}")]
    Limited { backend: String, message: String },
    #[error("backend `{backend}` went away during the call{detail}")]
    Closed { backend: String, detail: String },
    #[error("backend `{backend}` answered with an error: {error}")]
    Backend { backend: String, error: ErrorData },
    #[error("backend `{backend}` does not serve `{method}`")]
    Unsupported { backend: String, method: String },
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
