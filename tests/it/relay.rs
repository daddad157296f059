//! A backend's requests to the client — sampling, elicitation, roots — through the gateway.
//!
//! The Python `mcp` SDK client (legacy initialize mode, real callbacks) drives real servers:
//! server-everything's trigger-* and get-roots-list tools, server-filesystem started without
//! directories, and two fixture backends asking for sampling at once
//! (tests/interop/relay_client.py). The raw JSON-RPC peer checks what backends are told the
//! client can do, and the explicit errors when the client cannot serve a request.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use serde_json::{Value, json};

use crate::interop::peers_python;
use crate::proxy::wait_ready;
use crate::support::{
    StdioPeer, fixture_server_path, gateway_bin, read_jsonl, temp_path, wait_for_log,
};

const T: Duration = Duration::from_secs(30);

fn repo() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

fn run_relay_client(surface: &str, era: &str) {
    let peers = repo().join("tests/peers");
    assert!(
        peers.join("node_modules/@modelcontextprotocol").is_dir(),
        "npm test peers missing: run tests/peers/install.sh"
    );
    // Real directories (server-filesystem checks them), canonical (it reports real paths).
    let root_a = temp_path("root-a");
    let root_b = temp_path("root-b");
    std::fs::create_dir_all(&root_a).unwrap();
    std::fs::create_dir_all(&root_b).unwrap();
    let (root_a, root_b) = (
        root_a.canonicalize().unwrap(),
        root_b.canonicalize().unwrap(),
    );
    let config = temp_path("relay.yaml");
    let fixture = fixture_server_path();
    std::fs::write(
        &config,
        format!(
            "mode: {surface}\nbackends:\n\
             \x20 everything:\n    command: npx\n    args: [\"--no-install\", \"@modelcontextprotocol/server-everything\"]\n    cwd: {peers:?}\n\
             \x20 filesystem:\n    command: npx\n    args: [\"--no-install\", \"@modelcontextprotocol/server-filesystem\"]\n    cwd: {peers:?}\n\
             \x20 fa:\n    command: {fixture:?}\n\
             \x20 fb:\n    command: {fixture:?}\n",
        ),
    )
    .unwrap();
    let out = Command::new(peers_python())
        .arg(repo().join("tests/interop/relay_client.py"))
        .args([gateway_bin().as_os_str(), config.as_os_str()])
        .arg(surface)
        .args([&root_a, &root_b])
        .arg(era)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    eprintln!("relay client ({surface}, {era}): {stdout}");
    assert!(out.status.success(), "relay client failed:\n{stderr}");
    assert!(stdout.contains("\"ok\": true"), "{stdout}");
    for dir in [&root_a, &root_b] {
        let _ = std::fs::remove_dir_all(dir);
    }
    let _ = std::fs::remove_file(&config);
}

#[test]
fn python_sdk_sampling_elicitation_and_roots_through_meta_tools() {
    run_relay_client("meta", "legacy");
}

#[test]
fn python_sdk_sampling_elicitation_and_roots_through_flat_mode() {
    run_relay_client("flat", "legacy");
}

/// The same requests from a 2026-07-28 client, which the SDK answers round by round: each
/// backend request reaches it inside an `InputRequiredResult`, and its retries resume the
/// parked backend calls (two at once included).
#[test]
fn python_sdk_2026_client_answers_backend_requests_in_input_required_rounds() {
    run_relay_client("meta", "modern");
}

/// The gateway serving one fixture backend `fx` that logs to `log`.
fn fixture_gateway(log: &Path) -> (StdioPeer, PathBuf) {
    let config = temp_path("relay-fixture.yaml");
    std::fs::write(
        &config,
        format!(
            "backends:\n  fx:\n    command: {:?}\n    env:\n      FIXTURE_LOG: {log:?}\n",
            fixture_server_path()
        ),
    )
    .unwrap();
    let gw = StdioPeer::spawn(
        &gateway_bin(),
        &["serve", "--config", config.to_str().unwrap()],
        &[],
    );
    (gw, config)
}

fn invoke(gw: &mut StdioPeer, tool: &str, args: Value) -> Value {
    gw.call_ok(
        "tools/call",
        json!({"name": "gateway_invoke", "arguments": {"server": "fx", "tool": tool, "arguments": args}}),
        T,
    )
}

fn text(result: &Value) -> String {
    result["content"][0]["text"]
        .as_str()
        .unwrap_or_default()
        .to_owned()
}

/// What the backend was told the client can do, by its latest `initialized` log entry.
fn declared(log: &Path) -> Value {
    read_jsonl(log)
        .into_iter()
        .rev()
        .find(|e| e["event"] == "initialized")
        .map(|e| e["capabilities"].clone())
        .unwrap_or(Value::Null)
}

#[test]
fn backends_are_told_exactly_what_the_client_declared() {
    let log = temp_path("relay-declared.jsonl");
    let (mut gw, config) = fixture_gateway(&log);
    let caps = json!({
        "sampling": {"tools": {}},
        "elicitation": {"form": {}},
        "roots": {"listChanged": true},
        "experimental": {"gateway-must-not-pass-this": {}},
    });
    gw.initialize_with(caps);
    wait_ready(&mut gw, "fx");
    assert_eq!(
        declared(&log),
        json!({"sampling": {"tools": {}}, "elicitation": {"form": {}}, "roots": {"listChanged": true}})
    );
    // Relayed both ways: the client's answer reaches the backend.
    gw.set_request_handler(|method, params| match method {
        "sampling/createMessage" => Ok(json!({
            "role": "assistant",
            "content": {"type": "text", "text": format!("seen {}", params["messages"][0]["content"]["text"])},
            "model": "m",
        })),
        "roots/list" => Ok(json!({"roots": [{"uri": "file:///srv/project", "name": "project"}]})),
        other => Err((-32601, format!("no {other}"))),
    });
    let sampled = invoke(&mut gw, "sample", json!({"prompt": "ping"}));
    assert!(text(&sampled).contains("seen \\\"ping\\\""), "{sampled}");
    let roots = invoke(&mut gw, "roots", json!({}));
    assert!(text(&roots).contains("file:///srv/project"), "{roots}");
    // roots/list_changed from the client reaches the backend.
    gw.notify("notifications/roots/list_changed", json!({}));
    assert!(
        wait_for_log(&log, T, |e| e["event"] == "roots_list_changed").is_some(),
        "roots/list_changed never reached the backend"
    );
    gw.close_stdin();
    assert!(gw.wait_exit(Duration::from_secs(5)).is_some());
    let _ = std::fs::remove_file(&config);
}

#[test]
fn a_request_the_client_did_not_declare_gets_an_explained_error() {
    let log = temp_path("relay-undeclared.jsonl");
    let (mut gw, config) = fixture_gateway(&log);
    gw.initialize_with(json!({"elicitation": {}}));
    wait_ready(&mut gw, "fx");
    assert_eq!(declared(&log), json!({"elicitation": {}}));
    let sampled = invoke(&mut gw, "sample", json!({"prompt": "ping"}));
    let message = text(&sampled);
    assert!(
        message.contains("did not declare the `sampling` capability"),
        "{sampled}"
    );
    // Not an empty list in place of roots the client never offered.
    let roots = invoke(&mut gw, "roots", json!({}));
    assert!(
        text(&roots).contains("did not declare the `roots` capability"),
        "{roots}"
    );
    // Nothing was sent to the client.
    assert!(
        gw.wait_server_request("sampling/createMessage", Duration::from_millis(200))
            .is_none()
    );
    gw.close_stdin();
    assert!(gw.wait_exit(Duration::from_secs(5)).is_some());
    let _ = std::fs::remove_file(&config);
}

/// A client whose `initialize` comes after the backends started (they start 100 ms after
/// launch at the latest): the backend is reconnected once, declaring what the client has.
#[test]
fn a_late_initialize_reconnects_backends_to_declare_the_client() {
    let log = temp_path("relay-late.jsonl");
    let (mut gw, config) = fixture_gateway(&log);
    assert!(
        wait_for_log(&log, T, |e| e["event"] == "initialized").is_some(),
        "the backend did not start before the client's handshake"
    );
    assert_eq!(declared(&log), json!({}));
    gw.initialize_with(json!({"sampling": {}}));
    let deadline = std::time::Instant::now() + T;
    while declared(&log) != json!({"sampling": {}}) {
        assert!(
            std::time::Instant::now() < deadline,
            "never re-declared: {:?}",
            read_jsonl(&log)
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    wait_ready(&mut gw, "fx");
    gw.set_request_handler(|method, _| match method {
        "sampling/createMessage" => Ok(json!({
            "role": "assistant", "content": {"type": "text", "text": "late but here"}, "model": "m",
        })),
        other => Err((-32601, format!("no {other}"))),
    });
    let sampled = invoke(&mut gw, "sample", json!({"prompt": "ping"}));
    assert!(text(&sampled).contains("late but here"), "{sampled}");
    gw.close_stdin();
    assert!(gw.wait_exit(Duration::from_secs(5)).is_some());
    let _ = std::fs::remove_file(&config);
}

/// A 2026-07-28 client takes no server→client requests: a 2025-era backend that asks
/// during its call parks the call, the client gets an `InputRequiredResult` with the
/// request and a sealed `requestState`, and its retry with the answer resumes the same
/// backend call. A state that was altered, belongs to other arguments or was used already
/// is refused, each with its reason.
#[test]
fn a_2026_client_answers_a_backend_request_through_an_input_required_round() {
    let log = temp_path("relay-modern.jsonl");
    let (mut gw, config) = fixture_gateway(&log);
    let meta = json!({
        "io.modelcontextprotocol/protocolVersion": "2026-07-28",
        "io.modelcontextprotocol/clientCapabilities": {"sampling": {}, "roots": {}},
        "io.modelcontextprotocol/clientInfo": {"name": "modern", "version": "1"},
    });
    gw.call_ok("server/discover", json!({"_meta": meta}), T);
    let call = |extra: Value| {
        let mut params = json!({"_meta": meta, "name": "gateway_invoke",
            "arguments": {"server": "fx", "tool": "roots", "arguments": {}}});
        for (k, v) in extra.as_object().unwrap() {
            params[k] = v.clone();
        }
        params
    };
    let deadline = std::time::Instant::now() + T;
    let asked = loop {
        let r = gw.call_ok("tools/call", call(json!({})), T);
        // The backend may still be starting (or reconnecting to declare the client).
        if r["resultType"] == "input_required" || std::time::Instant::now() > deadline {
            break r;
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    assert_eq!(asked["resultType"], "input_required", "{asked}");
    let requests = asked["inputRequests"].as_object().unwrap();
    assert_eq!(requests.len(), 1, "{asked}");
    let (key, request) = requests.iter().next().unwrap();
    assert_eq!(request["method"], "roots/list", "{asked}");
    let state = asked["requestState"].as_str().unwrap().to_owned();
    // Backends were told what the client declared on its first request.
    assert_eq!(declared(&log), json!({"sampling": {}, "roots": {}}));

    let answer =
        json!({key.clone(): {"roots": [{"uri": "file:///work/modern", "name": "modern"}]}});
    let refused = |gw: &mut StdioPeer, params: Value| {
        let r = gw.call("tools/call", params, T);
        assert!(r.get("result").is_none(), "{r}");
        r["error"].clone()
    };
    // Altered: one character of the state changed.
    let mut altered = state.clone().into_bytes();
    let last = altered.len() - 2;
    altered[last] = if altered[last] == b'A' { b'B' } else { b'A' };
    let altered = String::from_utf8(altered).unwrap();
    let e = refused(
        &mut gw,
        call(json!({"inputResponses": answer, "requestState": altered})),
    );
    assert_eq!(e["data"]["reason"], "request_state_invalid", "{e}");
    // Bound to the call: the same state with other arguments.
    let mut other = call(json!({"inputResponses": answer, "requestState": state}));
    other["arguments"]["arguments"] = json!({"extra": 1});
    let e = refused(&mut gw, other);
    assert_eq!(e["data"]["reason"], "request_state_invalid", "{e}");

    // The real retry resumes the parked backend call, which gets the client's roots.
    let done = gw.call_ok(
        "tools/call",
        call(json!({"inputResponses": answer, "requestState": state})),
        T,
    );
    assert_eq!(done["resultType"], "complete", "{done}");
    assert!(text(&done).contains("file:///work/modern"), "{done}");
    // One call at the backend: the retry resumed it rather than calling again.
    let calls = read_jsonl(&log)
        .into_iter()
        .filter(|e| e["event"] == "call" && e["tool"] == "roots")
        .count();
    assert_eq!(calls, 1, "{:?}", read_jsonl(&log));
    // Good for one retry only.
    let e = refused(
        &mut gw,
        call(json!({"inputResponses": answer, "requestState": state})),
    );
    assert_eq!(e["data"]["reason"], "request_state_unknown", "{e}");
    gw.close_stdin();
    assert!(gw.wait_exit(Duration::from_secs(5)).is_some());
    let _ = std::fs::remove_file(&config);
}

/// The client's progress on a relayed request reaches the backend under the backend's own
/// token, and the backend's timeout cancels the request at the client.
#[test]
fn progress_and_timeout_of_a_relayed_request_reach_the_other_side() {
    use std::sync::{Arc, Mutex};

    let log = temp_path("relay-progress.jsonl");
    let (mut gw, config) = fixture_gateway(&log);
    gw.initialize_with(json!({"sampling": {}}));
    wait_ready(&mut gw, "fx");
    let seen: Arc<Mutex<Option<Value>>> = Arc::default();
    let asked = Arc::clone(&seen);
    gw.set_request_handler(move |method, params| {
        if method != "sampling/createMessage" {
            return Err((-32601, format!("no {method}")));
        }
        *asked.lock().unwrap() = Some(params.clone());
        // The client thinks for longer than the backend will wait.
        std::thread::sleep(Duration::from_millis(2000));
        Ok(json!({"role": "assistant", "content": {"type": "text", "text": "too late"}, "model": "m"}))
    });
    let call = gw.request(
        "tools/call",
        json!({"name": "gateway_invoke", "arguments": {"server": "fx", "tool": "sample",
               "arguments": {"prompt": "slow", "timeout_ms": 1000}}}),
    );
    let deadline = std::time::Instant::now() + T;
    let params = loop {
        if let Some(p) = seen.lock().unwrap().clone() {
            break p;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "no sampling request reached the client"
        );
        std::thread::sleep(Duration::from_millis(20));
    };
    let token = params["_meta"]["progressToken"].clone();
    assert!(!token.is_null(), "{params}");
    gw.notify(
        "notifications/progress",
        json!({"progressToken": token, "progress": 1, "total": 4, "message": "thinking"}),
    );
    let step = wait_for_log(&log, T, |e| e["event"] == "progress_in")
        .expect("the client's progress never reached the backend");
    assert_eq!(step["message"], "thinking", "{step}");
    assert_eq!(step["progress"], 1.0, "{step}");
    // Under the token the backend sent, not the one the gateway gave the client.
    let sent = wait_for_log(&log, T, |e| e["event"] == "sample_sent").expect("sample_sent");
    assert_eq!(step["token"], sent["token"], "{step}");
    // The backend gave up after 1 s: the client hears the request was cancelled.
    let cancelled = gw
        .wait_notification("notifications/cancelled", T)
        .expect("the backend's timeout never cancelled the request at the client");
    let request = gw
        .wait_server_request("sampling/createMessage", T)
        .expect("sampling request recorded");
    assert_eq!(
        cancelled["params"]["requestId"], request["id"],
        "{cancelled}"
    );
    let result = gw.wait_response(call, T).expect("the call is answered");
    let text = result["result"]["content"][0]["text"]
        .as_str()
        .unwrap_or_default();
    assert!(text.contains("timeout"), "{result}");
    gw.close_stdin();
    assert!(gw.wait_exit(Duration::from_secs(5)).is_some());
    let _ = std::fs::remove_file(&config);
}

/// Two clients at once, the stdio one and a 2025-era HTTP session: a backend's request goes
/// to the client whose call caused it.
#[test]
fn each_client_gets_the_requests_its_own_calls_cause() {
    let log = temp_path("relay-two-clients.jsonl");
    let config = temp_path("relay-two-clients.yaml");
    std::fs::write(
        &config,
        format!(
            "capabilities: {{ enabled: false }}\nbackends:\n  fixture:\n    command: {:?}\n    env: {{ FIXTURE_LOG: {log:?} }}\n",
            fixture_server_path()
        ),
    )
    .unwrap();
    let (mut stdio, addr) = crate::http::stdio_and_http(&config);
    stdio.initialize_with(json!({"sampling": {}}));
    stdio.set_request_handler(|method, _| match method {
        "sampling/createMessage" => Ok(json!({
            "role": "assistant", "content": {"type": "text", "text": "from the stdio client"}, "model": "m",
        })),
        other => Err((-32601, format!("no {other}"))),
    });
    wait_ready(&mut stdio, "fixture");
    let out = Command::new(peers_python())
        .arg(repo().join("tests/interop/http_sampling.py"))
        .arg(format!("http://{addr}/mcp"))
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "http session failed:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // The stdio client was never asked on the session's behalf.
    assert!(
        stdio.server_requests().is_empty(),
        "{:?}",
        stdio.server_requests()
    );
    let sampled = stdio.call_ok(
        "tools/call",
        json!({"name": "gateway_invoke", "arguments": {"server": "fixture", "tool": "sample", "arguments": {"prompt": "asked over stdio"}}}),
        T,
    );
    assert!(
        text(&sampled).contains("from the stdio client"),
        "{sampled}"
    );
    stdio.close_stdin();
    assert!(stdio.wait_exit(Duration::from_secs(5)).is_some());
    let _ = std::fs::remove_file(&config);
}
