//! The shared search evaluation end to end, on every shared set: the gateway binary serves
//! one real stdio backend per corpus server (`../shared/eval/harness/corpus_server.py`, as
//! the shared harness configures them; msc-bench is 491 backends), and every query goes
//! through `gateway_search_tools` (limit 10) over stdio. Before measuring, the test waits
//! until every backend's tools are listed and the search answer reports the semantic
//! channel `ready`, so the numbers are those of the ranker, not of its lexical warm-up.
//! Floors are shared with search_quality.rs (the same sets in process).

use std::fmt::Write as _;
use std::path::Path;
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::search_quality::{
    Floors, GITHUB_FLOORS, MSC_FLOORS, Metrics, TOOL_FLOORS, check, eval_dir, load_corpus,
    load_queries,
};
use crate::support::{StdioPeer, embed_cache_dir, gateway_bin, model_dir, temp_path};

const LIMIT: usize = 10;
const CALL: Duration = Duration::from_secs(60);

fn config(corpus: &Path, servers: &[String]) -> String {
    let script = eval_dir().join("harness/corpus_server.py");
    let mut yaml = String::from("backends:\n");
    for server in servers {
        let _ = write!(
            yaml,
            "  {server:?}:\n    command: python3\n    args: [{:?}, {:?}, {server:?}]\n    description: \"MCP server {server}\"\n",
            script.display().to_string(),
            corpus.display().to_string(),
        );
    }
    yaml
}

fn structured(result: &Value) -> Value {
    result["structuredContent"].clone()
}

fn run(set: &str, corpus: &str, queries: &str, floors: &Floors) {
    let corpus = eval_dir().join(corpus);
    let servers = load_corpus(&corpus);
    let names: Vec<String> = servers.keys().cloned().collect();
    let total: usize = servers.values().map(Vec::len).sum();
    let path = temp_path(&format!("search-eval-{set}.yaml"));
    std::fs::write(&path, config(&corpus, &names)).unwrap();
    let model = model_dir();
    let cache = embed_cache_dir();
    let mut gw = StdioPeer::spawn(
        &gateway_bin(),
        &["serve", "--config", path.to_str().unwrap()],
        &[
            ("MCP_GATEWAY_MODEL", model.to_str().unwrap()),
            ("MCP_GATEWAY_EMBED_CACHE", cache.to_str().unwrap()),
        ],
    );
    gw.initialize();
    let deadline = Instant::now() + Duration::from_secs(900);
    // Every corpus tool listed…
    loop {
        let servers = structured(&gw.call_ok(
            "tools/call",
            json!({"name": "gateway_list_servers", "arguments": {}}),
            CALL,
        ));
        let listed: u64 = servers["servers"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|s| names.iter().any(|n| s["name"] == n.as_str()))
            .map(|s| s["tools_count"].as_u64().unwrap_or(0))
            .sum();
        if listed as usize >= total {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "{set}: only {listed}/{total} tools listed"
        );
        gw.wait_notification("notifications/tools/list_changed", Duration::from_secs(1));
    }
    // …and embedded: the answer says so.
    loop {
        let answer = structured(&gw.call_ok(
            "tools/call",
            json!({"name": "gateway_search_tools", "arguments": {"query": "list files", "limit": 1}}),
            CALL,
        ));
        if answer["semantic"] == "ready" {
            break;
        }
        assert!(
            Instant::now() < deadline
                && answer["semantic"]
                    .as_str()
                    .is_some_and(|s| s.starts_with("pending")),
            "{set}: semantic channel not ready: {}",
            answer["semantic"]
        );
        gw.wait_notification("notifications/tools/list_changed", Duration::from_secs(1));
    }
    let queries = load_queries(&eval_dir().join(queries));
    let (mut hit1, mut hit5, mut hit10, mut mrr) = (0usize, 0usize, 0usize, 0.0f64);
    for (query, expected) in &queries {
        let answer = structured(&gw.call_ok(
            "tools/call",
            json!({"name": "gateway_search_tools", "arguments": {"query": query, "limit": LIMIT}}),
            CALL,
        ));
        let rank = answer["matches"]
            .as_array()
            .unwrap()
            .iter()
            .position(|m| {
                expected
                    .iter()
                    .any(|(s, t)| m["server"] == s.as_str() && m["tool"] == t.as_str())
            })
            .map(|i| i + 1);
        if let Some(rank) = rank {
            hit1 += usize::from(rank <= 1);
            hit5 += usize::from(rank <= 5);
            hit10 += usize::from(rank <= 10);
            mrr += 1.0 / rank as f64;
        }
    }
    gw.close_stdin();
    let n = queries.len();
    let share = |k: usize| k as f64 / n as f64;
    let metrics = Metrics {
        n,
        hit1: share(hit1),
        hit5: share(hit5),
        hit10: share(hit10),
        mrr: mrr / n as f64,
    };
    eprintln!(
        "search-eval (end to end) {set} n={n} tools={total} hit@1={:.3} hit@5={:.3} hit@10={:.3} mrr={:.3}",
        metrics.hit1, metrics.hit5, metrics.hit10, metrics.mrr
    );
    check(set, &metrics, floors);
}

#[test]
fn tool_corpus_end_to_end() {
    run(
        "tool-corpus",
        "tool-corpus.json",
        "queries-dev.jsonl",
        &TOOL_FLOORS,
    );
}

#[test]
fn github_corpus_end_to_end() {
    run(
        "github-corpus",
        "github-corpus.json",
        "queries-github-dev.jsonl",
        &GITHUB_FLOORS,
    );
}

#[test]
fn msc_bench_end_to_end() {
    run(
        "msc-bench",
        "msc-bench/corpus.json",
        "msc-bench/queries.jsonl",
        &MSC_FLOORS,
    );
}
