//! Real clients and real backends: the Python `mcp` SDK client drives the gateway binary,
//! which serves server-everything and server-filesystem (npm, through npx) and
//! mcp-server-time (PyPI). Installed, pinned, by `.ci/run` (see tests/peers/).

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::support::{gateway_bin, temp_path};

fn repo() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// The venv `.ci/run` creates; a missing one is a failure with the fix, never a skip.
pub fn peers_python() -> PathBuf {
    let python = repo().join("target/peers-venv/bin/python");
    assert!(
        python.is_file(),
        "{} is missing: run `bash .ci/run` (or tests/peers/install.sh) to install the pinned test peers",
        python.display()
    );
    python
}

pub fn peers_bin(name: &str) -> PathBuf {
    let path = repo().join("target/peers-venv/bin").join(name);
    assert!(
        path.is_file(),
        "{} is missing: run tests/peers/install.sh",
        path.display()
    );
    path
}

fn run_python_client(surface: &str, mode: &str) {
    let node_modules = repo().join("tests/peers/node_modules/@modelcontextprotocol");
    assert!(
        node_modules.is_dir(),
        "npm test peers missing: run tests/peers/install.sh"
    );
    let dir = temp_path("fs-root");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("note.txt"), "written by the interop test\n").unwrap();
    let peers = repo().join("tests/peers");
    let config = temp_path("interop.yaml");
    let mode_line = if surface == "flat" {
        "mode: flat\n"
    } else {
        ""
    };
    std::fs::write(
        &config,
        format!(
            "{mode_line}backends:\n\
             \x20 everything:\n    command: npx\n    args: [\"--no-install\", \"@modelcontextprotocol/server-everything\"]\n    cwd: {peers:?}\n\
             \x20 filesystem:\n    command: npx\n    args: [\"--no-install\", \"@modelcontextprotocol/server-filesystem\", {dir:?}]\n    cwd: {peers:?}\n\
             \x20 time:\n    command: {time:?}\n    args: [\"--local-timezone\", \"UTC\"]\n",
            time = peers_bin("mcp-server-time"),
        ),
    )
    .unwrap();
    let out = Command::new(peers_python())
        .arg(repo().join("tests/interop/python_client.py"))
        .args([gateway_bin().as_os_str(), config.as_os_str()])
        .args([surface, mode])
        .arg(&dir)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    eprintln!("python client ({surface}, {mode}): {stdout}");
    assert!(out.status.success(), "python client failed:\n{stderr}");
    assert!(stdout.contains("\"ok\": true"), "{stdout}");
    let _ = std::fs::remove_dir_all(&dir);
    let _ = std::fs::remove_file(&config);
}

#[test]
fn python_sdk_client_auto_mode_through_meta_tools() {
    // Auto mode opens with `server/discover` (2026-07-28).
    run_python_client("meta", "auto");
}

#[test]
fn python_sdk_client_legacy_initialize_through_meta_tools() {
    run_python_client("meta", "legacy");
}

#[test]
fn python_sdk_client_through_flat_mode() {
    run_python_client("flat", "auto");
}

/// server-everything serving Streamable HTTP on a loopback port; killed on drop.
struct EverythingOverHttp {
    child: std::process::Child,
    port: u16,
}

impl EverythingOverHttp {
    /// `env`: extra environment for the server process.
    fn start(env: &[(&str, &str)]) -> EverythingOverHttp {
        use std::time::{Duration, Instant};

        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let peers = repo().join("tests/peers");
        let child = Command::new("node")
            .arg(peers.join("node_modules/@modelcontextprotocol/server-everything/dist/index.js"))
            .arg("streamableHttp")
            .env("PORT", port.to_string())
            .envs(env.iter().copied())
            .current_dir(&peers)
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .expect("node is required");
        let deadline = Instant::now() + Duration::from_secs(20);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(
                Instant::now() < deadline,
                "server-everything never listened on {port}"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        EverythingOverHttp { child, port }
    }
}

impl Drop for EverythingOverHttp {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The gateway serving `server` as the backend `remote`, once that backend is ready.
fn gateway_over_http(server: &EverythingOverHttp, extra: &str) -> crate::support::StdioPeer {
    use std::time::{Duration, Instant};

    use serde_json::json;

    let config = temp_path("http.yaml");
    std::fs::write(
        &config,
        format!(
            "{extra}backends:\n  remote:\n    url: http://127.0.0.1:{}/mcp\n",
            server.port
        ),
    )
    .unwrap();
    let mut gw = crate::support::StdioPeer::spawn(
        &gateway_bin(),
        &["serve", "--config", config.to_str().unwrap()],
        &[],
    );
    gw.initialize();
    let t = Duration::from_secs(20);
    let deadline = Instant::now() + t;
    loop {
        let listed = gw.call_ok(
            "tools/call",
            json!({"name": "gateway_list_servers", "arguments": {}}),
            t,
        );
        let row = listed["structuredContent"]["servers"]
            .as_array()
            .unwrap()
            .iter()
            .find(|s| s["name"] == "remote")
            .cloned()
            .expect("the remote backend is listed");
        assert_eq!(row["transport"], "http");
        assert_ne!(row["state"], "failed", "{row}");
        if row["state"] == "ready" {
            return gw;
        }
        assert!(
            Instant::now() < deadline,
            "HTTP backend never became ready: {row}"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// A Streamable HTTP backend: server-everything listening on a loopback port.
#[test]
fn streamable_http_backend_through_the_gateway() {
    use std::time::Duration;

    use serde_json::json;

    let server = EverythingOverHttp::start(&[]);
    let mut gw = gateway_over_http(&server, "");
    let t = Duration::from_secs(20);
    let echo = gw.call_ok(
        "tools/call",
        json!({"name": "gateway_invoke", "arguments": {"server": "remote", "tool": "echo", "arguments": {"message": "over http"}}}),
        t,
    );
    assert_eq!(echo["content"][0]["text"], "Echo: over http", "{echo}");
    let image = gw.call_ok(
        "tools/call",
        json!({"name": "gateway_invoke", "arguments": {"server": "remote", "tool": "get-tiny-image"}}),
        t,
    );
    assert!(
        image["content"]
            .as_array()
            .unwrap()
            .iter()
            .any(|b| b["type"] == "image" && b["mimeType"] == "image/png"),
        "{image}"
    );
    gw.close_stdin();
    assert!(gw.wait_exit(Duration::from_secs(3)).is_some());
}

/// A result over `limits.max_message_bytes` from an HTTP backend fails its call at once with
/// the size named, as from a stdio backend, and the backend keeps serving.
#[test]
fn an_oversized_http_backend_result_is_refused_naming_the_limit() {
    use std::time::{Duration, Instant};

    use serde_json::json;

    // `get-env` answers with the server's whole environment: 100 KB of it here.
    let big_value = "x".repeat(100_000);
    let server = EverythingOverHttp::start(&[("BIG", &big_value)]);
    let mut gw = gateway_over_http(&server, "limits:\n  max_message_bytes: 64KiB\n");
    let t = Duration::from_secs(20);
    let started = Instant::now();
    let big = gw.call_ok(
        "tools/call",
        json!({"name": "gateway_invoke", "arguments": {"server": "remote", "tool": "get-env"}}),
        t,
    );
    assert_eq!(big["isError"], true, "{big}");
    let text = big["content"][0]["text"].as_str().unwrap();
    assert!(text.contains("max_message_bytes"), "{text}");
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "refused only after {:?}",
        started.elapsed()
    );
    let small = gw.call_ok(
        "tools/call",
        json!({"name": "gateway_invoke", "arguments": {"server": "remote", "tool": "echo",
            "arguments": {"message": "still here"}}}),
        t,
    );
    assert_eq!(small["content"][0]["text"], "Echo: still here", "{small}");
    gw.close_stdin();
    assert!(gw.wait_exit(Duration::from_secs(3)).is_some());
}
