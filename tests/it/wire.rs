//! The wire under load and bad input, over the real binary's stdio: progress from many
//! concurrent calls, JSON-RPC's answers to malformed messages, the message size limit on
//! both sides, and tool-list changes that change nothing.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

use serde_json::{Value, json};

use crate::support::{StdioPeer, fixture_server_path, gateway_bin, temp_path, wait_for_log};

const T: Duration = Duration::from_secs(60);

struct Gw {
    peer: StdioPeer,
    config: PathBuf,
}

impl Gw {
    /// A gateway with one fixture backend `fx` (logging to `log` when given), ready.
    fn with_fixture(extra_yaml: &str, log: Option<&PathBuf>) -> Gw {
        let config = temp_path("gateway.yaml");
        let mut yaml = format!(
            "{extra_yaml}capabilities:\n  enabled: false\nbackends:\n  fx:\n    command: {:?}\n    env:\n      FIXTURE_NAME: fx\n",
            fixture_server_path()
        );
        if let Some(log) = log {
            yaml.push_str(&format!("      FIXTURE_LOG: {:?}\n", log));
        }
        std::fs::write(&config, yaml).unwrap();
        let mut peer = StdioPeer::spawn(
            &gateway_bin(),
            &["serve", "--config", config.to_str().unwrap()],
            &[("MCP_GATEWAY_LOG", "debug,rmcp=warn")],
        );
        peer.initialize();
        let mut gw = Gw { peer, config };
        // A search waits for the index to catch up, and the index follows readiness.
        gw.search_until("echo", |r| {
            r["structuredContent"]["total"].as_u64() > Some(0)
        });
        gw
    }

    fn tool(&mut self, name: &str, arguments: Value) -> Value {
        self.peer.call_ok(
            "tools/call",
            json!({"name": name, "arguments": arguments}),
            T,
        )
    }

    fn invoke(&mut self, tool: &str, arguments: Value) -> Value {
        self.tool(
            "gateway_invoke",
            json!({"server": "fx", "tool": tool, "arguments": arguments}),
        )
    }

    /// Search until `done` holds for the result (each search waits for the index).
    fn search_until(&mut self, query: &str, done: impl Fn(&Value) -> bool) -> Value {
        let deadline = std::time::Instant::now() + T;
        loop {
            let result = self.tool("gateway_search_tools", json!({"query": query}));
            if done(&result) {
                return result;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "search never matched: {result}"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    fn ping_answered(&mut self) {
        let pong = self.peer.call("ping", json!({}), T);
        assert_eq!(pong["result"], json!({}), "{pong}");
    }
}

impl Drop for Gw {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.config);
    }
}

fn text_of(result: &Value) -> &str {
    result["content"][0]["text"].as_str().unwrap_or_default()
}

#[test]
fn progress_of_200_concurrent_calls_all_arrives_in_order() {
    const CALLS: usize = 200;
    const STEPS: u64 = 4;
    let mut gw = Gw::with_fixture("", None);
    let ids: Vec<u64> = (0..CALLS)
        .map(|i| {
            gw.peer.request(
                "tools/call",
                json!({"name": "gateway_invoke", "_meta": {"progressToken": format!("p-{i}")},
                       "arguments": {"server": "fx", "tool": "progress",
                                     "arguments": {"steps": STEPS, "interval_ms": 0}}}),
            )
        })
        .collect();
    for id in ids {
        let reply = gw
            .peer
            .wait_response(id, T)
            .expect("every call is answered");
        assert_eq!(text_of(&reply["result"]), "done", "{reply}");
    }
    // Notifications are written before their call's response, so all are in by now.
    let mut seen: BTreeMap<String, Vec<f64>> = BTreeMap::new();
    for n in gw.peer.notifications_of("notifications/progress") {
        let token = n["params"]["progressToken"].as_str().unwrap().to_owned();
        seen.entry(token)
            .or_default()
            .push(n["params"]["progress"].as_f64().unwrap());
    }
    let want: Vec<f64> = (1..=STEPS).map(|s| s as f64).collect();
    let wrong: Vec<_> = seen.iter().filter(|(_, got)| **got != want).collect();
    assert_eq!(seen.len(), CALLS, "calls with progress: {}", seen.len());
    assert!(wrong.is_empty(), "lost or reordered progress: {wrong:?}");
}

/// Sends `line` verbatim and returns the error of the response with id `key`.
fn error_for(gw: &mut Gw, line: &str, key: &str) -> Value {
    gw.peer.send_raw(line);
    let reply = gw
        .peer
        .wait_response_key(key, T)
        .unwrap_or_else(|| panic!("no answer to {line}"));
    assert_eq!(reply["jsonrpc"], "2.0", "{reply}");
    assert!(
        reply.get("id").is_some(),
        "JSON-RPC requires an id member: {reply}"
    );
    reply["error"].clone()
}

#[test]
fn malformed_messages_get_the_json_rpc_error_codes() {
    let mut gw = Gw::with_fixture("", None);
    let cases: &[(&str, &str, i64)] = &[
        ("this is not json", "null", -32700),
        (
            r#"{"jsonrpc":"2.0","id":"t","method":"ping"} trailing"#,
            "null",
            -32700,
        ),
        ("{}", "null", -32600),
        (
            r#"[{"jsonrpc":"2.0","id":1,"method":"ping"}]"#,
            "null",
            -32600,
        ),
        (
            r#"{"jsonrpc":"1.0","id":"v1","method":"ping"}"#,
            r#""v1""#,
            -32600,
        ),
        (
            r#"{"jsonrpc":"2.0","id":1.5,"method":"ping"}"#,
            "1.5",
            -32600,
        ),
        (
            r#"{"jsonrpc":"2.0","id":"np","method":"tools/call"}"#,
            r#""np""#,
            -32602,
        ),
        (
            r#"{"jsonrpc":"2.0","id":"arr","method":"tools/call","params":[1,2]}"#,
            r#""arr""#,
            -32602,
        ),
        (
            r#"{"jsonrpc":"2.0","id":"n5","method":"tools/call","params":{"name":5}}"#,
            r#""n5""#,
            -32602,
        ),
    ];
    for (line, key, code) in cases {
        let error = error_for(&mut gw, line, key);
        assert_eq!(error["code"], *code, "{line} → {error}");
    }
    let named = error_for(
        &mut gw,
        r#"{"jsonrpc":"2.0","id":"nm","method":"tools/call","params":{"arguments":{}}}"#,
        r#""nm""#,
    );
    assert!(
        named["message"].as_str().unwrap().contains("name"),
        "{named}"
    );
    // A notification is never answered, even a malformed one; the next request is.
    gw.peer
        .send_raw(r#"{"jsonrpc":"2.0","method":"notifications/progress","params":7}"#);
    gw.ping_answered();
    assert!(
        gw.peer
            .wait_response_key("null", Duration::from_millis(200))
            .is_none()
    );
}

#[test]
fn a_request_id_in_flight_is_refused_for_the_duplicate_only() {
    let log = temp_path("fixture-log.jsonl");
    let mut gw = Gw::with_fixture("", Some(&log));
    let call = |text: &str| {
        format!(
            r#"{{"jsonrpc":"2.0","id":"dup","method":"tools/call","params":{{"name":"gateway_invoke","arguments":{{"server":"fx","tool":"sleep","arguments":{{"ms":{text}}}}}}}}}"#
        )
    };
    gw.peer.send_raw(&call("1500"));
    wait_for_log(&log, T, |e| e["event"] == "call" && e["tool"] == "sleep")
        .expect("the first call reached the backend");
    gw.peer
        .send_raw(r#"{"jsonrpc":"2.0","id":"dup","method":"ping"}"#);
    let first = gw.peer.wait_response_key(r#""dup""#, T).unwrap();
    assert_eq!(first["error"]["code"], -32600, "{first}");
    assert!(
        first["error"]["message"]
            .as_str()
            .unwrap()
            .contains("in flight"),
        "{first}"
    );
    let second = gw.peer.wait_response_key(r#""dup""#, T).unwrap();
    assert_eq!(text_of(&second["result"]), "slept 1500", "{second}");
    // Answered, the id is free again.
    gw.peer
        .send_raw(r#"{"jsonrpc":"2.0","id":"dup","method":"ping"}"#);
    let again = gw.peer.wait_response_key(r#""dup""#, T).unwrap();
    assert_eq!(again["result"], json!({}), "{again}");
}

#[test]
fn messages_over_the_size_limit_get_an_error_naming_it_on_both_sides() {
    let mut gw = Gw::with_fixture("limits:\n  max_message_bytes: 64KiB\n", None);

    // Client → gateway: answered at once with the size, the limit and the key.
    let big = "y".repeat(100 * 1024);
    let id = gw.peer.request(
        "tools/call",
        json!({"name": "gateway_invoke", "arguments": {"server": "fx", "tool": "echo", "arguments": {"text": big}}}),
    );
    let reply = gw
        .peer
        .wait_response(id, T)
        .expect("an oversized request is answered");
    let message = reply["error"]["message"].as_str().unwrap_or_default();
    assert_eq!(reply["error"]["code"], -32600, "{reply}");
    assert!(
        message.contains("65536") && message.contains("limits.max_message_bytes"),
        "{message}"
    );
    gw.ping_answered();

    // Backend → gateway: the call fails with the size instead of timing out.
    let result = gw.invoke("big", json!({"kb": 100}));
    assert_eq!(result["isError"], true, "{result}");
    let text = text_of(&result);
    assert!(
        text.contains("over the limit of 65536 bytes") && text.contains("102"),
        "{text}"
    );
    // The connection to the backend is still good.
    let small = gw.invoke("big", json!({"kb": 1}));
    assert_eq!(text_of(&small).len(), 1024, "{small}");
}

#[test]
fn a_list_change_that_changes_nothing_is_not_announced() {
    let log = temp_path("fixture-log.jsonl");
    let mut gw = Gw::with_fixture("", Some(&log));
    let list_changed = |gw: &Gw| {
        gw.peer
            .notifications_of("notifications/tools/list_changed")
            .len()
    };

    gw.invoke("add_tool", json!({"name": "alpha"}));
    gw.search_until("alpha", |r| r.to_string().contains("\"alpha\""));
    let before = list_changed(&gw);

    // The same tool again: the backend says its list changed, but the list is the same.
    gw.invoke("add_tool", json!({"name": "alpha"}));
    let relists = || {
        crate::support::read_jsonl(&log)
            .iter()
            .filter(|e| e["event"] == "list_tools")
            .count()
    };
    let listed = relists();
    let deadline = std::time::Instant::now() + T;
    while !gw.peer.stderr_text().contains("tools/list unchanged") {
        assert!(
            std::time::Instant::now() < deadline,
            "no re-list seen (list_tools: {listed})"
        );
        std::thread::sleep(Duration::from_millis(20));
    }

    // A real change afterwards is announced, exactly once.
    gw.invoke("add_tool", json!({"name": "beta"}));
    gw.search_until("beta", |r| r.to_string().contains("\"beta\""));
    assert_eq!(
        list_changed(&gw),
        before + 1,
        "{:?}",
        gw.peer.notifications()
    );
}

/// A stdio backend that answers `tools/call` with a response that is not valid MCP (no
/// `result`, no `error`).
const BROKEN_BACKEND: &str = r#"
import json, sys
for line in sys.stdin:
    msg = json.loads(line)
    if "id" not in msg:
        continue
    if msg["method"] == "initialize":
        result = {"protocolVersion": msg["params"]["protocolVersion"], "capabilities": {"tools": {}},
                  "serverInfo": {"name": "broken", "version": "0"}}
    elif msg["method"] == "tools/list":
        result = {"tools": [{"name": "odd", "inputSchema": {"type": "object"}}]}
    else:
        print(json.dumps({"jsonrpc": "2.0", "id": msg["id"], "nothing": True}), flush=True)
        continue
    print(json.dumps({"jsonrpc": "2.0", "id": msg["id"], "result": result}), flush=True)
"#;

#[test]
fn a_backend_response_that_is_not_mcp_fails_its_call_at_once() {
    let script = temp_path("broken.py");
    std::fs::write(&script, BROKEN_BACKEND).unwrap();
    let config = temp_path("gateway.yaml");
    std::fs::write(
        &config,
        format!(
            "capabilities:\n  enabled: false\nbackends:\n  broken:\n    command: python3\n    args: [{:?}]\n    timeout: 120s\n",
            script
        ),
    )
    .unwrap();
    let mut peer = StdioPeer::spawn(
        &gateway_bin(),
        &["serve", "--config", config.to_str().unwrap()],
        &[("MCP_GATEWAY_LOG", "debug,rmcp=warn")],
    );
    peer.initialize();
    // A call waits for a starting backend; the answer must not be the 120 s timeout.
    let result = peer.call_ok(
        "tools/call",
        json!({"name": "gateway_invoke", "arguments": {"server": "broken", "tool": "odd", "arguments": {}}}),
        T,
    );
    assert_eq!(result["isError"], true, "{result}");
    assert!(text_of(&result).contains("not valid MCP"), "{result}");
    let _ = std::fs::remove_file(&config);
}
