//! The shared search-quality evaluation, end to end: `../shared/eval/harness/search_eval.py`
//! starts the gateway binary with one real stdio backend per corpus server and asks
//! `gateway_search_tools` every dev query. Fails below the floors; prints the numbers.
//! (search_quality.rs runs the same sets in process, faster, for tuning.)

use std::path::Path;
use std::process::Command;

use serde_json::Value;

use crate::support::gateway_bin;

/// Floors about 0.03 under the measured values (see BENCHMARKS.md, "Search quality").
const FLOORS: [(&str, &str, [f64; 4]); 2] = [
    (
        "tool-corpus.json",
        "queries-dev.jsonl",
        [0.48, 0.78, 0.87, 0.62],
    ),
    (
        "github-corpus.json",
        "queries-github-dev.jsonl",
        [0.42, 0.72, 0.74, 0.52],
    ),
];

fn eval_dir() -> std::path::PathBuf {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/eval");
    assert!(
        dir.join("harness/search_eval.py").is_file(),
        "the shared evaluation set is missing at {}",
        dir.display()
    );
    dir
}

fn run(corpus: &str, queries: &str, floors: [f64; 4]) {
    let dir = eval_dir();
    let gateway_cmd = format!("{} serve --config {{config}}", gateway_bin().display());
    let out = Command::new("python3")
        .arg(dir.join("harness/search_eval.py"))
        .args(["--gateway-cmd", &gateway_cmd, "--flavor", "ours"])
        .arg("--corpus")
        .arg(dir.join(corpus))
        .arg("--queries")
        .arg(dir.join(queries))
        .output()
        .expect("python3 is required to run the search evaluation");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "search_eval.py failed:\n{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let summary: Value = stdout
        .lines()
        .find_map(|l| serde_json::from_str(l).ok())
        .expect("no JSON summary from search_eval.py");
    eprintln!(
        "search-eval (end to end) {corpus}: {}",
        stdout.lines().last().unwrap_or("")
    );
    assert_eq!(
        summary["tools_visible"], summary["tools_total"],
        "{summary}"
    );
    for (metric, floor) in ["hit@1", "hit@5", "hit@10", "mrr"].iter().zip(floors) {
        let got = summary[metric].as_f64().unwrap();
        assert!(
            got >= floor,
            "{corpus}: {metric} = {got} fell below its floor {floor}"
        );
    }
}

#[test]
fn tool_corpus_end_to_end() {
    let (corpus, queries, floors) = FLOORS[0];
    run(corpus, queries, floors);
}

#[test]
fn github_corpus_end_to_end() {
    let (corpus, queries, floors) = FLOORS[1];
    run(corpus, queries, floors);
}
