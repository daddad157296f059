//! Everything beyond tools, through the gateway, against the real server-everything
//! (node, from tests/peers): resources (paged lists, templates, reads of listed,
//! template-expanded and tool-linked URIs), prompts, completion and logging — each
//! compared with what a direct connection to the same server returns.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::support::{StdioPeer, gateway_bin, temp_path};

const T: Duration = Duration::from_secs(30);

pub(crate) fn everything_js() -> PathBuf {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/peers/node_modules/@modelcontextprotocol/server-everything/dist/index.js");
    assert!(
        path.is_file(),
        "{} is missing: run tests/peers/install.sh",
        path.display()
    );
    path
}

fn direct() -> StdioPeer {
    let mut peer = StdioPeer::spawn(Path::new("node"), &[everything_js().to_str().unwrap()], &[]);
    peer.initialize();
    peer
}

/// The gateway serving server-everything as `everything`, ready.
fn gateway(mode: &str) -> (StdioPeer, PathBuf, Value) {
    let config = temp_path("proxy.yaml");
    std::fs::write(
        &config,
        format!(
            "mode: {mode}\nbackends:\n  everything:\n    command: node\n    args: [{:?}]\n",
            everything_js()
        ),
    )
    .unwrap();
    let mut gw = StdioPeer::spawn(
        &gateway_bin(),
        &["serve", "--config", config.to_str().unwrap()],
        &[],
    );
    let init = gw.initialize();
    wait_ready(&mut gw, "everything");
    (gw, config, init)
}

pub fn wait_ready(gw: &mut StdioPeer, name: &str) {
    let deadline = Instant::now() + T;
    loop {
        let listed = gw.call_ok(
            "tools/call",
            json!({"name": "gateway_list_servers", "arguments": {}}),
            T,
        );
        let row = listed["structuredContent"]["servers"]
            .as_array()
            .unwrap()
            .iter()
            .find(|s| s["name"] == name)
            .cloned()
            .unwrap();
        assert_ne!(row["state"], "failed", "{row}");
        if row["state"] == "ready" {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "{name} never became ready: {row}"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// Every item of a paged list, following `nextCursor`.
fn all_pages(peer: &mut StdioPeer, method: &str, key: &str) -> Vec<Value> {
    let mut items = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let params = match &cursor {
            Some(c) => json!({"cursor": c}),
            None => json!({}),
        };
        let page = peer.call_ok(method, params, T);
        items.extend(page[key].as_array().unwrap().iter().cloned());
        match page["nextCursor"].as_str() {
            Some(next) => cursor = Some(next.to_owned()),
            None => return items,
        }
    }
}

/// `value` with every `field` (at any depth) that holds a string passed through `f`.
fn map_field(value: &Value, field: &str, f: &dyn Fn(&str) -> String) -> Value {
    match value {
        Value::Object(map) => Value::Object(
            map.iter()
                .map(|(k, v)| match (k == field, v) {
                    (true, Value::String(s)) => (k.clone(), Value::String(f(s))),
                    _ => (k.clone(), map_field(v, field, f)),
                })
                .collect(),
        ),
        Value::Array(items) => Value::Array(items.iter().map(|v| map_field(v, field, f)).collect()),
        other => other.clone(),
    }
}

/// `text` up to when it says it was made: dynamic resources carry the time of the read, so
/// a read through the gateway and a direct one may differ there by a second.
fn made(text: &str) -> String {
    text.split(" created at ").next().unwrap_or(text).to_owned()
}

fn ns(uri: &str) -> String {
    format!("everything+{uri}")
}

fn check_everything(mode: &str) {
    let mut own = direct();
    let (mut gw, config, init) = gateway(mode);

    // The client is told what the backends offer.
    let caps = &init["capabilities"];
    for cap in ["resources", "prompts", "completions", "logging"] {
        assert!(caps.get(cap).is_some(), "{cap} not declared: {init}");
    }

    // Lists: the backend's, with URIs namespaced.
    let want = all_pages(&mut own, "resources/list", "resources");
    let got = all_pages(&mut gw, "resources/list", "resources");
    assert!(!got.is_empty());
    assert_eq!(
        got,
        map_field(&Value::Array(want), "uri", &ns)
            .as_array()
            .unwrap()
            .clone()
    );
    let want = all_pages(&mut own, "resources/templates/list", "resourceTemplates");
    let got = all_pages(&mut gw, "resources/templates/list", "resourceTemplates");
    assert!(!got.is_empty());
    assert_eq!(
        Value::Array(got),
        map_field(&Value::Array(want), "uriTemplate", &ns)
    );

    // Reads: a listed resource and a template-expanded one, same contents as direct.
    for uri in [
        "demo://resource/static/document/architecture.md",
        "demo://resource/dynamic/text/3",
    ] {
        let want = own.call_ok("resources/read", json!({"uri": uri}), T);
        let got = gw.call_ok("resources/read", json!({"uri": ns(uri)}), T);
        assert_eq!(
            map_field(&got, "text", &made),
            map_field(&map_field(&want, "uri", &ns), "text", &made),
            "{uri}"
        );
    }

    // A resource_link from a tool result reads back through the gateway.
    let linked = gw.call_ok(
        "tools/call",
        json!({"name": "gateway_invoke", "arguments": {"server": "everything", "tool": "get-resource-links", "arguments": {"count": 2}}}),
        T,
    );
    let link = linked["content"]
        .as_array()
        .unwrap()
        .iter()
        .find(|b| b["type"] == "resource_link")
        .cloned()
        .unwrap_or_else(|| panic!("no resource_link: {linked}"));
    let uri = link["uri"].as_str().unwrap();
    assert!(uri.starts_with("everything+demo://"), "{link}");
    let read = gw.call_ok("resources/read", json!({"uri": uri}), T);
    assert_eq!(read["contents"][0]["uri"], uri, "{read}");

    // An unknown prefix is an error, never a guess; the gateway keeps serving.
    let unknown = gw.call("resources/read", json!({"uri": "nobody+demo://x"}), T);
    assert_eq!(unknown["error"]["code"], -32002, "{unknown}");
    let bare = gw.call(
        "resources/read",
        json!({"uri": "demo://resource/dynamic/text/3"}),
        T,
    );
    assert!(bare.get("error").is_some(), "{bare}");
    gw.call_ok("ping", json!({}), T);

    // Prompts: namespaced names, fetched with arguments, same messages as direct.
    let listed = gw.call_ok("prompts/list", json!({}), T);
    let names: Vec<&str> = listed["prompts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["name"].as_str().unwrap())
        .collect();
    assert!(names.contains(&"everything__args-prompt"), "{listed}");
    let args = json!({"city": "Paris", "state": "TX"});
    let want = own.call_ok(
        "prompts/get",
        json!({"name": "args-prompt", "arguments": args}),
        T,
    );
    let got = gw.call_ok(
        "prompts/get",
        json!({"name": "everything__args-prompt", "arguments": args}),
        T,
    );
    assert_eq!(got, want);
    let want = own.call_ok(
        "prompts/get",
        json!({"name": "resource-prompt", "arguments": {"resourceType": "Text", "resourceId": "2"}}),
        T,
    );
    let got = gw.call_ok(
        "prompts/get",
        json!({"name": "everything__resource-prompt", "arguments": {"resourceType": "Text", "resourceId": "2"}}),
        T,
    );
    assert_eq!(
        map_field(&got, "text", &made),
        map_field(&map_field(&want, "uri", &ns), "text", &made)
    );
    let missing = gw.call(
        "prompts/get",
        json!({"name": "everything__args-prompts"}),
        T,
    );
    assert_eq!(missing["error"]["code"], -32602, "{missing}");
    let message = missing["error"]["message"].as_str().unwrap();
    assert!(message.contains("everything__args-prompt"), "{message}");

    // Completion: prompt arguments and template variables, same values as direct.
    let want = own.call_ok(
        "completion/complete",
        json!({"ref": {"type": "ref/prompt", "name": "completable-prompt"}, "argument": {"name": "department", "value": "E"}}),
        T,
    );
    let got = gw.call_ok(
        "completion/complete",
        json!({"ref": {"type": "ref/prompt", "name": "everything__completable-prompt"}, "argument": {"name": "department", "value": "E"}}),
        T,
    );
    assert_eq!(got, want);
    assert!(!got["completion"]["values"].as_array().unwrap().is_empty());
    let template = "demo://resource/dynamic/text/{resourceId}";
    let want = own.call_ok(
        "completion/complete",
        json!({"ref": {"type": "ref/resource", "uri": template}, "argument": {"name": "resourceId", "value": "1"}}),
        T,
    );
    let got = gw.call_ok(
        "completion/complete",
        json!({"ref": {"type": "ref/resource", "uri": ns(template)}, "argument": {"name": "resourceId", "value": "1"}}),
        T,
    );
    assert_eq!(got, want);

    // The backend's instructions are kept, in full where an agent looks, summed up in
    // the gateway's own.
    let servers = gw.call_ok(
        "tools/call",
        json!({"name": "gateway_list_servers", "arguments": {}}),
        T,
    );
    let row = servers["structuredContent"]["servers"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["name"] == "everything")
        .cloned()
        .unwrap();
    let own_instructions = row["instructions"].as_str().unwrap_or_default();
    assert!(own_instructions.contains("Everything Server"), "{row}");
    let meta = json!({"_meta": {
        "io.modelcontextprotocol/protocolVersion": "2026-07-28",
        "io.modelcontextprotocol/clientCapabilities": {},
    }});
    let discovered = gw.call_ok("server/discover", meta, T);
    let summary = discovered["instructions"].as_str().unwrap_or_default();
    assert!(
        summary.contains("- everything: Everything Server"),
        "{discovered}"
    );

    gw.close_stdin();
    own.close_stdin();
    assert!(gw.wait_exit(Duration::from_secs(5)).is_some());
    let _ = std::fs::remove_file(&config);
}

#[test]
fn resources_prompts_and_completion_pass_through_in_meta_mode() {
    check_everything("meta");
}

#[test]
fn resources_prompts_and_completion_pass_through_in_flat_mode() {
    check_everything("flat");
}

#[test]
fn backend_log_messages_reach_the_client_with_the_backend_named() {
    let (mut gw, config, _) = gateway("meta");
    gw.call_ok("logging/setLevel", json!({"level": "debug"}), T);
    gw.call_ok(
        "tools/call",
        json!({"name": "gateway_invoke", "arguments": {"server": "everything", "tool": "toggle-simulated-logging"}}),
        T,
    );
    let log = gw
        .wait_notification("notifications/message", T)
        .expect("a log message from server-everything");
    let logger = log["params"]["logger"].as_str().unwrap_or_default();
    assert!(
        logger == "everything" || logger.starts_with("everything/"),
        "{log}"
    );
    gw.close_stdin();
    assert!(gw.wait_exit(Duration::from_secs(5)).is_some());
    let _ = std::fs::remove_file(&config);
}

/// A 2026-07-28 client has no `logging/setLevel`: a tool call that carries
/// `io.modelcontextprotocol/logLevel` sets the called backend to that level and hears its log
/// lines at or above it while the call runs; a call that does not opt in hears none.
#[test]
fn a_2026_call_that_opts_in_hears_its_backends_log_lines() {
    let log = temp_path("logs-2026.jsonl");
    let config = temp_path("logs-2026.yaml");
    std::fs::write(
        &config,
        format!(
            "backends:\n  fx:\n    command: {:?}\n    env:\n      FIXTURE_LOGGING: \"1\"\n      FIXTURE_LOG: {log:?}\n",
            crate::support::fixture_server_path()
        ),
    )
    .unwrap();
    let mut gw = StdioPeer::spawn(
        &gateway_bin(),
        &["serve", "--config", config.to_str().unwrap()],
        &[],
    );
    let meta = |level: Option<&str>| {
        let mut meta = json!({
            "io.modelcontextprotocol/protocolVersion": "2026-07-28",
            "io.modelcontextprotocol/clientCapabilities": {},
            "io.modelcontextprotocol/clientInfo": {"name": "modern", "version": "1"},
        });
        if let Some(level) = level {
            meta["io.modelcontextprotocol/logLevel"] = json!(level);
        }
        meta
    };
    // Ready first: a backend still starting is set to the level on the next call.
    let deadline = Instant::now() + T;
    loop {
        let listed = gw.call_ok(
            "tools/call",
            json!({"_meta": meta(None), "name": "gateway_list_servers", "arguments": {}}),
            T,
        );
        if listed["structuredContent"]["servers"][0]["state"] == "ready" {
            break;
        }
        assert!(Instant::now() < deadline, "{listed}");
        std::thread::sleep(Duration::from_millis(100));
    }
    let log_line = |gw: &mut StdioPeer, opt_in: Option<&str>, level: &str, text: &str| {
        let r = gw.call_ok(
            "tools/call",
            json!({"_meta": meta(opt_in), "name": "gateway_invoke", "arguments": {"server": "fx", "tool": "log", "arguments": {"level": level, "text": text}}}),
            T,
        );
        assert_eq!(r["content"][0]["text"], "logged: true", "{r}");
    };
    let heard = |gw: &StdioPeer, text: &str| {
        gw.notifications_of("notifications/message")
            .into_iter()
            .filter(|n| n["params"]["data"] == text)
            .collect::<Vec<_>>()
    };
    log_line(&mut gw, Some("info"), "warning", "loud enough");
    let loud = heard(&gw, "loud enough");
    assert_eq!(loud.len(), 1, "{:?}", gw.notifications());
    assert_eq!(loud[0]["params"]["logger"], "fx/fixture", "{loud:?}");
    assert_eq!(loud[0]["params"]["level"], "warning", "{loud:?}");
    let set: Vec<Value> = crate::support::read_jsonl(&log)
        .into_iter()
        .filter(|e| e["event"] == "set_level")
        .collect();
    assert_eq!(
        set.last().map(|e| e["level"].clone()),
        Some(json!("info")),
        "{set:?}"
    );
    // Below the level, and a call that did not opt in: nothing.
    log_line(&mut gw, Some("info"), "debug", "too quiet");
    log_line(&mut gw, None, "error", "not asked for");
    gw.drain_for(Duration::from_millis(300));
    assert!(
        heard(&gw, "too quiet").is_empty(),
        "{:?}",
        gw.notifications()
    );
    assert!(
        heard(&gw, "not asked for").is_empty(),
        "{:?}",
        gw.notifications()
    );
    gw.close_stdin();
    assert!(gw.wait_exit(Duration::from_secs(5)).is_some());
    let _ = std::fs::remove_file(&config);
}
