//! Process hygiene (Linux): a gateway killed with SIGKILL leaves no backend process behind,
//! grandchildren included (npx → node; a `setsid`'d grandchild that ignores its closed
//! stdin); a backend's exit status reaches its error; a thousand restarts leave no zombie
//! and no extra file descriptor. The real binary over stdio; processes are tracked by a
//! marker in their environment.
#![cfg(target_os = "linux")]

use std::path::PathBuf;
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::support::{StdioPeer, gateway_bin, server_row, temp_path};

const T: Duration = Duration::from_secs(30);

/// A gateway serving `backends` (YAML lines under `backends:`), initialized.
fn serve(backends: &str, env: &[(&str, &str)]) -> (StdioPeer, PathBuf) {
    let config = temp_path("gateway.yaml");
    std::fs::write(&config, format!("backends:\n{backends}")).unwrap();
    let mut peer = StdioPeer::spawn(
        &gateway_bin(),
        &["serve", "--config", config.to_str().unwrap()],
        env,
    );
    peer.initialize();
    (peer, config)
}

fn wait_row(peer: &mut StdioPeer, server: &str, done: impl Fn(&Value) -> bool) -> Value {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let row = server_row(peer, server);
        if done(&row) {
            return row;
        }
        assert!(Instant::now() < deadline, "{server} never got there: {row}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// A marker unique to this test process and `name`, as `KEY=value`.
fn marker(name: &str) -> (String, String) {
    (
        "HYGIENE_MARKER".to_owned(),
        format!("{name}-{}", std::process::id()),
    )
}

/// Live (non-zombie) processes whose environment holds `key=value`.
fn marked(key: &str, value: &str) -> Vec<(u32, String)> {
    let wanted = format!("{key}={value}");
    let mut found = Vec::new();
    for entry in std::fs::read_dir("/proc").unwrap().flatten() {
        let Ok(pid) = entry.file_name().to_string_lossy().parse::<u32>() else {
            continue;
        };
        let Ok(environ) = std::fs::read(entry.path().join("environ")) else {
            continue;
        };
        if !environ.split(|b| *b == 0).any(|kv| kv == wanted.as_bytes()) {
            continue;
        }
        let stat = std::fs::read_to_string(entry.path().join("stat")).unwrap_or_default();
        if stat
            .rsplit_once(')')
            .is_some_and(|(_, rest)| rest.trim_start().starts_with('Z'))
        {
            continue;
        }
        let cmdline = std::fs::read(entry.path().join("cmdline")).unwrap_or_default();
        found.push((pid, String::from_utf8_lossy(&cmdline).replace('\0', " ")));
    }
    found
}

/// SIGKILL the gateway, then wait (at most 5 s) until no marked process is left.
fn kill_gateway_and_expect_no_descendant(peer: &mut StdioPeer, key: &str, value: &str) {
    let status = std::process::Command::new("kill")
        .args(["-KILL", &peer.pid().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let killed = Instant::now();
    while !marked(key, value).is_empty() {
        assert!(
            killed.elapsed() < Duration::from_secs(5),
            "outlived the SIGKILLed gateway by 5 s: {:?}",
            marked(key, value)
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    eprintln!(
        "every descendant gone {:?} after the SIGKILL",
        killed.elapsed()
    );
}

#[test]
fn a_sigkilled_gateway_leaves_no_npx_descendant() {
    let peers = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/peers");
    assert!(
        peers
            .join("node_modules/@modelcontextprotocol/server-everything")
            .is_dir(),
        "npm test peers missing: run tests/peers/install.sh"
    );
    let (key, value) = marker("npx");
    let backend = format!(
        "  everything:\n    command: npx\n    args: [\"--no-install\", \"@modelcontextprotocol/server-everything\"]\n    cwd: {peers:?}\n    env:\n      {key}: {value:?}\n"
    );
    let (mut peer, config) = serve(&backend, &[]);
    wait_row(&mut peer, "everything", |r| r["state"] == "ready");
    let before = marked(&key, &value);
    // The shim, npx and node at least (npm may put a shell in between).
    assert!(
        before
            .iter()
            .any(|(_, cmd)| cmd.contains("server-everything") && cmd.starts_with("node")),
        "no node process under npx: {before:?}"
    );
    assert!(before.len() >= 3, "{before:?}");
    kill_gateway_and_expect_no_descendant(&mut peer, &key, &value);
    let _ = std::fs::remove_file(config);
}

#[test]
fn a_sigkilled_gateway_leaves_no_setsid_grandchild_that_ignores_stdin() {
    let (key, value) = marker("setsid");
    // A grandchild in a session (and process group) of its own, its stdin closed, deaf
    // to SIGTERM and SIGHUP; and a plain background child. Neither is a direct child of
    // the gateway, and the first is out of reach of any process-group kill.
    let script = "setsid sh -c 'exec 0<&-; trap \"\" TERM HUP; sleep 1000' & sleep 1000 & \
                  echo started >&2; wait";
    let backend = format!(
        "  sticky:\n    command: sh\n    args: [\"-c\", {script:?}]\n    env:\n      {key}: {value:?}\n"
    );
    let (mut peer, config) = serve(&backend, &[]);
    let deadline = Instant::now() + T;
    while marked(&key, &value).len() < 5 {
        assert!(
            Instant::now() < deadline,
            "not all started: {:?}",
            marked(&key, &value)
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    let sessions: Vec<String> = marked(&key, &value)
        .iter()
        .map(|(pid, _)| {
            let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
            let rest = stat
                .rsplit_once(')')
                .map(|(_, r)| r.to_owned())
                .unwrap_or_default();
            rest.split_whitespace()
                .nth(3)
                .unwrap_or_default()
                .to_owned()
        })
        .collect();
    let mut distinct = sessions.clone();
    distinct.sort();
    distinct.dedup();
    assert!(
        distinct.len() >= 2,
        "the grandchild did not leave the session: {sessions:?}"
    );
    kill_gateway_and_expect_no_descendant(&mut peer, &key, &value);
    let _ = std::fs::remove_file(config);
}

#[test]
fn a_backend_exit_status_and_signal_reach_its_error() {
    let backends = "  exits:\n    command: sh\n    args: [\"-c\", \"echo going away >&2; exit 3\"]\n\
                    \x20 killed:\n    command: sh\n    args: [\"-c\", \"kill -9 $$\"]\n\
                    \x20 missing:\n    command: /nonexistent/mcp-server-hygiene\n";
    let (mut peer, config) = serve(backends, &[]);
    let row = wait_row(&mut peer, "exits", |r| r["state"] == "failed");
    let error = row["error"].as_str().unwrap_or_default();
    assert!(error.contains("exited with status 3"), "{row}");
    assert!(error.contains("going away"), "{row}");
    let row = wait_row(&mut peer, "killed", |r| r["state"] == "failed");
    let error = row["error"].as_str().unwrap_or_default();
    assert!(error.contains("killed by signal 9 (SIGKILL)"), "{row}");
    // A command that cannot start is still that error, and waits (no retry timer).
    let row = wait_row(&mut peer, "missing", |r| r["state"] == "failed");
    let error = row["error"].as_str().unwrap_or_default();
    assert!(
        error.contains("cannot start `/nonexistent/mcp-server-hygiene`")
            && error.contains("No such file"),
        "{row}"
    );
    assert!(row.get("next_retry_in_ms").is_none(), "{row}");
    let _ = std::fs::remove_file(config);
}

/// Children of `pid` that are zombies, from every process's parent link in `/proc`.
fn zombie_children(pid: u32) -> Vec<u32> {
    let mut found = Vec::new();
    for entry in std::fs::read_dir("/proc").unwrap().flatten() {
        let Ok(child) = entry.file_name().to_string_lossy().parse::<u32>() else {
            continue;
        };
        let stat = std::fs::read_to_string(entry.path().join("stat")).unwrap_or_default();
        let Some((_, rest)) = stat.rsplit_once(')') else {
            continue;
        };
        let mut fields = rest.split_whitespace();
        let state = fields.next().unwrap_or_default();
        let ppid: u32 = fields.next().and_then(|p| p.parse().ok()).unwrap_or(0);
        if ppid == pid && state == "Z" {
            found.push(child);
        }
    }
    found
}

/// Open file descriptors of `pid`, the fewest seen over 20 looks 10 ms apart: a restart
/// in flight holds a few (pipes, a pidfd) for a moment; a leak holds them for good.
fn open_fds(pid: u32) -> usize {
    (0..20)
        .map(|_| {
            std::thread::sleep(Duration::from_millis(10));
            std::fs::read_dir(format!("/proc/{pid}/fd"))
                .unwrap()
                .count()
        })
        .min()
        .unwrap()
}

#[test]
fn a_thousand_backend_restarts_leave_no_zombie_and_no_extra_fd() {
    // A backend that exits at once, restarted with no backoff (a test-only hook).
    let backend = "  flaky:\n    command: sh\n    args: [\"-c\", \"exit 1\"]\n";
    let (mut peer, config) = serve(backend, &[("MCP_GATEWAY_TEST_BACKOFF_MS", "0")]);
    let gateway = peer.pid();
    let started = Instant::now();
    wait_row(&mut peer, "flaky", |r| {
        r["attempts"].as_u64().unwrap_or(0) >= 50
    });
    let fds_before = open_fds(gateway);
    let row = wait_row(&mut peer, "flaky", |r| {
        r["attempts"].as_u64().unwrap_or(0) >= 1000
    });
    let fds_after = open_fds(gateway);
    let zombies = zombie_children(gateway);
    eprintln!(
        "{} restarts in {:?}; fds {fds_before} → {fds_after}; zombies {zombies:?}",
        row["attempts"],
        started.elapsed()
    );
    assert!(
        row["error"]
            .as_str()
            .unwrap_or_default()
            .contains("exited with status 1"),
        "{row}"
    );
    // A thousand leaked restarts would be thousands of fds; allow a stray one or two.
    assert!(
        fds_after <= fds_before + 2,
        "fds grew: {fds_before} → {fds_after}"
    );
    // A restart in flight may have one child that just exited and is not yet waited for.
    assert!(zombies.len() <= 1, "zombies: {zombies:?}");
    let _ = std::fs::remove_file(config);
}
