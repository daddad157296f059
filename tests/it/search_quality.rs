//! Search-quality regression test over every shared evaluation set, in process.
//!
//! Indexes each set of `../shared/eval` (see its README) in a `SearchIndex` with the real
//! embedding model, waits until every tool has its embedding, then computes hit@1/5/10 and
//! MRR exactly as the end-to-end harness does (limit 10) and fails if any metric drops below
//! its floor. `search_eval.rs` runs the same sets through the gateway binary.
//! Set `SEARCH_EVAL_VERBOSE=1` to print every query that misses the top 5.
//!
//! Floors sit about 0.03 under the cross-validated (held-out) numbers of
//! `cargo run --release --example search-cv` (BENCHMARKS.md, "Search quality").

use std::collections::BTreeMap;
use std::path::Path;
use std::time::Duration;

use mcp_gateway::search::{SearchIndex, SemanticStatus, Semantics, ToolDoc};
use serde_json::Value;

use crate::support::corpus::eval_dir;
use crate::support::{embed_cache_dir, model_dir};

const LIMIT: usize = 10;

pub const TOOL_FLOORS: Floors = Floors {
    hit1: 0.47,
    hit5: 0.77,
    hit10: 0.84,
    mrr: 0.60,
};
pub const GITHUB_FLOORS: Floors = Floors {
    hit1: 0.29,
    hit5: 0.49,
    hit10: 0.57,
    mrr: 0.37,
};
pub const MSC_FLOORS: Floors = Floors {
    hit1: 0.85,
    hit5: 0.94,
    hit10: 0.95,
    mrr: 0.89,
};

pub struct Floors {
    pub hit1: f64,
    pub hit5: f64,
    pub hit10: f64,
    pub mrr: f64,
}

fn read(path: &Path) -> String {
    match std::fs::read_to_string(path) {
        Ok(text) => text,
        Err(err) => panic!(
            "search-eval data missing: cannot read {} ({err}); the evaluation sets must sit in ../shared/eval next to the crate",
            path.display()
        ),
    }
}

pub fn load_corpus(path: &Path) -> BTreeMap<String, Vec<ToolDoc>> {
    let tools: Vec<Value> = match serde_json::from_str(&read(path)) {
        Ok(tools) => tools,
        Err(err) => panic!("{}: not a JSON list of tools: {err}", path.display()),
    };
    let mut servers: BTreeMap<String, Vec<ToolDoc>> = BTreeMap::new();
    for tool in tools {
        let text = |key: &str| tool.get(key).and_then(Value::as_str).map(str::to_owned);
        let server = text("server").unwrap_or_default();
        servers.entry(server.clone()).or_default().push(ToolDoc {
            server,
            name: text("name").unwrap_or_default(),
            title: text("title"),
            description: text("description").unwrap_or_default(),
            input_schema: tool.get("inputSchema").cloned().unwrap_or(Value::Null),
        });
    }
    servers
}

/// `(query, expected (server, tool) pairs)` from a JSONL file.
pub fn load_queries(path: &Path) -> Vec<(String, Vec<(String, String)>)> {
    read(path)
        .lines()
        .filter(|line| !line.trim().is_empty())
        .map(|line| {
            let value: Value = match serde_json::from_str(line) {
                Ok(value) => value,
                Err(err) => panic!("{}: bad line {line:?}: {err}", path.display()),
            };
            let query = value["query"].as_str().unwrap_or_default().to_owned();
            let expected = value["expected"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(Value::as_str)
                .filter_map(|e| e.split_once('/'))
                .map(|(s, t)| (s.to_owned(), t.to_owned()))
                .collect();
            (query, expected)
        })
        .collect()
}

pub struct Metrics {
    pub n: usize,
    pub hit1: f64,
    pub hit5: f64,
    pub hit10: f64,
    pub mrr: f64,
}

fn evaluate(set: &str, corpus: &str, queries: &str) -> Metrics {
    let dir = eval_dir();
    assert!(
        dir.is_dir(),
        "search-eval data folder {} is missing; it is required, not optional",
        dir.display()
    );
    let index = SearchIndex::with_semantics_in(Semantics::Model(model_dir()), &embed_cache_dir())
        .expect("cannot create index");
    let servers: Vec<(String, Vec<ToolDoc>)> = load_corpus(&dir.join(corpus)).into_iter().collect();
    index.replace_servers(&servers).expect("indexing failed");
    // Measure the product as it answers once its embeddings are ready, never the
    // lexical-only warm-up.
    let status = index.wait_semantic(Duration::from_secs(1800));
    assert_eq!(status, SemanticStatus::Ready, "{set}: embeddings not ready");
    let queries = load_queries(&dir.join(queries));
    let verbose = std::env::var_os("SEARCH_EVAL_VERBOSE").is_some();
    let (mut hit1, mut hit5, mut hit10, mut mrr) = (0usize, 0usize, 0usize, 0.0f64);
    for (query, expected) in &queries {
        let hits = match index.search(query, LIMIT, None) {
            Ok(hits) => hits,
            Err(err) => panic!("query {query:?} failed: {err}"),
        };
        let rank = hits
            .iter()
            .position(|h| expected.iter().any(|(s, t)| *s == h.server && *t == h.tool))
            .map(|i| i + 1);
        if let Some(rank) = rank {
            hit1 += usize::from(rank <= 1);
            hit5 += usize::from(rank <= 5);
            hit10 += usize::from(rank <= 10);
            mrr += 1.0 / rank as f64;
        }
        if verbose && rank.is_none_or(|r| r > 5) {
            let top: Vec<String> = hits
                .iter()
                .take(5)
                .map(|h| format!("{}/{} {:.2}", h.server, h.tool, h.score))
                .collect();
            eprintln!("miss {set} rank={rank:?} {query:?}\n  want {expected:?}\n  got  {top:?}");
        }
    }
    let n = queries.len();
    assert!(n > 0, "{set}: no queries loaded");
    let share = |k: usize| k as f64 / n as f64;
    let metrics = Metrics {
        n,
        hit1: share(hit1),
        hit5: share(hit5),
        hit10: share(hit10),
        mrr: mrr / n as f64,
    };
    eprintln!(
        "search-eval {set} n={} hit@1={:.3} hit@5={:.3} hit@10={:.3} mrr={:.3}",
        metrics.n, metrics.hit1, metrics.hit5, metrics.hit10, metrics.mrr
    );
    metrics
}

pub fn check(set: &str, metrics: &Metrics, floors: &Floors) {
    for (name, value, floor) in [
        ("hit@1", metrics.hit1, floors.hit1),
        ("hit@5", metrics.hit5, floors.hit5),
        ("hit@10", metrics.hit10, floors.hit10),
        ("mrr", metrics.mrr, floors.mrr),
    ] {
        assert!(
            value >= floor,
            "{set}: {name} = {value:.3} fell below its floor {floor:.3}"
        );
    }
}

#[test]
fn tool_corpus_quality() {
    let metrics = evaluate("tool-corpus", "tool-corpus.json", "queries-dev.jsonl");
    check("tool-corpus", &metrics, &TOOL_FLOORS);
}

#[test]
fn msc_bench_quality() {
    let metrics = evaluate(
        "msc-bench",
        "msc-bench/corpus.json",
        "msc-bench/queries.jsonl",
    );
    check("msc-bench", &metrics, &MSC_FLOORS);
}

#[test]
fn github_corpus_quality() {
    let metrics = evaluate(
        "github-corpus",
        "github-corpus.json",
        "queries-github-dev.jsonl",
    );
    check("github-corpus", &metrics, &GITHUB_FLOORS);
}
