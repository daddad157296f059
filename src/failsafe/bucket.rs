//! The token bucket behind `rate_limit: <calls>/<period>`: it holds at most `calls`
//! tokens (a burst of that many goes at once) and refills at `calls` per `period`.
//!
//! A call that finds it empty reserves the next token (the count goes below zero) and is
//! told how long to wait for it, so waiting calls go out in arrival order, spaced by the
//! rate, with no herd at each refill. A call that would wait longer than it may reserves
//! nothing. Time comes in as an argument, so tests use made-up instants.

use std::time::{Duration, Instant};

use crate::config::Rate;

#[derive(Debug)]
pub struct TokenBucket {
    rate: Rate,
    /// Tokens at `at`; below zero when calls have reserved future tokens.
    tokens: f64,
    at: Instant,
}

impl TokenBucket {
    /// A full bucket at `now`.
    pub fn new(rate: Rate, now: Instant) -> TokenBucket {
        TokenBucket {
            rate,
            tokens: f64::from(rate.calls),
            at: now,
        }
    }

    pub fn rate(&self) -> Rate {
        self.rate
    }

    fn refill(&mut self, now: Instant) {
        let elapsed = now.saturating_duration_since(self.at).as_secs_f64();
        let per_second = f64::from(self.rate.calls) / self.rate.per.as_secs_f64();
        self.tokens = (self.tokens + elapsed * per_second).min(f64::from(self.rate.calls));
        self.at = self.at.max(now);
    }

    /// Take a token at `now`, waiting at most `max_wait` for it: `Ok(wait)` (zero when
    /// one was there; the token is reserved either way), or `Err(wait)` — how long it
    /// would have taken — with nothing reserved.
    pub fn take(&mut self, now: Instant, max_wait: Duration) -> Result<Duration, Duration> {
        self.refill(now);
        if self.tokens >= 1.0 {
            self.tokens -= 1.0;
            return Ok(Duration::ZERO);
        }
        let per_token = self.rate.per.as_secs_f64() / f64::from(self.rate.calls);
        let wait = Duration::from_secs_f64((1.0 - self.tokens) * per_token);
        if wait > max_wait {
            return Err(wait);
        }
        self.tokens -= 1.0;
        Ok(wait)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
    use super::*;

    const NO_WAIT: Duration = Duration::ZERO;

    fn bucket(calls: u32, per_ms: u64, now: Instant) -> TokenBucket {
        TokenBucket::new(
            Rate {
                calls,
                per: Duration::from_millis(per_ms),
            },
            now,
        )
    }

    fn close(a: Duration, b_ms: u64) -> bool {
        a.as_secs_f64().mul_add(1000.0, -(b_ms as f64)).abs() < 1.0
    }

    #[test]
    fn a_burst_of_capacity_then_refused_with_the_wait() {
        let t0 = Instant::now();
        let mut b = bucket(3, 1000, t0);
        for _ in 0..3 {
            assert_eq!(b.take(t0, NO_WAIT), Ok(Duration::ZERO));
        }
        let wait = b.take(t0, NO_WAIT).unwrap_err();
        assert!(close(wait, 333), "{wait:?}");
        // Refused calls reserve nothing: the same answer again.
        assert!(close(b.take(t0, NO_WAIT).unwrap_err(), 333));
    }

    #[test]
    fn refills_at_the_rate_and_never_above_capacity() {
        let t0 = Instant::now();
        let mut b = bucket(2, 1000, t0);
        b.take(t0, NO_WAIT).unwrap();
        b.take(t0, NO_WAIT).unwrap();
        let t1 = t0 + Duration::from_millis(500);
        assert_eq!(b.take(t1, NO_WAIT), Ok(Duration::ZERO));
        assert!(b.take(t1, NO_WAIT).is_err());
        let idle = t1 + Duration::from_secs(3600);
        b.take(idle, NO_WAIT).unwrap();
        b.take(idle, NO_WAIT).unwrap();
        assert!(
            b.take(idle, NO_WAIT).is_err(),
            "an hour idle still holds only 2"
        );
    }

    #[test]
    fn waiting_calls_reserve_tokens_in_order() {
        let t0 = Instant::now();
        let mut b = bucket(1, 100, t0);
        let budget = Duration::from_secs(1);
        assert_eq!(b.take(t0, budget), Ok(Duration::ZERO));
        assert!(close(b.take(t0, budget).unwrap(), 100));
        assert!(close(b.take(t0, budget).unwrap(), 200));
        assert!(close(b.take(t0, budget).unwrap(), 300));
        // Over the budget: refused, and the next in line still waits 400 ms.
        assert!(b.take(t0, Duration::from_millis(350)).is_err());
        assert!(close(b.take(t0, budget).unwrap(), 400));
    }
}
