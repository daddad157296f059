//! Multi round-trip requests (MRTR) for 2026-07-28 clients, which take no requests from
//! servers. When a backend asks the client something (sampling, elicitation, roots)
//! during such a client's tool call, the call is *parked*: it keeps running, its request
//! waits, and the client gets an `InputRequiredResult` carrying the request and a
//! `requestState` sealed by the gateway. The client's retry of the same call brings the
//! answers and the state back; the gateway opens the state, hands each answer to the
//! request that waits for it, and goes on with the parked call — to its result, or to
//! the next round.
//!
//! The state is the only thing the client holds, so it is integrity-protected: sealed
//! with an HMAC key that never leaves the process, bound to the call (tool, arguments
//! and the caller's API key) and to a short lifetime, and good for one retry. A state
//! that was altered, belongs to another call, has expired or was used already is a clear
//! error, never a guess. A gateway restart forgets every parked call (the key is per
//! process), which the error for such a state says.
//!
//! `relay` delivers the backends' requests ([`InputAsk`]s on a [`Round`]); `gateway`
//! calls [`Rounds::call`] for each tool call of a 2026-07-28 client.

use std::collections::{BTreeMap, HashMap};
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use rmcp::ErrorData;
use rmcp::model::{
    CallToolRequestParams, CallToolResponse, CallToolResult, ClientCapabilities,
    InputRequiredResult, InputResponses, RequestStateCodec, RequestStateError, SealOptions,
};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use crate::relay::{InputAsk, RELAY_TIMEOUT, Round};
use crate::sync::lock;

/// What a parked call ends in.
pub type Outcome = Result<CallToolResult, ErrorData>;

/// A call to run for a 2026-07-28 client, given its round and its cancellation.
pub type StartCall = Box<
    dyn FnOnce(Round, CancellationToken) -> Pin<Box<dyn Future<Output = Outcome> + Send>> + Send,
>;

/// How long a parked call waits for the client's retry: as long as the relay waits for
/// an answer (elicitation waits on a person).
const PARKED_FOR: Duration = RELAY_TIMEOUT;

/// The parked calls of this gateway and the key that seals their states.
pub struct Rounds {
    codec: RequestStateCodec,
    parked: Mutex<HashMap<u64, Parked>>,
    next: AtomicU64,
    ttl: Duration,
}

/// A call waiting for the client's answers.
struct Parked {
    call: JoinHandle<Outcome>,
    asks: mpsc::UnboundedReceiver<InputAsk>,
    /// The requests handed to the client and not yet answered, by their key.
    pending: BTreeMap<String, InputAsk>,
    next_key: u64,
    /// Ends the backend call when the parked call is given up.
    cancel: CancellationToken,
}

impl Drop for Parked {
    fn drop(&mut self) {
        // A call answered completely has finished already; any other is given up.
        self.cancel.cancel();
    }
}

/// Why a retry's `requestState` was refused.
#[derive(Debug, thiserror::Error)]
pub enum StateError {
    #[error(
        "requestState was not issued by this gateway for this call (it was altered, belongs to \
         another tool call or arguments, or the gateway restarted since)"
    )]
    Forged,
    #[error("requestState has expired: the parked call was given up; call the tool again")]
    Expired,
    #[error(
        "requestState was used already, or its call was given up (it waits {0:?} for the retry)"
    )]
    Gone(Duration),
}

impl From<StateError> for ErrorData {
    fn from(error: StateError) -> ErrorData {
        let reason = match error {
            StateError::Forged => "request_state_invalid",
            StateError::Expired => "request_state_expired",
            StateError::Gone(_) => "request_state_unknown",
        };
        ErrorData::invalid_params(
            format!("mcp-gateway: {error}"),
            Some(json!({"reason": reason})),
        )
    }
}

impl Default for Rounds {
    fn default() -> Self {
        Rounds::new(PARKED_FOR)
    }
}

impl Rounds {
    /// Parked calls wait `ttl` for the client's retry.
    pub fn new(ttl: Duration) -> Rounds {
        let mut key = [0u8; 32];
        // Without randomness a predictable key would let a client forge states: better no
        // gateway at all. (getrandom fails only on a broken OS; 32 bytes is a valid key.)
        #[allow(clippy::expect_used)]
        let codec = getrandom::fill(&mut key)
            .map_err(|e| e.to_string())
            .and_then(|()| RequestStateCodec::try_new(key.to_vec()).map_err(|e| e.to_string()))
            .expect("a random key for request states");
        Rounds {
            codec,
            parked: Mutex::new(HashMap::new()),
            next: AtomicU64::new(0),
            ttl,
        }
    }

    /// Run `request` for a 2026-07-28 client (`principal`: its API key name, if any), or
    /// resume it when it carries a `requestState`: its result, or an `InputRequiredResult`
    /// when a backend asks the client something. `cancelled` is this request's own
    /// cancellation; it ends the backend call too.
    pub async fn call(
        self: &Arc<Self>,
        request: &CallToolRequestParams,
        principal: &str,
        client: (&str, ClientCapabilities),
        cancelled: &CancellationToken,
        start: StartCall,
    ) -> Result<CallToolResponse, ErrorData> {
        let binding = binding(request, principal);
        let parked = match &request.request_state {
            Some(state) => {
                let mut parked = self.take(state, &binding)?;
                answer(&mut parked, request.input_responses.as_ref());
                parked
            }
            None => {
                let (round, asks) = Round::new(client.0, client.1);
                let cancel = CancellationToken::new();
                Parked {
                    call: tokio::spawn(start(round, cancel.clone())),
                    asks,
                    pending: BTreeMap::new(),
                    next_key: 0,
                    cancel,
                }
            }
        };
        self.drive(parked, binding, cancelled).await
    }

    /// Wait for the call's result or its next requests to the client.
    async fn drive(
        self: &Arc<Self>,
        mut parked: Parked,
        binding: Vec<u8>,
        cancelled: &CancellationToken,
    ) -> Result<CallToolResponse, ErrorData> {
        // Requests the retry left unanswered are asked again, unless their backend gave up.
        parked.pending.retain(|_, ask| !ask.answer.is_closed());
        if parked.pending.is_empty() {
            tokio::select! {
                outcome = &mut parked.call => {
                    return match outcome {
                        Ok(outcome) => outcome.map(CallToolResponse::from),
                        Err(e) => Err(ErrorData::internal_error(
                            format!("mcp-gateway: the call failed: {e}"),
                            None,
                        )),
                    };
                }
                Some(ask) = parked.asks.recv() => add(&mut parked, ask),
                () = cancelled.cancelled() => {
                    return Err(ErrorData::internal_error("mcp-gateway: cancelled by the client", None));
                }
            }
        }
        // Several backends (or one, twice) may be asking at once: one round carries all.
        while let Ok(ask) = parked.asks.try_recv() {
            add(&mut parked, ask);
        }
        let requests = parked
            .pending
            .iter()
            .map(|(key, ask)| (key.clone(), ask.request.clone()))
            .collect();
        let state = self.park(parked, &binding);
        Ok(CallToolResponse::InputRequired(InputRequiredResult::new(
            Some(requests),
            Some(state),
        )))
    }

    /// Keep `parked` for the client's retry; its sealed state.
    fn park(self: &Arc<Self>, parked: Parked, binding: &[u8]) -> String {
        let id = self.next.fetch_add(1, Ordering::Relaxed);
        lock(&self.parked).insert(id, parked);
        let rounds = Arc::downgrade(self);
        let ttl = self.ttl;
        tokio::spawn(async move {
            tokio::time::sleep(ttl).await;
            if let Some(rounds) = rounds.upgrade() {
                // Dropping it ends the backend call.
                lock(&rounds.parked).remove(&id);
            }
        });
        let options = SealOptions::new().associated_data(binding).ttl(self.ttl);
        self.codec.seal_with(&id.to_be_bytes(), &options)
    }

    /// The parked call `state` names, if it is this call's and still waiting.
    fn take(&self, state: &str, binding: &[u8]) -> Result<Parked, StateError> {
        let id = self.codec.open_with(state, binding).map_err(|e| match e {
            RequestStateError::Expired => StateError::Expired,
            _ => StateError::Forged,
        })?;
        let id = <[u8; 8]>::try_from(id.as_slice()).map_err(|_| StateError::Forged)?;
        lock(&self.parked)
            .remove(&u64::from_be_bytes(id))
            .ok_or(StateError::Gone(self.ttl))
    }
}

fn add(parked: &mut Parked, ask: InputAsk) {
    parked.next_key += 1;
    parked
        .pending
        .insert(format!("gateway-{}", parked.next_key), ask);
}

/// Hand each answer of the retry to the request waiting for it.
fn answer(parked: &mut Parked, responses: Option<&InputResponses>) {
    for (key, value) in responses.into_iter().flatten() {
        if let Some(ask) = parked.pending.remove(key) {
            // The backend may have given up on it meanwhile: nothing then waits.
            let _ = ask.answer.send(value.clone());
        }
    }
}

/// What a state is bound to: the tool, its arguments (canonical, so key order does not
/// matter) and who calls.
fn binding(request: &CallToolRequestParams, principal: &str) -> Vec<u8> {
    let arguments = request.arguments.clone().map_or(Value::Null, Value::Object);
    let mut hash = Sha256::new();
    for part in [
        request.name.as_ref(),
        &crate::trust::canonical::canonical(&arguments),
        principal,
    ] {
        hash.update((part.len() as u64).to_be_bytes());
        hash.update(part.as_bytes());
    }
    hash.finalize().to_vec()
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use rmcp::model::{ElicitRequestParams, ElicitationSchema};
    use serde_json::json;

    use super::*;

    /// A call that asks the user one question and returns the answer's action.
    fn asking() -> StartCall {
        Box::new(|round: Round, cancelled: CancellationToken| {
            Box::pin(async move {
                let params = ElicitRequestParams::FormElicitationParams {
                    meta: None,
                    message: "go on?".into(),
                    requested_schema: ElicitationSchema::builder()
                        .build()
                        .map_err(|e| ErrorData::internal_error(e.to_string(), None))?,
                };
                let answer = round
                    .elicit(params, Duration::from_secs(5), &cancelled)
                    .await
                    .map_err(|e| ErrorData::internal_error(e.to_string(), None))?;
                Ok(CallToolResult::success(vec![
                    rmcp::model::ContentBlock::text(format!("{:?}", answer.action)),
                ]))
            })
        })
    }

    fn request(state: Option<&str>) -> CallToolRequestParams {
        let mut request = CallToolRequestParams::new("ask");
        request.request_state = state.map(str::to_owned);
        request.input_responses = state.map(|_| {
            [(
                "gateway-1".to_owned(),
                json!({"action": "accept", "content": {}}),
            )]
            .into_iter()
            .collect()
        });
        request
    }

    async fn first_round(rounds: &Arc<Rounds>) -> String {
        let client = (
            "t",
            serde_json::from_value(json!({"elicitation": {}})).unwrap(),
        );
        let asked = rounds
            .call(
                &request(None),
                "",
                client,
                &CancellationToken::new(),
                asking(),
            )
            .await
            .unwrap();
        let CallToolResponse::InputRequired(asked) = asked else {
            panic!("no input asked: {asked:?}");
        };
        assert_eq!(asked.input_requests.unwrap().len(), 1);
        asked.request_state.unwrap()
    }

    async fn retry(rounds: &Arc<Rounds>, state: &str) -> Result<CallToolResponse, ErrorData> {
        let client = ("t", ClientCapabilities::default());
        rounds
            .call(
                &request(Some(state)),
                "",
                client,
                &CancellationToken::new(),
                asking(),
            )
            .await
    }

    #[tokio::test]
    async fn a_retry_in_time_resumes_the_call_and_a_late_one_is_refused() {
        let rounds = Arc::new(Rounds::new(Duration::from_millis(300)));
        let state = first_round(&rounds).await;
        let done = retry(&rounds, &state).await.unwrap();
        let CallToolResponse::Complete(done) = done else {
            panic!("not complete: {done:?}");
        };
        assert_eq!(done.content[0].as_text().unwrap().text, "Accept");

        let state = first_round(&rounds).await;
        tokio::time::sleep(Duration::from_millis(400)).await;
        let late = retry(&rounds, &state).await.unwrap_err();
        assert_eq!(late.data, Some(json!({"reason": "request_state_expired"})));
        // The parked call was given up with it.
        assert!(lock(&rounds.parked).is_empty());
    }

    #[tokio::test]
    async fn a_state_is_bound_to_its_principal() {
        let rounds = Arc::new(Rounds::new(Duration::from_secs(5)));
        let state = first_round(&rounds).await;
        let client = ("t", ClientCapabilities::default());
        let other = rounds
            .call(
                &request(Some(&state)),
                "key-b",
                client,
                &CancellationToken::new(),
                asking(),
            )
            .await
            .unwrap_err();
        assert_eq!(other.data, Some(json!({"reason": "request_state_invalid"})));
    }
}
