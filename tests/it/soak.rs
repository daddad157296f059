//! The soak: thousands of calls, many in flight at once, across several fixture backends
//! while backends are killed at random and `gateway.yaml` is edited under the running
//! gateway. Every request must get exactly one response (a result or a clear error), and
//! afterwards no backend process, zombie or file descriptor may be left over and the
//! gateway's memory must be back near where it started.
//!
//! Bounded for CI (`SOAK_SECS`, default 30); run longer locally with e.g.
//! `SOAK_SECS=600 cargo nextest run --test it soak`. The figures it prints are the ones
//! BENCHMARKS.md quotes.

use std::collections::VecDeque;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::support::{StdioPeer, fixture_server_path, gateway_bin, temp_path};

/// Calls in flight at once.
const WINDOW: usize = 64;
/// Backends always configured; one more comes and goes with the edits.
const BACKENDS: usize = 4;
const T: Duration = Duration::from_secs(60);

fn config(path: &Path, marker: &str, round: u64) {
    let fixture = fixture_server_path();
    let mut yaml = String::from("backends:\n");
    for i in 0..BACKENDS {
        // Every other edit changes fx3's environment: that backend restarts, the others not.
        let generation = if i == 3 { round % 2 } else { 0 };
        yaml.push_str(&format!(
            "  fx{i}:\n    command: {fixture:?}\n    env:\n      SOAK_MARKER: {marker:?}\n      SOAK_GENERATION: \"{generation}\"\n"
        ));
    }
    if round % 3 == 1 {
        yaml.push_str(&format!(
            "  extra:\n    command: {fixture:?}\n    env:\n      SOAK_MARKER: {marker:?}\n"
        ));
    }
    // Written whole and renamed, as editors do: the watcher never sees half a file.
    let tmp = path.with_extension("tmp");
    std::fs::write(&tmp, yaml).unwrap();
    std::fs::rename(&tmp, path).unwrap();
}

/// Processes whose environment carries `SOAK_MARKER=marker`: the backends of this test
/// (not their supervising shims, which carry it too).
fn marked(marker: &str) -> Vec<i32> {
    let needle = format!("SOAK_MARKER={marker}");
    let mut pids = Vec::new();
    for entry in std::fs::read_dir("/proc").unwrap().flatten() {
        let Ok(pid) = entry.file_name().to_string_lossy().parse::<i32>() else {
            continue;
        };
        let Ok(environ) = std::fs::read(entry.path().join("environ")) else {
            continue;
        };
        if environ
            .split(|b| *b == 0)
            .any(|var| var == needle.as_bytes())
            && !crate::gateway::is_shim(pid.unsigned_abs())
        {
            pids.push(pid);
        }
    }
    pids
}

/// Zombie children of `parent`.
fn zombies(parent: u32) -> usize {
    let mut count = 0;
    for entry in std::fs::read_dir("/proc").unwrap().flatten() {
        let Ok(stat) = std::fs::read_to_string(entry.path().join("stat")) else {
            continue;
        };
        // `pid (comm) state ppid …`; comm may hold spaces and parentheses.
        let Some(rest) = stat.rsplit_once(") ").map(|(_, r)| r) else {
            continue;
        };
        let mut fields = rest.split_whitespace();
        let (state, ppid) = (fields.next(), fields.next());
        if state == Some("Z") && ppid == Some(parent.to_string().as_str()) {
            count += 1;
        }
    }
    count
}

fn open_fds(pid: u32) -> usize {
    std::fs::read_dir(format!("/proc/{pid}/fd")).map_or(0, Iterator::count)
}

fn rss_kb(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0)
}

/// Wait until exactly the `names` backends are listed, all ready.
fn settle(gw: &mut StdioPeer, names: &[String]) {
    let deadline = Instant::now() + T;
    loop {
        let listed = gw.call_ok(
            "tools/call",
            json!({"name": "gateway_list_servers", "arguments": {}}),
            T,
        );
        let servers = listed["structuredContent"]["servers"]
            .as_array()
            .cloned()
            .unwrap_or_default();
        let ready = servers.iter().all(|s| s["state"] == "ready");
        let listed: Vec<&str> = servers.iter().filter_map(|s| s["name"].as_str()).collect();
        if ready && listed == names.iter().map(String::as_str).collect::<Vec<_>>() {
            return;
        }
        assert!(Instant::now() < deadline, "never settled: {servers:?}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// A response is either a result or a JSON-RPC error with a message; nothing else.
fn is_clear(response: &Value) -> bool {
    match (response.get("result"), response.get("error")) {
        (Some(result), None) => result["content"][0]["text"].is_string(),
        (None, Some(error)) => error["message"].as_str().is_some_and(|m| !m.is_empty()),
        _ => false,
    }
}

#[test]
fn every_call_gets_exactly_one_answer_while_backends_die_and_the_config_changes() {
    let secs: u64 = std::env::var("SOAK_SECS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(30);
    let marker = format!(
        "soak-{}-{}",
        std::process::id(),
        temp_path("m").display().to_string().len()
    );
    let path: PathBuf = temp_path("soak.yaml");
    config(&path, &marker, 0);
    let mut gw = StdioPeer::spawn(
        &gateway_bin(),
        &["serve", "--config", path.to_str().unwrap()],
        &[],
    );
    gw.initialize();
    let names: Vec<String> = (0..BACKENDS).map(|i| format!("fx{i}")).collect();
    settle(&mut gw, &names);
    let pid = gw.pid();
    // Warm up, then take the baseline.
    for i in 0..200 {
        gw.call_ok(
            "tools/call",
            json!({"name": "gateway_invoke", "arguments": {"server": format!("fx{}", i % BACKENDS), "tool": "echo", "arguments": {"text": "warm"}}}),
            T,
        );
    }
    let (fds_before, rss_before) = (open_fds(pid), rss_kb(pid));

    // Chaos: a random backend killed every 200 ms, the config edited every 1.5 s.
    let stop = Arc::new(AtomicBool::new(false));
    let kills = Arc::new(AtomicU64::new(0));
    let edits = Arc::new(AtomicU64::new(0));
    let chaos = {
        let (stop, kills, edits) = (Arc::clone(&stop), Arc::clone(&kills), Arc::clone(&edits));
        let (marker, path) = (marker.clone(), path.clone());
        std::thread::spawn(move || {
            let mut tick = 0u64;
            while !stop.load(Ordering::Relaxed) {
                std::thread::sleep(Duration::from_millis(200));
                tick += 1;
                let pids = marked(&marker);
                if !pids.is_empty() {
                    let victim = pids[(tick as usize * 7919) % pids.len()];
                    if nix::sys::signal::kill(
                        nix::unistd::Pid::from_raw(victim),
                        nix::sys::signal::Signal::SIGKILL,
                    )
                    .is_ok()
                    {
                        kills.fetch_add(1, Ordering::Relaxed);
                    }
                }
                if tick.is_multiple_of(8) {
                    let round = edits.fetch_add(1, Ordering::Relaxed) + 1;
                    config(&path, &marker, round);
                }
            }
        })
    };

    let started = Instant::now();
    let mut in_flight: VecDeque<u64> = VecDeque::new();
    let (mut sent, mut ok, mut tool_errors, mut rpc_errors) = (0u64, 0u64, 0u64, 0u64);
    let mut slowest = Duration::ZERO;
    let mut answer = |gw: &mut StdioPeer, id: u64| {
        let waited = Instant::now();
        let response = gw
            .wait_response(id, T)
            .unwrap_or_else(|| panic!("request {id} got no response within {T:?}"));
        slowest = slowest.max(waited.elapsed());
        assert!(is_clear(&response), "not a clear answer: {response}");
        if response.get("error").is_some() {
            rpc_errors += 1;
        } else if response["result"]["isError"] == true {
            tool_errors += 1;
        } else {
            ok += 1;
        }
    };
    while started.elapsed() < Duration::from_secs(secs) {
        let server = if sent % 11 == 10 {
            "extra".to_owned()
        } else {
            format!("fx{}", sent % BACKENDS as u64)
        };
        let (tool, arguments) = if sent % 5 == 0 {
            ("sleep", json!({"ms": 20}))
        } else {
            ("echo", json!({"text": format!("call {sent}")}))
        };
        let id = gw.request(
            "tools/call",
            json!({"name": "gateway_invoke", "arguments": {"server": server, "tool": tool, "arguments": arguments}}),
        );
        sent += 1;
        in_flight.push_back(id);
        if in_flight.len() >= WINDOW {
            let oldest = in_flight.pop_front().unwrap();
            answer(&mut gw, oldest);
        }
    }
    while let Some(id) = in_flight.pop_front() {
        answer(&mut gw, id);
    }
    stop.store(true, Ordering::Relaxed);
    chaos.join().unwrap();
    let elapsed = started.elapsed();

    // Back to the first config; everything settles.
    config(&path, &marker, 0);
    settle(&mut gw, &names);
    gw.drain_for(Duration::from_millis(500));
    assert_eq!(gw.unclaimed_responses(), 0, "a request was answered twice");
    // One process per configured backend, nothing left of the killed or removed ones.
    let deadline = Instant::now() + Duration::from_secs(10);
    while marked(&marker).len() != BACKENDS && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(100));
    }
    assert_eq!(
        marked(&marker).len(),
        BACKENDS,
        "backend processes left over"
    );
    assert_eq!(zombies(pid), 0, "zombie backends");
    let (fds_after, rss_after) = (open_fds(pid), rss_kb(pid));
    // A few descriptors may differ with timing (a log file, an inotify watch re-armed).
    assert!(
        fds_after <= fds_before + 8,
        "fds: {fds_before} before, {fds_after} after"
    );
    assert!(
        rss_after <= rss_before * 2 + 16 * 1024,
        "RSS: {rss_before} kB before, {rss_after} kB after"
    );
    let figures = json!({
        "seconds": elapsed.as_secs_f64(),
        "calls": sent,
        "calls_per_s": (sent as f64 / elapsed.as_secs_f64()).round(),
        "ok": ok,
        "tool_errors": tool_errors,
        "rpc_errors": rpc_errors,
        "slowest_answer_ms": slowest.as_millis(),
        "backends_killed": kills.load(Ordering::Relaxed),
        "config_edits": edits.load(Ordering::Relaxed),
        "fds": [fds_before, fds_after],
        "rss_kb": [rss_before, rss_after],
    });
    eprintln!("soak: {figures}");
    assert_eq!(ok + tool_errors + rpc_errors, sent);
    // Killing backends must not make every call fail.
    assert!(ok > sent / 2, "{figures}");
    gw.close_stdin();
    assert!(gw.wait_exit(Duration::from_secs(10)).is_some());
    let _ = std::fs::remove_file(&path);
}
