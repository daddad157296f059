//! Limits and breakers, per backend: how many calls may be in flight (`max_concurrency`,
//! with a bounded wait in a queue), how fast they may go (`rate_limit`, a token bucket),
//! and a circuit breaker that fails calls fast while a backend that is up keeps failing
//! or timing out, then lets one probe through to close again. And when a failed call
//! may be tried again: only when that cannot repeat a side effect.
//!
//! The gateway passes every backend tool call through here at one point
//! (`Gateway::call_failsafe`, under `gateway_invoke` and flat or surfaced tools alike);
//! `proxy` sends `resources/read`, `prompts/get` and `completion/complete` through
//! [`Failsafe::request`]. Lists fanned out to every backend and `logging/setLevel` pass
//! unguarded: they are the gateway's own bookkeeping, not calls the model makes. A backend
//! that is down is the supervisor's to report and restart (`backend::actor`); the
//! breaker is for one that is up yet does not answer. A backend's own answer — a result
//! with `isError`, or a JSON-RPC error — never counts against it.

mod breaker;
mod bucket;
mod guard;

use std::collections::HashMap;
use std::future::Future;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use rmcp::model::{ClientRequest, ServerResult, Tool};
use tokio_util::sync::CancellationToken;

use crate::config::Config;
use crate::sync::lock;
use crate::target::{BackendHandle, CallError, Caller};

pub use breaker::{Admit, Breaker, Refused, Status};
pub use bucket::TokenBucket;
pub use guard::{Guard, Pass, Verdict, verdict};

/// How many times a call is tried again, at most.
pub const MAX_RETRIES: u32 = 1;
/// The pause before a retry: long enough for the supervisor to notice a dead connection.
pub const RETRY_BACKOFF: Duration = Duration::from_millis(200);

/// Every configured backend's guard, by name. Reconfigured on each reload; a backend
/// whose settings did not change keeps its guard (its breaker state and queue).
#[derive(Default)]
pub struct Failsafe {
    guards: Mutex<HashMap<String, Arc<Guard>>>,
}

impl Failsafe {
    pub fn new(config: &Config) -> Failsafe {
        let failsafe = Failsafe::default();
        failsafe.configure(config);
        failsafe
    }

    /// Take the limits of `config`'s backends (added, changed, removed).
    pub fn configure(&self, config: &Config) {
        let mut guards = lock(&self.guards);
        guards.retain(|name, guard| {
            config
                .backends
                .get(name)
                .is_some_and(|b| b.failsafe == *guard.config())
        });
        for (name, backend) in &config.backends {
            guards
                .entry(name.clone())
                .or_insert_with(|| Arc::new(Guard::new(name, backend.failsafe.clone())));
        }
    }

    /// The guard of `backend`; `None` for one without limits (the capability backend).
    pub fn guard(&self, backend: &str) -> Option<Arc<Guard>> {
        lock(&self.guards).get(backend).cloned()
    }

    /// A non-tool request (a resource read, a prompt, a completion) through `backend`'s
    /// limits and breaker. Not retried: the retry rules speak of tools' annotations.
    pub async fn request(
        &self,
        backend: &str,
        handle: &BackendHandle,
        request: ClientRequest,
        caller: Caller,
    ) -> Result<ServerResult, CallError> {
        let cancelled = caller.cancelled.clone();
        let guard = self.guard(backend);
        let connection = handle.connection();
        guarded(
            guard.as_ref(),
            connection,
            &cancelled,
            handle.request(request, caller),
        )
        .await
    }
}

/// Run `call` on `connection` through `guard` (when there is one): admitted, then its
/// outcome told to the breaker. A call the guard holds back fails with [`CallError::Limited`], unsent.
pub async fn guarded<T>(
    guard: Option<&Arc<Guard>>,
    connection: usize,
    cancelled: &CancellationToken,
    call: impl Future<Output = Result<T, CallError>>,
) -> Result<T, CallError> {
    let Some(guard) = guard else {
        return call.await;
    };
    let pass = guard.enter(connection, cancelled).await?;
    let result = call.await;
    pass.finish(&result);
    result
}

/// When a failed call may be tried again.
#[derive(Debug, Clone, Copy)]
pub struct Retry {
    /// The tool says a repeat does no harm (`readOnlyHint` or `idempotentHint`).
    repeatable: bool,
    tries: u32,
}

impl Retry {
    /// The retry policy for a call to `tool`.
    pub fn for_tool(tool: &Tool) -> Retry {
        let hints = tool.annotations.as_ref();
        let read_only = hints.and_then(|a| a.read_only_hint) == Some(true);
        let idempotent = hints.and_then(|a| a.idempotent_hint) == Some(true);
        Retry {
            repeatable: read_only || idempotent,
            tries: 0,
        }
    }

    /// Whether to try again after `error` (and count the try). A request never sent is
    /// tried again whatever the tool; one the backend may have run only when the tool
    /// says a repeat is harmless. A timeout is not: the call already used its whole
    /// budget, and the backend may still be running it.
    pub fn again(&mut self, error: &CallError) -> bool {
        if self.tries >= MAX_RETRIES {
            return false;
        }
        let retry = match error {
            CallError::Unsent { .. } => true,
            CallError::Closed { .. } => self.repeatable,
            _ => false,
        };
        if retry {
            self.tries += 1;
        }
        retry
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
    use rmcp::model::{ErrorData, ToolAnnotations};

    use super::*;

    fn tool(annotations: Option<ToolAnnotations>) -> Tool {
        let mut tool = Tool::new("t", "", Arc::new(serde_json::Map::new()));
        tool.annotations = annotations;
        tool
    }

    fn closed() -> CallError {
        CallError::Closed {
            backend: "b".into(),
            detail: String::new(),
        }
    }

    fn unsent() -> CallError {
        CallError::Unsent {
            backend: "b".into(),
            detail: String::new(),
        }
    }

    #[test]
    fn only_harmless_repeats_are_retried_and_only_once() {
        let plain = tool(None);
        assert!(!Retry::for_tool(&plain).again(&closed()));
        let mut r = Retry::for_tool(&plain);
        assert!(r.again(&unsent()), "never sent: safe for any tool");
        assert!(!r.again(&unsent()), "once");

        let read_only = tool(Some(ToolAnnotations::new().read_only(true)));
        let mut r = Retry::for_tool(&read_only);
        assert!(r.again(&closed()));
        assert!(!r.again(&closed()));
        let idempotent = tool(Some(ToolAnnotations::new().idempotent(true)));
        assert!(Retry::for_tool(&idempotent).again(&closed()));
        let destructive = tool(Some(
            ToolAnnotations::new().read_only(false).destructive(true),
        ));
        assert!(!Retry::for_tool(&destructive).again(&closed()));

        let timeout = CallError::Timeout {
            backend: "b".into(),
            timeout: Duration::from_secs(1),
        };
        assert!(!Retry::for_tool(&read_only).again(&timeout));
        let answered = CallError::Backend {
            backend: "b".into(),
            error: ErrorData::internal_error("no", None),
        };
        assert!(!Retry::for_tool(&read_only).again(&answered));
    }

    #[test]
    fn a_backends_own_answer_never_counts_against_it() {
        let answered: Result<(), _> = Err(CallError::Backend {
            backend: "b".into(),
            error: ErrorData::invalid_params("bad", None),
        });
        assert_eq!(verdict(&answered), Verdict::Alive);
        assert_eq!(verdict(&Ok::<_, CallError>(())), Verdict::Alive);
        assert_eq!(verdict::<()>(&Err(closed())), Verdict::Failing);
        assert_eq!(verdict::<()>(&Err(CallError::Cancelled)), Verdict::Neutral);
    }

    #[tokio::test]
    async fn a_guard_fails_fast_once_open_and_names_the_last_failure() {
        let config = crate::config::FailsafeConfig {
            breaker: Some(crate::config::BreakerConfig {
                failures: 2,
                cool_down: Duration::from_secs(30),
            }),
            ..Default::default()
        };
        let guard = Arc::new(Guard::new("b", config));
        let never = CancellationToken::new();
        for _ in 0..2 {
            let r: Result<(), _> = guarded(Some(&guard), 1, &never, async {
                Err(CallError::Timeout {
                    backend: "b".into(),
                    timeout: Duration::from_millis(300),
                })
            })
            .await;
            assert!(matches!(r, Err(CallError::Timeout { .. })));
        }
        let mut ran = false;
        let r: Result<(), _> = guarded(Some(&guard), 1, &never, async {
            ran = true;
            Ok(())
        })
        .await;
        assert!(!ran, "an open breaker does not send the call");
        let message = r.unwrap_err().to_string();
        assert!(
            message.contains("`b`") && message.contains("did not answer within 300ms"),
            "{message}"
        );
        assert!(message.contains("will probe it"), "{message}");
        let status = guard.status();
        assert_eq!(status["breaker"]["state"], "open", "{status:?}");

        // The supervisor reconnected: the new connection starts with a closed breaker, and
        // a late failure from a call on the old one is not held against it.
        let late = guard.enter(1, &never).await;
        assert!(late.is_err(), "still open on the old connection");
        let fresh = guard.enter(2, &never).await.unwrap();
        fresh.finish(&Ok::<(), CallError>(()));
        assert!(guard.status().get("breaker").is_none());
    }

    #[tokio::test]
    async fn a_full_backend_queues_then_refuses_naming_the_limit_and_the_wait() {
        let config = crate::config::FailsafeConfig {
            max_concurrency: Some(1),
            queue_timeout: Duration::from_millis(50),
            ..Default::default()
        };
        let guard = Arc::new(Guard::new("b", config));
        let never = CancellationToken::new();
        let held = guard.enter(1, &never).await.unwrap();
        let refused = guard.enter(1, &never).await.err().unwrap().to_string();
        assert!(refused.contains("limit of 1 concurrent call "), "{refused}");
        // At least the 50 ms it may wait; more on a loaded machine.
        let waited: u64 = refused
            .split("waited ")
            .nth(1)
            .and_then(|rest| rest.split("ms").next())
            .and_then(|n| n.parse().ok())
            .unwrap_or_else(|| panic!("no wait in ms: {refused}"));
        assert!(waited >= 50, "{refused}");
        drop(held);
        assert!(guard.enter(1, &never).await.is_ok(), "the slot came back");
    }
}
