//! Smoke tests of the test infrastructure itself: the fixture server (`fixtures/`) driven
//! directly by the raw `StdioPeer` client (`tests/support/`). If these fail, gateway
//! integration tests built on them can't be trusted.

use std::time::{Duration, Instant};

use crate::support::{StdioPeer, fixture_server_path, read_jsonl, temp_path, wait_for_log};
use serde_json::{Value, json};

const T: Duration = Duration::from_secs(10);

fn start(envs: &[(&str, &str)]) -> StdioPeer {
    let mut peer = StdioPeer::spawn(&fixture_server_path(), &[], envs);
    peer.initialize();
    peer
}

fn call_tool(peer: &mut StdioPeer, name: &str, args: Value) -> Value {
    peer.call_ok("tools/call", json!({"name": name, "arguments": args}), T)
}

#[test]
fn initialize_reports_identity_and_capabilities() {
    let mut peer = StdioPeer::spawn(&fixture_server_path(), &[], &[("FIXTURE_NAME", "alpha")]);
    let init = peer.initialize();
    assert_eq!(init["protocolVersion"], "2025-11-25");
    assert_eq!(init["serverInfo"]["name"], "alpha");
    assert_eq!(init["capabilities"]["tools"]["listChanged"], true);
    assert!(init["instructions"].as_str().unwrap().contains("alpha"));
    assert!(peer.stdout_garbage().is_empty());
}

#[test]
fn lists_all_tools_with_schemas() {
    let mut peer = start(&[]);
    let list = peer.call_ok("tools/list", json!({}), T);
    let tools = list["tools"].as_array().unwrap();
    let names: Vec<&str> = tools.iter().map(|t| t["name"].as_str().unwrap()).collect();
    for want in [
        "echo",
        "sleep",
        "progress",
        "crash",
        "fail",
        "structured",
        "image",
        "add_tool",
        "big",
    ] {
        assert!(names.contains(&want), "{want} missing from {names:?}");
    }
    for t in tools {
        assert_eq!(t["inputSchema"]["type"], "object", "{t}");
    }
    let structured = tools.iter().find(|t| t["name"] == "structured").unwrap();
    assert_eq!(structured["outputSchema"]["type"], "object");
}

#[test]
fn content_kinds() {
    let mut peer = start(&[]);

    let echo = call_tool(&mut peer, "echo", json!({"text": "hi there"}));
    assert_eq!(
        echo["content"],
        json!([{"type": "text", "text": "hi there"}])
    );
    assert_eq!(echo["isError"], false);

    let s = call_tool(&mut peer, "structured", json!({"value": {"a": [1, 2]}}));
    let want = json!({"value": {"a": [1, 2]}, "kind": "fixture"});
    assert_eq!(s["structuredContent"], want);
    let text: Value = serde_json::from_str(s["content"][0]["text"].as_str().unwrap()).unwrap();
    assert_eq!(text, want);

    let img = call_tool(&mut peer, "image", json!({}));
    assert_eq!(img["content"][0]["type"], "image");
    assert_eq!(img["content"][0]["mimeType"], "image/png");
    assert!(
        img["content"][0]["data"]
            .as_str()
            .unwrap()
            .starts_with("iVBORw0KGgo")
    );
    assert_eq!(img["content"][1]["type"], "text");

    let big = call_tool(&mut peer, "big", json!({"kb": 300}));
    assert_eq!(
        big["content"][0]["text"].as_str().unwrap().len(),
        300 * 1024
    );
}

#[test]
fn fail_is_a_tool_error_and_unknown_tool_a_protocol_error() {
    let mut peer = start(&[]);
    let fail = call_tool(&mut peer, "fail", json!({}));
    assert_eq!(fail["isError"], true);
    assert_eq!(fail["content"][0]["text"], "fixture failure");

    let bad = call_tool(&mut peer, "echo", json!({}));
    assert_eq!(bad["isError"], true);

    let unknown = peer.call("tools/call", json!({"name": "nope", "arguments": {}}), T);
    assert_eq!(unknown["error"]["code"], -32602);
}

#[test]
fn progress_notifications_carry_the_token() {
    let log = temp_path("progress.jsonl");
    let mut peer = start(&[("FIXTURE_LOG", log.to_str().unwrap())]);
    let params = json!({
        "name": "progress",
        "arguments": {"steps": 3, "interval_ms": 20},
        "_meta": {"progressToken": "tok-7"},
    });
    let result = peer.call_ok("tools/call", params, T);
    assert_eq!(result["content"][0]["text"], "done");

    let progress = peer.notifications_of("notifications/progress");
    assert_eq!(progress.len(), 3, "{progress:?}");
    for (i, n) in progress.iter().enumerate() {
        let p = &n["params"];
        assert_eq!(p["progressToken"], "tok-7");
        assert_eq!(p["progress"].as_f64(), Some((i + 1) as f64));
        assert_eq!(p["total"].as_f64(), Some(3.0));
        assert_eq!(p["message"], format!("step {}", i + 1));
    }
    let seen = read_jsonl(&log);
    assert!(
        seen.contains(&json!({"event": "progress_token", "tool": "progress", "token": "tok-7"})),
        "{seen:?}"
    );
    std::fs::remove_file(&log).ok();
}

#[test]
fn cancellation_is_logged_and_suppresses_the_response() {
    let log = temp_path("cancel.jsonl");
    let mut peer = start(&[("FIXTURE_LOG", log.to_str().unwrap())]);
    let id = peer.request(
        "tools/call",
        json!({"name": "sleep", "arguments": {"ms": 10_000}}),
    );
    // Cancel only once the tool is running, otherwise the race is the test's, not the server's.
    wait_for_log(&log, T, |e| e["event"] == "call" && e["tool"] == "sleep")
        .expect("sleep never started");
    peer.notify(
        "notifications/cancelled",
        json!({"requestId": id, "reason": "test"}),
    );

    let cancelled =
        wait_for_log(&log, T, |e| e["event"] == "cancelled").expect("no cancelled event");
    assert_eq!(cancelled["request_id"], id);
    assert_eq!(cancelled["reason"], "test");
    wait_for_log(&log, T, |e| {
        e["event"] == "tool_cancelled" && e["request_id"] == id
    })
    .expect("tool did not observe its cancellation");
    // The spec says a cancelled request gets no response.
    assert_eq!(peer.wait_response(id, Duration::from_millis(300)), None);
    // And the server is still fine.
    let echo = call_tool(&mut peer, "echo", json!({"text": "after"}));
    assert_eq!(echo["content"][0]["text"], "after");
    std::fs::remove_file(&log).ok();
}

#[test]
fn sleep_answers_after_the_delay() {
    let mut peer = start(&[]);
    let t0 = Instant::now();
    let r = call_tool(&mut peer, "sleep", json!({"ms": 200}));
    assert_eq!(r["content"][0]["text"], "slept 200");
    assert!(t0.elapsed() >= Duration::from_millis(200));
}

#[test]
fn add_tool_changes_the_list_and_notifies() {
    let mut peer = start(&[]);
    assert!(!peer.tool_names().contains(&"zeta".to_owned()));
    call_tool(&mut peer, "add_tool", json!({"name": "zeta"}));
    peer.wait_notification("notifications/tools/list_changed", T)
        .expect("no list_changed notification");
    assert!(peer.tool_names().contains(&"zeta".to_owned()));
    let r = call_tool(&mut peer, "zeta", json!({}));
    assert_eq!(r["content"][0]["text"], "dynamic zeta");
}

#[test]
fn crash_exits_without_answering() {
    let mut peer = start(&[]);
    let id = peer.request("tools/call", json!({"name": "crash", "arguments": {}}));
    let status = peer.wait_exit(T).expect("fixture did not exit");
    assert_eq!(status.code(), Some(3));
    assert_eq!(peer.wait_response(id, Duration::from_millis(100)), None);
}

#[test]
fn start_delay_is_honoured() {
    let t0 = Instant::now();
    let _peer = start(&[("FIXTURE_START_DELAY_MS", "500")]);
    assert!(
        t0.elapsed() >= Duration::from_millis(500),
        "{:?}",
        t0.elapsed()
    );
}

#[test]
fn exits_when_stdin_closes() {
    let log = temp_path("init.jsonl");
    let mut peer = start(&[("FIXTURE_LOG", log.to_str().unwrap())]);
    // The initialized notification is logged with the client's identity.
    let init =
        wait_for_log(&log, T, |e| e["event"] == "initialized").expect("no initialized event");
    assert_eq!(init["client_info"]["name"], "stdio-peer-test");
    peer.close_stdin();
    let status = peer
        .wait_exit(Duration::from_secs(2))
        .expect("fixture still running 2 s after EOF");
    assert!(status.success(), "{status:?}");
    std::fs::remove_file(&log).ok();
}

#[test]
fn exits_when_stdin_closes_before_initialize() {
    let mut peer = StdioPeer::spawn(&fixture_server_path(), &[], &[]);
    peer.close_stdin();
    let status = peer
        .wait_exit(Duration::from_secs(2))
        .expect("fixture still running 2 s after EOF");
    assert!(status.success(), "{status:?}");
}

#[test]
fn server_requests_are_answered_by_the_peer() {
    let mut peer = start(&[]);
    // Default handler: roots/list gets an empty list without the test doing anything.
    let r = call_tool(&mut peer, "roots", json!({}));
    let roots: Value = serde_json::from_str(r["content"][0]["text"].as_str().unwrap()).unwrap();
    assert_eq!(roots, json!({"roots": []}));
    assert!(peer.wait_server_request("roots/list", T).is_some());

    // Unhandled methods get -32601, which the fixture reports as a tool error.
    let r = call_tool(&mut peer, "sample", json!({"prompt": "hi"}));
    assert_eq!(r["isError"], true, "{r}");

    // A custom handler can answer sampling.
    peer.set_request_handler(|method, params| match method {
        "sampling/createMessage" => Ok(json!({
            "model": "test-model",
            "role": "assistant",
            "content": {"type": "text", "text": format!("echo: {}", params["messages"][0]["content"]["text"])},
        })),
        other => Err((-32601, other.to_owned())),
    });
    let r = call_tool(&mut peer, "sample", json!({"prompt": "hi"}));
    let result: Value = serde_json::from_str(r["content"][0]["text"].as_str().unwrap()).unwrap();
    assert_eq!(result["model"], "test-model");
    assert_eq!(result["content"]["text"], "echo: \"hi\"");
}

#[test]
fn client_ping_works() {
    let mut peer = start(&[]);
    let pong = peer.call_ok("ping", json!({}), T);
    assert_eq!(pong, json!({}));
}
