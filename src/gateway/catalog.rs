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
    // The first pass covers every backend registered before any change was reported.
    let mut batch: BTreeSet<String> = gateway
        .registry()
        .snapshot()
        .servers
        .keys()
        .cloned()
        .collect();
    loop {
        // Read the version before the snapshot: the snapshot is at least this new.
        let version = gateway.registry().version();
        let snap = gateway.registry().snapshot();
        let mut updates = Vec::new();
        for name in std::mem::take(&mut batch) {
            let tools = snap
                .server(&name)
                .map(|s| Arc::clone(&s.tools))
                .unwrap_or_else(|| Arc::from(Vec::new()));
            let unchanged = match indexed.get(&name) {
                Some(old) => Arc::ptr_eq(old, &tools) || (old.is_empty() && tools.is_empty()),
                None => tools.is_empty(),
            };
            if unchanged {
                continue;
            }
            let docs: Vec<ToolDoc> = tools.iter().map(|t| tool_doc(&name, t)).collect();
            indexed.insert(name.clone(), tools);
            updates.push((name, docs));
        }
        let changed = !updates.is_empty();
        if changed {
            // One commit for the whole burst: backends that start together report together.
            let index = Arc::clone(&gateway.inner.index);
            match tokio::task::spawn_blocking(move || index.replace_servers(&updates)).await {
                Ok(Ok(())) => {}
                Ok(Err(e)) => tracing::error!("indexing failed: {e}"),
                Err(e) => tracing::error!("indexing task failed: {e}"),
            }
        }
        gateway.inner.indexed.send_replace(version);
        if changed {
            gateway.announce_tools_changed().await;
        }
        let first = tokio::select! {
            name = changes.recv() => match name {
                Some(name) => name,
                None => return,
            },
            () = shutdown.cancelled() => return,
        };
        batch.insert(first);
        while let Ok(name) = changes.try_recv() {
            batch.insert(name);
        }
    }
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
