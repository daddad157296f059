//! `cargo bench --bench search`: the tool index at 10,000+ tools, in process. Both shared
//! corpora (694 + 1,223 real tools) are copied under new server names until the index holds
//! over 10,000 tools; then: full build, lexical search latency over the dev queries
//! (p50/p95, plain and with a `server` filter), and replacing one backend's tools. Then the
//! semantic channel with the real model (the wheel `tests/peers/install.sh` installs):
//! query embedding, first-time embedding of every tool (fresh cache, both cores), whole
//! fused search (p50/p99), a ~100-tool backend re-indexed from the embedding cache, and the
//! process RSS with the model and all vectors. Last, msc-bench served end to end through the
//! binary: search round trips and the gateway's RSS (`-- round-trip` runs only this part).
//! Prints a Markdown report.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::print_stdout)]

mod common;

use std::collections::BTreeMap;
use std::path::Path;
use std::time::{Duration, Instant};

use common::support::corpus;
use common::{machine, micros, millis, percentile, rss_kib};
use mcp_gateway::search::embed::{Embedder, TEXT_TOKENS};
use mcp_gateway::search::{SearchIndex, SemanticStatus, Semantics, ToolDoc};
use serde_json::Value;

const TARGET_TOOLS: usize = 10_000;

fn eval_dir() -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/eval")
}

fn corpus(name: &str) -> Vec<Value> {
    let text = std::fs::read_to_string(eval_dir().join(name)).expect("../shared/eval is required");
    serde_json::from_str(&text).unwrap()
}

fn queries(name: &str) -> Vec<String> {
    std::fs::read_to_string(eval_dir().join(name))
        .unwrap()
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .map(|q| q["query"].as_str().unwrap().to_owned())
        .collect()
}

fn main() {
    // `cargo bench --bench search -- round-trip` measures only the round trips.
    if std::env::args().any(|a| a == "round-trip") {
        println!("machine: {}", machine());
        return round_trip();
    }
    let tools: Vec<Value> = [corpus("tool-corpus.json"), corpus("github-corpus.json")].concat();
    let mut servers: BTreeMap<String, Vec<ToolDoc>> = BTreeMap::new();
    let mut total = 0;
    for copy in 0.. {
        for t in &tools {
            let server = format!("{}-{copy}", t["server"].as_str().unwrap());
            servers.entry(server.clone()).or_default().push(ToolDoc {
                server,
                name: t["name"].as_str().unwrap().to_owned(),
                title: None,
                description: t["description"].as_str().unwrap_or("").to_owned(),
                input_schema: t["inputSchema"].clone(),
            });
            total += 1;
        }
        if total >= TARGET_TOOLS {
            break;
        }
    }
    let batch: Vec<(String, Vec<ToolDoc>)> = servers.into_iter().collect();

    let index = SearchIndex::new().unwrap();
    let start = Instant::now();
    index.replace_servers(&batch).unwrap();
    let build = start.elapsed();
    std::thread::sleep(Duration::from_secs(2)); // let the background merge finish

    let qs = [
        queries("queries-dev.jsonl"),
        queries("queries-github-dev.jsonl"),
    ]
    .concat();
    let mut plain = Vec::new();
    let mut filtered = Vec::new();
    for _ in 0..5 {
        for q in &qs {
            let start = Instant::now();
            index.search(q, 10, None).unwrap();
            plain.push(start.elapsed());
            let start = Instant::now();
            index.search(q, 10, Some("github-0")).unwrap();
            filtered.push(start.elapsed());
        }
    }

    // One backend's tools replaced, as on its tools/list_changed (the largest real server).
    let (name, docs) = batch.iter().max_by_key(|(_, d)| d.len()).unwrap();
    let small = batch.iter().find(|(n, _)| n.starts_with("time-")).unwrap();
    let mut big_updates = Vec::new();
    let mut small_updates = Vec::new();
    for _ in 0..10 {
        let start = Instant::now();
        index.replace_server(&small.0, &small.1).unwrap();
        small_updates.push(start.elapsed());
        std::thread::sleep(Duration::from_millis(300));
        let start = Instant::now();
        index.replace_server(name, docs).unwrap();
        big_updates.push(start.elapsed());
        std::thread::sleep(Duration::from_millis(300));
    }

    println!("machine: {}", machine());
    println!();
    println!(
        "| metric ({total} tools, {} backends) | result | target |",
        batch.len()
    );
    println!("|---|---|---|");
    println!(
        "| index build, all tools in one commit | {:.0} ms | — |",
        millis(build)
    );
    println!(
        "| search, top 10 ({} queries × 5) | p50 {:.0} µs, p95 {:.0} µs | p50 ≤ 500 µs |",
        qs.len(),
        micros(percentile(&mut plain, 50.0)),
        micros(percentile(&mut plain, 95.0))
    );
    println!(
        "| search with `server` filter | p50 {:.0} µs, p95 {:.0} µs | — |",
        micros(percentile(&mut filtered, 50.0)),
        micros(percentile(&mut filtered, 95.0))
    );
    println!(
        "| replace one backend's tools ({} tools, 10 runs) | p50 {:.1} ms, max {:.1} ms | ≤ 20 ms |",
        small.1.len(),
        millis(percentile(&mut small_updates, 50.0)),
        millis(percentile(&mut small_updates, 100.0))
    );
    println!(
        "| replace one backend's tools ({} tools, 10 runs) | p50 {:.1} ms, max {:.1} ms | ≤ 20 ms |",
        docs.len(),
        millis(percentile(&mut big_updates, 50.0)),
        millis(percentile(&mut big_updates, 100.0))
    );

    semantic(&batch, &qs, total);
    round_trip();
}

fn semantic(batch: &[(String, Vec<ToolDoc>)], qs: &[String], total: usize) {
    let model = common::support::model_dir();
    let embedder = Embedder::load(&model).unwrap();
    let mut embed = Vec::new();
    for q in qs {
        let start = Instant::now();
        std::hint::black_box(embedder.embed_truncated(q, TEXT_TOKENS));
        embed.push(start.elapsed());
    }
    drop(embedder);

    let cache = std::env::temp_dir().join(format!("search-bench-cache-{}", std::process::id()));
    let index = SearchIndex::with_semantics_in(Semantics::Model(model), &cache).unwrap();
    let start = Instant::now();
    index.replace_servers(batch).unwrap();
    assert_eq!(
        index.wait_semantic(Duration::from_secs(4 * 3600)),
        SemanticStatus::Ready
    );
    let first_time = start.elapsed();
    std::thread::sleep(Duration::from_secs(2)); // let the background merge finish

    let mut fused = Vec::new();
    for _ in 0..3 {
        for q in qs {
            let start = Instant::now();
            index.search(q, 10, None).unwrap();
            fused.push(start.elapsed());
        }
    }
    // A ~100-tool backend re-listing its tools: lexical commit + vectors from the cache.
    let (name, docs) = batch
        .iter()
        .min_by_key(|(_, d)| d.len().abs_diff(100))
        .unwrap();
    let mut cached = Vec::new();
    for _ in 0..10 {
        let start = Instant::now();
        index.replace_server(name, docs).unwrap();
        assert_eq!(
            index.wait_semantic(Duration::from_secs(60)),
            SemanticStatus::Ready
        );
        cached.push(start.elapsed());
        std::thread::sleep(Duration::from_millis(300));
    }
    let rss = rss_kib(std::process::id()) as f64 / 1024.0;
    let _ = std::fs::remove_dir_all(&cache);

    println!(
        "| query embedding, one core ({} dev queries) | p50 {:.1} ms, p99 {:.1} ms | p50 ≤ 15 ms |",
        qs.len(),
        millis(percentile(&mut embed, 50.0)),
        millis(percentile(&mut embed, 99.0))
    );
    println!(
        "| first-time embedding of all {total} tools (fresh cache, both cores, model load included) | {:.0} s ({:.1} ms per tool) | report |",
        first_time.as_secs_f64(),
        millis(first_time) / total as f64
    );
    println!(
        "| whole search, lexical + semantic fused, top 10 ({} queries × 3) | p50 {:.1} ms, p99 {:.1} ms | p50 ≤ 20 ms, p99 ≤ 60 ms |",
        qs.len(),
        millis(percentile(&mut fused, 50.0)),
        millis(percentile(&mut fused, 99.0))
    );
    println!(
        "| re-index a {}-tool backend, embeddings from the cache, until ready (10 runs) | p50 {:.1} ms, max {:.1} ms | ≤ 50 ms |",
        docs.len(),
        millis(percentile(&mut cached, 50.0)),
        millis(percentile(&mut cached, 100.0))
    );
    println!(
        "| process RSS with the model and {total} tool vectors (bench process) | {rss:.0} MB | ≤ 150 MB |"
    );
}

/// Search round trips through the binary: msc-bench served end to end (491 stdio backends,
/// 2,375 tools), every query of the set sent as `gateway_search_tools` once the semantic
/// channel is ready; then the gateway's RSS with the model and all tools.
fn round_trip() {
    let corpus::Served {
        mut gw,
        total,
        listed_after,
        slowest_answer,
    } = corpus::serve("msc-bench", "msc-bench/corpus.json");
    let qs = queries("msc-bench/queries.jsonl");
    let mut trips = Vec::new();
    for q in &qs {
        let start = Instant::now();
        std::hint::black_box(corpus::search(&mut gw, q, 10));
        trips.push(start.elapsed());
    }
    let mean = trips.iter().sum::<Duration>() / trips.len() as u32;
    let rss = rss_kib(gw.pid()) as f64 / 1024.0;
    gw.close_stdin();
    println!(
        "| search round trip through the binary, msc-bench ({total} tools, 491 stdio backends, {} queries) | mean {:.1} ms, p50 {:.1} ms, p99 {:.1} ms | mean ≤ 30 ms |",
        qs.len(),
        millis(mean),
        millis(percentile(&mut trips, 50.0)),
        millis(percentile(&mut trips, 99.0))
    );
    println!(
        "| gateway RSS with the model and {total} tools (gateway process only) | {rss:.0} MB | report |"
    );
    println!(
        "| 491 stdio backends starting: every tool listed after | {:.1} s | report |",
        listed_after.as_secs_f64()
    );
    println!(
        "| the slowest `gateway_list_servers` answer while they start | {:.0} ms | report (the tests fail over 20 s) |",
        millis(slowest_answer)
    );
}
