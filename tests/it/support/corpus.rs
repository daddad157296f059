//! A shared evaluation corpus served end to end: the gateway binary with one real stdio
//! backend per corpus server (`../shared/eval/harness/corpus_server.py`, as the shared
//! harness configures them), started and waited on until every tool is listed and the
//! search answer reports the semantic channel `ready`. Used by the end-to-end evaluation
//! (`search_eval.rs`) and the search benchmark's round-trip rows.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use super::{StdioPeer, spawn_with_model, temp_path};

const CALL: Duration = Duration::from_secs(60);
/// Longest an answer may take while the backends start: the gateway keeps serving its
/// client meanwhile (491 backends starting at once once held its first answer for 40 s).
const WHILE_STARTING: Duration = Duration::from_secs(20);

/// `../shared/eval`, next to the crate.
pub fn eval_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/eval")
}

/// Tool count per server of the corpus at `path`.
fn servers(path: &Path) -> BTreeMap<String, usize> {
    let text = std::fs::read_to_string(path).unwrap_or_else(|err| {
        panic!(
            "search-eval data missing: cannot read {} ({err}); the evaluation sets must sit in ../shared/eval next to the crate",
            path.display()
        )
    });
    let tools: Vec<Value> = serde_json::from_str(&text)
        .unwrap_or_else(|err| panic!("{}: not a JSON list of tools: {err}", path.display()));
    let mut servers = BTreeMap::new();
    for tool in tools {
        let server = tool["server"].as_str().unwrap_or_default().to_owned();
        *servers.entry(server).or_default() += 1;
    }
    servers
}

fn config(corpus: &Path, servers: &BTreeMap<String, usize>) -> String {
    let script = eval_dir().join("harness/corpus_server.py");
    let mut yaml = String::from("backends:\n");
    for server in servers.keys() {
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

/// A corpus served, and how its start went.
pub struct Served {
    pub gw: StdioPeer,
    /// Tools in the corpus.
    pub total: usize,
    /// From `initialize` answered until every tool was listed.
    pub listed_after: Duration,
    /// The slowest answer to `gateway_list_servers` while the backends started.
    pub slowest_answer: Duration,
}

/// The gateway serving the corpus `corpus` (relative to `eval_dir()`), every tool listed and
/// embedded.
pub fn serve(set: &str, corpus: &str) -> Served {
    let corpus = eval_dir().join(corpus);
    let servers = servers(&corpus);
    let total: usize = servers.values().sum();
    let path = temp_path(&format!("search-eval-{set}.yaml"));
    std::fs::write(&path, config(&corpus, &servers)).unwrap();
    let mut gw = spawn_with_model(&path);
    let started = Instant::now();
    let deadline = started + Duration::from_secs(900);
    let mut slowest_answer = Duration::ZERO;
    // Every corpus tool listed…
    loop {
        let asked = Instant::now();
        let listed = structured(&gw.call_ok(
            "tools/call",
            json!({"name": "gateway_list_servers", "arguments": {}}),
            WHILE_STARTING,
        ));
        slowest_answer = slowest_answer.max(asked.elapsed());
        let listed: u64 = listed["servers"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|s| s["name"].as_str().is_some_and(|n| servers.contains_key(n)))
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
    let listed_after = started.elapsed();
    // …and embedded: the answer says so.
    loop {
        let answer = search(&mut gw, "list files", 1);
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
    Served {
        gw,
        total,
        listed_after,
        slowest_answer,
    }
}

/// `gateway_search_tools`' structured answer for `query`.
pub fn search(gw: &mut StdioPeer, query: &str, limit: usize) -> Value {
    structured(&gw.call_ok(
        "tools/call",
        json!({"name": "gateway_search_tools", "arguments": {"query": query, "limit": limit}}),
        CALL,
    ))
}
