//! The circuit breaker's state machine: closed → open after `failures` transport failures
//! or timeouts in a row → half-open after `cool_down`, letting one probe call through →
//! closed when the probe (or any call) succeeds, open again when it fails.
//!
//! Time comes in as an argument (`now`), never from the system clock, so the machine is
//! tested step by step with made-up instants. A backend's answer of any kind — a result
//! with `isError`, a JSON-RPC error — is a success here: the backend is alive and talking.

use std::time::{Duration, Instant};

use crate::config::BreakerConfig;

#[derive(Debug, Clone, PartialEq, Eq)]
enum State {
    Closed,
    /// Calls fail fast until `probe_at`.
    Open {
        since: Instant,
        probe_at: Instant,
    },
    /// One call is let through; `probing` while it runs (others fail fast meanwhile).
    HalfOpen {
        probing: bool,
    },
}

/// One backend's breaker.
#[derive(Debug)]
pub struct Breaker {
    config: BreakerConfig,
    state: State,
    /// Transport failures or timeouts in a row.
    failures: u32,
    /// The latest failure, in words: what an open breaker says.
    last_failure: Option<String>,
}

/// Whether a call may go.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Admit {
    /// Go; `probe` when this call decides whether a half-open breaker closes.
    Go { probe: bool },
    /// Fail fast.
    Refuse(Refused),
}

/// Why a call fails fast, for the message the model reads.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refused {
    pub failures: u32,
    pub last_failure: String,
    /// Until the probe may go; zero while a probe call is running.
    pub probe_in: Duration,
    pub probing: bool,
}

/// The breaker as `gateway_list_servers` shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Status {
    /// `closed`, `open` or `half-open`.
    pub state: &'static str,
    pub failures: u32,
    pub last_failure: Option<String>,
    pub probe_in: Option<Duration>,
    pub open_for: Option<Duration>,
}

impl Breaker {
    pub fn new(config: BreakerConfig) -> Breaker {
        Breaker {
            config,
            state: State::Closed,
            failures: 0,
            last_failure: None,
        }
    }

    pub fn config(&self) -> BreakerConfig {
        self.config
    }

    /// May a call go at `now`? A `Go { probe: true }` must be answered with
    /// [`Breaker::success`], [`Breaker::failure`] or [`Breaker::release`].
    pub fn admit(&mut self, now: Instant) -> Admit {
        match self.state {
            State::Closed => Admit::Go { probe: false },
            State::Open { probe_at, .. } if now >= probe_at => {
                self.state = State::HalfOpen { probing: true };
                Admit::Go { probe: true }
            }
            State::Open { probe_at, .. } => Admit::Refuse(self.refused(probe_at - now, false)),
            State::HalfOpen { probing: false } => {
                self.state = State::HalfOpen { probing: true };
                Admit::Go { probe: true }
            }
            State::HalfOpen { probing: true } => Admit::Refuse(self.refused(Duration::ZERO, true)),
        }
    }

    fn refused(&self, probe_in: Duration, probing: bool) -> Refused {
        Refused {
            failures: self.failures,
            last_failure: self.last_failure.clone().unwrap_or_default(),
            probe_in,
            probing,
        }
    }

    /// The backend answered: it is alive, whatever the answer said.
    pub fn success(&mut self) {
        self.state = State::Closed;
        self.failures = 0;
    }

    /// A transport failure or timeout at `now`.
    pub fn failure(&mut self, now: Instant, why: String, probe: bool) {
        self.failures = self.failures.saturating_add(1);
        self.last_failure = Some(why);
        let open = State::Open {
            since: now,
            probe_at: now + self.config.cool_down,
        };
        match self.state {
            State::Closed if self.failures >= self.config.failures => self.state = open,
            State::HalfOpen { .. } if probe => self.state = open,
            // Calls that were already running when it opened keep their verdict to
            // themselves: the probe time stays.
            _ => {}
        }
    }

    /// A call that was admitted ended without a verdict on the backend (cancelled by the
    /// client, or held back by a limit before it was sent).
    pub fn release(&mut self, probe: bool) {
        if probe && self.state == (State::HalfOpen { probing: true }) {
            self.state = State::HalfOpen { probing: false };
        }
    }

    pub fn status(&self, now: Instant) -> Status {
        let (state, probe_in, open_for) = match self.state {
            State::Closed => ("closed", None, None),
            State::Open { since, probe_at } => (
                "open",
                Some(probe_at.saturating_duration_since(now)),
                Some(now.saturating_duration_since(since)),
            ),
            State::HalfOpen { .. } => ("half-open", Some(Duration::ZERO), None),
        };
        Status {
            state,
            failures: self.failures,
            last_failure: self.last_failure.clone(),
            probe_in,
            open_for,
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
    use super::*;

    const COOL: Duration = Duration::from_secs(30);

    fn breaker() -> Breaker {
        Breaker::new(BreakerConfig {
            failures: 3,
            cool_down: COOL,
        })
    }

    fn go(b: &mut Breaker, now: Instant) -> bool {
        match b.admit(now) {
            Admit::Go { probe } => probe,
            Admit::Refuse(r) => panic!("refused: {r:?}"),
        }
    }

    fn refused(b: &mut Breaker, now: Instant) -> Refused {
        match b.admit(now) {
            Admit::Refuse(r) => r,
            Admit::Go { .. } => panic!("let through in {:?}", b.state),
        }
    }

    #[test]
    fn opens_after_failures_in_a_row_and_says_why() {
        let t0 = Instant::now();
        let mut b = breaker();
        for i in 0..2 {
            assert!(!go(&mut b, t0));
            b.failure(t0, format!("timeout {i}"), false);
        }
        assert_eq!(b.status(t0).state, "closed");
        b.failure(t0, "timeout 2".into(), false);
        let r = refused(&mut b, t0 + Duration::from_secs(10));
        assert_eq!(r.failures, 3);
        assert_eq!(r.last_failure, "timeout 2");
        assert_eq!(r.probe_in, Duration::from_secs(20));
        let s = b.status(t0 + Duration::from_secs(10));
        assert_eq!(s.state, "open");
        assert_eq!(s.open_for, Some(Duration::from_secs(10)));
    }

    #[test]
    fn a_success_between_failures_starts_the_count_again() {
        let t0 = Instant::now();
        let mut b = breaker();
        b.failure(t0, "x".into(), false);
        b.failure(t0, "x".into(), false);
        b.success();
        b.failure(t0, "x".into(), false);
        b.failure(t0, "x".into(), false);
        assert!(!go(&mut b, t0));
    }

    #[test]
    fn half_open_lets_one_probe_through_and_closes_on_its_success() {
        let t0 = Instant::now();
        let mut b = breaker();
        for _ in 0..3 {
            b.failure(t0, "closed".into(), false);
        }
        let later = t0 + COOL;
        assert!(
            go(&mut b, later),
            "the first call after the cool-down is the probe"
        );
        let r = refused(&mut b, later);
        assert!(r.probing, "a second call waits for the probe's verdict");
        assert_eq!(b.status(later).state, "half-open");
        b.success();
        assert!(!go(&mut b, later));
        assert_eq!(b.status(later).state, "closed");
        assert_eq!(b.status(later).failures, 0);
    }

    #[test]
    fn a_failed_probe_opens_it_for_another_cool_down() {
        let t0 = Instant::now();
        let mut b = breaker();
        for _ in 0..3 {
            b.failure(t0, "t".into(), false);
        }
        let t1 = t0 + COOL + Duration::from_secs(1);
        assert!(go(&mut b, t1));
        b.failure(t1, "still down".into(), true);
        let r = refused(&mut b, t1 + Duration::from_secs(5));
        assert_eq!(r.probe_in, COOL - Duration::from_secs(5));
        assert_eq!(r.last_failure, "still down");
        assert!(go(&mut b, t1 + COOL));
    }

    #[test]
    fn a_released_probe_lets_the_next_call_probe() {
        let t0 = Instant::now();
        let mut b = breaker();
        for _ in 0..3 {
            b.failure(t0, "t".into(), false);
        }
        assert!(go(&mut b, t0 + COOL));
        b.release(true);
        assert!(go(&mut b, t0 + COOL), "the next call probes instead");
    }

    #[test]
    fn late_failures_of_calls_already_running_do_not_push_the_probe_back() {
        let t0 = Instant::now();
        let mut b = breaker();
        for _ in 0..3 {
            b.failure(t0, "t".into(), false);
        }
        b.failure(t0 + Duration::from_secs(20), "late".into(), false);
        assert!(go(&mut b, t0 + COOL));
    }
}
