//! Start slots: how many stdio backends start at once. Hundreds started together each get
//! a sliver of the CPU, the runtime's threads spend their turns forking, and the client's
//! requests wait behind them: a first `tools/list` once waited 40 s with 491 backends on
//! two cores. A slot is held from the spawn until the handshake is done, or for
//! [`HOLD`] at most, so a backend that hangs at start delays the others by no more than
//! that.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{Semaphore, oneshot};

/// The longest one start keeps its slot.
const HOLD: Duration = Duration::from_secs(2);

/// Shared by every backend actor (a clone is the same slots).
#[derive(Clone)]
pub(crate) struct StartSlots(Arc<Semaphore>);

/// A slot taken; given back when dropped (or after [`HOLD`]).
pub(crate) struct Slot {
    _given_back: oneshot::Sender<()>,
}

impl StartSlots {
    /// Four per core, at least eight.
    pub(crate) fn new() -> StartSlots {
        let cores = std::thread::available_parallelism().map_or(1, usize::from);
        StartSlots(Arc::new(Semaphore::new(
            test_slots().unwrap_or((4 * cores).max(8)),
        )))
    }

    /// Wait for a slot.
    pub(crate) async fn take(&self) -> Slot {
        let permit = Arc::clone(&self.0).acquire_owned().await;
        let (given_back, dropped) = oneshot::channel();
        tokio::spawn(async move {
            // Either way the permit goes: the slot was dropped, or it was held long enough.
            let _ = tokio::time::timeout(HOLD, dropped).await;
            drop(permit);
        });
        Slot {
            _given_back: given_back,
        }
    }
}

/// `MCP_GATEWAY_TEST_START_SLOTS`: fewer slots than this machine's default, so a test can
/// fill them. Read only by builds with the `test-hooks` feature (the test suite's).
fn test_slots() -> Option<usize> {
    if !cfg!(feature = "test-hooks") {
        return None;
    }
    let slots = std::env::var("MCP_GATEWAY_TEST_START_SLOTS").ok()?;
    slots.trim().parse().ok().filter(|&n| n > 0)
}
