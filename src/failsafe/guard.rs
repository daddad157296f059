//! One backend's guard: every call passes its breaker, then waits (boundedly) for a
//! concurrency slot and a rate-limit token, and reports how it ended.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tokio_util::sync::CancellationToken;

use super::breaker::{Admit, Breaker, Refused};
use super::bucket::TokenBucket;
use crate::config::FailsafeConfig;
use crate::sync::lock;
use crate::target::CallError;

/// Limits and breaker of one backend, shared by all its calls; kept across reconnects
/// and across reloads that leave its settings alone.
pub struct Guard {
    backend: String,
    config: FailsafeConfig,
    slots: Option<Arc<Semaphore>>,
    bucket: Option<Mutex<TokenBucket>>,
    breaker: Option<Mutex<Breaker>>,
    /// Calls waiting for a slot or a token.
    queued: AtomicUsize,
    /// The connection the breaker's count is about ([`crate::target::BackendHandle::connection`]).
    connection: AtomicUsize,
}

/// An admitted call; tell it how the call ended with [`Pass::finish`]. Dropped unfinished
/// (the client cancelled), it gives its slot back and passes no verdict.
pub struct Pass {
    guard: Arc<Guard>,
    probe: bool,
    connection: usize,
    _slot: Option<OwnedSemaphorePermit>,
    finished: bool,
}

/// How a call's outcome counts for the breaker.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// The backend answered (a result, `isError` or not, or a JSON-RPC error).
    Alive,
    /// A transport failure or a timeout.
    Failing,
    /// Says nothing about the backend (the client cancelled; the gateway's own refusal).
    Neutral,
}

/// Sorts a call's outcome for the breaker.
pub fn verdict<T>(result: &Result<T, CallError>) -> Verdict {
    match result {
        Ok(_) => Verdict::Alive,
        Err(
            CallError::Backend { .. }
            | CallError::TooLarge { .. }
            | CallError::Unexpected { .. }
            | CallError::Unsupported { .. },
        ) => Verdict::Alive,
        Err(CallError::Timeout { .. } | CallError::Closed { .. } | CallError::Unsent { .. }) => {
            Verdict::Failing
        }
        Err(CallError::Cancelled | CallError::Limited { .. }) => Verdict::Neutral,
    }
}

impl Guard {
    pub fn new(backend: &str, config: FailsafeConfig) -> Guard {
        let now = Instant::now();
        Guard {
            backend: backend.to_owned(),
            slots: config
                .max_concurrency
                .map(|n| Arc::new(Semaphore::new(n as usize))),
            bucket: config
                .rate_limit
                .map(|rate| Mutex::new(TokenBucket::new(rate, now))),
            breaker: config.breaker.map(|b| Mutex::new(Breaker::new(b))),
            queued: AtomicUsize::new(0),
            connection: AtomicUsize::new(0),
            config,
        }
    }

    pub fn config(&self) -> &FailsafeConfig {
        &self.config
    }

    /// Admit one call: the breaker first (an open one fails fast), then a slot and a
    /// token, waiting at most `queue_timeout` for both together. A call that is refused
    /// was never sent.
    ///
    /// `connection` names the connection the call will use. A new one — the supervisor
    /// reconnected after the backend went down, and it answered `initialize` and
    /// `tools/list` — starts the breaker afresh: a backend that died is the supervisor's to
    /// report and restart, and the failures of calls on its dead connection (all in
    /// flight when it died) are not held against the new one.
    pub async fn enter(
        self: &Arc<Self>,
        connection: usize,
        cancelled: &CancellationToken,
    ) -> Result<Pass, CallError> {
        let before = self.connection.swap(connection, Ordering::Relaxed);
        if before != connection
            && before != 0
            && let Some(mut breaker) = self.breaker()
        {
            breaker.success();
        }
        let probe = match self.breaker() {
            None => false,
            Some(mut breaker) => match breaker.admit(Instant::now()) {
                Admit::Go { probe } => probe,
                Admit::Refuse(why) => {
                    let config = breaker.config();
                    drop(breaker);
                    return Err(self.limited(self.open_message(&why, config.failures)));
                }
            },
        };
        // From here a refusal must hand a probe back: the pass does it when dropped.
        let mut pass = Pass {
            guard: Arc::clone(self),
            probe,
            connection,
            _slot: None,
            finished: false,
        };
        let started = Instant::now();
        let budget = self.config.queue_timeout;
        if let Some(slots) = &self.slots {
            let _queued = Queued::new(&self.queued);
            let acquire = Arc::clone(slots).acquire_owned();
            tokio::select! {
                slot = tokio::time::timeout(budget, acquire) => match slot {
                    Ok(Ok(slot)) => pass._slot = Some(slot),
                    // The semaphore is never closed; a timeout is the limit.
                    _ => return Err(self.limited(self.busy_message(started.elapsed()))),
                },
                () = cancelled.cancelled() => return Err(CallError::Cancelled),
            }
        }
        if let Some(bucket) = &self.bucket {
            let left = budget.saturating_sub(started.elapsed());
            let taken = lock(bucket).take(Instant::now(), left);
            match taken {
                Ok(wait) if wait.is_zero() => {}
                Ok(wait) => {
                    let _queued = Queued::new(&self.queued);
                    tokio::select! {
                        () = tokio::time::sleep(wait) => {}
                        () = cancelled.cancelled() => return Err(CallError::Cancelled),
                    }
                }
                Err(wait) => {
                    let rate = lock(bucket).rate();
                    return Err(self.limited(format!(
                        "backend `{}` is over its rate limit of {} calls per {} (`rate_limit` in \
                         gateway.yaml): the next call may go in {}, more than the {} a call may \
                         wait (`queue_timeout`); the call was not sent",
                        self.backend,
                        rate.calls,
                        words(rate.per),
                        words(wait),
                        words(left),
                    )));
                }
            }
        }
        Ok(pass)
    }

    fn breaker(&self) -> Option<MutexGuard<'_, Breaker>> {
        self.breaker.as_ref().map(lock)
    }

    fn limited(&self, message: String) -> CallError {
        CallError::Limited {
            backend: self.backend.clone(),
            message,
        }
    }

    fn busy_message(&self, waited: Duration) -> String {
        let limit = self.config.max_concurrency.unwrap_or_default();
        format!(
            "backend `{}` is at its limit of {limit} concurrent call{} (`max_concurrency` in \
             gateway.yaml); this call waited {} for a slot (`queue_timeout`) and was not sent",
            self.backend,
            if limit == 1 { "" } else { "s" },
            words(waited),
        )
    }

    fn open_message(&self, why: &Refused, threshold: u32) -> String {
        let when = if why.probing {
            "a probe call is testing it now".to_owned()
        } else {
            format!("the next call in {} will probe it", words(why.probe_in))
        };
        format!(
            "backend `{}` is failing fast (circuit breaker open after {} transport failures or \
             timeouts in a row, threshold {threshold}); last failure: {}; {when}. The call was \
             not sent",
            self.backend, why.failures, why.last_failure,
        )
    }

    /// What `gateway_list_servers` shows of this guard: `breaker` (state, failures in a
    /// row, the last failure, when it probes) unless it is closed with no failures, and
    /// `in_flight` / `queued` calls when there are any.
    pub fn status(&self) -> serde_json::Map<String, serde_json::Value> {
        let mut row = serde_json::Map::new();
        if let Some(breaker) = self.breaker() {
            let status = breaker.status(Instant::now());
            if status.state != "closed" || status.failures > 0 {
                let mut b = serde_json::Map::new();
                b.insert("state".into(), status.state.into());
                b.insert("failures_in_a_row".into(), status.failures.into());
                if let Some(last) = status.last_failure {
                    b.insert("reason".into(), last.into());
                }
                if let Some(probe) = status.probe_in {
                    b.insert("probe_in_ms".into(), millis(probe).into());
                }
                row.insert("breaker".into(), b.into());
            }
        }
        let queued = self.queued.load(Ordering::Relaxed);
        if queued > 0 {
            row.insert("queued".into(), queued.into());
        }
        if let (Some(slots), Some(limit)) = (&self.slots, self.config.max_concurrency) {
            let busy = (limit as usize).saturating_sub(slots.available_permits());
            if busy > 0 {
                row.insert("in_flight".into(), busy.into());
            }
        }
        row
    }
}

fn millis(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

impl Pass {
    /// Report the call's outcome to the breaker.
    pub fn finish<T>(mut self, result: &Result<T, CallError>) {
        self.finished = true;
        let Some(mut breaker) = self.guard.breaker() else {
            return;
        };
        if self.guard.connection.load(Ordering::Relaxed) != self.connection {
            // Its connection was replaced meanwhile: no verdict on the new one.
            breaker.release(self.probe);
            return;
        }
        match (verdict(result), result) {
            (Verdict::Alive, _) => breaker.success(),
            (Verdict::Failing, Err(e)) => {
                breaker.failure(Instant::now(), e.to_string(), self.probe)
            }
            _ => breaker.release(self.probe),
        }
    }
}

impl Drop for Pass {
    fn drop(&mut self) {
        if !self.finished
            && let Some(mut breaker) = self.guard.breaker()
        {
            breaker.release(self.probe);
        }
    }
}

/// Counts a waiting call while it waits.
struct Queued<'a>(&'a AtomicUsize);

impl<'a> Queued<'a> {
    fn new(count: &'a AtomicUsize) -> Self {
        count.fetch_add(1, Ordering::Relaxed);
        Queued(count)
    }
}

impl Drop for Queued<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::Relaxed);
    }
}

/// `1.5s`, `300ms`: short and exact enough for a message.
pub(super) fn words(d: Duration) -> String {
    if d >= Duration::from_secs(1) {
        let secs = d.as_secs_f64();
        if (secs - secs.round()).abs() < 0.05 {
            format!("{}s", secs.round())
        } else {
            format!("{secs:.1}s")
        }
    } else {
        format!("{}ms", d.as_millis())
    }
}
