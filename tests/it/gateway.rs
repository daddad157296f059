//! The gateway binary over stdio, against the fixture backend: concurrency, cancellation,
//! progress, list changes, failures and shutdown, each timed where the issue sets a bound.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::support::{StdioPeer, fixture_server_path, gateway_bin, temp_path, wait_for_log};

const T: Duration = Duration::from_secs(20);

/// A gateway started on a generated config.
struct Gw {
    peer: StdioPeer,
    config: PathBuf,
}

impl Gw {
    fn start(config_yaml: &str) -> Gw {
        let config = temp_path("gateway.yaml");
        std::fs::write(&config, config_yaml).unwrap();
        let peer = StdioPeer::spawn(
            &gateway_bin(),
            &["serve", "--config", config.to_str().unwrap()],
            &[("MCP_GATEWAY_LOG", "debug,rmcp=warn")],
        );
        Gw { peer, config }
    }

    fn started(config_yaml: &str) -> Gw {
        let mut gw = Gw::start(config_yaml);
        gw.peer.initialize();
        gw
    }

    /// `tools/call` of a gateway tool; returns the result object.
    fn tool(&mut self, name: &str, arguments: Value) -> Value {
        self.peer.call_ok(
            "tools/call",
            json!({"name": name, "arguments": arguments}),
            T,
        )
    }

    fn invoke(&mut self, server: &str, tool: &str, arguments: Value) -> Value {
        self.tool(
            "gateway_invoke",
            json!({"server": server, "tool": tool, "arguments": arguments}),
        )
    }

    /// Poll `gateway_list_servers` until `server` reaches `state`.
    fn wait_state(&mut self, server: &str, state: &str) -> Value {
        let deadline = Instant::now() + T;
        loop {
            let listed = self.tool("gateway_list_servers", json!({}));
            let row = listed["structuredContent"]["servers"]
                .as_array()
                .unwrap()
                .iter()
                .find(|s| s["name"] == server)
                .cloned()
                .unwrap_or_else(|| panic!("no server {server} in {listed}"));
            if row["state"] == state {
                return row;
            }
            assert!(
                Instant::now() < deadline,
                "{server} never became {state}: {row}"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for Gw {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.config);
    }
}

fn fixture_backend(name: &str, env: &[(&str, &str)]) -> String {
    let mut yaml = format!(
        "  {name}:\n    command: {:?}\n    env:\n      FIXTURE_NAME: {name}\n",
        fixture_server_path()
    );
    for (k, v) in env {
        yaml.push_str(&format!("      {k}: {v:?}\n"));
    }
    yaml
}

fn config(backends: &[String]) -> String {
    format!("backends:\n{}", backends.concat())
}

fn text_of(result: &Value) -> String {
    result["content"][0]["text"]
        .as_str()
        .unwrap_or_default()
        .to_owned()
}

/// PIDs of live processes whose environment holds `marker` (grandchildren included).
pub(crate) fn processes_with_env(marker: &str) -> Vec<u32> {
    let mut found = Vec::new();
    for entry in std::fs::read_dir("/proc").unwrap().flatten() {
        let Ok(pid) = entry.file_name().to_string_lossy().parse::<u32>() else {
            continue;
        };
        let Ok(environ) = std::fs::read(entry.path().join("environ")) else {
            continue;
        };
        let zombie = std::fs::read_to_string(entry.path().join("stat"))
            .map(|s| s.contains(") Z "))
            .unwrap_or(true);
        if !zombie && environ.split(|b| *b == 0).any(|kv| kv == marker.as_bytes()) {
            found.push(pid);
        }
    }
    found
}

/// A backend's supervising shim, or a process already gone: either way not a backend
/// process to count. Told by the shim's hidden first argument, which it has from `exec` on
/// (its process name is set a moment later, and a scan in between would count it), and
/// which a command it forks keeps until that command's own `exec`.
pub(crate) fn is_shim(pid: u32) -> bool {
    std::fs::read(format!("/proc/{pid}/cmdline")).map_or(true, |cmdline| {
        cmdline
            .split(|b| *b == 0)
            .any(|arg| arg == b"__mcp-gateway-backend-shim")
    })
}

#[test]
fn initialize_is_immediate_while_a_backend_takes_10s_to_start() {
    let mut gw = Gw::start(&config(&[fixture_backend(
        "slow",
        &[("FIXTURE_START_DELAY_MS", "10000")],
    )]));
    // Not a wall-clock bound (that is benches/footprint.rs): `initialize` is answered and
    // the backend is seen still starting, so the answer did not wait for it.
    let init = gw.peer.initialize();
    assert_eq!(init["serverInfo"]["name"], "mcp-gateway");
    let listed = gw.tool("gateway_list_servers", json!({}));
    let slow = listed["structuredContent"]["servers"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["name"] == "slow")
        .cloned()
        .unwrap_or_else(|| panic!("no `slow` row: {listed}"));
    assert_eq!(slow["state"], "starting", "{listed}");
    // Its tools arrive later, announced to the client.
    let note = gw
        .peer
        .wait_notification("notifications/tools/list_changed", Duration::from_secs(20));
    assert!(note.is_some(), "no tools/list_changed");
    gw.wait_state("slow", "ready");
    let tools = gw.tool("gateway_list_tools", json!({"server": "slow"}));
    assert!(tools.to_string().contains("\"sleep\""), "{tools}");
}

#[test]
fn slow_calls_block_nothing_and_100_concurrent_calls_overlap() {
    let log = temp_path("fixture.log");
    let log_env = log.to_str().unwrap();
    let mut gw = Gw::started(&config(&[fixture_backend(
        "fx",
        &[("FIXTURE_LOG", log_env)],
    )]));
    gw.wait_state("fx", "ready");

    let slow = gw.peer.request(
        "tools/call",
        json!({"name": "gateway_invoke", "arguments": {"server": "fx", "tool": "sleep", "arguments": {"ms": 60000}}}),
    );
    // The slow call is running in the backend before anything else is asked.
    wait_for_log(&log, T, |e| {
        e["event"] == "call" && e["args"]["ms"] == 60000
    })
    .expect("the slow call never reached the backend");
    let ping = gw.peer.call("ping", json!({}), T);
    assert!(ping.get("result").is_some(), "{ping}");
    gw.peer.call_ok("tools/list", json!({}), T);

    // Overlap, not speed (that is benches/proxy.rs): all 100 calls reach the backend while
    // none of them has been answered.
    let ids: Vec<u64> = (0..100)
        .map(|_| {
            gw.peer.request(
                "tools/call",
                json!({"name": "gateway_invoke", "arguments": {"server": "fx", "tool": "sleep", "arguments": {"ms": 4000}}}),
            )
        })
        .collect();
    let deadline = Instant::now() + T;
    loop {
        let started = crate::support::read_jsonl(&log)
            .iter()
            .filter(|e| e["event"] == "call" && e["args"]["ms"] == 4000)
            .count();
        if started == 100 {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "only {started} of 100 calls started"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    assert!(
        gw.peer.wait_response(ids[0], Duration::ZERO).is_none(),
        "a 4 s call was answered before the 100th started: the calls ran one after another"
    );
    for id in ids {
        let reply = gw.peer.wait_response(id, T).expect("a reply to every call");
        assert_eq!(text_of(&reply["result"]), "slept 4000", "{reply}");
    }
    // The slow call is still running: nothing above waited for it.
    assert!(gw.peer.wait_response(slow, Duration::ZERO).is_none());
}

#[test]
fn cancellation_and_progress_reach_the_backend_and_back() {
    let log = temp_path("fixture-log.jsonl");
    let mut gw = Gw::started(&config(&[fixture_backend(
        "fx",
        &[("FIXTURE_LOG", log.to_str().unwrap())],
    )]));
    gw.wait_state("fx", "ready");

    // Progress: the backend sees the gateway's own token; the client gets its own back.
    let id = gw.peer.request(
        "tools/call",
        json!({"name": "gateway_invoke", "_meta": {"progressToken": "client-token-7"},
               "arguments": {"server": "fx", "tool": "progress", "arguments": {"steps": 3, "interval_ms": 20}}}),
    );
    let reply = gw.peer.wait_response(id, T).unwrap();
    assert_eq!(text_of(&reply["result"]), "done", "{reply}");
    let progress = gw.peer.notifications_of("notifications/progress");
    assert_eq!(progress.len(), 3, "{progress:?}");
    for (i, n) in progress.iter().enumerate() {
        assert_eq!(n["params"]["progressToken"], "client-token-7");
        assert_eq!(n["params"]["progress"].as_f64(), Some(i as f64 + 1.0));
        assert_eq!(n["params"]["total"].as_f64(), Some(3.0));
    }

    // Cancellation: the matching backend call is cancelled, and no reply comes.
    let id = gw.peer.request(
        "tools/call",
        json!({"name": "gateway_invoke", "arguments": {"server": "fx", "tool": "sleep", "arguments": {"ms": 10000}}}),
    );
    let call = wait_for_log(&log, T, |e| e["event"] == "call" && e["tool"] == "sleep").unwrap();
    gw.peer.notify(
        "notifications/cancelled",
        json!({"requestId": id, "reason": "user stopped it"}),
    );
    let cancelled = wait_for_log(&log, Duration::from_secs(2), |e| e["event"] == "cancelled")
        .expect("backend never heard of the cancellation");
    assert_eq!(
        cancelled["request_id"], call["request_id"],
        "cancelled the wrong call"
    );
    assert!(
        wait_for_log(&log, Duration::from_secs(2), |e| e["event"]
            == "tool_cancelled")
        .is_some()
    );
    assert!(
        gw.peer
            .wait_response(id, Duration::from_millis(500))
            .is_none()
    );
}

#[test]
fn backend_list_changes_reach_the_client_and_the_index() {
    let mut gw = Gw::started(&config(&[fixture_backend("fx", &[])]));
    gw.wait_state("fx", "ready");
    let mut seen = gw.peer.notifications().len();
    gw.invoke("fx", "add_tool", json!({"name": "frobnicate_widgets"}));
    // The announcement of `fx` becoming ready may still be on its way (a loaded machine), so
    // wait for an announcement after which the new tool is listed.
    let deadline = Instant::now() + T;
    loop {
        while gw.peer.notifications()[seen..]
            .iter()
            .all(|n| n["method"] != "notifications/tools/list_changed")
        {
            assert!(
                Instant::now() < deadline,
                "no tools/list_changed listing the backend's new tool"
            );
            gw.peer.drain_for(Duration::from_millis(20));
        }
        seen = gw.peer.notifications().len();
        let listed = gw.tool("gateway_list_tools", json!({"server": "fx"}));
        let names: Vec<String> = listed["structuredContent"]["tools"]
            .as_array()
            .unwrap()
            .iter()
            .map(|t| t["name"].as_str().unwrap().to_owned())
            .collect();
        if names.iter().any(|n| n == "frobnicate_widgets") {
            break;
        }
    }
    let found = gw.tool(
        "gateway_search_tools",
        json!({"query": "frobnicate widgets"}),
    );
    assert_eq!(
        found["structuredContent"]["matches"][0]["tool"], "frobnicate_widgets",
        "{found}"
    );
    let result = gw.invoke("fx", "frobnicate_widgets", json!({}));
    assert_eq!(text_of(&result), "dynamic frobnicate_widgets");
}

#[test]
fn a_bad_command_fails_alone_with_its_error() {
    let bad = "  broken:\n    command: /nonexistent/mcp-server-xyz\n".to_owned();
    let mut gw = Gw::started(&config(&[bad, fixture_backend("fx", &[])]));
    let row = gw.wait_state("broken", "failed");
    let error = row["error"].as_str().unwrap();
    assert!(
        error.contains("/nonexistent/mcp-server-xyz") && error.contains("No such file"),
        "{error}"
    );
    gw.wait_state("fx", "ready");
    assert_eq!(
        text_of(&gw.invoke("fx", "echo", json!({"text": "still here"}))),
        "still here"
    );
    let failed = gw.invoke("broken", "anything", json!({}));
    assert_eq!(failed["isError"], true);
    assert!(text_of(&failed).contains("failed"), "{failed}");
}

#[test]
fn a_backend_killed_mid_call_answers_that_call_promptly() {
    let log = temp_path("fixture.log");
    let log_env = log.to_str().unwrap();
    let mut gw = Gw::started(&config(&[fixture_backend(
        "fx",
        &[("FIXTURE_LOG", log_env)],
    )]));
    gw.wait_state("fx", "ready");
    let slow = gw.peer.request(
        "tools/call",
        json!({"name": "gateway_invoke", "arguments": {"server": "fx", "tool": "sleep", "arguments": {"ms": 30000}}}),
    );
    // Crash only once the slow call is in the backend, so it is one that "went away".
    wait_for_log(&log, T, |e| e["event"] == "call" && e["tool"] == "sleep")
        .expect("the slow call never reached the backend");
    gw.peer.request(
        "tools/call",
        json!({"name": "gateway_invoke", "arguments": {"server": "fx", "tool": "crash"}}),
    );
    // Well before the call's own 30 s: the crash, not a timeout, ended it.
    let reply = gw
        .peer
        .wait_response(slow, Duration::from_secs(10))
        .expect("no reply within 10 s of the crash");
    assert_eq!(reply["result"]["isError"], true, "{reply}");
    assert!(text_of(&reply["result"]).contains("went away"), "{reply}");
    // It is reported, then restarted. (The call's error can reach us a moment before the
    // actor marks the backend failed, so wait for that first: it lasts the 1 s backoff.)
    gw.wait_state("fx", "failed");
    gw.wait_state("fx", "ready");
    assert_eq!(
        text_of(&gw.invoke("fx", "echo", json!({"text": "back"}))),
        "back"
    );
}

#[test]
fn closing_stdin_ends_the_gateway_and_every_backend_process() {
    let marker = format!("GATEWAY_TEST_MARKER={}", std::process::id());
    let (key, value) = marker.split_once('=').unwrap();
    let fixture = fixture_server_path();
    // A shell in between, so the fixture is a grandchild, as node is under npx.
    let wrapped = format!(
        "  wrapped:\n    command: sh\n    args: [\"-c\", {:?}]\n    env:\n      {key}: {value:?}\n",
        format!("{}; echo exited >&2", fixture.display())
    );
    let mut gw = Gw::started(&config(&[wrapped, fixture_backend("fx", &[(key, value)])]));
    gw.wait_state("wrapped", "ready");
    gw.wait_state("fx", "ready");
    // Each backend under its supervising shim on Linux (`backend::shim`), which is no
    // backend process of its own: count the others.
    let backends: Vec<u32> = processes_with_env(&marker)
        .into_iter()
        .filter(|pid| !is_shim(*pid))
        .collect();
    assert_eq!(backends.len(), 3, "sh + 2 fixtures expected: {backends:?}");
    gw.peer.close_stdin();
    let status = gw
        .peer
        .wait_exit(Duration::from_secs(10))
        .expect("still running 10 s after stdin closed");
    assert!(status.success(), "{status:?}");
    let left = processes_with_env(&marker);
    assert!(left.is_empty(), "processes left behind: {left:?}");
}

#[test]
fn malformed_input_gets_an_error_and_the_gateway_keeps_serving() {
    let mut gw = Gw::started(&config(&[]));
    gw.peer.send_raw("this is not json");
    gw.peer
        .send(&json!({"jsonrpc": "2.0", "id": 900, "method": "no/such/method"}));
    let reply = gw
        .peer
        .wait_response(900, T)
        .expect("no reply after bad input");
    assert!(reply.get("error").is_some(), "{reply}");
    assert!(gw.peer.call("ping", json!({}), T).get("result").is_some());
    let bad_args = gw.tool("gateway_search_tools", json!({"limit": 3}));
    assert_eq!(bad_args["isError"], true);
    assert!(text_of(&bad_args).contains("query"), "{bad_args}");
}

#[test]
fn unknown_names_get_did_you_mean() {
    let mut gw = Gw::started(&config(&[fixture_backend("fixture", &[])]));
    gw.wait_state("fixture", "ready");
    let wrong_server = gw.invoke("fixtur", "echo", json!({}));
    assert_eq!(wrong_server["isError"], true);
    assert!(
        text_of(&wrong_server).contains("did you mean `fixture`"),
        "{wrong_server}"
    );
    let wrong_tool = gw.invoke("fixture", "ecko", json!({}));
    assert!(
        text_of(&wrong_tool).contains("did you mean `echo`"),
        "{wrong_tool}"
    );
    let reply = gw.peer.call(
        "tools/call",
        json!({"name": "gateway_invok", "arguments": {}}),
        T,
    );
    let message = reply["error"]["message"].as_str().unwrap_or_default();
    assert!(message.contains("gateway_invoke"), "{reply}");
}

#[test]
fn flat_mode_and_surfaced_tools_expose_backend_tools_by_name() {
    let mut gw = Gw::started(&format!(
        "mode: flat\n{}",
        config(&[fixture_backend("fx", &[])])
    ));
    gw.wait_state("fx", "ready");
    let names = gw.peer.tool_names();
    assert!(names.contains(&"fx__echo".to_owned()), "{names:?}");
    assert!(names.iter().all(|n| {
        n.len() <= 64
            && n.chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
    }));
    let result = gw.tool("fx__echo", json!({"text": "flat"}));
    assert_eq!(text_of(&result), "flat");

    let surfaced = format!(
        "surfaced_tools:\n  - {{server: fx, tool: structured}}\n{}",
        config(&[fixture_backend("fx", &[])])
    );
    let mut gw = Gw::started(&surfaced);
    gw.wait_state("fx", "ready");
    let names = gw.peer.tool_names();
    assert_eq!(names.len(), 5, "{names:?}");
    assert!(names.contains(&"fx__structured".to_owned()));
    let result = gw.tool("fx__structured", json!({"value": 42}));
    assert_eq!(result["structuredContent"]["value"], 42, "{result}");
}

/// A terminal command refuses a broken file (`serve` keeps serving instead: see `reload`).
#[test]
fn a_misspelt_config_key_is_rejected_with_position_and_suggestion() {
    let path = temp_path("bad-gateway.yaml");
    std::fs::write(&path, "backends:\n  fx:\n    comand: echo\n").unwrap();
    let out = crate::support::gateway_command()
        .args(["search", "anything", "--config", path.to_str().unwrap()])
        .stdin(std::process::Stdio::null())
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains(&format!("{}:3:5", path.display())),
        "{stderr}"
    );
    assert!(stderr.contains("did you mean `command`"), "{stderr}");
    assert!(out.stdout.is_empty(), "stdout must stay clean");
    let _ = std::fs::remove_file(Path::new(&path));
}

#[cfg(target_os = "linux")]
#[test]
fn a_gateway_killed_with_sigkill_takes_its_backends_with_it() {
    // `sleep` ignores its stdin, as server-everything does: only the kernel's parent-death
    // signal can end it when the gateway dies without cleaning up.
    let marker = format!("GATEWAY_SIGKILL_MARKER={}", std::process::id());
    let (key, value) = marker.split_once('=').unwrap();
    let backend = format!(
        "  stubborn:\n    command: sleep\n    args: [\"30\"]\n    env:\n      {key}: {value:?}\n"
    );
    let gw = Gw::started(&config(&[backend]));
    let deadline = Instant::now() + Duration::from_secs(10);
    while processes_with_env(&marker).is_empty() {
        assert!(Instant::now() < deadline, "the backend never started");
        std::thread::sleep(Duration::from_millis(20));
    }
    let killed = std::process::Command::new("kill")
        .args(["-KILL", &gw.peer.pid().to_string()])
        .status()
        .unwrap();
    assert!(killed.success());
    let deadline = Instant::now() + Duration::from_secs(2);
    while !processes_with_env(&marker).is_empty() {
        assert!(
            Instant::now() < deadline,
            "backend outlived its SIGKILLed gateway: {:?}",
            processes_with_env(&marker)
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}
