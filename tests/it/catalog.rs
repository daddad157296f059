//! The built-in catalog: every embedded capability runs against its recorded response
//! (tests/fixtures/builtin/<name>.json) served by a local HTTP server, with the capability's
//! host mapped to that server by `MCP_GATEWAY_CAPABILITY_HOSTS`-style overrides; the package
//! registries this machine can reach are also called live. And with no config at all,
//! `serve` lists the catalog and search finds its tools.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use mcp_gateway::capability::{Capability, Executor, HostOverrides, NetworkPolicy, load};
use serde_json::{Value, json};

use crate::support::http::{HttpServer, Reply};
use crate::support::{StdioPeer, gateway_bin, temp_path};

fn fixtures_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/builtin")
}

fn fixture(name: &str) -> Value {
    let path = fixtures_dir().join(format!("{name}.json"));
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| {
        panic!(
            "built-in `{name}` has no recorded response {}: {e}",
            path.display()
        )
    });
    serde_json::from_str(&text).unwrap()
}

fn runtime() -> tokio::runtime::Runtime {
    let _ = rustls::crypto::ring::default_provider().install_default();
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap()
}

#[test]
fn catalog_has_at_least_25_valid_capabilities_and_a_fixture_each() {
    let loaded = load::load_builtin();
    assert!(loaded.problems.is_empty(), "{:#?}", loaded.problems);
    assert!(
        loaded.capabilities.len() >= 25,
        "{}",
        loaded.capabilities.len()
    );
    for (name, l) in &loaded.capabilities {
        assert!(l.warnings.is_empty(), "{name}: {:?}", l.warnings);
        assert!(l.capability.annotations.read_only, "{name}");
    }
    let mut fixtures: Vec<String> = std::fs::read_dir(fixtures_dir())
        .unwrap()
        .map(|e| {
            e.unwrap()
                .path()
                .file_stem()
                .unwrap()
                .to_string_lossy()
                .into_owned()
        })
        .collect();
    fixtures.sort();
    let names: Vec<String> = loaded.capabilities.keys().cloned().collect();
    assert_eq!(
        fixtures, names,
        "fixtures and built-ins must match one to one"
    );
}

/// Runs one capability; returns the result as JSON and its first text block.
fn run(
    rt: &tokio::runtime::Runtime,
    executor: &Executor,
    capability: &Capability,
    args: serde_json::Map<String, Value>,
) -> (Value, String) {
    let result = rt.block_on(executor.call(capability, args));
    let result = serde_json::to_value(&result).unwrap();
    let text = result["content"][0]["text"]
        .as_str()
        .unwrap_or("")
        .to_owned();
    (result, text)
}

#[test]
fn every_builtin_passes_against_its_recorded_response() {
    let rt = runtime();
    let loaded = load::load_builtin();
    let mut failures = Vec::new();
    for (name, l) in &loaded.capabilities {
        let fx = fixture(name);
        let body = fx["response"].clone();
        let server = HttpServer::start(move |_| Reply::json(200, &body));
        let host = fx["host"].as_str().unwrap();
        let overrides = HostOverrides::parse(&format!("{host}={}", server.url()));
        let executor = Executor::new(NetworkPolicy::default(), overrides).unwrap();
        let args = fx["arguments"].as_object().unwrap().clone();
        let (result, text) = run(&rt, &executor, &l.capability, args);
        let mut problems = Vec::new();
        if result["isError"] == true {
            problems.push(format!("isError: {text}"));
        }
        if !text.contains(fx["check"].as_str().unwrap()) {
            problems.push(format!("text lacks {}: {text}", fx["check"]));
        }
        let req = server.requests().pop();
        match req {
            None => problems.push("no request".into()),
            Some(req) => {
                let expect = &fx["expect"];
                if req.method != expect["method"] {
                    problems.push(format!("method {}", req.method));
                }
                if req.path != expect["path"] {
                    problems.push(format!("path {} != {}", req.path, expect["path"]));
                }
                for (k, v) in expect["query"].as_object().unwrap() {
                    if req.param(k).as_deref() != v.as_str() {
                        problems.push(format!("query {k}={:?}, want {v}", req.param(k)));
                    }
                }
                if let Some(want) = expect.get("body") {
                    let got: Value = serde_json::from_str(&req.body).unwrap_or(Value::Null);
                    if &got != want {
                        problems.push(format!("body {got} != {want}"));
                    }
                }
            }
        }
        if !problems.is_empty() {
            failures.push(format!("{name}: {}", problems.join("; ")));
        }
    }
    assert!(failures.is_empty(), "{failures:#?}");
}

/// The registries this machine (and CI) can reach. A network failure fails the test:
/// a missing prerequisite is not a silent skip.
#[test]
fn live_registry_capabilities() {
    let rt = runtime();
    let loaded = load::load_builtin();
    let executor = Executor::new(NetworkPolicy::default(), HostOverrides::default()).unwrap();
    let mut ran = 0;
    for (name, l) in &loaded.capabilities {
        let fx = fixture(name);
        if fx["live"] != true {
            continue;
        }
        ran += 1;
        let args = fx["arguments"].as_object().unwrap().clone();
        let want = args.values().next().unwrap().as_str().unwrap().to_owned();
        let (result, text) = run(&rt, &executor, &l.capability, args);
        assert_ne!(result["isError"], true, "{name}: {text}");
        assert!(result["structuredContent"].is_object(), "{name}: {result}");
        assert!(text.contains(&want), "{name}: {text}");
    }
    assert!(ran >= 3, "only {ran} live capabilities");
}

/// With no config anywhere (HOME and XDG dirs empty), `serve` serves the embedded catalog.
#[test]
fn no_config_serves_the_builtin_catalog() {
    let mut peer = no_config_gateway();
    let row = wait_catalog_ready(&mut peer);
    assert_eq!(row["name"], "capabilities");
    assert_eq!(row["transport"], "capability");
    assert!(row["tools_count"].as_u64().unwrap() >= 25, "{row}");
    assert!(row["problems"].is_null(), "{row}");
    let listed = call(
        &mut peer,
        "gateway_list_tools",
        json!({"server": "capabilities"}),
    );
    let tools = listed["structuredContent"]["tools"].as_array().unwrap();
    let pypi = tools.iter().find(|t| t["name"] == "pypi_package").unwrap();
    assert_eq!(pypi["annotations"]["readOnlyHint"], true, "{pypi}");
    assert_eq!(pypi["inputSchema"]["required"], json!(["package"]));
}

fn no_config_gateway() -> StdioPeer {
    let home = temp_path("home");
    std::fs::create_dir_all(&home).unwrap();
    let h = home.to_str().unwrap();
    let mut peer = StdioPeer::spawn(
        &gateway_bin(),
        &["serve"],
        &[
            ("HOME", h),
            ("XDG_CONFIG_HOME", h),
            ("MCP_GATEWAY_CONFIG", ""),
        ],
    );
    peer.initialize();
    peer
}

fn call(peer: &mut StdioPeer, name: &str, args: Value) -> Value {
    peer.call_ok(
        "tools/call",
        json!({"name": name, "arguments": args}),
        Duration::from_secs(20),
    )
}

fn wait_catalog_ready(peer: &mut StdioPeer) -> Value {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let listed = call(peer, "gateway_list_servers", json!({}));
        let row = listed["structuredContent"]["servers"][0].clone();
        if row["state"] == "ready" {
            return row;
        }
        assert!(Instant::now() < deadline, "{listed}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// With no config, the built-in catalog is served and found by search.
#[test]
fn no_config_search_finds_builtin_tools() {
    let mut peer = no_config_gateway();
    wait_catalog_ready(&mut peer);
    // The index catches up right after the backend is ready.
    let queries = [
        ("latest version of a python package on pypi", "pypi_package"),
        ("known vulnerabilities in a dependency version", "osv_query"),
        ("search rust crates", "crates_search"),
        ("current weather at coordinates", "weather_current"),
        ("convert usd to eur", "currency_convert"),
    ];
    for (query, want) in queries {
        let deadline = Instant::now() + Duration::from_secs(5);
        loop {
            let found = call(
                &mut peer,
                "gateway_search_tools",
                json!({"query": query, "limit": 3}),
            );
            let tools: Vec<&str> = found["structuredContent"]["matches"]
                .as_array()
                .unwrap()
                .iter()
                .map(|m| m["tool"].as_str().unwrap())
                .collect();
            if tools.contains(&want) {
                break;
            }
            assert!(
                Instant::now() < deadline,
                "{query:?} → {tools:?}, want {want}"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}
