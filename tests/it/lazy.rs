//! Lazy start and idle stop: a lazy backend's tools are searchable from its cached
//! `tools/list` while no process of it runs, its first call starts it; a backend idle for
//! `idle_timeout` is stopped (its process gone) and the next call brings it back. The real
//! binary over stdio against the fixture server; processes are found by an environment
//! marker.

use std::path::Path;
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::support::{StdioPeer, fixture_server_path, gateway_bin, server_row, temp_path};

const T: Duration = Duration::from_secs(30);

fn serve(config: &Path, cache: &Path) -> StdioPeer {
    let mut peer = StdioPeer::spawn(
        &gateway_bin(),
        &["serve", "--config", config.to_str().unwrap()],
        &[
            ("MCP_GATEWAY_TOOLS_CACHE", cache.to_str().unwrap()),
            ("MCP_GATEWAY_MODEL", "off"),
        ],
    );
    peer.initialize();
    peer
}

fn tool(peer: &mut StdioPeer, name: &str, arguments: Value) -> Value {
    peer.call_ok(
        "tools/call",
        json!({"name": name, "arguments": arguments}),
        T,
    )
}

fn wait_row(peer: &mut StdioPeer, server: &str, done: impl Fn(&Value) -> bool) -> Value {
    let deadline = Instant::now() + T;
    loop {
        let r = server_row(peer, server);
        if done(&r) {
            return r;
        }
        assert!(Instant::now() < deadline, "{server} never got there: {r}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// The backend's processes (its supervising shim aside).
fn running(marker: &str) -> Vec<u32> {
    crate::gateway::processes_with_env(marker)
        .into_iter()
        .filter(|pid| !crate::gateway::is_shim(*pid))
        .collect()
}

fn echo(peer: &mut StdioPeer, server: &str, text: &str) -> Value {
    tool(
        peer,
        "gateway_invoke",
        json!({"server": server, "tool": "echo", "arguments": {"text": text}}),
    )
}

fn backend_yaml(name: &str, marker: &str, extra: &str) -> String {
    let (key, value) = marker.split_once('=').unwrap();
    format!(
        "search:\n  model: off\nbackends:\n  {name}:\n    command: {:?}\n{extra}    env:\n      FIXTURE_NAME: {name}\n      {key}: {value:?}\n      FIXTURE_EXTRA_TOOLS: '[{{\"name\": \"calibrate_flux_capacitor\", \"description\": \"Calibrates the flux capacitor of a time machine\"}}]'\n",
        fixture_server_path()
    )
}

fn search_finds_the_extra_tool(peer: &mut StdioPeer, server: &str) {
    let found = tool(
        peer,
        "gateway_search_tools",
        json!({"query": "calibrate flux capacitor"}),
    );
    let hit = found["structuredContent"]["matches"]
        .as_array()
        .unwrap()
        .iter()
        .any(|m| m["server"] == server && m["tool"] == "calibrate_flux_capacitor");
    assert!(hit, "{found}");
}

#[test]
fn a_lazy_backend_is_searchable_from_its_cache_and_its_first_call_starts_it() {
    let marker = format!("LAZY_MARKER={}", std::process::id());
    let cache = temp_path("tools-cache");
    let config = temp_path("gateway.yaml");
    std::fs::write(
        &config,
        backend_yaml("sleepy", &marker, "    start: lazy\n"),
    )
    .unwrap();

    // No cache yet: started once at serve to list its tools, then idle.
    let mut peer = serve(&config, &cache);
    let r = wait_row(&mut peer, "sleepy", |r| r["state"] == "idle");
    assert!(
        r["idle"].as_str().unwrap_or_default().contains("lazy"),
        "{r}"
    );
    let deadline = Instant::now() + Duration::from_secs(5);
    while !running(&marker).is_empty() {
        assert!(Instant::now() < deadline, "still running after listing");
        std::thread::sleep(Duration::from_millis(20));
    }
    peer.close_stdin();
    peer.wait_exit(T).expect("gateway did not exit");
    assert_eq!(
        std::fs::read_dir(&cache).unwrap().count(),
        1,
        "one cached list"
    );

    // From the cache: searchable, listed, and no process of it ever started.
    let mut peer = serve(&config, &cache);
    let r = wait_row(&mut peer, "sleepy", |r| r["state"] != "starting");
    assert_eq!(r["state"], "idle", "{r}");
    assert!(r["tools_count"].as_u64().unwrap() > 1, "{r}");
    search_finds_the_extra_tool(&mut peer, "sleepy");
    std::thread::sleep(Duration::from_millis(300));
    assert!(
        running(&marker).is_empty(),
        "a lazy backend started before any call"
    );

    // The first call starts it and gets its answer.
    let result = echo(&mut peer, "sleepy", "woken");
    assert_eq!(result["content"][0]["text"], "woken", "{result}");
    assert_eq!(running(&marker).len(), 1);
    assert_eq!(server_row(&mut peer, "sleepy")["state"], "ready");
    peer.close_stdin();
    peer.wait_exit(T).expect("gateway did not exit");
    let _ = std::fs::remove_dir_all(&cache);
    let _ = std::fs::remove_file(&config);
}

#[test]
fn an_idle_backend_is_stopped_and_the_next_call_brings_it_back() {
    let marker = format!("IDLE_MARKER={}", std::process::id());
    let cache = temp_path("tools-cache");
    let config = temp_path("gateway.yaml");
    std::fs::write(
        &config,
        backend_yaml("dozy", &marker, "    idle_timeout: 1s\n"),
    )
    .unwrap();
    let mut peer = serve(&config, &cache);
    wait_row(&mut peer, "dozy", |r| r["state"] == "ready");
    assert_eq!(echo(&mut peer, "dozy", "one")["content"][0]["text"], "one");
    assert_eq!(running(&marker).len(), 1);

    // A call that lasts longer than the idle timeout keeps it up.
    let slow = tool(
        &mut peer,
        "gateway_invoke",
        json!({"server": "dozy", "tool": "sleep", "arguments": {"ms": 1500}}),
    );
    assert_ne!(slow["isError"], true, "{slow}");

    let asked = Instant::now();
    let r = wait_row(&mut peer, "dozy", |r| r["state"] == "idle");
    eprintln!("idle after {:?}", asked.elapsed());
    assert!(
        r["idle"]
            .as_str()
            .unwrap_or_default()
            .contains("stopped after 1s idle"),
        "{r}"
    );
    let deadline = Instant::now() + Duration::from_secs(5);
    while !running(&marker).is_empty() {
        assert!(Instant::now() < deadline, "process still there: {r}");
        std::thread::sleep(Duration::from_millis(20));
    }
    // Still searchable while stopped.
    search_finds_the_extra_tool(&mut peer, "dozy");

    let result = echo(&mut peer, "dozy", "two");
    assert_eq!(result["content"][0]["text"], "two", "{result}");
    assert_eq!(running(&marker).len(), 1);
    peer.close_stdin();
    peer.wait_exit(T).expect("gateway did not exit");
    let _ = std::fs::remove_file(&config);
}
