//! A backend's request during a call made for a 2026-07-28 client. Such a client takes no
//! requests from servers; it answers an `InputRequiredResult` instead and retries its
//! call with the answers (MRTR). The gateway's backends are initialize-era and ask
//! directly, so the relay hands each such request to the call it belongs to, as an
//! [`InputAsk`] on that call's [`Round`], and waits for the answer the client's retry
//! brings. `mrtr` owns the other side: parking the call and resuming it.

// Sampling and roots are deprecated by SEP-2577, yet initialize-era backends use them.
#![allow(deprecated)]

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use std::time::Duration;

use rmcp::RoleClient;
use rmcp::model::{
    ClientCapabilities, ClientResult, CreateMessageResult, CustomResult, ElicitRequest,
    ElicitRequestParams, ElicitResult, InputRequest, ListRootsResult, ServerRequest,
};
use rmcp::service::RequestContext;
use serde_json::Value;
use tokio::sync::{mpsc, oneshot};
use tokio_util::sync::CancellationToken;

use super::ask::{ELICITATION, RELAY_TIMEOUT, ROOTS, SAMPLING};
use super::{Recipient, RelayError};

/// One request a backend made during a 2026-07-28 client's call, waiting for the client's
/// answer (the value of its `inputResponses` entry).
pub struct InputAsk {
    pub request: InputRequest,
    pub answer: oneshot::Sender<Value>,
}

/// The way from the relay to one call of a 2026-07-28 client: what the client declared
/// on that call, and where its backends' requests go.
#[derive(Clone)]
pub struct Round {
    id: u64,
    pub(super) client: Arc<str>,
    pub(super) capabilities: Arc<ClientCapabilities>,
    asks: mpsc::UnboundedSender<InputAsk>,
}

impl Round {
    /// A round for a call of the client `client`, which declared `capabilities` on it;
    /// the backends' requests arrive on the receiver.
    pub fn new(
        client: &str,
        capabilities: ClientCapabilities,
    ) -> (Round, mpsc::UnboundedReceiver<InputAsk>) {
        static NEXT: AtomicU64 = AtomicU64::new(0);
        let (asks, rx) = mpsc::unbounded_channel();
        let round = Round {
            id: NEXT.fetch_add(1, Ordering::Relaxed),
            client: Arc::from(client),
            capabilities: Arc::new(capabilities),
            asks,
        };
        (round, rx)
    }

    pub(super) fn same(&self, other: &Round) -> bool {
        self.id == other.id
    }

    /// Hand a backend's `request` to the call and wait for the client's answer, as long
    /// as a relayed request may take, or until the backend cancels.
    pub(super) async fn ask(
        &self,
        method: &'static str,
        request: ServerRequest,
        context: &RequestContext<RoleClient>,
    ) -> Result<ClientResult, RelayError> {
        let request = input_request(method, request)?;
        let value = self.input(method, request, &context.ct).await?;
        client_result(method, value)
    }

    /// Ask the user through this call's client (the gateway's own confirmation), in form
    /// mode, which the client must have declared on the call.
    pub async fn elicit(
        &self,
        params: ElicitRequestParams,
        wait: Duration,
        cancelled: &CancellationToken,
    ) -> Result<ElicitResult, RelayError> {
        let recipient = Recipient::Round(self.clone());
        super::ask::check_mode(&recipient, false)?;
        let request = InputRequest::Elicitation(ElicitRequest::new(params));
        let value = tokio::time::timeout(wait, self.input(ELICITATION, request, cancelled))
            .await
            .map_err(|_| RelayError::Timeout {
                method: ELICITATION,
                timeout: wait,
            })??;
        serde_json::from_value(value).map_err(|_| RelayError::Unexpected {
            method: ELICITATION,
        })
    }

    /// One input request handed to the call; the client's answer when its retry brings it.
    async fn input(
        &self,
        method: &'static str,
        request: InputRequest,
        cancelled: &CancellationToken,
    ) -> Result<Value, RelayError> {
        let (answer, answered) = oneshot::channel();
        self.asks
            .send(InputAsk { request, answer })
            .map_err(|_| RelayError::Closed { method })?;
        tokio::select! {
            answer = tokio::time::timeout(RELAY_TIMEOUT, answered) => match answer {
                Ok(Ok(value)) => Ok(value),
                // The client never retried: the parked call was given up.
                Ok(Err(_)) => Err(RelayError::Closed { method }),
                Err(_) => Err(RelayError::Timeout { method, timeout: RELAY_TIMEOUT }),
            },
            () = cancelled.cancelled() => Err(RelayError::Cancelled { method }),
        }
    }
}

/// The backend's request as an entry of `inputRequests`.
fn input_request(method: &'static str, request: ServerRequest) -> Result<InputRequest, RelayError> {
    match request {
        ServerRequest::CreateMessageRequest(r) => Ok(InputRequest::CreateMessage(r)),
        ServerRequest::ElicitRequest(r) => Ok(InputRequest::Elicitation(r)),
        ServerRequest::ListRootsRequest(r) => Ok(InputRequest::ListRoots(r)),
        // Parameters rmcp's types do not take: the same request as JSON.
        ServerRequest::CustomRequest(r) => {
            let raw = serde_json::json!({"method": r.method, "params": r.params});
            serde_json::from_value(raw).map_err(|_| RelayError::Untyped { method })
        }
        _ => Err(RelayError::Untyped { method }),
    }
}

/// The client's answer, read as the result of the request it answers.
fn client_result(method: &'static str, value: Value) -> Result<ClientResult, RelayError> {
    let unexpected = |_| RelayError::Unexpected { method };
    Ok(match method {
        SAMPLING => ClientResult::CreateMessageResult(Box::new(
            serde_json::from_value::<CreateMessageResult>(value).map_err(unexpected)?,
        )),
        ELICITATION => ClientResult::ElicitResult(
            serde_json::from_value::<ElicitResult>(value).map_err(unexpected)?,
        ),
        ROOTS => ClientResult::ListRootsResult(
            serde_json::from_value::<ListRootsResult>(value).map_err(unexpected)?,
        ),
        _ => ClientResult::CustomResult(CustomResult(value)),
    })
}
