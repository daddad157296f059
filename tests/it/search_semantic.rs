//! The search answer through the binary, with the real embedding model: it reports the
//! semantic channel's state, hits carry the tools' annotation hints, and the user's own
//! backend outranks the built-in catalog for the README's example.

use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::interop::peers_bin;
use crate::support::{StdioPeer, spawn_with_model, temp_path};

const CALL: Duration = Duration::from_secs(60);

fn search(gw: &mut StdioPeer, query: &str) -> Value {
    gw.call_ok(
        "tools/call",
        json!({"name": "gateway_search_tools", "arguments": {"query": query, "limit": 5}}),
        CALL,
    )["structuredContent"]
        .clone()
}

/// A gateway serving mcp-server-time and the built-in catalog, once both are listed and
/// the semantic channel is ready.
fn time_and_catalog() -> StdioPeer {
    let config = temp_path("semantic.yaml");
    std::fs::write(
        &config,
        format!(
            "backends:\n  time:\n    command: {:?}\n    args: [\"--local-timezone\", \"UTC\"]\ncapabilities:\n  builtin: true\n",
            peers_bin("mcp-server-time")
        ),
    )
    .unwrap();
    let mut gw = spawn_with_model(&config);
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        let servers = gw.call_ok(
            "tools/call",
            json!({"name": "gateway_list_servers", "arguments": {}}),
            CALL,
        )["structuredContent"]["servers"]
            .clone();
        let ready = servers
            .as_array()
            .unwrap()
            .iter()
            .filter(|s| s["state"] == "ready" && s["tools_count"].as_u64() > Some(0))
            .count();
        if ready >= 2 {
            break;
        }
        assert!(Instant::now() < deadline, "backends not ready: {servers}");
        gw.wait_notification("notifications/tools/list_changed", Duration::from_secs(1));
    }
    loop {
        let answer = search(&mut gw, "current time");
        if answer["semantic"] == "ready" {
            break;
        }
        assert!(
            answer["semantic"]
                .as_str()
                .is_some_and(|s| s.starts_with("pending")),
            "{answer}"
        );
        assert!(Instant::now() < deadline, "embeddings not ready: {answer}");
        gw.wait_notification("notifications/tools/list_changed", Duration::from_secs(1));
    }
    gw
}

#[test]
fn the_users_time_server_outranks_the_catalog_and_hits_carry_hints() {
    let mut gw = time_and_catalog();
    let answer = search(&mut gw, "what time is it in Tokyo");
    let matches = answer["matches"].as_array().unwrap();
    let position = |server: &str, tool: Option<&str>| {
        matches
            .iter()
            .position(|m| m["server"] == server && tool.is_none_or(|t| m["tool"] == t))
    };
    assert_eq!(matches[0]["server"], "time", "{answer}");
    let current = position("time", Some("get_current_time")).expect("get_current_time found");
    let catalog = position("capabilities", None).unwrap_or(usize::MAX);
    assert!(
        current < catalog,
        "the user's tool must come before the catalog's: {answer}"
    );
    let catalog_hit = answer["matches"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["server"] == "capabilities")
        .unwrap_or_else(|| panic!("no catalog tool among the hits: {answer}"));
    assert!(
        catalog_hit["hints"]["readOnly"].is_boolean(),
        "catalog tools declare their effects: {catalog_hit}"
    );
    gw.close_stdin();
}
