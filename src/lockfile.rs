//! Cross-process turns on a file the gateway rewrites as a whole (tool pins, OAuth tokens):
//! an exclusive `flock` on a lock file beside it, held across read → change → write, so two
//! processes (a running gateway and `tools approve`, or two gateways) never write over each
//! other's change. Advisory: only our own processes take it, which is all that writes these
//! files.

use std::fs::File;
use std::path::Path;
use std::time::{Duration, Instant};

/// An exclusive lock, released when dropped.
pub struct Held {
    #[cfg(unix)]
    _lock: nix::fcntl::Flock<File>,
}

/// Take the lock file at `path` (created owner-only if missing), waiting up to `wait` for
/// another holder. `None` where there is none to take — not Unix, an unwritable directory,
/// or `wait` spent — and the caller goes ahead without it, as it did before locks: a
/// holder stuck that long is not coming back soon.
#[cfg(unix)]
pub fn exclusive(path: &Path, wait: Duration) -> Option<Held> {
    use nix::fcntl::{Flock, FlockArg};
    use std::os::unix::fs::OpenOptionsExt;
    let mut file = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .mode(0o600)
        .open(path)
        .ok()?;
    let deadline = Instant::now() + wait;
    loop {
        match Flock::lock(file, FlockArg::LockExclusiveNonblock) {
            Ok(lock) => return Some(Held { _lock: lock }),
            Err((back, _)) if Instant::now() < deadline => {
                file = back;
                std::thread::sleep(Duration::from_millis(20));
            }
            Err((_, e)) => {
                tracing::warn!("going ahead without the lock {}: {e}", path.display());
                return None;
            }
        }
    }
}

#[cfg(not(unix))]
pub fn exclusive(_path: &Path, _wait: Duration) -> Option<Held> {
    None
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn one_holder_at_a_time() {
        let path = std::env::temp_dir().join(format!("mcpgw-lockfile-{}", std::process::id()));
        let first = exclusive(&path, Duration::ZERO).unwrap();
        // A second open file description of the same file is refused while the first holds.
        assert!(exclusive(&path, Duration::from_millis(50)).is_none());
        drop(first);
        assert!(exclusive(&path, Duration::ZERO).is_some());
        let _ = std::fs::remove_file(&path);
    }
}
