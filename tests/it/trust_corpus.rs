//! The poisoning scan's false positives: every real tool definition of `../shared/eval`
//! (tool-corpus: 694 tools of 38 servers; github-corpus: 1,223 GitHub REST operations;
//! msc-bench: 2,375 tools of 491 servers) and of the built-in capability catalog is scanned
//! under the default policy, with shadowing checked against every other server of the same
//! set. None may be blocked; the warn and block rates are printed
//! (`cargo nextest run --test it trust_corpus --no-capture`).

use std::collections::BTreeMap;
use std::sync::Arc;

use mcp_gateway::config::{Action, FindingKind};
use mcp_gateway::trust::{Trust, tool_owners};
use rmcp::model::Tool;
use serde_json::Value;

use crate::support::corpus::eval_dir;

fn corpus(rel: &str) -> BTreeMap<String, Vec<Tool>> {
    let path = eval_dir().join(rel);
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| {
        panic!(
            "cannot read {} ({e}); ../shared/eval must sit next to the crate",
            path.display()
        )
    });
    let items: Vec<Value> = serde_json::from_str(&text).unwrap();
    let mut servers: BTreeMap<String, Vec<Tool>> = BTreeMap::new();
    for item in items {
        let server = item["server"].as_str().unwrap().to_owned();
        let Value::Object(schema) = item["inputSchema"].clone() else {
            panic!("{server}: inputSchema is not an object")
        };
        let mut tool = Tool::new(
            item["name"].as_str().unwrap().to_owned(),
            item["description"].as_str().unwrap_or("").to_owned(),
            Arc::new(schema),
        );
        if let Some(Value::Object(out)) = item.get("outputSchema") {
            tool.output_schema = Some(Arc::new(out.clone()));
        }
        tool.title = item["title"].as_str().map(str::to_owned);
        servers.entry(server).or_default().push(tool);
    }
    servers
}

fn builtin() -> BTreeMap<String, Vec<Tool>> {
    let loaded = mcp_gateway::capability::load::load_builtin();
    let tools = loaded
        .capabilities
        .values()
        .map(|c| c.capability.to_tool())
        .collect();
    BTreeMap::from([("capabilities".to_owned(), tools)])
}

#[derive(Default)]
struct Tally {
    tools: usize,
    warned: usize,
    blocked: Vec<String>,
    by_kind: BTreeMap<(FindingKind, Action), usize>,
}

fn scan_set(name: &str, servers: &BTreeMap<String, Vec<Tool>>, total: &mut Tally) {
    let trust = Trust::default();
    let mut tally = Tally::default();
    for (server, tools) in servers {
        let owners = tool_owners(
            servers.iter().map(|(s, t)| (s.as_str(), t.as_slice())),
            server,
        );
        let gated = trust.admit(server, None, tools, &|tool| owners.get(tool).cloned());
        tally.tools += tools.len();
        for held in &gated.held {
            tally
                .blocked
                .push(format!("{server}/{}: {}", held.name(), held.why()));
        }
        let mut warned = std::collections::BTreeSet::new();
        for f in &gated.findings {
            *tally.by_kind.entry((f.kind, f.action)).or_default() += 1;
            if f.action == Action::Warn {
                warned.insert(f.tool.clone());
            }
        }
        tally.warned += warned.len();
    }
    let rate = |n: usize| 100.0 * n as f64 / tally.tools.max(1) as f64;
    eprintln!(
        "{name}: {} tools, {} warned ({:.2}%), {} blocked ({:.2}%); findings by kind: {}",
        tally.tools,
        tally.warned,
        rate(tally.warned),
        tally.blocked.len(),
        rate(tally.blocked.len()),
        tally
            .by_kind
            .iter()
            .map(|((k, a), n)| format!("{k}/{}={n}", a.as_str()))
            .collect::<Vec<_>>()
            .join(", ")
    );
    total.tools += tally.tools;
    total.warned += tally.warned;
    total.blocked.extend(tally.blocked);
}

#[test]
fn trust_corpus_no_real_tool_is_blocked() {
    let mut total = Tally::default();
    scan_set("tool-corpus", &corpus("tool-corpus.json"), &mut total);
    scan_set("github-corpus", &corpus("github-corpus.json"), &mut total);
    scan_set("msc-bench", &corpus("msc-bench/corpus.json"), &mut total);
    scan_set("built-in catalog", &builtin(), &mut total);
    eprintln!(
        "all: {} tools, {} warned ({:.2}%), {} blocked",
        total.tools,
        total.warned,
        100.0 * total.warned as f64 / total.tools as f64,
        total.blocked.len()
    );
    assert!(
        total.tools > 4000,
        "the corpora shrank: {} tools",
        total.tools
    );
    assert!(
        total.blocked.is_empty(),
        "real tools blocked by the default scan policy:\n{}",
        total.blocked.join("\n")
    );
}

/// The gateway vouches for its built-in catalog instead of scanning it (`Trust::vouch`):
/// honest only while the scan finds nothing in it.
#[test]
fn trust_corpus_builtin_catalog_scans_clean() {
    let tools = &builtin()["capabilities"];
    assert!(tools.len() >= 30, "the catalog shrank: {}", tools.len());
    let gated = Trust::default().admit("capabilities", None, tools, &|_| None);
    assert!(gated.findings.is_empty(), "{:#?}", gated.findings);
}
