//! When a backend was last used, and whether a call is running on it now.

use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use tokio::time::Instant;

/// Calls on one connection: each holds a [`Busy`] while it runs.
#[derive(Debug)]
pub(crate) struct Activity {
    last: Mutex<Instant>,
    running: AtomicUsize,
}

impl Default for Activity {
    fn default() -> Self {
        Activity {
            last: Mutex::new(Instant::now()),
            running: AtomicUsize::new(0),
        }
    }
}

/// A call in progress; its end counts as the backend's last use.
pub(crate) struct Busy<'a>(&'a Activity);

impl Drop for Busy<'_> {
    fn drop(&mut self) {
        self.0.touch();
        self.0.running.fetch_sub(1, Ordering::AcqRel);
    }
}

impl Activity {
    /// A call starts.
    pub(crate) fn begin(&self) -> Busy<'_> {
        self.running.fetch_add(1, Ordering::AcqRel);
        self.touch();
        Busy(self)
    }

    fn touch(&self) {
        if let Ok(mut last) = self.last.lock() {
            *last = Instant::now();
        }
    }

    fn last(&self) -> Instant {
        self.last.lock().map_or_else(|_| Instant::now(), |l| *l)
    }

    /// Resolves once no call has run for `limit` (never while one is running).
    pub(crate) async fn idle_for(&self, limit: Duration) {
        loop {
            let due = self.last() + limit;
            if self.running.load(Ordering::Acquire) == 0 && Instant::now() >= due {
                return;
            }
            // A running call is looked at again a full period later: it may end any time,
            // and its end moves `last` on.
            tokio::time::sleep_until(due.max(Instant::now() + Duration::from_millis(10))).await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn idle_only_after_the_last_call_ends_and_the_period_passes() {
        let activity = Activity::default();
        let limit = Duration::from_millis(100);
        let busy = activity.begin();
        // A call running for longer than the period keeps the backend up.
        let waited =
            tokio::time::timeout(Duration::from_millis(400), activity.idle_for(limit)).await;
        assert!(waited.is_err(), "idle while a call ran");
        drop(busy);
        let ended = Instant::now();
        activity.idle_for(limit).await;
        assert!(ended.elapsed() >= limit);
    }
}
