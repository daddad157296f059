//! `policy:` in gateway.yaml, through the real binary and the fixture backend: denied tools
//! are hidden from lists and search and refused on call; destructive tools ask the user
//! through `elicitation/create`, and nothing reaches the backend without a yes.

use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::{Value, json};

use crate::support::{
    StdioPeer, fixture_server_path, gateway_bin, read_jsonl, temp_path, wait_for_log,
};

const T: Duration = Duration::from_secs(20);

struct Gw {
    peer: StdioPeer,
    log: PathBuf,
}

impl Gw {
    /// The gateway with the fixture as backend `fx` and `extra` config appended.
    fn start(extra: &str) -> Gw {
        let log = temp_path("policy-fixture.jsonl");
        let config = temp_path("policy-gateway.yaml");
        let yaml = format!(
            "backends:\n  fx:\n    command: {:?}\n    env: {{ FIXTURE_LOG: {:?} }}\n\
             search: {{ model: \"off\" }}\n{extra}",
            fixture_server_path().to_str().unwrap(),
            log.to_str().unwrap(),
        );
        std::fs::write(&config, yaml).unwrap();
        let peer = StdioPeer::spawn(
            &gateway_bin(),
            &["serve", "--config", config.to_str().unwrap()],
            &[("MCP_GATEWAY_LOG", "info,rmcp=warn")],
        );
        Gw { peer, log }
    }

    /// Waits until the backend is ready (flat names exist only then).
    fn ready(&mut self) {
        let out = self.tool(
            "gateway_invoke",
            json!({"server": "fx", "tool": "echo", "arguments": {"text": "up"}}),
        );
        assert_eq!(text_of(&out), "up", "{out}");
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

    /// The calls the fixture saw, by tool name, after an `echo` marker call has landed
    /// (so any call made before it has been logged too).
    fn backend_calls(&mut self, marker: &str) -> Vec<String> {
        let out = self.invoke("echo", json!({"text": marker}));
        assert_eq!(text_of(&out), marker, "{out}");
        wait_for_log(&self.log, T, |e| e["args"]["text"] == marker).expect("marker call");
        read_jsonl(&self.log)
            .into_iter()
            .filter(|e| e["event"] == "call")
            .map(|e| e["tool"].as_str().unwrap_or("").to_owned())
            .collect()
    }
}

fn text_of(result: &Value) -> String {
    result["content"][0]["text"]
        .as_str()
        .unwrap_or("")
        .to_owned()
}

fn names(listed: &Value) -> Vec<String> {
    listed["structuredContent"]["tools"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["name"].as_str().unwrap().to_owned())
        .collect()
}

#[test]
fn denied_tools_are_hidden_from_lists_and_search_and_refused() {
    let mut gw = Gw::start(
        "policy:\n  rules:\n    - deny: { server: fx, tool: getenv }\n    \
         - deny: { server: \"f*\", annotations: { destructiveHint: true } }\n",
    );
    gw.peer.initialize();
    gw.ready();

    let all = gw.tool("gateway_list_tools", json!({}));
    let listed = names(&all);
    assert!(listed.contains(&"echo".to_owned()), "{all}");
    assert!(!listed.contains(&"getenv".to_owned()), "{all}");
    assert!(!listed.contains(&"delete_item".to_owned()), "{all}");
    let one = names(&gw.tool("gateway_list_tools", json!({"server": "fx"})));
    assert!(one.contains(&"echo".to_owned()) && !one.contains(&"getenv".to_owned()));
    assert!(!one.contains(&"delete_item".to_owned()), "{one:?}");

    let row = gw.tool("gateway_list_servers", json!({}))["structuredContent"]["servers"][0].clone();
    assert_eq!(row["hidden_by_policy"], 2, "{row}");

    for query in [
        "environment variable value getenv",
        "delete item",
        "returns text",
    ] {
        let found = gw.tool("gateway_search_tools", json!({"query": query, "limit": 50}));
        let hits: Vec<&str> = found["structuredContent"]["matches"]
            .as_array()
            .unwrap()
            .iter()
            .map(|m| m["tool"].as_str().unwrap())
            .collect();
        assert!(
            !hits.contains(&"getenv") && !hits.contains(&"delete_item"),
            "{found}"
        );
        if query == "returns text" {
            assert!(hits.len() > 3, "the other tools are still found: {found}");
        }
    }

    let refused = gw.invoke("getenv", json!({"name": "HOME"}));
    assert_eq!(refused["isError"], true, "{refused}");
    let why = text_of(&refused);
    assert!(
        why.contains("policy rule 1") && why.contains("tool: \"getenv\""),
        "{why}"
    );
    let refused = gw.invoke("delete_item", json!({"id": "1"}));
    assert!(text_of(&refused).contains("policy rule 2"), "{refused}");

    let calls = gw.backend_calls("after-denied");
    assert!(
        !calls.iter().any(|c| c == "getenv" || c == "delete_item"),
        "{calls:?}"
    );
}

#[test]
fn allow_list_mode_in_flat_mode() {
    let mut gw = Gw::start(
        "mode: flat\npolicy:\n  default: deny\n  rules:\n    - allow: { server: fx, tool: \"{echo,sleep}\" }\n",
    );
    gw.peer.initialize();
    gw.ready();
    assert_eq!(text_of(&gw.tool("fx__echo", json!({"text": "hi"}))), "hi");
    let listed = gw.peer.tool_names();
    assert!(listed.contains(&"fx__echo".to_owned()) && listed.contains(&"fx__sleep".to_owned()));
    assert!(
        !listed.iter().any(|n| n == "fx__getenv" || n == "fx__fail"),
        "{listed:?}"
    );
    let refused = gw.tool("fx__getenv", json!({"name": "HOME"}));
    assert_eq!(refused["isError"], true, "{refused}");
    assert!(
        text_of(&refused).contains("policy.default: deny"),
        "{refused}"
    );
    assert!(!gw.backend_calls("after-flat").iter().any(|c| c == "getenv"));
}

/// A client that answers `elicitation/create` with whatever `answer` holds.
fn answering(gw: &mut Gw) -> Arc<Mutex<Value>> {
    let answer = Arc::new(Mutex::new(json!({"action": "decline"})));
    let shared = Arc::clone(&answer);
    gw.peer
        .set_request_handler(move |method, _params| match method {
            "elicitation/create" => Ok(shared.lock().unwrap().clone()),
            _ => Err((-32601, "not supported".into())),
        });
    answer
}

#[test]
fn destructive_tools_ask_the_user_and_a_no_means_no_backend_call() {
    let mut gw = Gw::start("");
    let answer = answering(&mut gw);
    gw.peer
        .initialize_with(json!({"elicitation": {"form": {}}}));

    // Decline: refused, and the backend never hears of it.
    let declined = gw.invoke("delete_item", json!({"id": "42"}));
    let asked = gw
        .peer
        .wait_server_request("elicitation/create", T)
        .expect("the gateway asked the user");
    let params = &asked["params"];
    let message = params["message"].as_str().unwrap();
    assert!(
        message.contains("`delete_item`") && message.contains("`fx`"),
        "{message}"
    );
    assert!(
        message.contains("\"id\": \"42\""),
        "the arguments are shown: {message}"
    );
    assert!(message.contains("destructiveHint"), "and why: {message}");
    assert_eq!(
        params["requestedSchema"]["properties"]["confirm"]["type"],
        "boolean"
    );
    assert_eq!(params["requestedSchema"]["required"], json!(["confirm"]));
    assert_eq!(declined["isError"], true, "{declined}");
    assert!(
        text_of(&declined).contains("the user declined"),
        "{declined}"
    );

    // Cancel, and an accept without the box ticked: still no.
    *answer.lock().unwrap() = json!({"action": "cancel"});
    let cancelled = gw.invoke("delete_item", json!({"id": "43"}));
    assert!(
        text_of(&cancelled).contains("the user cancelled"),
        "{cancelled}"
    );
    *answer.lock().unwrap() = json!({"action": "accept", "content": {"confirm": false}});
    let unticked = gw.invoke("delete_item", json!({"id": "44"}));
    assert!(text_of(&unticked).contains("did not tick"), "{unticked}");
    assert!(
        !gw.backend_calls("after-no")
            .iter()
            .any(|c| c == "delete_item")
    );

    // Accept: the call goes through, once.
    *answer.lock().unwrap() = json!({"action": "accept", "content": {"confirm": true}});
    let done = gw.invoke("delete_item", json!({"id": "45"}));
    assert_eq!(text_of(&done), "deleted 45", "{done}");
    let deletes: Vec<Value> = read_jsonl(&gw.log)
        .into_iter()
        .filter(|e| e["event"] == "call" && e["tool"] == "delete_item")
        .collect();
    assert_eq!(deletes.len(), 1, "{deletes:?}");
    assert_eq!(deletes[0]["args"]["id"], "45");
    // Tools that say nothing about being destructive are not asked about.
    let asked_before = gw.peer.server_requests().len();
    assert_eq!(text_of(&gw.invoke("echo", json!({"text": "x"}))), "x");
    assert_eq!(gw.peer.server_requests().len(), asked_before);
}

#[test]
fn a_confirm_rule_asks_on_every_route() {
    let mut gw =
        Gw::start("mode: flat\npolicy:\n  rules:\n    - confirm: { server: fx, tool: echo }\n");
    let answer = answering(&mut gw);
    gw.peer.initialize_with(json!({"elicitation": {}}));
    *answer.lock().unwrap() = json!({"action": "accept", "content": {"confirm": true}});
    gw.ready();
    *answer.lock().unwrap() = json!({"action": "decline"});
    let refused = gw.tool("fx__echo", json!({"text": "hi"}));
    assert!(text_of(&refused).contains("policy rule 1"), "{refused}");
    assert!(
        gw.peer
            .wait_server_request("elicitation/create", T)
            .is_some()
    );
    *answer.lock().unwrap() = json!({"action": "accept", "content": {"confirm": true}});
    assert_eq!(text_of(&gw.tool("fx__echo", json!({"text": "hi"}))), "hi");
}

#[test]
fn a_client_that_cannot_be_asked_gets_a_clear_refusal() {
    let mut gw = Gw::start("");
    gw.peer.initialize(); // no elicitation capability
    let refused = gw.invoke("delete_item", json!({"id": "7"}));
    assert_eq!(refused["isError"], true, "{refused}");
    let why = text_of(&refused);
    for part in [
        "was not made",
        "did not declare the `elicitation` capability",
        "- allow: { server: fx, tool: delete_item }",
        "mode: flat",
    ] {
        assert!(why.contains(part), "{part:?} missing from: {why}");
    }
    assert!(gw.peer.server_requests().is_empty(), "nothing was asked");
    assert!(
        !gw.backend_calls("after-unasked")
            .iter()
            .any(|c| c == "delete_item")
    );
}

#[test]
fn flat_mode_leaves_approval_to_the_client() {
    // Called by its own name, the client's per-tool approval applies: the gateway does
    // not ask again (and this client could not be asked).
    let mut gw = Gw::start("mode: flat\n");
    gw.peer.initialize();
    gw.ready();
    assert_eq!(
        text_of(&gw.tool("fx__delete_item", json!({"id": "9"}))),
        "deleted 9"
    );
    // The same tool through gateway_invoke still needs a confirmation.
    let refused = gw.invoke("delete_item", json!({"id": "10"}));
    assert_eq!(refused["isError"], true, "{refused}");
}

/// The official Python SDK client as the user's client: asked, it declines (no backend
/// call) then accepts (one call); without an elicitation callback it is refused.
#[test]
fn python_sdk_client_confirms_through_elicitation() {
    let log = temp_path("policy-py-fixture.jsonl");
    let config = temp_path("policy-py.yaml");
    std::fs::write(
        &config,
        format!(
            "backends:\n  fx:\n    command: {:?}\n    env: {{ FIXTURE_LOG: {:?} }}\n\
             search: {{ model: \"off\" }}\n",
            fixture_server_path().to_str().unwrap(),
            log.to_str().unwrap(),
        ),
    )
    .unwrap();
    let script = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/interop/confirm_client.py");
    let out = std::process::Command::new(crate::interop::peers_python())
        .arg(script)
        .arg(gateway_bin())
        .arg(&config)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    eprintln!("python confirm client: {stdout}");
    assert!(
        out.status.success(),
        "python client failed:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains("\"ok\": true"), "{stdout}");
    let deletes: Vec<String> = read_jsonl(&log)
        .into_iter()
        .filter(|e| e["event"] == "call" && e["tool"] == "delete_item")
        .map(|e| e["args"]["id"].as_str().unwrap_or("").to_owned())
        .collect();
    assert_eq!(
        deletes,
        ["py-accepted", "py-modern-accepted"],
        "only the accepted calls reached the backend"
    );
}
