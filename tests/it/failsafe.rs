//! Limits and breakers, per backend, end to end: the real gateway binary over stdio in
//! front of fixture backends. A concurrency limit queues then refuses clearly; a rate
//! limit refuses past its burst; the breaker opens on timeouts (never on `isError`),
//! fails fast naming the last failure, and closes after a probe; a read-only tool is
//! retried after its backend died mid-call while a plain one is not (counted on the
//! fixture's side).

use std::path::Path;
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::support::{
    StdioPeer, fixture_server_path, gateway_bin, read_jsonl, server_row, temp_path,
};

const T: Duration = Duration::from_secs(30);

/// A fixture backend entry logging its calls to `log`, plus `extra` lines of settings.
fn backend(name: &str, log: &Path, extra: &str) -> String {
    format!(
        "  {name}:\n    command: {:?}\n    env:\n      FIXTURE_LOG: {:?}\n{extra}",
        fixture_server_path().display().to_string(),
        log.display().to_string(),
    )
}

fn gateway(backends: &[String]) -> StdioPeer {
    let config = temp_path("gateway.yaml");
    std::fs::write(&config, format!("backends:\n{}", backends.concat())).unwrap();
    let mut peer = StdioPeer::spawn(
        &gateway_bin(),
        &["serve", "--config", config.to_str().unwrap()],
        &[],
    );
    peer.initialize();
    peer
}

fn invoke_request(peer: &mut StdioPeer, server: &str, tool: &str, arguments: Value) -> u64 {
    peer.request(
        "tools/call",
        json!({"name": "gateway_invoke",
               "arguments": {"server": server, "tool": tool, "arguments": arguments}}),
    )
}

fn answer(peer: &mut StdioPeer, id: u64) -> Value {
    let response = peer
        .wait_response(id, T)
        .unwrap_or_else(|| panic!("no answer to {id}\n{}", peer.stderr_tail()));
    response["result"].clone()
}

fn invoke(peer: &mut StdioPeer, server: &str, tool: &str, arguments: Value) -> Value {
    let id = invoke_request(peer, server, tool, arguments);
    answer(peer, id)
}

fn text(result: &Value) -> String {
    result["content"][0]["text"]
        .as_str()
        .unwrap_or_default()
        .to_owned()
}

fn failed(result: &Value) -> String {
    assert_eq!(result["isError"], true, "expected an error: {result}");
    text(result)
}

fn wait_ready(peer: &mut StdioPeer, server: &str) {
    let deadline = Instant::now() + T;
    while server_row(peer, server)["state"] != "ready" {
        assert!(Instant::now() < deadline, "{server} never ready");
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Calls of `tool` the fixture logged.
fn calls_of(log: &Path, tool: &str) -> usize {
    read_jsonl(log)
        .iter()
        .filter(|e| e["event"] == "call" && e["tool"] == tool)
        .count()
}

#[test]
fn a_concurrency_limit_queues_calls_then_refuses_one_that_waited_too_long() {
    let (narrow_log, queued_log) = (temp_path("narrow.jsonl"), temp_path("queued.jsonl"));
    let mut peer = gateway(&[
        backend(
            "narrow",
            &narrow_log,
            "    max_concurrency: 1\n    queue_timeout: 400ms\n",
        ),
        backend(
            "queued",
            &queued_log,
            "    max_concurrency: 1\n    queue_timeout: 10s\n",
        ),
    ]);
    wait_ready(&mut peer, "narrow");
    wait_ready(&mut peer, "queued");

    // The one slot is taken by a slow call; the next waits its 400 ms and is refused,
    // unsent, with the backend, the limit and the wait named.
    let slow = invoke_request(&mut peer, "narrow", "sleep", json!({"ms": 2000}));
    std::thread::sleep(Duration::from_millis(300));
    let asked = Instant::now();
    let refused = invoke(&mut peer, "narrow", "echo", json!({"text": "hi"}));
    let waited = asked.elapsed();
    let message = failed(&refused);
    eprintln!("refused after {waited:?}: {message}");
    assert!(
        message.contains("backend `narrow`")
            && message.contains("limit of 1 concurrent call")
            && message.contains("`max_concurrency`")
            && message.contains("waited "),
        "{message}"
    );
    assert!(waited >= Duration::from_millis(390), "{waited:?}");
    assert_eq!(text(&answer(&mut peer, slow)), "slept 2000");
    assert_eq!(
        calls_of(&narrow_log, "echo"),
        0,
        "a refused call is not sent"
    );

    // With room to wait, the queued call goes as soon as the slot is free.
    let slow = invoke_request(&mut peer, "queued", "sleep", json!({"ms": 800}));
    std::thread::sleep(Duration::from_millis(200));
    let asked = Instant::now();
    let echoed = invoke(&mut peer, "queued", "echo", json!({"text": "after"}));
    let waited = asked.elapsed();
    assert_eq!(text(&echoed), "after", "{echoed}");
    assert!(
        waited >= Duration::from_millis(450),
        "it queued: {waited:?}"
    );
    assert_eq!(text(&answer(&mut peer, slow)), "slept 800");
}

#[test]
fn a_rate_limit_refuses_past_its_burst_and_paces_calls_that_may_wait() {
    let (strict_log, paced_log) = (temp_path("strict.jsonl"), temp_path("paced.jsonl"));
    let mut peer = gateway(&[
        backend(
            "strict",
            &strict_log,
            "    rate_limit: 2/s\n    queue_timeout: 100ms\n",
        ),
        backend(
            "paced",
            &paced_log,
            "    rate_limit: 2/1s\n    queue_timeout: 5s\n",
        ),
    ]);
    wait_ready(&mut peer, "strict");
    wait_ready(&mut peer, "paced");

    for i in 0..2 {
        let ok = invoke(&mut peer, "strict", "echo", json!({"text": format!("{i}")}));
        assert_eq!(text(&ok), format!("{i}"), "{ok}");
    }
    let message = failed(&invoke(&mut peer, "strict", "echo", json!({"text": "3"})));
    assert!(
        message.contains("backend `strict`")
            && message.contains("rate limit of 2 calls per 1s")
            && message.contains("`rate_limit`"),
        "{message}"
    );
    assert_eq!(
        calls_of(&strict_log, "echo"),
        2,
        "the refused call is not sent"
    );
    std::thread::sleep(Duration::from_millis(1100));
    let ok = invoke(&mut peer, "strict", "echo", json!({"text": "refilled"}));
    assert_eq!(text(&ok), "refilled", "{ok}");

    // Calls that may wait go out spaced by the rate: the third after about 500 ms.
    let started = Instant::now();
    let ids: Vec<u64> = (0..3)
        .map(|i| invoke_request(&mut peer, "paced", "echo", json!({"text": format!("{i}")})))
        .collect();
    for id in ids {
        assert!(!text(&answer(&mut peer, id)).is_empty());
    }
    let took = started.elapsed();
    assert!(took >= Duration::from_millis(450), "paced: {took:?}");
}

#[test]
fn the_breaker_opens_on_timeouts_not_on_tool_errors_fails_fast_and_closes_after_a_probe() {
    let log = temp_path("flaky.jsonl");
    let mut peer = gateway(&[backend(
        "flaky",
        &log,
        "    timeout: 300ms\n    circuit_breaker: { failures: 2, cool_down: 1500ms }\n",
    )]);
    wait_ready(&mut peer, "flaky");

    // A tool's own error is an answer: however many, the breaker stays closed.
    for _ in 0..4 {
        assert_eq!(
            failed(&invoke(&mut peer, "flaky", "fail", json!({}))),
            "fixture failure"
        );
    }
    let quiet = server_row(&mut peer, "flaky");
    assert!(quiet.get("breaker").is_none(), "{quiet}");

    // Two timeouts in a row open it.
    for _ in 0..2 {
        let message = failed(&invoke(&mut peer, "flaky", "sleep", json!({"ms": 3000})));
        assert!(message.contains("did not answer within 300ms"), "{message}");
    }
    let echoes_before = calls_of(&log, "echo");
    let asked = Instant::now();
    let message = failed(&invoke(&mut peer, "flaky", "echo", json!({"text": "x"})));
    let took = asked.elapsed();
    eprintln!("failed fast in {took:?}: {message}");
    assert!(
        message.contains("backend `flaky` is failing fast")
            && message.contains("circuit breaker open")
            && message.contains("last failure: backend `flaky` did not answer within 300ms")
            && message.contains("will probe it"),
        "{message}"
    );
    // Not sent (the fixture's log below proves it) and not waited on.
    assert!(took < Duration::from_secs(1), "not fast: {took:?}");
    let open = server_row(&mut peer, "flaky");
    assert_eq!(open["state"], "ready", "the supervisor sees it up: {open}");
    assert_eq!(open["breaker"]["state"], "open", "{open}");
    assert_eq!(open["breaker"]["failures_in_a_row"], 2, "{open}");
    assert!(
        open["breaker"]["reason"]
            .as_str()
            .unwrap()
            .contains("did not answer"),
        "{open}"
    );
    assert!(
        open["breaker"]["probe_in_ms"].as_u64().unwrap() <= 1500,
        "{open}"
    );

    // After the cool-down one probe goes through; its success closes the breaker.
    std::thread::sleep(Duration::from_millis(1600));
    let probe = invoke(&mut peer, "flaky", "echo", json!({"text": "probe"}));
    assert_eq!(text(&probe), "probe", "{probe}");
    assert_eq!(
        calls_of(&log, "echo"),
        echoes_before + 1,
        "only the probe reached the backend"
    );
    let closed = server_row(&mut peer, "flaky");
    assert!(closed.get("breaker").is_none(), "{closed}");
    assert_eq!(
        text(&invoke(
            &mut peer,
            "flaky",
            "echo",
            json!({"text": "again"})
        )),
        "again"
    );
}

#[test]
fn a_read_only_tool_is_retried_after_its_backend_died_and_a_plain_one_is_not() {
    let log = temp_path("crashy.jsonl");
    let mut peer = gateway(&[backend("crashy", &log, "")]);
    wait_ready(&mut peer, "crashy");

    // The backend dies mid-call; the read-only call is made again on the restarted one.
    let read_marker = temp_path("read.marker");
    let retried = invoke(
        &mut peer,
        "crashy",
        "crash_once_read",
        json!({"marker": read_marker.to_str().unwrap()}),
    );
    assert_eq!(text(&retried), "survived", "{retried}");
    assert_eq!(
        calls_of(&log, "crash_once_read"),
        2,
        "sent twice: once, then the retry"
    );

    // The same failure on a tool that may have side effects is reported, never repeated.
    wait_ready(&mut peer, "crashy");
    let plain_marker = temp_path("plain.marker");
    let message = failed(&invoke(
        &mut peer,
        "crashy",
        "crash_once",
        json!({"marker": plain_marker.to_str().unwrap()}),
    ));
    assert!(message.contains("went away during the call"), "{message}");
    assert!(plain_marker.exists(), "the fixture ran it");
    wait_ready(&mut peer, "crashy");
    std::thread::sleep(Duration::from_millis(500));
    assert_eq!(calls_of(&log, "crash_once"), 1, "not retried");
    // The backend itself is fine again; a new call is the caller's choice.
    let again = invoke(
        &mut peer,
        "crashy",
        "crash_once",
        json!({"marker": plain_marker.to_str().unwrap()}),
    );
    assert_eq!(text(&again), "survived", "{again}");
}
