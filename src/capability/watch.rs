//! Watching capability directories: notify's events, bridged into a tokio channel and
//! debounced, so an editor's burst of writes and renames becomes one reload.

use std::path::{Path, PathBuf};
use std::time::Duration;

use notify::{RecommendedWatcher, RecursiveMode, Watcher};
use tokio::sync::mpsc;

/// Quiet time after the last event before reloading. Small, because the reload must land
/// within a second of the edit; editors finish their write-rename dance well inside it.
pub const DEBOUNCE: Duration = Duration::from_millis(100);

/// Owns the OS watcher; dropping it stops the events.
pub struct DirWatcher {
    watcher: RecommendedWatcher,
    /// Configured directories that did not exist yet: their nearest existing ancestor is
    /// watched instead, so `cap import -o <dir>` into a new directory is picked up live.
    pending: Vec<PathBuf>,
    /// Capacity 1: a pending event already means "reload", so a burst coalesces here and
    /// the OS thread never blocks or queues without bound.
    pub events: mpsc::Receiver<()>,
}

/// Watches `dirs` recursively, and the file `store` (the capability pins) if given.
/// Directories that cannot be watched are returned with the reason, and the rest are
/// still watched.
pub fn watch(
    dirs: &[PathBuf],
    store: Option<&Path>,
) -> (Option<DirWatcher>, Vec<(PathBuf, String)>) {
    let (tx, events) = mpsc::channel(1);
    let store_file = store.map(Path::to_path_buf);
    let handler = move |event: notify::Result<notify::Event>| {
        let relevant = match &event {
            Ok(e) => {
                !e.kind.is_access()
                    && e.paths.iter().any(|p| {
                        store_file
                            .as_deref()
                            .map_or(relevant(p), |s| relevant_or_store(p, s))
                    })
            }
            // An overflowed queue means we missed events: reload to be safe.
            Err(_) => true,
        };
        if relevant {
            // Full: a reload is already pending. Closed: shutting down. Neither matters.
            let _ = tx.try_send(());
        }
    };
    let mut watcher = match notify::recommended_watcher(handler) {
        Ok(w) => w,
        Err(e) => {
            let why = format!("cannot start the file watcher: {e}");
            return (
                None,
                dirs.iter().map(|d| (d.clone(), why.clone())).collect(),
            );
        }
    };
    let mut failed = Vec::new();
    let mut pending = Vec::new();
    for dir in dirs {
        if !dir.exists() {
            match dir.ancestors().skip(1).find(|a| a.is_dir()) {
                Some(ancestor) if watcher.watch(ancestor, RecursiveMode::NonRecursive).is_ok() => {
                    pending.push(dir.clone());
                }
                _ => failed.push((dir.clone(), "does not exist and cannot be watched".into())),
            }
            continue;
        }
        if let Err(e) = watcher.watch(dir, RecursiveMode::Recursive) {
            failed.push((dir.clone(), format!("cannot watch for changes: {e}")));
        }
    }
    if let Some(dir) = store.filter(|_| !dirs.is_empty()).and_then(Path::parent)
        && let Err(e) = watcher.watch(dir, RecursiveMode::NonRecursive)
    {
        failed.push((
            dir.to_path_buf(),
            format!("cannot watch the capability pins for approvals: {e}"),
        ));
    }
    let watcher = DirWatcher {
        watcher,
        pending,
        events,
    };
    (Some(watcher), failed)
}

/// Capability files and directories (a removed directory takes its files with it).
fn relevant(path: &Path) -> bool {
    let hidden = path
        .file_name()
        .and_then(|n| n.to_str())
        .is_some_and(|n| n.starts_with('.'));
    !hidden && (super::load::is_capability_file(path) || path.extension().is_none())
}

/// A capability file or directory, or the pin store itself (not its temp files).
fn relevant_or_store(path: &Path, store: &Path) -> bool {
    if path.parent() == store.parent() {
        return path.file_name() == store.file_name();
    }
    relevant(path)
}

impl DirWatcher {
    /// The next batch of changes: waits for one event, then for `DEBOUNCE` of quiet.
    /// `None` when the watcher has stopped.
    pub async fn next_batch(&mut self) -> Option<()> {
        self.events.recv().await?;
        // Until DEBOUNCE passes without an event (or the channel closes).
        while let Ok(Some(())) = tokio::time::timeout(DEBOUNCE, self.events.recv()).await {}
        self.adopt_created();
        Some(())
    }

    /// Starts watching pending directories that exist now (before the reload reads them, so
    /// nothing written after it is missed). Ancestor watches stay: cheap, and harmless.
    fn adopt_created(&mut self) {
        let watcher = &mut self.watcher;
        self.pending
            .retain(|dir| !(dir.is_dir() && watcher.watch(dir, RecursiveMode::Recursive).is_ok()));
    }
}
