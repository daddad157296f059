//! Shared by the benchmarks: the integration tests' stdio peer and small statistics.
#![allow(dead_code, clippy::unwrap_used)]

#[path = "../tests/it/support/mod.rs"]
pub mod support;

use std::time::Duration;

/// The `p`-th percentile (0–100) of `samples`, sorting them in place.
pub fn percentile(samples: &mut [Duration], p: f64) -> Duration {
    samples.sort();
    let rank = ((p / 100.0) * (samples.len() - 1) as f64).round() as usize;
    samples[rank]
}

pub fn micros(d: Duration) -> f64 {
    d.as_secs_f64() * 1e6
}

pub fn millis(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

/// The resident set of process `pid` (`VmRSS`), in KiB.
pub fn rss_kib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let line = status.lines().find(|l| l.starts_with("VmRSS:")).unwrap();
    line.split_whitespace().nth(1).unwrap().parse().unwrap()
}

/// A YAML backend entry running the fixture server.
pub fn fixture_backend(name: &str, env: &[(&str, &str)]) -> String {
    let mut yaml = format!(
        "  {name}:\n    command: {:?}\n    env:\n      FIXTURE_NAME: {name}\n",
        support::fixture_server_path()
    );
    for (k, v) in env {
        yaml.push_str(&format!("      {k}: {v:?}\n"));
    }
    yaml
}

/// The machine, for the report header.
pub fn machine() -> String {
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("model name"))
                .map(|l| l.split(':').nth(1).unwrap_or("").trim().to_owned())
        })
        .unwrap_or_else(|| "unknown CPU".into());
    let load = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
    format!(
        "{cpu}, {} cores, load average {}",
        std::thread::available_parallelism().map_or(0, |n| n.get()),
        load.split_whitespace()
            .take(3)
            .collect::<Vec<_>>()
            .join(" ")
    )
}
