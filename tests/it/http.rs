//! The HTTP listener (`serve --http`): the real binary on a loopback port, driven by raw
//! HTTP/1.1 requests (so Host, Origin and Authorization are exactly what the test says) and by
//! the Python SDK client. Host/Origin checks, tokens, scopes, /health, /metrics, and several
//! clients sharing one backend.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use serde_json::{Value, json};

use crate::support::{fixture_server_path, gateway_bin, read_jsonl, temp_path};

const T: Duration = Duration::from_secs(30);

/// A gateway serving HTTP only, on a port the OS picked.
pub struct HttpGw {
    child: Child,
    pub addr: SocketAddr,
    stderr: mpsc::Receiver<String>,
}

impl HttpGw {
    pub fn start(config_yaml: &str, listen: &str, envs: &[(&str, &str)]) -> HttpGw {
        let child = spawn(config_yaml, &["--http", listen, "--no-stdio"], envs);
        HttpGw::wait_listening(child).unwrap_or_else(|text| panic!("no listener:\n{text}"))
    }

    /// Reads stderr until the listener names its address; `Err` with stderr if it exits first.
    fn wait_listening(mut child: Child) -> Result<HttpGw, String> {
        let stderr = child.stderr.take().unwrap();
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines() {
                let Ok(line) = line else { break };
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        let mut seen = String::new();
        loop {
            match rx.recv_timeout(T) {
                Ok(line) => {
                    seen.push_str(&line);
                    seen.push('\n');
                    if let Some(rest) = line.split("serving Streamable HTTP on http://").nth(1) {
                        let addr = rest.split("/mcp").next().unwrap().parse().unwrap();
                        return Ok(HttpGw {
                            child,
                            addr,
                            stderr: rx,
                        });
                    }
                }
                Err(_) => {
                    let _ = child.kill();
                    let _ = child.wait();
                    return Err(seen);
                }
            }
        }
    }

    fn host(&self) -> String {
        format!("127.0.0.1:{}", self.addr.port())
    }

    fn get(&self, path: &str, headers: &[(&str, &str)]) -> Reply {
        let host = self.host();
        let mut all = vec![("Host", host.as_str())];
        all.extend_from_slice(headers);
        request(self.addr, "GET", path, &all, None)
    }
}

impl Drop for HttpGw {
    fn drop(&mut self) {
        // SIGTERM, so the gateway stops its backends the way it does in production.
        let _ = Command::new("kill")
            .arg(self.child.id().to_string())
            .status();
        let _ = self.child.wait();
        while self.stderr.try_recv().is_ok() {}
    }
}

fn spawn(config_yaml: &str, args: &[&str], envs: &[(&str, &str)]) -> Child {
    let config = temp_path("gateway.yaml");
    std::fs::write(&config, config_yaml).unwrap();
    crate::support::gateway_command()
        .args(["serve", "--config", config.to_str().unwrap()])
        .args(args)
        .envs(envs.iter().copied())
        .env("MCP_GATEWAY_LOG", "info,rmcp=warn")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap()
}

fn fixture_config(log: &PathBuf, http: &str) -> String {
    format!(
        "capabilities: {{ enabled: false }}\nbackends:\n  fixture:\n    command: {:?}\n    env: {{ FIXTURE_LOG: {:?} }}\n{http}",
        fixture_server_path(),
        log
    )
}

struct Reply {
    status: u16,
    headers: String,
    body: String,
}

impl Reply {
    fn json(&self) -> Value {
        serde_json::from_str(&self.body).unwrap_or_else(|e| panic!("{e}: {}", self.body))
    }

    fn header(&self, name: &str) -> Option<String> {
        self.headers.lines().find_map(|l| {
            let (k, v) = l.split_once(':')?;
            k.eq_ignore_ascii_case(name).then(|| v.trim().to_owned())
        })
    }

    /// The JSON-RPC messages of an SSE (or plain JSON) body.
    fn messages(&self) -> Vec<Value> {
        if self.body.trim_start().starts_with('{') {
            return vec![self.json()];
        }
        self.body
            .lines()
            .filter_map(|l| l.strip_prefix("data:"))
            .filter(|d| !d.trim().is_empty())
            .map(|d| serde_json::from_str(d.trim()).unwrap())
            .collect()
    }
}

/// One HTTP/1.1 request on its own connection, read to the end.
fn request(
    addr: SocketAddr,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: Option<&str>,
) -> Reply {
    let mut stream = TcpStream::connect(addr).unwrap();
    stream.set_read_timeout(Some(T)).unwrap();
    let mut text = format!("{method} {path} HTTP/1.1\r\nConnection: close\r\n");
    for (k, v) in headers {
        text.push_str(&format!("{k}: {v}\r\n"));
    }
    if let Some(body) = body {
        text.push_str(&format!(
            "Content-Type: application/json\r\nAccept: application/json, text/event-stream\r\nContent-Length: {}\r\n",
            body.len()
        ));
    }
    text.push_str("\r\n");
    text.push_str(body.unwrap_or(""));
    stream.write_all(text.as_bytes()).unwrap();
    let mut raw = Vec::new();
    stream.read_to_end(&mut raw).unwrap();
    let raw = String::from_utf8_lossy(&raw).into_owned();
    let (head, rest) = raw.split_once("\r\n\r\n").unwrap_or((&raw, ""));
    let status = head.split(' ').nth(1).unwrap().parse().unwrap();
    let body = if head
        .to_ascii_lowercase()
        .contains("transfer-encoding: chunked")
    {
        dechunk(rest)
    } else {
        rest.to_owned()
    };
    Reply {
        status,
        headers: head.to_owned(),
        body,
    }
}

fn dechunk(mut rest: &str) -> String {
    let mut out = String::new();
    while let Some((size, after)) = rest.split_once("\r\n") {
        let Ok(n) = usize::from_str_radix(size.trim(), 16) else {
            break;
        };
        if n == 0 || after.len() < n {
            break;
        }
        out.push_str(&after[..n]);
        rest = after[n..].trim_start_matches("\r\n");
    }
    out
}

/// A 2025-era MCP session over raw HTTP.
struct Session {
    addr: SocketAddr,
    id: String,
    auth: Option<String>,
    next: u64,
}

impl Session {
    fn open(addr: SocketAddr, auth: Option<&str>) -> Session {
        let mut s = Session {
            addr,
            id: String::new(),
            auth: auth.map(|t| format!("Bearer {t}")),
            next: 1,
        };
        let init = s.post(
            &json!({"jsonrpc": "2.0", "id": 0, "method": "initialize", "params": {
            "protocolVersion": "2025-11-25", "capabilities": {},
            "clientInfo": {"name": "http-test", "version": "0"}}}),
        );
        assert_eq!(init.status, 200, "{}", init.body);
        s.id = init.header("mcp-session-id").expect("session id");
        let done = s.post(&json!({"jsonrpc": "2.0", "method": "notifications/initialized"}));
        assert_eq!(done.status, 202, "{}", done.body);
        s
    }

    fn post(&self, message: &Value) -> Reply {
        let host = format!("127.0.0.1:{}", self.addr.port());
        let mut headers = vec![("Host", host.as_str())];
        if !self.id.is_empty() {
            headers.push(("Mcp-Session-Id", self.id.as_str()));
            headers.push(("MCP-Protocol-Version", "2025-11-25"));
        }
        if let Some(auth) = &self.auth {
            headers.push(("Authorization", auth.as_str()));
        }
        request(
            self.addr,
            "POST",
            "/mcp",
            &headers,
            Some(&message.to_string()),
        )
    }

    /// One request; its whole response (`result` or `error`).
    fn rpc(&mut self, method: &str, params: Value) -> Value {
        let id = self.next;
        self.next += 1;
        let reply = self.post(&json!({"jsonrpc": "2.0", "id": id, "method": method,
            "params": params}));
        assert_eq!(reply.status, 200, "{}", reply.body);
        reply
            .messages()
            .into_iter()
            .find(|m| m["id"] == id)
            .unwrap_or_else(|| panic!("no response in {}", reply.body))
    }

    /// `tools/call` of a gateway tool; the result object.
    fn tool(&mut self, name: &str, arguments: Value) -> Value {
        let response = self.rpc("tools/call", json!({"name": name, "arguments": arguments}));
        response["result"].clone()
    }

    fn invoke(&mut self, server: &str, tool: &str, arguments: Value) -> Value {
        self.tool(
            "gateway_invoke",
            json!({"server": server, "tool": tool, "arguments": arguments}),
        )
    }
}

fn text_of(result: &Value) -> String {
    result["content"][0]["text"]
        .as_str()
        .unwrap_or("")
        .to_owned()
}

#[test]
fn http_refuses_foreign_host_and_origin_on_every_route() {
    let log = temp_path("fixture-log.jsonl");
    let gw = HttpGw::start(&fixture_config(&log, ""), "127.0.0.1:0", &[]);
    let init = json!({"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {
        "protocolVersion": "2025-11-25", "capabilities": {}, "clientInfo": {"name": "t", "version": "0"}}})
    .to_string();
    let host = gw.host();
    let wrong_port = "127.0.0.1:1".to_owned();
    for (what, headers) in [
        ("foreign Host", vec![("Host", "evil.example")]),
        (
            "loopback Host, other port",
            vec![("Host", wrong_port.as_str())],
        ),
        (
            "foreign Origin",
            vec![("Host", host.as_str()), ("Origin", "http://evil.example")],
        ),
    ] {
        for path in ["/health", "/metrics"] {
            let reply = request(gw.addr, "GET", path, &headers, None);
            assert_eq!(reply.status, 403, "{what} on {path}: {}", reply.body);
        }
        let reply = request(gw.addr, "POST", "/mcp", &headers, Some(&init));
        assert_eq!(reply.status, 403, "{what} on /mcp: {}", reply.body);
    }
    // The same requests from the gateway's own origin pass.
    let origin = format!("http://{host}");
    let health = gw.get("/health", &[("Origin", origin.as_str())]);
    assert_eq!(health.status, 200, "{}", health.body);
    let reply = request(
        gw.addr,
        "POST",
        "/mcp",
        &[("Host", host.as_str()), ("Origin", origin.as_str())],
        Some(&init),
    );
    assert_eq!(reply.status, 200, "{}", reply.body);
}

#[test]
fn http_health_lists_backend_states() {
    let log = temp_path("fixture-log.jsonl");
    let yaml = format!(
        "{}  broken:\n    command: /nonexistent/mcp-server\n",
        fixture_config(&log, "")
    );
    let gw = HttpGw::start(&yaml, "127.0.0.1:0", &[]);
    // A call waits for its backend to settle, so after it the states are final.
    let mut session = Session::open(gw.addr, None);
    let echo = session.invoke("fixture", "echo", json!({"text": "hi"}));
    assert_eq!(text_of(&echo), "hi", "{echo}");
    session.invoke("broken", "anything", json!({}));
    let health = gw.get("/health", &[]);
    assert_eq!(health.status, 200);
    let body = health.json();
    assert_eq!(body["status"], "degraded", "{body}");
    let states: Vec<(String, String)> = body["backends"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| {
            (
                b["name"].as_str().unwrap().to_owned(),
                b["state"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    assert!(
        states.contains(&("fixture".into(), "ready".into())),
        "{body}"
    );
    assert!(
        states.contains(&("broken".into(), "failed".into())),
        "{body}"
    );
}

#[test]
fn http_beyond_loopback_refuses_to_start_without_a_token() {
    let log = temp_path("fixture-log.jsonl");
    let child = spawn(
        &fixture_config(&log, ""),
        &["--http", "0.0.0.0:0", "--no-stdio"],
        &[],
    );
    let out = child.wait_with_output().unwrap();
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("without a bearer token") && stderr.contains("token_env"),
        "{stderr}"
    );
    // Nothing was started behind the refusal.
    assert!(read_jsonl(&log).is_empty());
}

#[test]
fn http_token_is_required_and_checked() {
    let log = temp_path("fixture-log.jsonl");
    let http = "http:\n  token_env: GW_TEST_TOKEN\n";
    let gw = HttpGw::start(
        &fixture_config(&log, http),
        "0.0.0.0:0",
        &[("GW_TEST_TOKEN", "tok-123")],
    );
    let init = json!({"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {
        "protocolVersion": "2025-11-25", "capabilities": {}, "clientInfo": {"name": "t", "version": "0"}}})
    .to_string();
    let host = gw.host();
    let post = |auth: Option<&str>| {
        let mut headers = vec![("Host", host.as_str())];
        if let Some(a) = auth {
            headers.push(("Authorization", a));
        }
        request(gw.addr, "POST", "/mcp", &headers, Some(&init))
    };
    let none = post(None);
    assert_eq!(none.status, 401, "{}", none.body);
    assert_eq!(none.header("www-authenticate").as_deref(), Some("Bearer"));
    assert_eq!(post(Some("Bearer wrong")).status, 401);
    assert_eq!(post(Some("Bearer tok-123")).status, 200);
    assert_eq!(gw.get("/metrics", &[]).status, 401);
    assert_eq!(
        gw.get("/metrics", &[("Authorization", "Bearer tok-123")])
            .status,
        200
    );
    // Health answers probes without the token, but names nothing.
    let bare = gw.get("/health", &[]).json();
    assert!(
        bare.get("status").is_some() && bare.get("backends").is_none(),
        "{bare}"
    );
}

#[test]
fn http_metrics_parse_and_count_the_calls_just_made() {
    let log = temp_path("fixture-log.jsonl");
    let gw = HttpGw::start(&fixture_config(&log, ""), "127.0.0.1:0", &[]);
    let mut session = Session::open(gw.addr, None);
    for _ in 0..3 {
        session.invoke("fixture", "echo", json!({"text": "x"}));
    }
    session.invoke("fixture", "fail", json!({}));
    let reply = gw.get("/metrics", &[]);
    assert_eq!(reply.status, 200);
    let samples = parse_prometheus(&reply.body);
    let value = |name: &str, labels: &str| {
        samples
            .iter()
            .find(|(n, l, _)| n == name && l == labels)
            .map(|(_, _, v)| *v)
            .unwrap_or_else(|| panic!("no {name}{{{labels}}} in\n{}", reply.body))
    };
    assert_eq!(
        value(
            "mcp_gateway_tool_calls_total",
            r#"backend="fixture",tool="echo""#
        ),
        3.0
    );
    assert_eq!(
        value(
            "mcp_gateway_tool_call_errors_total",
            r#"backend="fixture",tool="fail""#
        ),
        1.0
    );
    assert_eq!(
        value(
            "mcp_gateway_tool_call_duration_seconds_count",
            r#"backend="fixture",tool="echo""#
        ),
        3.0
    );
    assert_eq!(
        value(
            "mcp_gateway_backend_state",
            r#"backend="fixture",state="ready""#
        ),
        1.0
    );
    assert_eq!(value("mcp_gateway_http_sessions", ""), 1.0);
    assert!(value("mcp_gateway_index_tools", "") > 5.0);
}

/// Every sample line of a Prometheus text exposition as (name, labels, value); panics on a
/// line that is neither a sample, a comment nor blank.
fn parse_prometheus(text: &str) -> Vec<(String, String, f64)> {
    let mut out = Vec::new();
    for line in text.lines() {
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let (series, value) = line.rsplit_once(' ').unwrap();
        let value: f64 = value
            .parse()
            .unwrap_or_else(|_| panic!("bad value: {line}"));
        let (name, labels) = match series.split_once('{') {
            Some((n, l)) => (n, l.strip_suffix('}').unwrap()),
            None => (series, ""),
        };
        assert!(
            name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_'),
            "bad metric name: {line}"
        );
        out.push((name.to_owned(), labels.to_owned(), value));
    }
    out
}

#[test]
fn http_scoped_key_sees_and_calls_only_its_scope() {
    let log = temp_path("fixture-log.jsonl");
    let http = "  hidden:\n    command: /nonexistent/mcp-server\nhttp:\n  token_env: GW_FULL\n  keys:\n    echo-only:\n      token_env: GW_KEY\n      backends: [fixture]\n      tools: [echo]\n";
    let gw = HttpGw::start(
        &fixture_config(&log, http),
        "127.0.0.1:0",
        &[("GW_FULL", "full-token"), ("GW_KEY", "scoped-key")],
    );
    let mut scoped = Session::open(gw.addr, Some("scoped-key"));
    assert_eq!(
        text_of(&scoped.invoke("fixture", "echo", json!({"text": "ok"}))),
        "ok"
    );
    let refused = scoped.invoke("fixture", "sleep", json!({"ms": 1}));
    assert_eq!(refused["isError"], true, "{refused}");
    let message = text_of(&refused);
    assert!(
        message.contains("echo-only") && message.contains("may not call"),
        "{message}"
    );
    let listed = scoped.tool("gateway_list_tools", json!({}));
    let names: Vec<&str> = listed["structuredContent"]["tools"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["echo"], "{listed}");
    let found = scoped.tool(
        "gateway_search_tools",
        json!({"query": "sleep for a while"}),
    );
    let hits = found["structuredContent"]["matches"].as_array().unwrap();
    assert!(hits.iter().all(|m| m["tool"] == "echo"), "{found}");

    // An unknown name does not reveal the backends outside the scope.
    let unknown = text_of(&scoped.invoke("fixturx", "echo", json!({})));
    assert!(
        unknown.contains("servers: fixture") && !unknown.contains("hidden"),
        "{unknown}"
    );

    // The full token sees everything.
    let mut full = Session::open(gw.addr, Some("full-token"));
    let slept = full.invoke("fixture", "sleep", json!({"ms": 1}));
    assert_ne!(slept["isError"], true, "{slept}");
}

#[test]
fn http_scoped_key_sees_only_its_backends_prompts_and_resources() {
    let log = temp_path("fixture-log.jsonl");
    let http = format!(
        "  everything:\n    command: node\n    args: [{:?}]\nhttp:\n  token_env: GW_FULL\n  keys:\n    fixture-only:\n      token_env: GW_KEY\n      backends: [fixture]\n",
        crate::proxy::everything_js()
    );
    let gw = HttpGw::start(
        &fixture_config(&log, &http),
        "127.0.0.1:0",
        &[("GW_FULL", "full-token"), ("GW_KEY", "scoped-key")],
    );
    let mut full = Session::open(gw.addr, Some("full-token"));
    let mut scoped = Session::open(gw.addr, Some("scoped-key"));
    // The full token sees server-everything's prompts and resources (once it is ready).
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    let prompts = loop {
        let listed = full.rpc("prompts/list", json!({}));
        let prompts = listed["result"]["prompts"]
            .as_array()
            .cloned()
            .unwrap_or_default();
        if !prompts.is_empty() || std::time::Instant::now() > deadline {
            break prompts;
        }
        std::thread::sleep(Duration::from_millis(200));
    };
    assert!(!prompts.is_empty(), "server-everything offers prompts");
    let resources = full.rpc("resources/list", json!({}));
    assert!(
        !resources["result"]["resources"]
            .as_array()
            .unwrap()
            .is_empty(),
        "{resources}"
    );

    // A key limited to `fixture` sees none of them and cannot fetch one by name.
    let listed = scoped.rpc("prompts/list", json!({}));
    assert_eq!(listed["result"]["prompts"], json!([]), "{listed}");
    let listed = scoped.rpc("resources/list", json!({}));
    assert_eq!(listed["result"]["resources"], json!([]), "{listed}");
    let name = prompts[0]["name"].as_str().unwrap();
    let got = scoped.rpc("prompts/get", json!({"name": name}));
    assert!(got["error"].is_object(), "{got}");
    let uri = resources["result"]["resources"][0]["uri"].as_str().unwrap();
    let read = scoped.rpc("resources/read", json!({"uri": uri}));
    assert!(read["error"].is_object(), "{read}");
}

#[test]
fn http_python_sdk_clients_share_one_backend_each_with_its_own_progress() {
    let python = crate::interop::peers_python();
    let log = temp_path("fixture-log.jsonl");
    let gw = HttpGw::start(&fixture_config(&log, ""), "127.0.0.1:0", &[]);
    let script = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/interop/http_clients.py");
    let out = Command::new(python)
        .arg(script)
        .arg(format!("http://{}/mcp", gw.host()))
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "python clients failed:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains("\"ok\": true"), "{stdout}");
    // One backend process served all three clients.
    let starts: Vec<Value> = read_jsonl(&log)
        .into_iter()
        .filter(|e| e["event"] == "initialized")
        .collect();
    assert_eq!(starts.len(), 1, "{starts:?}");
    let calls = read_jsonl(&log)
        .into_iter()
        .filter(|e| e["event"] == "call" && e["tool"] == "progress")
        .count();
    assert_eq!(calls, 3);
}

/// The gateway on `config` serving stdio and HTTP at once (on a free loopback port), and the
/// HTTP address it printed.
pub(crate) fn stdio_and_http(config: &std::path::Path) -> (crate::support::StdioPeer, SocketAddr) {
    let stdio = crate::support::StdioPeer::spawn(
        &gateway_bin(),
        &[
            "serve",
            "--config",
            config.to_str().unwrap(),
            "--http",
            "127.0.0.1:0",
        ],
        &[("MCP_GATEWAY_LOG", "info,rmcp=warn")],
    );
    let deadline = std::time::Instant::now() + T;
    loop {
        let text = stdio.stderr_text();
        if let Some(addr) = text
            .split("serving Streamable HTTP on http://")
            .nth(1)
            .and_then(|rest| rest.split("/mcp").next())
        {
            return (stdio, addr.parse().unwrap());
        }
        assert!(
            std::time::Instant::now() < deadline,
            "no listener line in:\n{text}"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn http_and_stdio_clients_at_once_share_the_backend() {
    let log = temp_path("fixture-log.jsonl");
    let config = temp_path("gateway.yaml");
    std::fs::write(&config, fixture_config(&log, "")).unwrap();
    let (mut stdio, addr) = stdio_and_http(&config);
    stdio.initialize();
    let stdio_echo = stdio.call_ok(
        "tools/call",
        json!({"name": "gateway_invoke", "arguments": {"server": "fixture", "tool": "echo", "arguments": {"text": "via stdio"}}}),
        T,
    );
    assert_eq!(text_of(&stdio_echo), "via stdio");
    let mut session = Session::open(addr, None);
    assert_eq!(
        text_of(&session.invoke("fixture", "echo", json!({"text": "via http"}))),
        "via http"
    );
    let starts = read_jsonl(&log)
        .into_iter()
        .filter(|e| e["event"] == "initialized")
        .count();
    assert_eq!(starts, 1);
    // The stdio client leaving ends the gateway, listener included.
    stdio.close_stdin();
    assert!(stdio.wait_exit(T).is_some());
    assert!(TcpStream::connect(addr).is_err());
}
