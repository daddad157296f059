//! Backends come back by themselves: a backend that fails its first starts keeps being
//! retried (the real error and the retry schedule shown, never "gave up"), and a call to
//! it retries at once. The real binary over stdio.

use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::support::{StdioPeer, fixture_server_path, gateway_bin, server_row, temp_path};

const T: Duration = Duration::from_secs(30);

fn call_tool(peer: &mut StdioPeer, name: &str, arguments: Value) -> Value {
    peer.call_ok(
        "tools/call",
        json!({"name": name, "arguments": arguments}),
        T,
    )
}

#[test]
fn a_backend_down_at_first_is_retried_and_a_call_brings_it_up_at_once() {
    let flag = temp_path("backend-up.flag");
    let script = format!(
        "test -f '{}' || {{ echo 'service not reachable yet' >&2; exit 1; }}; exec '{}'",
        flag.display(),
        fixture_server_path().display()
    );
    let config = temp_path("gateway.yaml");
    std::fs::write(
        &config,
        format!("backends:\n  late:\n    command: sh\n    args: [\"-c\", {script:?}]\n"),
    )
    .unwrap();
    let mut peer = StdioPeer::spawn(
        &gateway_bin(),
        &["serve", "--config", config.to_str().unwrap()],
        &[],
    );
    peer.initialize();

    // It keeps failing and keeps being retried, with the real error and the schedule shown.
    let deadline = Instant::now() + T;
    let row = loop {
        let row = server_row(&mut peer, "late");
        if row["state"] == "failed" && row["attempts"].as_u64().unwrap_or(0) >= 2 {
            break row;
        }
        assert!(Instant::now() < deadline, "never retried: {row}");
        std::thread::sleep(Duration::from_millis(100));
    };
    let error = row["error"].as_str().unwrap_or_default();
    assert!(!error.contains("gave up"), "{row}");
    assert!(row["next_retry_in_ms"].as_u64().is_some(), "{row}");

    // Reachable now: a call does not wait for the backoff, it retries at once.
    std::fs::write(&flag, "").unwrap();
    let asked = Instant::now();
    let result = call_tool(
        &mut peer,
        "gateway_invoke",
        json!({"server": "late", "tool": "echo", "arguments": {"text": "back"}}),
    );
    eprintln!("call → retried and answered: {:?}", asked.elapsed());
    assert_eq!(result["content"][0]["text"], "back", "{result}");
    let row = server_row(&mut peer, "late");
    assert_eq!(row["state"], "ready", "{row}");
    assert!(row.get("attempts").is_none(), "{row}");
    let _ = std::fs::remove_file(&flag);
    let _ = std::fs::remove_file(&config);
}
