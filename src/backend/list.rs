//! `tools/list` toward a backend, tolerant of one bad tool definition.
//!
//! rmcp parses a `tools/list` result as a whole: a single tool without `inputSchema`, with a
//! schema that is not an object or a description that is not a string makes the whole result
//! unreadable ("Unexpected response type"), and the backend would fail for one tool's sake.
//! Here such a result is taken apart tool by tool: the good ones are kept, each bad one is
//! skipped with a problem that names it.

use rmcp::model::{ClientRequest, ListToolsRequest, PaginatedRequestParams, ServerResult, Tool};
use rmcp::{Peer, RoleClient};
use serde_json::Value;

/// Pages followed before giving up on a backend that keeps handing out cursors.
const MAX_PAGES: usize = 1000;

/// Every tool the backend lists, plus one line per tool that had to be skipped.
pub(crate) struct Listed {
    pub(crate) tools: Vec<Tool>,
    pub(crate) skipped: Vec<String>,
}

pub(crate) async fn list_tools(peer: &Peer<RoleClient>) -> Result<Listed, String> {
    let mut listed = Listed {
        tools: Vec::new(),
        skipped: Vec::new(),
    };
    let mut cursor = None;
    for _ in 0..MAX_PAGES {
        let params = PaginatedRequestParams::default().with_cursor(cursor);
        let request = ClientRequest::ListToolsRequest(ListToolsRequest::with_param(params));
        let next = match peer.send_request(request).await {
            Ok(ServerResult::ListToolsResult(page)) => {
                listed.tools.extend(page.tools);
                page.next_cursor
            }
            Ok(ServerResult::CustomResult(raw)) => take_apart(&raw.0, &mut listed)?,
            Ok(_) => return Err("the answer to tools/list is not a tool list".to_owned()),
            Err(e) => return Err(e.to_string()),
        };
        match next {
            Some(next) => cursor = Some(next),
            None => return Ok(listed),
        }
    }
    Err(format!("tools/list still had more pages after {MAX_PAGES}"))
}

/// Parse a result rmcp could not read as a tool list, one tool at a time.
fn take_apart(raw: &Value, listed: &mut Listed) -> Result<Option<String>, String> {
    let Some(items) = raw.get("tools").and_then(Value::as_array) else {
        return Err("the answer to tools/list has no `tools` array".to_owned());
    };
    for (i, item) in items.iter().enumerate() {
        match serde_json::from_value::<Tool>(item.clone()) {
            Ok(tool) => listed.tools.push(tool),
            Err(e) => {
                let name = item
                    .get("name")
                    .and_then(Value::as_str)
                    .map_or_else(|| format!("#{}", i + 1), |n| format!("`{n}`"));
                listed
                    .skipped
                    .push(format!("tool {name} skipped: invalid definition: {e}"));
            }
        }
    }
    Ok(raw
        .get("nextCursor")
        .and_then(Value::as_str)
        .map(str::to_owned))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn bad_tools_are_skipped_by_name_and_the_rest_kept() {
        let raw = json!({"tools": [
            {"name": "good", "inputSchema": {"type": "object"}},
            {"name": "no_schema"},
            {"name": "string_schema", "inputSchema": "object"},
            {"inputSchema": {"type": "object"}},
        ], "nextCursor": "2"});
        let mut listed = Listed {
            tools: Vec::new(),
            skipped: Vec::new(),
        };
        let next = take_apart(&raw, &mut listed);
        assert_eq!(next, Ok(Some("2".to_owned())));
        assert_eq!(listed.tools.len(), 1);
        assert_eq!(listed.tools[0].name, "good");
        assert_eq!(listed.skipped.len(), 3, "{:?}", listed.skipped);
        assert!(listed.skipped[0].contains("`no_schema`"));
        assert!(listed.skipped[1].contains("`string_schema`"));
        assert!(listed.skipped[2].contains("#4"));
    }
}
