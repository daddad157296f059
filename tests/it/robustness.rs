//! What a hostile environment does to the real binary: a client that never reads stderr, a
//! backend that floods stderr or writes bytes that are not text, backends that refuse, want
//! OAuth, die at once, list a broken tool or hang at start. Each must leave the gateway
//! serving and the user told the cause.

use std::path::{Path, PathBuf};
use std::process::Output;
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::support::http::{HttpServer, Reply};
use crate::support::{StdioPeer, fixture_server_path, gateway_bin, temp_path};

const T: Duration = Duration::from_secs(20);

fn write_config(yaml: &str) -> PathBuf {
    let path = temp_path("gateway.yaml");
    std::fs::write(&path, yaml).unwrap();
    path
}

fn fixture(name: &str, env: &[(&str, &str)]) -> String {
    let mut yaml = format!(
        "  {name}:\n    command: {:?}\n    env:\n      FIXTURE_NAME: {name}\n",
        fixture_server_path()
    );
    for (k, v) in env {
        yaml.push_str(&format!("      {k}: {v:?}\n"));
    }
    yaml
}

/// Runs the gateway binary with `--config` and `args`; returns its output and how long it took.
fn run(config: &Path, args: &[&str]) -> (Output, Duration) {
    let started = Instant::now();
    let out = crate::support::gateway_command()
        .arg("--config")
        .arg(config)
        .args(args)
        .env_remove("MCP_GATEWAY_LOG")
        .output()
        .unwrap();
    (out, started.elapsed())
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// `list --json` rows by name.
fn list_rows(config: &Path, wait: &str) -> Vec<Value> {
    let (out, _) = run(config, &["list", "--json", "--wait", wait]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    serde_json::from_slice::<Value>(&out.stdout)
        .unwrap()
        .as_array()
        .unwrap()
        .clone()
}

fn row<'a>(rows: &'a [Value], name: &str) -> &'a Value {
    rows.iter()
        .find(|r| r["name"] == name)
        .unwrap_or_else(|| panic!("no row {name} in {rows:?}"))
}

/// `tools/call` of a gateway meta-tool over a raw peer; the result object.
fn tool(peer: &mut StdioPeer, name: &str, arguments: Value) -> Value {
    peer.call_ok(
        "tools/call",
        json!({"name": name, "arguments": arguments}),
        T,
    )
}

/// Poll `gateway_list_servers` until every server in `names` is ready.
fn wait_ready(peer: &mut StdioPeer, names: &[&str]) {
    let deadline = Instant::now() + T;
    loop {
        let listed = tool(peer, "gateway_list_servers", json!({}));
        let servers = listed["structuredContent"]["servers"].as_array().unwrap();
        let ready = names.iter().all(|n| {
            servers
                .iter()
                .any(|s| s["name"] == *n && s["state"] == "ready")
        });
        if ready {
            return;
        }
        assert!(Instant::now() < deadline, "not all ready: {listed}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn a_client_that_never_reads_stderr_cannot_freeze_the_gateway() {
    let config = write_config(&format!(
        "backends:\n{}{}",
        fixture("flood", &[("FIXTURE_STDERR_FLOOD", "1")]),
        fixture("fx", &[])
    ));
    // Debug logging: every backend stderr line is a gateway log line, so the gateway's own
    // stderr (64 KiB of pipe) is full within milliseconds.
    let mut peer = StdioPeer::spawn_stderr_unread(
        &gateway_bin(),
        &["serve", "--config", config.to_str().unwrap()],
        &[("MCP_GATEWAY_LOG", "debug")],
    );
    peer.initialize();
    wait_ready(&mut peer, &["flood", "fx"]);
    for round in 0..5 {
        let sent = Instant::now();
        let pong = peer.call("ping", json!({}), Duration::from_secs(5));
        assert!(pong.get("result").is_some(), "round {round}: {pong}");
        let echoed = tool(
            &mut peer,
            "gateway_invoke",
            json!({"server": "fx", "tool": "echo", "arguments": {"text": "still here"}}),
        );
        assert_eq!(echoed["content"][0]["text"], "still here", "{echoed}");
        assert!(
            sent.elapsed() < Duration::from_secs(5),
            "round {round} took {:?}",
            sent.elapsed()
        );
    }
    // Once stderr is read again, the lines that had to go are counted, not silently lost.
    peer.read_stderr();
    let deadline = Instant::now() + T;
    while !peer.stderr_text().contains("log line(s) dropped") {
        assert!(Instant::now() < deadline, "no dropped-lines report");
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn non_utf8_and_huge_stderr_lines_do_not_kill_the_backend() {
    let config = write_config(&format!(
        "backends:\n{}",
        fixture("junk", &[("FIXTURE_STDERR_JUNK", "1")])
    ));
    let mut peer = StdioPeer::spawn(
        &gateway_bin(),
        &["serve", "--config", config.to_str().unwrap()],
        &[],
    );
    peer.initialize();
    wait_ready(&mut peer, &["junk"]);
    // The backend writes more stderr after the junk: if the gateway had stopped reading, the
    // pipe would be closed and this write would fail (or kill the backend with SIGPIPE).
    let wrote = tool(
        &mut peer,
        "gateway_invoke",
        json!({"server": "junk", "tool": "stderr", "arguments": {"lines": 20000}}),
    );
    assert_eq!(wrote["content"][0]["text"], "wrote 20000", "{wrote}");
    assert_ne!(wrote["isError"], true, "{wrote}");
    let echoed = tool(
        &mut peer,
        "gateway_invoke",
        json!({"server": "junk", "tool": "echo", "arguments": {"text": "alive"}}),
    );
    assert_eq!(echoed["content"][0]["text"], "alive", "{echoed}");
}

#[test]
fn an_unreachable_http_backend_says_connection_refused() {
    // A port that was just free: nothing listens there.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let config = write_config(&format!(
        "backends:\n  remote:\n    url: http://127.0.0.1:{port}/mcp\n"
    ));
    let rows = list_rows(&config, "10s");
    let remote = row(&rows, "remote");
    assert_eq!(remote["state"], "failed", "{remote}");
    let error = remote["error"].as_str().unwrap();
    assert!(error.contains("connection refused"), "{error}");
    assert!(!error.contains("WorkerTransport"), "{error}");
}

#[test]
fn an_oauth_protected_backend_says_it_needs_authorization() {
    let server = HttpServer::start(|_| {
        let mut reply = Reply::json(401, &json!({"error": "unauthorized"}));
        reply.headers.push((
            "WWW-Authenticate".into(),
            "Bearer resource_metadata=\"http://127.0.0.1/.well-known/oauth-protected-resource\""
                .into(),
        ));
        reply
    });
    let config = write_config(&format!(
        "backends:\n  secured:\n    url: {}/mcp\n",
        server.url()
    ));
    let rows = list_rows(&config, "10s");
    let secured = row(&rows, "secured");
    assert_eq!(secured["state"], "failed", "{secured}");
    let error = secured["error"].as_str().unwrap();
    assert_eq!(
        error, "authorization required: run `mcp-gateway auth login secured`",
        "{secured}"
    );
}

#[test]
fn a_backend_that_exits_at_once_shows_its_stderr() {
    let config = write_config(
        "backends:\n  dies:\n    command: sh\n    args: [\"-c\", \"echo 'fatal: DEMO_TOKEN is not set' >&2; exit 1\"]\n",
    );
    let rows = list_rows(&config, "10s");
    let dies = row(&rows, "dies");
    assert_eq!(dies["state"], "failed", "{dies}");
    let error = dies["error"].as_str().unwrap();
    assert!(error.contains("exited"), "{error}");
    assert!(error.contains("fatal: DEMO_TOKEN is not set"), "{error}");
    assert!(!error.contains("Broken pipe"), "{error}");
}

#[test]
fn one_invalid_tool_is_skipped_and_the_backend_kept() {
    let script =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/backends/raw_backend.py");
    let config = write_config(&format!(
        "backends:\n  raw:\n    command: python3\n    args: [{script:?}]\n"
    ));
    let mut peer = StdioPeer::spawn(
        &gateway_bin(),
        &["serve", "--config", config.to_str().unwrap()],
        &[],
    );
    peer.initialize();
    wait_ready(&mut peer, &["raw"]);
    let listed = tool(&mut peer, "gateway_list_servers", json!({}));
    let raw = listed["structuredContent"]["servers"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["name"] == "raw")
        .cloned()
        .unwrap();
    assert_eq!(raw["tools_count"], 1, "{raw}");
    let problems = raw["problems"].to_string();
    for bad in ["no_schema", "string_schema", "numeric_description"] {
        assert!(problems.contains(&format!("`{bad}` skipped")), "{problems}");
    }
    let called = tool(
        &mut peer,
        "gateway_invoke",
        json!({"server": "raw", "tool": "ok", "arguments": {}}),
    );
    assert_eq!(called["content"][0]["text"], "ok from raw", "{called}");
}

#[test]
fn terminal_commands_report_a_hanging_backend_within_their_wait() {
    let config = write_config(&format!(
        "backends:\n  hang:\n    command: sleep\n    args: [\"600\"]\n{}",
        fixture("fx", &[])
    ));
    // The bound is generous for a 2-core machine; before, these waited 60-120 s.
    let bound = Duration::from_secs(25);

    let (out, took) = run(&config, &["search", "--wait", "4s", "echo text back"]);
    let err = text(&out.stderr);
    assert!(out.status.success(), "{err}");
    assert!(took < bound, "search took {took:?}");
    assert!(
        text(&out.stdout).contains("fx/echo"),
        "{}",
        text(&out.stdout)
    );
    let progress = err.lines().any(|l| {
        l.starts_with("backends:") && l.contains("still starting: ") && l.contains("hang")
    });
    assert!(progress, "no progress line: {err}");
    assert!(err.contains("`hang` is still starting after 4s"), "{err}");

    let (out, took) = run(&config, &["list", "--json", "--wait", "2s"]);
    assert!(took < bound, "list took {took:?}");
    let rows: Value = serde_json::from_slice(&out.stdout).unwrap();
    let rows = rows.as_array().unwrap();
    assert_eq!(row(rows, "hang")["state"], "starting", "{rows:?}");
    assert!(
        row(rows, "hang")["error"]
            .as_str()
            .unwrap()
            .contains("still starting after 2s"),
        "{rows:?}"
    );
    assert_eq!(row(rows, "fx")["state"], "ready", "{rows:?}");

    let (out, took) = run(&config, &["call", "--wait", "1s", "hang", "anything"]);
    assert!(took < bound, "call took {took:?}");
    assert!(!out.status.success());
    let err = text(&out.stderr);
    assert!(err.contains("`hang` is still starting after 1s"), "{err}");
}

#[test]
fn proxy_variables_reach_stdio_backends_and_secrets_do_not() {
    let config = write_config(&format!("backends:\n{}", fixture("fx", &[])));
    let mut peer = StdioPeer::spawn(
        &gateway_bin(),
        &["serve", "--config", config.to_str().unwrap()],
        &[
            ("HTTPS_PROXY", "http://proxy.test:3128"),
            ("http_proxy", "http://proxy.test:3128"),
            ("NO_PROXY", "localhost,127.0.0.1"),
            ("DEMO_SECRET_TOKEN", "do-not-pass"),
        ],
    );
    peer.initialize();
    wait_ready(&mut peer, &["fx"]);
    let mut getenv = |name: &str| {
        let result = tool(
            &mut peer,
            "gateway_invoke",
            json!({"server": "fx", "tool": "getenv", "arguments": {"name": name}}),
        );
        result["content"][0]["text"].as_str().unwrap().to_owned()
    };
    assert_eq!(getenv("HTTPS_PROXY"), "http://proxy.test:3128");
    assert_eq!(getenv("http_proxy"), "http://proxy.test:3128");
    assert_eq!(getenv("NO_PROXY"), "localhost,127.0.0.1");
    assert_eq!(getenv("DEMO_SECRET_TOKEN"), "<unset>");
}

#[test]
fn protocol_version_setting_is_the_version_the_backend_is_initialized_at() {
    let log = temp_path("fixture.log");
    let config = write_config(&format!(
        "backends:\n{}    protocol_version: \"2025-03-26\"\n",
        fixture("old", &[("FIXTURE_LOG", log.to_str().unwrap())])
    ));
    let (out, _) = run(&config, &["call", "old", "echo", r#"{"text": "hi"}"#]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let initialized = crate::support::read_jsonl(&log)
        .into_iter()
        .find(|e| e["event"] == "initialized")
        .expect("the fixture logged no initialized event");
    assert_eq!(
        initialized["protocol_version"], "2025-03-26",
        "{initialized}"
    );
}

#[test]
fn serve_warns_of_surfaced_tools_that_do_not_exist() {
    let config = write_config(&format!(
        "backends:\n{}surfaced_tools:\n  - {{server: ghost, tool: echo}}\n  - {{server: fx, tool: nonexistent}}\n  - {{server: fx, tool: echo}}\n",
        fixture("fx", &[])
    ));
    let mut peer = StdioPeer::spawn(
        &gateway_bin(),
        &["serve", "--config", config.to_str().unwrap()],
        &[],
    );
    peer.initialize();
    wait_ready(&mut peer, &["fx"]);
    let deadline = Instant::now() + T;
    loop {
        let err = peer.stderr_text();
        if err.contains("surfaced_tools: no server `ghost`")
            && err.contains("surfaced_tools: server `fx` has no tool `nonexistent`")
        {
            assert!(!err.contains("no tool `echo`"), "{err}");
            break;
        }
        assert!(Instant::now() < deadline, "no warnings: {err}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn an_http_backend_that_answers_an_error_status_says_which() {
    let server = HttpServer::start(|_| Reply::raw(503, "text/plain", "maintenance"));
    let config = write_config(&format!(
        "backends:\n  down:\n    url: {}/mcp\n",
        server.url()
    ));
    let rows = list_rows(&config, "10s");
    let down = row(&rows, "down");
    assert_eq!(down["state"], "failed", "{down}");
    let error = down["error"].as_str().unwrap();
    assert!(error.contains("503"), "{error}");
    assert!(!error.contains("WorkerTransport"), "{error}");
}

#[test]
fn backends_that_hang_at_start_hold_a_start_slot_two_seconds_at_most() {
    // Two start slots; three backends that note when they start and never answer
    // `initialize`, and a good one.
    let starts = temp_path("starts.log");
    let hung = (1..=3)
        .map(|i| {
            format!(
                "  hang{i}:\n    command: sh\n    args: [\"-c\", \"date +%s%N >> {}; exec sleep 300\"]\n",
                starts.display()
            )
        })
        .collect::<String>();
    let config = write_config(&format!("backends:\n{hung}{}", fixture("good", &[])));
    let mut peer = StdioPeer::spawn(
        &gateway_bin(),
        &["serve", "--config", config.to_str().unwrap()],
        &[("MCP_GATEWAY_TEST_START_SLOTS", "2")],
    );
    peer.initialize();
    // Whatever order they start in, the good one and the third hung one get a slot once a
    // hung start's hold is over, not after its 5-minute start timeout.
    wait_ready(&mut peer, &["good"]);
    let deadline = Instant::now() + T;
    let starts = loop {
        let text = std::fs::read_to_string(&starts).unwrap_or_default();
        let mut nanos: Vec<u128> = text.lines().filter_map(|l| l.parse().ok()).collect();
        if nanos.len() == 3 {
            nanos.sort_unstable();
            break nanos;
        }
        assert!(Instant::now() < deadline, "hung backends started: {text:?}");
        std::thread::sleep(Duration::from_millis(50));
    };
    // Two slots: the third hung backend waits for one of the first two to give its back.
    let waited = Duration::from_nanos((starts[2] - starts[0]) as u64);
    assert!(
        waited >= Duration::from_millis(1500),
        "three backends started within {waited:?} with two slots"
    );
    let listed = tool(&mut peer, "gateway_list_servers", json!({}));
    for row in listed["structuredContent"]["servers"].as_array().unwrap() {
        let want = if row["name"] == "good" {
            "ready"
        } else {
            "starting"
        };
        assert_eq!(row["state"], want, "{row}");
    }
    peer.close_stdin();
    assert!(peer.wait_exit(Duration::from_secs(10)).is_some());
}
