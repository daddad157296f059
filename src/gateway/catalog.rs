//! Keeping the search index and the client in step with the backends: each registry swap
//! re-indexes the backends whose tool list changed (only those), then tells the client its
//! tool list changed.
//!
//! Driven by the registry itself, not by messages from the actors: the follower reads the
//! version, then a snapshot at least that new, and diffs it against what it indexed (one
//! pointer compare per backend). So when it publishes "indexed up to version v", every
//! change up to v really is in the index; there is no window where a change is visible in
//! the registry but not yet reported to the follower. A burst of swaps is one round.

use std::collections::HashMap;
use std::sync::Arc;

use rmcp::model::Tool;
use tokio_util::sync::CancellationToken;

use super::Gateway;
use crate::registry::Snapshot;
use crate::search::ToolDoc;

/// Run until shutdown, following every registry swap.
pub async fn follow_changes(gateway: Gateway, shutdown: CancellationToken) {
    let mut swaps = gateway.registry().subscribe();
    // The tool list last indexed per backend: a swap that left a backend's tools as they
    // were (the same `Arc`, or still none) needs no re-index and no notification.
    let mut indexed: HashMap<String, Arc<[Tool]>> = HashMap::new();
    loop {
        // The version first: the snapshot read after it is at least this new.
        let version = *swaps.borrow_and_update();
        let snap = gateway.registry().snapshot();
        let updates = diff(&snap, &indexed);
        if updates.is_empty() {
            gateway.inner.indexed.send_replace(version);
        } else {
            let docs: Vec<(String, Vec<ToolDoc>)> = updates
                .iter()
                .map(|(name, tools)| {
                    (
                        name.clone(),
                        tools.iter().map(|t| tool_doc(name, t)).collect(),
                    )
                })
                .collect();
            // One commit for the whole burst: backends that start together report together.
            let index = Arc::clone(&gateway.inner.index);
            let done = match tokio::task::spawn_blocking(move || index.replace_servers(&docs)).await
            {
                Ok(Ok(())) => true,
                Ok(Err(e)) => {
                    tracing::error!("indexing failed: {e}");
                    false
                }
                Err(e) => {
                    tracing::error!("indexing task failed: {e}");
                    false
                }
            };
            if done {
                indexed.extend(updates);
                // Announced before the version is published, so a client that searches
                // after a search returned has also been told of every change it covers.
                gateway.announce_tools_changed().await;
                gateway.inner.indexed.send_replace(version);
            }
            // On failure nothing is marked indexed: the next swap retries these backends,
            // and searches meanwhile wait out their bound rather than trust a stale index.
        }
        tokio::select! {
            changed = swaps.changed() => if changed.is_err() { return },
            () = shutdown.cancelled() => return,
        }
    }
}

/// Backends whose tools differ from what was indexed (a removed backend has none).
fn diff(snap: &Snapshot, indexed: &HashMap<String, Arc<[Tool]>>) -> Vec<(String, Arc<[Tool]>)> {
    let mut updates = Vec::new();
    for (name, entry) in &snap.servers {
        let unchanged = match indexed.get(name) {
            Some(old) => {
                Arc::ptr_eq(old, &entry.tools) || (old.is_empty() && entry.tools.is_empty())
            }
            None => entry.tools.is_empty(),
        };
        if !unchanged {
            updates.push((name.clone(), Arc::clone(&entry.tools)));
        }
    }
    for (name, old) in indexed {
        if !snap.servers.contains_key(name) && !old.is_empty() {
            updates.push((name.clone(), Arc::from(Vec::new())));
        }
    }
    updates
}

fn tool_doc(server: &str, tool: &Tool) -> ToolDoc {
    ToolDoc {
        server: server.to_owned(),
        name: tool.name.to_string(),
        title: tool.title.clone(),
        description: tool.description.as_deref().unwrap_or("").to_owned(),
        input_schema: serde_json::Value::Object((*tool.input_schema).clone()),
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use std::time::Duration;

    use super::*;
    use crate::config::Config;
    use crate::registry::{Registry, ServerEntry, TransportKind};
    use crate::search::SearchIndex;

    const WORDS: &[&str] = &[
        "apple", "banana", "cherry", "damson", "elder", "fig", "grape", "hazel", "kiwi", "lemon",
        "mango", "nectar",
    ];

    fn tool(name: &str) -> Tool {
        Tool::new(
            name.to_owned(),
            format!("{name} tool"),
            Arc::new(serde_json::Map::new()),
        )
    }

    /// "Caught up" is exact: once a search has waited for the version it could see, every
    /// swap up to it is in the index, even swaps nobody announced and swaps in quick
    /// succession (a change that leaves the tools alone right after one that does not).
    #[tokio::test]
    async fn caught_up_means_every_swap_so_far_is_searchable() {
        let registry = Arc::new(Registry::default());
        let index = Arc::new(SearchIndex::new().unwrap());
        let gateway = Gateway::new(
            &Config::default(),
            Arc::clone(&registry),
            index,
            CancellationToken::new(),
            Arc::default(),
        );
        let shutdown = CancellationToken::new();
        let follower = tokio::spawn(follow_changes(gateway.clone(), shutdown.clone()));
        registry.put(ServerEntry::new("s", None, TransportKind::Stdio));
        let mut tools = Vec::new();
        for word in WORDS {
            tools.push(tool(word));
            let now: Arc<[Tool]> = tools.clone().into();
            registry.update("s", |e| e.tools = now);
            registry.update("s", |e| e.last_error = None);
            assert!(gateway.index_caught_up(Duration::from_secs(30)).await);
            let hits = gateway.inner.index.search(word, 5, None).unwrap();
            assert!(
                hits.iter().any(|h| h.tool == *word),
                "`{word}` not searchable once caught up: {hits:?}"
            );
        }
        shutdown.cancel();
        follower.await.unwrap();
    }
}
