//! `cargo bench --bench footprint`: release binary size, spawn → `initialize` answered
//! (with 0 and with 20 configured backends), the default `tools/list` in bytes and o200k
//! tokens, and idle RSS. Prints a Markdown report for BENCHMARKS.md.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::print_stdout)]

mod common;

use std::time::{Duration, Instant};

use common::support::{StdioPeer, gateway_bin, temp_path};
use common::{fixture_backend, machine, millis, percentile, rss_kib};
use serde_json::json;

const RUNS: usize = 50;

fn write_config(backends: &[String]) -> std::path::PathBuf {
    let path = temp_path("bench.yaml");
    std::fs::write(&path, format!("backends:\n{}", backends.concat())).unwrap();
    path
}

fn spawn(config: &std::path::Path) -> StdioPeer {
    StdioPeer::spawn(
        &gateway_bin(),
        &["serve", "--config", config.to_str().unwrap()],
        &[("MCP_GATEWAY_LOG", "warn")],
    )
}

/// Median and p90 of spawn → `initialize` answered.
fn time_to_initialize(config: &std::path::Path) -> (Duration, Duration) {
    let mut samples = Vec::with_capacity(RUNS);
    for _ in 0..RUNS {
        let start = Instant::now();
        let mut peer = spawn(config);
        peer.initialize();
        samples.push(start.elapsed());
        peer.close_stdin();
        peer.wait_exit(Duration::from_secs(5));
    }
    (
        percentile(&mut samples, 50.0),
        percentile(&mut samples, 90.0),
    )
}

fn main() {
    let binary = std::fs::metadata(gateway_bin()).unwrap().len();

    let empty = write_config(&[]);
    let (init_0_p50, init_0_p90) = time_to_initialize(&empty);
    // 20 backends that take 10 s to start: initialize must not wait for any of them.
    let slow: Vec<String> = (0..20)
        .map(|i| fixture_backend(&format!("slow{i}"), &[("FIXTURE_START_DELAY_MS", "10000")]))
        .collect();
    let slow = write_config(&slow);
    let (init_20_p50, init_20_p90) = time_to_initialize(&slow);

    let mut peer = spawn(&empty);
    peer.initialize();
    let listed = peer.call_ok("tools/list", json!({}), Duration::from_secs(10));
    let tools_json = serde_json::to_string(&listed["tools"]).unwrap();
    let tokens = tiktoken_rs::o200k_base()
        .unwrap()
        .encode_with_special_tokens(&tools_json)
        .len();
    std::thread::sleep(Duration::from_secs(2));
    let idle_empty = rss_kib(peer.pid());
    peer.close_stdin();

    let three = write_config(&[
        fixture_backend("a", &[]),
        fixture_backend("b", &[]),
        fixture_backend("c", &[]),
    ]);
    let mut peer = spawn(&three);
    peer.initialize();
    peer.wait_notification("notifications/tools/list_changed", Duration::from_secs(10));
    std::thread::sleep(Duration::from_secs(2));
    let idle_three = rss_kib(peer.pid());
    peer.close_stdin();

    println!("machine: {}", machine());
    println!();
    println!("| metric | result | target |");
    println!("|---|---|---|");
    println!(
        "| release binary size | {:.1} MB ({binary} bytes) | ≤ 15 MB |",
        binary as f64 / 1e6
    );
    println!(
        "| spawn → `initialize` answered, 0 backends ({RUNS} runs) | p50 {:.1} ms, p90 {:.1} ms | ≤ 5 ms |",
        millis(init_0_p50),
        millis(init_0_p90)
    );
    println!(
        "| spawn → `initialize` answered, 20 backends still starting ({RUNS} runs) | p50 {:.1} ms, p90 {:.1} ms | ≤ 5 ms |",
        millis(init_20_p50),
        millis(init_20_p90)
    );
    println!(
        "| default `tools/list` | {} bytes, {tokens} o200k tokens | ≤ 600 tokens |",
        tools_json.len()
    );
    println!(
        "| idle RSS, no backends | {:.1} MB | ≤ 15 MB |",
        idle_empty as f64 / 1024.0
    );
    println!(
        "| idle RSS, 3 stdio backends ready (gateway process only) | {:.1} MB | ≤ 15 MB |",
        idle_three as f64 / 1024.0
    );
    for path in [empty, slow, three] {
        let _ = std::fs::remove_file(path);
    }
}
