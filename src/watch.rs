//! Watching the loaded `gateway.yaml` while serving: file events and SIGHUP become reload
//! events on a bounded channel, debounced so an editor's write-and-rename burst is one
//! reload. (Capability directories have their own watcher: `capability/watch.rs`.)
//!
//! The file's directory is watched, not the file: editors replace the file by renaming a
//! temp file over it, which ends a watch on the old inode. A symlinked `gateway.yaml` (a
//! dotfiles repo) is followed: the target's directory is watched too.

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::time::Duration;

use notify::{RecommendedWatcher, RecursiveMode, Watcher};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

/// Quiet time after the last event before reloading: editors finish their burst well
/// inside it, and a reload still lands well within a second of the save.
pub const DEBOUNCE: Duration = Duration::from_millis(100);

/// Why a reload was asked for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReloadEvent {
    /// The file (or its directory entry) changed.
    FileChanged,
    /// SIGHUP.
    Hangup,
}

/// Owns the OS watcher; dropping it stops the events.
pub struct ConfigWatch {
    _watcher: Option<RecommendedWatcher>,
    /// Capacity 1: a pending event already means "reload", so a burst coalesces here and
    /// the notify thread never blocks.
    events: mpsc::Receiver<ReloadEvent>,
}

impl ConfigWatch {
    /// The next reload to do, after the burst it starts has been quiet for [`DEBOUNCE`].
    /// `None` once shutdown has begun.
    pub async fn next(&mut self, shutdown: &CancellationToken) -> Option<ReloadEvent> {
        let first = tokio::select! {
            event = self.events.recv() => event?,
            () = shutdown.cancelled() => return None,
        };
        loop {
            tokio::select! {
                more = tokio::time::timeout(DEBOUNCE, self.events.recv()) => match more {
                    Ok(Some(_)) => {}
                    Ok(None) | Err(_) => return Some(first),
                },
                () = shutdown.cancelled() => return None,
            }
        }
    }
}

/// Watch `path` (when there is a file to watch) and listen for SIGHUP until `shutdown`.
/// A watcher that cannot start is logged: SIGHUP still works.
pub fn watch(path: Option<&Path>, shutdown: &CancellationToken) -> ConfigWatch {
    let (tx, events) = mpsc::channel(1);
    spawn_hangup(tx.clone(), shutdown.clone());
    let watcher = path.and_then(|path| match watch_file(path, tx) {
        Ok(w) => Some(w),
        Err(e) => {
            tracing::warn!(
                "cannot watch {} for changes ({e}); send SIGHUP to reload it",
                path.display()
            );
            None
        }
    });
    ConfigWatch {
        _watcher: watcher,
        events,
    }
}

fn watch_file(path: &Path, tx: mpsc::Sender<ReloadEvent>) -> notify::Result<RecommendedWatcher> {
    let mut places: Vec<(PathBuf, OsString)> = Vec::new();
    for file in [Some(path.to_path_buf()), std::fs::canonicalize(path).ok()]
        .into_iter()
        .flatten()
    {
        if let (Some(dir), Some(name)) = (file.parent(), file.file_name()) {
            let place = (dir.to_path_buf(), name.to_os_string());
            if !places.contains(&place) {
                places.push(place);
            }
        }
    }
    let names: Vec<OsString> = places.iter().map(|(_, n)| n.clone()).collect();
    let handler = move |event: notify::Result<notify::Event>| {
        let relevant = match &event {
            Ok(e) => {
                !e.kind.is_access()
                    && e.paths
                        .iter()
                        .any(|p| p.file_name().is_some_and(|n| names.iter().any(|m| m == n)))
            }
            // An overflowed queue means events were missed: reload to be safe.
            Err(_) => true,
        };
        if relevant {
            // Full: a reload is already pending. Closed: shutting down. Neither matters.
            let _ = tx.try_send(ReloadEvent::FileChanged);
        }
    };
    let mut watcher = notify::recommended_watcher(handler)?;
    for (dir, _) in &places {
        watcher.watch(dir, RecursiveMode::NonRecursive)?;
    }
    Ok(watcher)
}

#[cfg(unix)]
fn spawn_hangup(tx: mpsc::Sender<ReloadEvent>, shutdown: CancellationToken) {
    use tokio::signal::unix::{SignalKind, signal};
    let mut hangups = match signal(SignalKind::hangup()) {
        Ok(s) => s,
        Err(e) => {
            tracing::warn!("cannot listen for SIGHUP: {e}");
            return;
        }
    };
    tokio::spawn(async move {
        loop {
            tokio::select! {
                got = hangups.recv() => {
                    if got.is_none() {
                        return;
                    }
                    tracing::info!("SIGHUP: reloading gateway.yaml");
                    let _ = tx.try_send(ReloadEvent::Hangup);
                }
                () = shutdown.cancelled() => return,
            }
        }
    });
}

#[cfg(not(unix))]
fn spawn_hangup(_tx: mpsc::Sender<ReloadEvent>, _shutdown: CancellationToken) {}
