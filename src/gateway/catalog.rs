//! Keeping the search index and the client in step with the backends: each change a
//! backend actor reports re-indexes that backend only, then tells the client its tool
//! list changed.

use std::collections::{BTreeSet, HashMap};
use std::sync::Arc;

use rmcp::model::Tool;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use super::Gateway;
use crate::search::ToolDoc;

/// Run until shutdown, applying backend changes as they arrive.
pub async fn follow_changes(
    gateway: Gateway,
    mut changes: mpsc::UnboundedReceiver<String>,
    shutdown: CancellationToken,
) {
    // The tool list last indexed per backend: a state change that left the tools as they
    // were (the same `Arc`, or still none) needs no re-index and no notification.
    let mut indexed: HashMap<String, Arc<[Tool]>> = HashMap::new();
    loop {
        let first = tokio::select! {
            name = changes.recv() => match name {
                Some(name) => name,
                None => return,
            },
            () = shutdown.cancelled() => return,
        };
        // Backends that start together report together: fold a burst into one pass.
        let mut batch = BTreeSet::from([first]);
        while let Ok(name) = changes.try_recv() {
            batch.insert(name);
        }
        let snap = gateway.registry().snapshot();
        let mut updates = Vec::new();
        for name in batch {
            let tools = snap
                .server(&name)
                .map(|s| Arc::clone(&s.tools))
                .unwrap_or_else(|| Arc::from(Vec::new()));
            if indexed
                .get(&name)
                .is_some_and(|old| Arc::ptr_eq(old, &tools))
            {
                continue;
            }
            let docs: Vec<ToolDoc> = tools.iter().map(|t| tool_doc(&name, t)).collect();
            indexed.insert(name.clone(), tools);
            updates.push((name, docs));
        }
        if updates.is_empty() {
            continue;
        }
        let index = Arc::clone(&gateway.inner.index);
        let reindexed = tokio::task::spawn_blocking(move || {
            for (name, docs) in &updates {
                if let Err(e) = index.replace_server(name, docs) {
                    tracing::error!(backend = %name, "indexing failed: {e}");
                }
            }
        })
        .await;
        if let Err(e) = reindexed {
            tracing::error!("indexing task failed: {e}");
        }
        gateway.announce_tools_changed().await;
    }
}

pub fn tool_doc(server: &str, tool: &Tool) -> ToolDoc {
    ToolDoc {
        server: server.to_owned(),
        name: tool.name.to_string(),
        title: tool.title.clone(),
        description: tool.description.as_deref().unwrap_or("").to_owned(),
        input_schema: serde_json::Value::Object((*tool.input_schema).clone()),
    }
}
