//! `cargo bench --bench proxy`: what the gateway adds to a call. The same fixture backend is
//! called directly and through `gateway_invoke`, interleaved in one run so machine noise hits
//! both alike; then 100 concurrent calls of a 100 ms tool. Prints a Markdown report.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::print_stdout)]

mod common;

use std::time::{Duration, Instant};

use common::support::{StdioPeer, fixture_server_path, gateway_bin, temp_path};
use common::{fixture_backend, machine, micros, millis, percentile};
use serde_json::json;

const WARMUP: usize = 200;
const CALLS: usize = 2000;
const T: Duration = Duration::from_secs(10);

fn main() {
    let config = temp_path("bench.yaml");
    std::fs::write(
        &config,
        format!("backends:\n{}", fixture_backend("fx", &[])),
    )
    .unwrap();
    let mut gateway = StdioPeer::spawn(
        &gateway_bin(),
        &["serve", "--config", config.to_str().unwrap()],
        &[("MCP_GATEWAY_LOG", "warn")],
    );
    gateway.initialize();
    gateway
        .wait_notification("notifications/tools/list_changed", T)
        .expect("backend ready");
    let mut direct = StdioPeer::spawn(&fixture_server_path(), &[], &[]);
    direct.initialize();

    let direct_call = json!({"name": "echo", "arguments": {"text": "x"}});
    let gateway_call = json!({"name": "gateway_invoke",
        "arguments": {"server": "fx", "tool": "echo", "arguments": {"text": "x"}}});
    let mut direct_times = Vec::with_capacity(CALLS);
    let mut gateway_times = Vec::with_capacity(CALLS);
    for i in 0..WARMUP + CALLS {
        let start = Instant::now();
        direct.call_ok("tools/call", direct_call.clone(), T);
        let d = start.elapsed();
        let start = Instant::now();
        gateway.call_ok("tools/call", gateway_call.clone(), T);
        let g = start.elapsed();
        if i >= WARMUP {
            direct_times.push(d);
            gateway_times.push(g);
        }
    }
    let mut overheads: Vec<Duration> = gateway_times
        .iter()
        .zip(&direct_times)
        .map(|(g, d)| g.saturating_sub(*d))
        .collect();

    let mut concurrent = Vec::new();
    for _ in 0..5 {
        let start = Instant::now();
        let ids: Vec<u64> = (0..100)
            .map(|_| {
                gateway.request(
                    "tools/call",
                    json!({"name": "gateway_invoke",
                    "arguments": {"server": "fx", "tool": "sleep", "arguments": {"ms": 100}}}),
                )
            })
            .collect();
        for id in ids {
            gateway.wait_response(id, T).expect("reply");
        }
        concurrent.push(start.elapsed());
    }

    println!("machine: {}", machine());
    println!();
    println!("| metric | result | target |");
    println!("|---|---|---|");
    println!(
        "| echo call, direct stdio connection ({CALLS} calls) | p50 {:.0} µs, p90 {:.0} µs | — |",
        micros(percentile(&mut direct_times, 50.0)),
        micros(percentile(&mut direct_times, 90.0))
    );
    println!(
        "| echo call through `gateway_invoke` (interleaved) | p50 {:.0} µs, p90 {:.0} µs | — |",
        micros(percentile(&mut gateway_times, 50.0)),
        micros(percentile(&mut gateway_times, 90.0))
    );
    println!(
        "| gateway overhead per call (paired difference) | p50 {:.0} µs, p90 {:.0} µs | ≤ 100 µs p50 |",
        micros(percentile(&mut overheads, 50.0)),
        micros(percentile(&mut overheads, 90.0))
    );
    println!(
        "| 100 concurrent calls of a 100 ms tool (5 runs) | median {:.0} ms, max {:.0} ms | ≤ 150 ms |",
        millis(percentile(&mut concurrent, 50.0)),
        millis(percentile(&mut concurrent, 100.0))
    );
    gateway.close_stdin();
    let _ = std::fs::remove_file(config);
}
