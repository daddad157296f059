//! The shared search evaluation end to end, on every shared set: the gateway binary serves
//! one real stdio backend per corpus server (`../shared/eval/harness/corpus_server.py`, as
//! the shared harness configures them; msc-bench is 491 backends), and every query goes
//! through `gateway_search_tools` (limit 10) over stdio. Before measuring, the test waits
//! until every backend's tools are listed and the search answer reports the semantic
//! channel `ready`, so the numbers are those of the ranker, not of its lexical warm-up.
//! Floors are shared with search_quality.rs (the same sets in process).

use crate::search_quality::{
    Floors, GITHUB_FLOORS, MSC_FLOORS, Metrics, TOOL_FLOORS, check, load_queries,
};
use crate::support::corpus::{Served, eval_dir, search, serve};

const LIMIT: usize = 10;

fn run(set: &str, corpus: &str, queries: &str, floors: &Floors) {
    let Served { mut gw, total, .. } = serve(set, corpus);
    let queries = load_queries(&eval_dir().join(queries));
    let (mut hit1, mut hit5, mut hit10, mut mrr) = (0usize, 0usize, 0usize, 0.0f64);
    for (query, expected) in &queries {
        let answer = search(&mut gw, query, LIMIT);
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
