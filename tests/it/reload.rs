//! Live `gateway.yaml`: `serve` started on a broken file still serves and comes up when it
//! is fixed; edits reconcile by backend name (added start, removed stop with their process
//! group, changed restart, untouched keep their process); a bad edit keeps the last good
//! config and is reported with its line; `mode` changes apply. The real binary over stdio.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::support::{StdioPeer, fixture_server_path, gateway_bin, temp_path};

const T: Duration = Duration::from_secs(20);

struct Gw {
    peer: StdioPeer,
    config: PathBuf,
}

impl Gw {
    fn start(yaml: &str) -> Gw {
        let config = temp_path("gateway.yaml");
        std::fs::write(&config, yaml).unwrap();
        let mut peer = StdioPeer::spawn(
            &gateway_bin(),
            &["serve", "--config", config.to_str().unwrap()],
            &[("MCP_GATEWAY_LOG", "debug,rmcp=warn")],
        );
        peer.initialize();
        Gw { peer, config }
    }

    /// Replace the file the way editors do: a temp file renamed over it.
    fn edit(&self, yaml: &str) -> Instant {
        let tmp = self.config.with_extension("yaml.tmp");
        std::fs::write(&tmp, yaml).unwrap();
        let at = Instant::now();
        std::fs::rename(&tmp, &self.config).unwrap();
        at
    }

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

    fn servers(&mut self) -> Value {
        self.tool("gateway_list_servers", json!({}))["structuredContent"].clone()
    }

    /// Poll `gateway_list_servers` until `done` holds for it.
    fn wait_servers(&mut self, what: &str, done: impl Fn(&Value) -> bool) -> Value {
        let deadline = Instant::now() + T;
        loop {
            let listed = self.servers();
            if done(&listed) {
                return listed;
            }
            assert!(Instant::now() < deadline, "never {what}: {listed}");
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    fn wait_ready(&mut self, server: &str) {
        self.wait_servers(&format!("{server} ready"), |l| {
            row(l, server).is_some_and(|r| r["state"] == "ready")
        });
    }

    /// Wait for a `tools/list_changed` among the notifications after the first `seen`.
    fn wait_list_changed_since(&mut self, seen: usize) {
        let deadline = Instant::now() + T;
        while self.peer.notifications()[seen..]
            .iter()
            .all(|n| n["method"] != "notifications/tools/list_changed")
        {
            assert!(Instant::now() < deadline, "no tools/list_changed");
            self.peer.drain_for(Duration::from_millis(20));
        }
    }

    fn wait_list_changed(&mut self) {
        assert!(
            self.peer
                .wait_notification("notifications/tools/list_changed", T)
                .is_some(),
            "no tools/list_changed\n{}",
            self.peer.stderr_tail()
        );
    }
}

impl Drop for Gw {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.config);
    }
}

fn row<'a>(listed: &'a Value, server: &str) -> Option<&'a Value> {
    listed["servers"]
        .as_array()?
        .iter()
        .find(|s| s["name"] == server)
}

fn text_of(result: &Value) -> String {
    result["content"][0]["text"]
        .as_str()
        .unwrap_or_default()
        .to_owned()
}

/// A fixture backend carrying `marker` in its environment (to find its processes).
fn backend(name: &str, marker: &str, extra: &str) -> String {
    let (key, value) = marker.split_once('=').unwrap();
    format!(
        "  {name}:\n    command: {:?}\n    env:\n      FIXTURE_NAME: {name}\n      {key}: {value:?}\n{extra}",
        fixture_server_path()
    )
}

fn marker(name: &str) -> String {
    format!("RELOAD_TEST_{}={}", name.to_uppercase(), std::process::id())
}

/// The backend processes carrying `marker` (each backend's supervising shim aside).
fn processes_with_env(marker: &str) -> Vec<u32> {
    crate::gateway::processes_with_env(marker)
        .into_iter()
        .filter(|pid| !crate::gateway::is_shim(*pid))
        .collect()
}

/// Wait until the processes carrying `marker` satisfy `done`.
fn wait_processes(marker: &str, limit: Duration, done: impl Fn(&[u32]) -> bool) -> Vec<u32> {
    let deadline = Instant::now() + limit;
    loop {
        let pids = processes_with_env(marker);
        if done(&pids) {
            return pids;
        }
        assert!(
            Instant::now() < deadline,
            "processes with {marker} never settled: {pids:?}"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn serve_on_a_broken_config_answers_and_comes_up_when_fixed() {
    let mut gw = Gw::start("backends:\n  fx:\n    comand: echo\n");
    let listed = gw.servers();
    let config = &listed["config"];
    assert_eq!(config["state"], "error", "{listed}");
    assert_eq!(config["line"], 3, "{listed}");
    assert_eq!(config["column"], 5, "{listed}");
    let error = config["error"].as_str().unwrap();
    assert!(
        error.contains(&format!("{}:3:5", gw.config.display()))
            && error.contains("did you mean `command`"),
        "{error}"
    );
    let failed = gw.invoke("fx", "echo", json!({"text": "hi"}));
    assert_eq!(failed["isError"], true);
    assert!(text_of(&failed).contains(":3:5"), "{failed}");

    let m = marker("fixed");
    gw.edit(&format!("backends:\n{}", backend("fx", &m, "")));
    gw.wait_ready("fx");
    assert!(gw.servers().get("config").is_none());
    assert_eq!(
        text_of(&gw.invoke("fx", "echo", json!({"text": "fixed"}))),
        "fixed"
    );
}

#[test]
fn gateway_yaml_edits_reconcile_by_backend_name() {
    let (ma, mb, mc) = (marker("a"), marker("b"), marker("c"));
    let two = format!(
        "backends:\n{}{}",
        backend("a", &ma, ""),
        backend("b", &mb, "")
    );
    let mut gw = Gw::start(&two);
    gw.wait_ready("a");
    gw.wait_ready("b");
    let pid_a = wait_processes(&ma, T, |p| p.len() == 1);
    let pid_b = wait_processes(&mb, T, |p| p.len() == 1);

    // Added: it starts, its tools are searchable and announced; the others are untouched.
    let three = format!("{two}{}", backend("c", &mc, ""));
    let seen = gw.peer.notifications().len();
    let edited = gw.edit(&three);
    gw.wait_ready("c");
    gw.wait_list_changed_since(seen);
    eprintln!("add → ready and tools/list_changed: {:?}", edited.elapsed());
    let found = gw.tool(
        "gateway_search_tools",
        json!({"query": "returns its text argument", "server": "c"}),
    );
    assert_eq!(
        found["structuredContent"]["matches"][0]["server"], "c",
        "{found}"
    );
    assert_eq!(processes_with_env(&ma), pid_a);
    assert_eq!(processes_with_env(&mb), pid_b);

    // Changed: only it restarts.
    let pid_c = wait_processes(&mc, T, |p| p.len() == 1);
    let changed_b = backend("b", &mb, "      FIXTURE_EXTRA: changed\n");
    let edited = format!(
        "backends:\n{}{changed_b}{}",
        backend("a", &ma, ""),
        backend("c", &mc, "")
    );
    gw.edit(&edited);
    let new_b = wait_processes(&mb, T, |p| p.len() == 1 && p != pid_b.as_slice());
    assert_ne!(new_b, pid_b);
    gw.wait_ready("b");
    assert_eq!(processes_with_env(&ma), pid_a);
    assert_eq!(processes_with_env(&mc), pid_c);

    // Removed: its process is gone within 2 s, and so is its entry.
    let removed = gw.edit(&format!("backends:\n{}{changed_b}", backend("a", &ma, "")));
    wait_processes(&mc, Duration::from_secs(5), <[u32]>::is_empty);
    eprintln!("remove → process gone: {:?}", removed.elapsed());
    assert!(
        removed.elapsed() < Duration::from_secs(2),
        "{:?}",
        removed.elapsed()
    );
    gw.wait_servers("c removed", |l| row(l, "c").is_none());

    // A bad edit: still serving the last good config, the error reported with its line.
    let good = format!("backends:\n{}{changed_b}", backend("a", &ma, ""));
    gw.edit(&format!("{good}mdoe: flat\n"));
    let listed = gw.wait_servers("the config error", |l| l.get("config").is_some());
    let lines = good.lines().count() + 1;
    assert_eq!(listed["config"]["line"], lines, "{listed}");
    assert!(
        listed["config"]["error"]
            .as_str()
            .unwrap()
            .contains("did you mean `mode`"),
        "{listed}"
    );
    assert_eq!(
        text_of(&gw.invoke("a", "echo", json!({"text": "still"}))),
        "still"
    );
    assert_eq!(processes_with_env(&ma), pid_a);

    // The fix applies live, `mode` included.
    gw.edit(&format!("mode: flat\n{good}"));
    gw.wait_servers("the error cleared", |l| l.get("config").is_none());
    let deadline = Instant::now() + T;
    while !gw.peer.tool_names().contains(&"a__echo".to_owned()) {
        assert!(Instant::now() < deadline, "flat mode never applied");
        gw.wait_list_changed();
    }
    assert_eq!(processes_with_env(&ma), pid_a);
}

/// `mcp-gateway --config <config> <args>`: its exit success and what it printed.
fn cli(config: &std::path::Path, args: &[&str]) -> (bool, String) {
    let out = std::process::Command::new(gateway_bin())
        .arg("--config")
        .arg(config)
        .args(args)
        .output()
        .unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.success(), text)
}

#[test]
fn terminal_commands_reach_the_running_gateway() {
    let ma = marker("restart_a");
    let mut gw = Gw::start(&format!("backends:\n{}", backend("a", &ma, "")));
    gw.wait_ready("a");
    let pid_a = wait_processes(&ma, T, |p| p.len() == 1);

    // `restart` replaces the backend's process in the running gateway.
    let (ok, out) = cli(&gw.config, &["restart", "a"]);
    assert!(ok, "{out}");
    assert!(out.contains("restarted `a`"), "{out}");
    let new_a = wait_processes(&ma, T, |p| p.len() == 1 && p != pid_a.as_slice());
    assert_ne!(new_a, pid_a);
    gw.wait_ready("a");
    let (ok, out) = cli(&gw.config, &["restart", "nope"]);
    assert!(!ok && out.contains("no backend `nope`"), "{out}");

    // `add` and `remove` say the running gateway has loaded their edit.
    let fixture = fixture_server_path();
    let (ok, out) = cli(&gw.config, &["add", "b", "--", fixture.to_str().unwrap()]);
    assert!(ok, "{out}");
    assert!(out.contains("picked the change up: 1 added"), "{out}");
    gw.wait_ready("b");
    let (ok, out) = cli(&gw.config, &["remove", "b"]);
    assert!(ok, "{out}");
    assert!(
        out.contains("picked the change up: 0 added, 1 removed"),
        "{out}"
    );
    assert_eq!(processes_with_env(&ma), new_a, "`a` kept its process");

    // With no gateway on a file, the commands say so.
    let other = temp_path("other.yaml");
    std::fs::write(&other, "backends: {}\n").unwrap();
    let (ok, out) = cli(&other, &["add", "c", "--", fixture.to_str().unwrap()]);
    assert!(ok, "{out}");
    assert!(out.contains("no running gateway serves"), "{out}");
    let (ok, out) = cli(&other, &["restart", "c"]);
    assert!(!ok && out.contains("no running gateway serves"), "{out}");
    let _ = std::fs::remove_file(other);
}

/// SIGHUP reloads the file even when no file event says it changed: here the edit is
/// written through a hard link in another directory, which the directory watch does not
/// see (proven first: nothing happens until the signal).
#[test]
fn sighup_reloads_a_change_the_watcher_cannot_see() {
    let fixture = fixture_server_path();
    let one = format!("backends:\n  a:\n    command: {fixture:?}\n");
    let mut gw = Gw::start(&one);
    gw.wait_ready("a");
    let elsewhere = temp_path("hup-elsewhere");
    std::fs::create_dir_all(&elsewhere).unwrap();
    let link = elsewhere.join("same-inode.yaml");
    std::fs::hard_link(&gw.config, &link).unwrap();
    let two = format!("{one}  b:\n    command: {fixture:?}\n");
    // Truncate and write in place through the other name: same inode, no event in the
    // watched directory.
    std::fs::write(&link, two).unwrap();
    std::thread::sleep(Duration::from_millis(1500));
    assert!(
        row(&gw.servers(), "b").is_none(),
        "the watcher saw the edit, so this test cannot tell SIGHUP's part"
    );
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(i32::try_from(gw.peer.pid()).unwrap()),
        nix::sys::signal::Signal::SIGHUP,
    )
    .unwrap();
    gw.wait_ready("b");
    let _ = std::fs::remove_dir_all(&elsewhere);
}
