//! The official MCP conformance suite (`@modelcontextprotocol/conformance`, pinned in
//! tests/conformance/) against `serve --http`, with the fixture as the one backend. Scenarios
//! that cannot pass yet are listed, with the reason, in tests/conformance/expected-failures.yml;
//! the suite fails on any other failure and on a listed scenario that now passes.

use std::path::Path;
use std::process::Command;

use crate::http::HttpGw;
use crate::support::{fixture_server_path, temp_path};

#[test]
fn conformance_server_scenarios_pass_against_the_http_listener() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/conformance");
    let cli = dir.join("node_modules/@modelcontextprotocol/conformance/dist/index.js");
    assert!(
        cli.is_file(),
        "{} is missing: run tests/conformance/install.sh (or bash .ci/run)",
        cli.display()
    );
    let yaml = format!(
        "capabilities: {{ enabled: false }}\nbackends:\n  fixture:\n    command: {:?}\n",
        fixture_server_path()
    );
    let gw = HttpGw::start(&yaml, "127.0.0.1:0", &[]);
    let out_dir = temp_path("conformance");
    let out = Command::new("node")
        .arg(&cli)
        .args(["server", "--url"])
        .arg(format!("http://127.0.0.1:{}/mcp", gw.addr.port()))
        .arg("--expected-failures")
        .arg(dir.join("expected-failures.yml"))
        .arg("-o")
        .arg(&out_dir)
        .current_dir(&dir)
        .output()
        .expect("node is required for the conformance suite");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let summary = stdout.split("=== SUMMARY ===").nth(1).unwrap_or(&stdout);
    eprintln!("{summary}");
    assert!(
        out.status.success(),
        "conformance failures beyond the baseline:\n{summary}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        summary.contains("dns-rebinding-protection: 2 passed"),
        "{summary}"
    );
    let _ = std::fs::remove_dir_all(out_dir);
}
