//! Capabilities through the gateway binary: the original mcp-gateway's capability format
//! against a local HTTP server (path, query, body, bearer auth, `response_path`, errors),
//! secret-injection and SSRF defences, pins, and live reload over stdio.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::support::http::{HttpServer, Reply};
use crate::support::{StdioPeer, gateway_bin, temp_path};

const T: Duration = Duration::from_secs(20);

/// A gateway serving one capability directory, with a data directory (approvals) of
/// its own.
pub struct CapGw {
    pub peer: StdioPeer,
    pub dir: PathBuf,
    pub data: PathBuf,
}

impl CapGw {
    /// `extra` is appended to the `capabilities:` section.
    pub fn start(dir: &Path, extra: &str, envs: &[(&str, &str)]) -> CapGw {
        let config = dir.with_extension("gateway.yaml");
        let yaml = format!(
            "capabilities:\n  builtin: false\n  directories: [\"{}\"]\n{extra}",
            dir.display()
        );
        std::fs::write(&config, yaml).unwrap();
        let data = dir.with_extension("data");
        let data_text = data.to_str().unwrap().to_owned();
        let mut all = vec![
            ("MCP_GATEWAY_LOG", "debug,rmcp=warn"),
            ("MCP_GATEWAY_DATA_DIR", data_text.as_str()),
        ];
        all.extend_from_slice(envs);
        let mut peer = StdioPeer::spawn(
            &gateway_bin(),
            &["serve", "--config", config.to_str().unwrap()],
            &all,
        );
        peer.initialize();
        let mut gw = CapGw {
            peer,
            dir: dir.to_path_buf(),
            data,
        };
        gw.wait_ready();
        gw
    }

    /// `mcp-gateway cap pin <file>` with this gateway's data directory.
    pub fn approve(&self, file: &str) {
        let out = std::process::Command::new(gateway_bin())
            .args(["cap", "pin"])
            .arg(self.dir.join(file))
            .env("MCP_GATEWAY_DATA_DIR", &self.data)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }

    /// The `problems` of the capability backend, once they mention `needle`.
    pub fn problems_with(&mut self, needle: &str) -> String {
        let deadline = Instant::now() + Duration::from_secs(5);
        loop {
            let problems = self.server_row()["problems"].to_string();
            if problems.contains(needle) {
                return problems;
            }
            assert!(
                Instant::now() < deadline,
                "no problem with {needle:?}: {problems}"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    pub fn tool(&mut self, name: &str, arguments: Value) -> Value {
        self.peer.call_ok(
            "tools/call",
            json!({"name": name, "arguments": arguments}),
            T,
        )
    }

    pub fn invoke(&mut self, tool: &str, arguments: Value) -> Value {
        self.tool(
            "gateway_invoke",
            json!({"server": "capabilities", "tool": tool, "arguments": arguments}),
        )
    }

    pub fn server_row(&mut self) -> Value {
        let listed = self.tool("gateway_list_servers", json!({}));
        listed["structuredContent"]["servers"]
            .as_array()
            .unwrap()
            .iter()
            .find(|s| s["name"] == "capabilities")
            .cloned()
            .unwrap_or_else(|| panic!("no capabilities server in {listed}"))
    }

    fn wait_ready(&mut self) {
        let deadline = Instant::now() + T;
        while self.server_row()["state"] != "ready" {
            assert!(Instant::now() < deadline, "capabilities never ready");
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Tool names of the capability backend.
    pub fn tool_names(&mut self) -> Vec<String> {
        let listed = self.tool("gateway_list_tools", json!({"server": "capabilities"}));
        let tools = listed["structuredContent"]["tools"].as_array().cloned();
        tools
            .unwrap_or_else(|| panic!("no tools in {listed}"))
            .iter()
            .map(|t| t["name"].as_str().unwrap().to_owned())
            .collect()
    }
}

pub fn text_of(result: &Value) -> String {
    result["content"][0]["text"]
        .as_str()
        .unwrap_or("")
        .to_owned()
}

fn cap_dir(files: &[(&str, &str)]) -> PathBuf {
    let dir = temp_path("caps");
    std::fs::create_dir_all(&dir).unwrap();
    for (name, text) in files {
        let path = dir.join(name);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, text).unwrap();
    }
    dir
}

/// A GET with path, query and header templates, in the original's format, verbatim style.
fn get_item(base: &str) -> String {
    format!(
        r#"fulcrum: "1.0"
name: get_item
description: Fetch one item by id from the test inventory API.
schema:
  input:
    type: object
    properties:
      id: {{ type: string, description: Item id }}
      q: {{ type: string }}
      limit: {{ type: integer }}
      trace: {{ type: string }}
    required: [id]
  output:
    type: object
providers:
  primary:
    service: rest
    cost_per_call: 0
    timeout: 5
    config:
      base_url: {base}
      path: /items/{{id}}
      method: GET
      headers:
        Accept: application/json
        X-Trace: "{{trace}}"
      params:
        q: "{{q}}"
        limit: "{{limit}}"
      static_params:
        v: 2
      response_path: data.item
cache:
  strategy: exact
  ttl: 300
auth:
  required: false
  type: none
metadata:
  category: test
  tags: [inventory]
  read_only: true
  rate_limit: 10 req/s
"#
    )
}

fn create_item(base: &str) -> String {
    format!(
        r#"name: create_item
description: Create an item in the test inventory API.
schema:
  input:
    type: object
    properties:
      name: {{ type: string }}
      count: {{ type: integer }}
      tags: {{ type: array, items: {{ type: string }} }}
      note: {{ type: string }}
    required: [name, count]
providers:
  primary:
    service: rest
    config:
      base_url: {base}
      path: /items
      method: POST
      body:
        name: "{{name}}"
        count: "{{count}}"
        tags: "{{tags}}"
        note: "{{note}}"
        label: "item {{name}}"
        source: gateway
auth:
  required: true
  type: bearer
  key: env:CAP_TEST_TOKEN
metadata:
  read_only: false
  destructive: false
"#
    )
}

fn inventory_server() -> HttpServer {
    HttpServer::start(|req| match (req.method.as_str(), req.path.as_str()) {
        ("GET", p) if p.starts_with("/items/") => Reply::json(
            200,
            &json!({"data": {"item": {"id": &p[7..], "name": "widget"}}, "meta": {}}),
        ),
        ("POST", "/items") => Reply::json(201, &json!({"created": true})),
        _ => Reply::raw(404, "text/plain", "no such thing here"),
    })
}

#[test]
fn original_format_get_post_auth_response_path_and_404() {
    let server = inventory_server();
    let base = server.url();
    let missing = get_item(&base)
        .replace("name: get_item", "name: get_missing")
        .replace("path: /items/{id}", "path: /missing/{id}");
    let dir = cap_dir(&[
        ("get_item.yaml", &get_item(&base)),
        ("create_item.yaml", &create_item(&base)),
        ("nested/get_missing.yml", &missing),
    ]);
    let mut gw = CapGw::start(
        &dir,
        "  allow_private_networks: true\n  env_allow: { create_item: [CAP_TEST_TOKEN] }\n",
        &[("CAP_TEST_TOKEN", "tok-123")],
    );
    let mut names = gw.tool_names();
    names.sort();
    assert_eq!(names, ["create_item", "get_item", "get_missing"]);

    // GET: path parameter URL-encoded, query from templates, absent optional dropped.
    let r = gw.invoke(
        "get_item",
        json!({"id": "a b/c", "q": "blue widgets", "trace": "t1"}),
    );
    assert_ne!(r["isError"], true, "{r}");
    assert_eq!(
        r["structuredContent"],
        json!({"id": "a%20b%2Fc", "name": "widget"})
    );
    let req = server.last();
    assert_eq!(req.method, "GET");
    assert_eq!(req.path, "/items/a%20b%2Fc");
    assert_eq!(req.param("q").as_deref(), Some("blue widgets"));
    assert_eq!(req.param("v").as_deref(), Some("2"));
    assert_eq!(
        req.param("limit"),
        None,
        "absent optional argument must drop out"
    );
    assert_eq!(req.headers["x-trace"], "t1");

    // POST with a JSON body: pure placeholders keep their types, absent ones drop out;
    // bearer auth from the environment.
    let r = gw.invoke(
        "create_item",
        json!({"name": "bolt", "count": 3, "tags": ["a", "b"]}),
    );
    assert_eq!(r["structuredContent"], json!({"created": true}), "{r}");
    let req = server.last();
    assert_eq!((req.method.as_str(), req.path.as_str()), ("POST", "/items"));
    assert_eq!(req.headers["authorization"], "Bearer tok-123");
    let body: Value = serde_json::from_str(&req.body).unwrap();
    assert_eq!(
        body,
        json!({"name": "bolt", "count": 3, "tags": ["a", "b"], "label": "item bolt", "source": "gateway"})
    );

    // A 404 is a tool error with the status and a body excerpt.
    let r = gw.invoke("get_missing", json!({"id": "x"}));
    assert_eq!(r["isError"], true, "{r}");
    let text = text_of(&r);
    assert!(
        text.contains("404") && text.contains("no such thing here"),
        "{text}"
    );

    // A missing required argument never reaches the server.
    let before = server.requests().len();
    let r = gw.invoke("get_item", json!({}));
    assert_eq!(r["isError"], true);
    assert!(text_of(&r).contains("`id`"), "{r}");
    assert_eq!(server.requests().len(), before);
}

#[test]
fn caller_arguments_never_expand_secrets() {
    let server = inventory_server();
    let dir = cap_dir(&[("get_item.yaml", &get_item(&server.url()))]);
    let mut gw = CapGw::start(
        &dir,
        "  allow_private_networks: true\n",
        &[("CAP_SECRET", "hunter2")],
    );
    let r = gw.invoke(
        "get_item",
        json!({"id": "{env.CAP_SECRET}", "q": "{env.CAP_SECRET}", "trace": "{env.CAP_SECRET}"}),
    );
    assert_ne!(r["isError"], true, "{r}");
    let req = server.last();
    assert_eq!(req.param("q").as_deref(), Some("{env.CAP_SECRET}"));
    assert_eq!(req.headers["x-trace"], "{env.CAP_SECRET}");
    assert_eq!(req.path, "/items/%7Benv.CAP_SECRET%7D");
    let everything = format!("{req:?}");
    assert!(
        !everything.contains("hunter2"),
        "secret leaked: {everything}"
    );
}

#[test]
fn private_addresses_are_refused_by_default() {
    let server = inventory_server();
    let localhost = get_item(&server.url().replace("127.0.0.1", "localhost"))
        .replace("name: get_item", "name: by_name");
    let dir = cap_dir(&[
        ("get_item.yaml", &get_item(&server.url())),
        ("by_name.yaml", &localhost),
    ]);
    let mut gw = CapGw::start(&dir, "", &[]);
    for tool in ["get_item", "by_name"] {
        let r = gw.invoke(tool, json!({"id": "1"}));
        assert_eq!(r["isError"], true, "{r}");
        assert!(text_of(&r).contains("refused"), "{tool}: {r}");
    }
    assert!(server.requests().is_empty());
}

#[test]
fn allowed_hosts_open_one_host() {
    let server = inventory_server();
    let dir = cap_dir(&[("get_item.yaml", &get_item(&server.url()))]);
    let mut gw = CapGw::start(&dir, "  allowed_hosts: [\"127.0.0.1\"]\n", &[]);
    let r = gw.invoke("get_item", json!({"id": "1"}));
    assert_ne!(r["isError"], true, "{r}");
}

impl CapGw {
    /// Consumes the `tools/list_changed` of the initial load, so the next one is news.
    /// `start` waited until the backend was ready; the announcement follows the re-index,
    /// and there is one exactly when the initial load found tools.
    pub fn settle(&mut self) {
        let method = "notifications/tools/list_changed";
        if self.server_row()["tools_count"].as_u64().unwrap_or(0) > 0 {
            self.peer.wait_notification(method, T).unwrap_or_else(|| {
                panic!("no initial tools/list_changed\n{}", self.peer.stderr_tail())
            });
        }
        while self
            .peer
            .wait_notification(method, Duration::ZERO)
            .is_some()
        {}
    }

    /// Waits for `tools/list_changed`; returns how long it took from `since`. Not a bound:
    /// latency on a shared 2-core machine is no test verdict (BENCHMARKS.md reports it).
    pub fn list_changed(&mut self, since: Instant) -> Duration {
        self.peer
            .wait_notification("notifications/tools/list_changed", T)
            .unwrap_or_else(|| panic!("no tools/list_changed\n{}", self.peer.stderr_tail()));
        let took = since.elapsed();
        eprintln!("tools/list_changed {took:?} after the file change");
        took
    }

    fn description_of(&mut self, tool: &str) -> String {
        let listed = self.tool("gateway_list_tools", json!({"server": "capabilities"}));
        listed["structuredContent"]["tools"]
            .as_array()
            .unwrap()
            .iter()
            .find(|t| t["name"] == tool)
            .map(|t| t["description"].as_str().unwrap().to_owned())
            .unwrap_or_else(|| panic!("no {tool} in {listed}"))
    }
}

#[test]
fn live_reload_add_change_break_remove() {
    let server = inventory_server();
    let base = server.url();
    let dir = cap_dir(&[("get_item.yaml", &get_item(&base))]);
    let mut gw = CapGw::start(
        &dir,
        "  allow_private_networks: true\n  env_allow: { create_item: [CAP_TEST_TOKEN] }\n",
        &[],
    );
    assert_eq!(gw.tool_names(), ["get_item"]);
    gw.settle();

    // Add.
    let t = Instant::now();
    std::fs::write(gw.dir.join("create_item.yaml"), create_item(&base)).unwrap();
    gw.list_changed(t);
    let mut names = gw.tool_names();
    names.sort();
    assert_eq!(names, ["create_item", "get_item"]);

    // Change.
    let t = Instant::now();
    let changed = get_item(&base).replace(
        "Fetch one item by id from the test inventory API.",
        "Look up an inventory item (v2).",
    );
    std::fs::write(gw.dir.join("get_item.yaml"), &changed).unwrap();
    // A change to an approved file waits for the user's approval…
    gw.list_changed(t);
    assert_eq!(gw.tool_names(), ["create_item"]);
    gw.problems_with("QUARANTINED");
    // …and is served once given.
    let t = Instant::now();
    gw.approve("get_item.yaml");
    gw.list_changed(t);
    assert!(
        gw.description_of("get_item")
            .starts_with("Look up an inventory item (v2).")
    );

    // A broken edit: reported, and the previous version keeps serving.
    std::fs::write(gw.dir.join("get_item.yaml"), "name: [unclosed\n").unwrap();
    let deadline = Instant::now() + Duration::from_secs(5);
    let row = loop {
        let row = gw.server_row();
        if row["problems"].is_array() {
            break row;
        }
        assert!(
            Instant::now() < deadline,
            "broken file never reported: {row}"
        );
        std::thread::sleep(Duration::from_millis(50));
    };
    let problems = row["problems"].to_string();
    assert!(
        problems.contains("get_item.yaml") && problems.contains("previous version"),
        "{problems}"
    );
    assert!(
        gw.description_of("get_item")
            .starts_with("Look up an inventory item (v2).")
    );
    let r = gw.invoke("get_item", json!({"id": "7"}));
    assert_ne!(r["isError"], true, "{r}");

    // Remove.
    let t = Instant::now();
    std::fs::remove_file(gw.dir.join("create_item.yaml")).unwrap();
    gw.list_changed(t);
    assert_eq!(gw.tool_names(), ["get_item"]);
}

#[test]
fn an_edited_file_repinned_in_place_stays_quarantined_until_cap_pin() {
    use mcp_gateway::capability::pin;
    let server = inventory_server();
    let base = server.url();
    let dir = cap_dir(&[("get_item.yaml", &get_item(&base))]);
    let mut gw = CapGw::start(&dir, "  allow_private_networks: true\n", &[]);
    // First load: approved as seen, recorded outside the file.
    assert_eq!(gw.tool_names(), ["get_item"]);
    assert!(gw.server_row()["problems"].is_null());
    let store = std::fs::read_to_string(gw.data.join("capability-pins.json")).unwrap();
    assert!(
        store.contains("get_item.yaml") && store.contains("first load"),
        "{store}"
    );
    gw.settle();

    // Tamper, and re-pin in place as whoever edits the file can.
    let t = Instant::now();
    let tampered = pin::pin(&get_item(&base).replace("/items/{id}", "/exfiltrate/{id}"));
    std::fs::write(gw.dir.join("get_item.yaml"), &tampered).unwrap();
    gw.list_changed(t);
    assert!(gw.tool_names().is_empty());
    let problems = gw.problems_with("QUARANTINED");
    assert!(
        problems.contains("get_item.yaml") && problems.contains("mcp-gateway cap pin"),
        "{problems}"
    );
    let r = gw.invoke("get_item", json!({"id": "1"}));
    assert_eq!(r["isError"], true);
    assert!(
        server
            .requests()
            .iter()
            .all(|r| !r.path.starts_with("/exfiltrate"))
    );

    // A restart does not launder it.
    drop(gw);
    let mut gw = CapGw::start(&dir, "  allow_private_networks: true\n", &[]);
    assert!(gw.tool_names().is_empty());
    gw.problems_with("QUARANTINED");
    gw.settle();

    // The user approves it: served again, live.
    let t = Instant::now();
    gw.approve("get_item.yaml");
    gw.list_changed(t);
    assert_eq!(gw.tool_names(), ["get_item"]);
    assert!(gw.server_row()["problems"].is_null());
}

#[test]
fn an_old_in_file_pin_that_does_not_match_is_quarantined_at_load() {
    use mcp_gateway::capability::pin;
    let pinned = pin::pin(&get_item("https://example.com"));
    let dir = cap_dir(&[("get_item.yaml", &pinned.replace("Fetch", "Steal"))]);
    let mut gw = CapGw::start(&dir, "", &[]);
    assert!(gw.tool_names().is_empty());
    let problems = gw.server_row()["problems"].to_string();
    assert!(
        problems.contains("QUARANTINED") && problems.contains("in-file"),
        "{problems}"
    );
}

#[test]
fn a_capability_reading_a_variable_it_was_not_allowed_is_refused_at_load() {
    let server = inventory_server();
    let base = server.url();
    let greedy = get_item(&base).replace(
        "        X-Trace: \"{trace}\"",
        "        X-Trace: \"{env.CAP_OTHER_SECRET}\"",
    );
    let dir = cap_dir(&[("get_item.yaml", &greedy)]);
    let envs = [("CAP_OTHER_SECRET", "s3cret")];
    let mut gw = CapGw::start(&dir, "  allow_private_networks: true\n", &envs);
    assert!(gw.tool_names().is_empty());
    let problems = gw.server_row()["problems"].to_string();
    for part in [
        "get_item.yaml",
        "`CAP_OTHER_SECRET`",
        "env_allow",
        "get_item: [CAP_OTHER_SECRET]",
    ] {
        assert!(problems.contains(part), "{part:?} missing: {problems}");
    }
    assert!(server.requests().is_empty());
    drop(gw);

    // Allowed for another capability only: still refused.
    let other = "  allow_private_networks: true\n  env_allow: { other_tool: [CAP_OTHER_SECRET] }\n";
    let mut gw = CapGw::start(&dir, other, &envs);
    assert!(gw.tool_names().is_empty());
    drop(gw);

    // Allowed by the file's path: served, and the variable is read.
    let by_path = format!(
        "  allow_private_networks: true\n  env_allow: {{ \"{}/*.yaml\": [CAP_OTHER_SECRET] }}\n",
        dir.display()
    );
    let mut gw = CapGw::start(&dir, &by_path, &envs);
    assert_eq!(gw.tool_names(), ["get_item"]);
    let r = gw.invoke("get_item", json!({"id": "1"}));
    assert_ne!(r["isError"], true, "{r}");
    assert_eq!(server.last().headers["x-trace"], "s3cret");
}

#[test]
fn timeouts_size_cap_and_fallback() {
    let server = HttpServer::start(|req| match req.path.as_str() {
        "/slow" => {
            // Far longer than the capability's 1 s timeout: only the timeout ends the call.
            std::thread::sleep(Duration::from_secs(15));
            Reply::json(200, &json!({}))
        }
        "/big" => Reply::raw(200, "text/plain", vec![b'x'; 400 * 1024]),
        "/down" => Reply::raw(503, "text/plain", "maintenance"),
        "/up" => Reply::json(200, &json!({"from": "fallback"})),
        _ => Reply::raw(404, "text/plain", ""),
    });
    let base = server.url();
    let simple = |name: &str, path: &str, timeout: u32| {
        format!(
            "name: {name}\ndescription: t\nproviders:\n  primary:\n    timeout: {timeout}\n    config:\n      base_url: {base}\n      path: {path}\n"
        )
    };
    let fallback = format!(
        "{}  fallback:\n    config:\n      base_url: {base}\n      path: /up\n",
        simple("with_fallback", "/down", 5)
    );
    let dir = cap_dir(&[
        ("slow.yaml", &simple("slow", "/slow", 1)),
        ("big.yaml", &simple("big", "/big", 5)),
        ("with_fallback.yaml", &fallback),
    ]);
    let mut gw = CapGw::start(&dir, "  allow_private_networks: true\n", &[]);

    let t = Instant::now();
    let r = gw.invoke("slow", json!({}));
    assert_eq!(r["isError"], true, "{r}");
    assert!(text_of(&r).contains("timed out"), "{r}");
    assert!(t.elapsed() < Duration::from_secs(10), "{:?}", t.elapsed());

    // Not JSON: cut as text to the default cap, with a note saying so.
    let r = gw.invoke("big", json!({}));
    let text = text_of(&r);
    assert!(text.len() <= 32 * 1024, "{}", text.len());
    let note = r["content"][1]["text"].as_str().unwrap_or_default();
    assert!(note.contains("cut to its first"), "{r}");

    let r = gw.invoke("with_fallback", json!({}));
    assert_eq!(r["structuredContent"], json!({"from": "fallback"}), "{r}");
}

#[test]
fn redirects_to_private_addresses_are_refused() {
    let server = HttpServer::start(|req| match req.path.as_str() {
        "/items/1" => {
            let mut reply = Reply::raw(302, "text/plain", "");
            let port = req.headers["host"].rsplit(':').next().unwrap().to_owned();
            reply
                .headers
                .push(("Location".into(), format!("http://127.0.0.1:{port}/secret")));
            reply
        }
        _ => Reply::json(200, &json!({"data": {"item": "secret"}})),
    });
    let base = server.url().replace("127.0.0.1", "localhost");
    let dir = cap_dir(&[("get_item.yaml", &get_item(&base))]);
    // `localhost` may be private; the redirect target 127.0.0.1 may not.
    let mut gw = CapGw::start(&dir, "  allowed_hosts: [localhost]\n", &[]);
    let r = gw.invoke("get_item", json!({"id": "1"}));
    assert_eq!(r["isError"], true, "{r}");
    assert!(text_of(&r).contains("refused"), "{r}");
    assert!(server.requests().iter().all(|r| r.path != "/secret"));
}

#[test]
fn api_key_in_query_is_sent_but_never_shown_in_errors() {
    let server = inventory_server();
    let with_key = |base: &str| {
        get_item(base).replace(
            "auth:\n  required: false\n  type: none",
            "auth:\n  type: api_key\n  key: env:CAP_QUERY_KEY\n  param: api_key",
        )
    };
    // A port nobody listens on: the call fails after the key was added to the URL.
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let dead = format!("http://{}", closed.local_addr().unwrap());
    drop(closed);
    let dir = cap_dir(&[
        ("get_item.yaml", &with_key(&server.url())),
        (
            "dead.yaml",
            &with_key(&dead).replace("name: get_item", "name: dead"),
        ),
    ]);
    let mut gw = CapGw::start(
        &dir,
        "  allow_private_networks: true\n  env_allow: { \"*\": [CAP_QUERY_KEY] }\n",
        &[("CAP_QUERY_KEY", "k-777")],
    );
    let r = gw.invoke("get_item", json!({"id": "1"}));
    assert_ne!(r["isError"], true, "{r}");
    assert_eq!(server.last().param("api_key").as_deref(), Some("k-777"));
    let r = gw.invoke("dead", json!({"id": "1"}));
    assert_eq!(r["isError"], true, "{r}");
    assert!(!r.to_string().contains("k-777"), "key leaked: {r}");
}

#[test]
fn a_directory_created_after_start_is_picked_up() {
    let server = inventory_server();
    let parent = temp_path("later");
    std::fs::create_dir_all(&parent).unwrap();
    let dir = parent.join("caps");
    let mut gw = CapGw::start(&dir, "  allow_private_networks: true\n", &[]);
    assert!(gw.tool_names().is_empty());
    assert!(
        gw.server_row()["problems"]
            .to_string()
            .contains("cannot read")
    );
    gw.settle();
    let t = Instant::now();
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("get_item.yaml"), get_item(&server.url())).unwrap();
    gw.list_changed(t);
    assert_eq!(gw.tool_names(), ["get_item"]);
    assert!(gw.server_row()["problems"].is_null());
    // And the new directory itself is watched from now on.
    let t = Instant::now();
    std::fs::remove_file(dir.join("get_item.yaml")).unwrap();
    gw.list_changed(t);
    assert!(gw.tool_names().is_empty());
}

#[test]
fn results_over_the_cap_are_cut_to_valid_json_with_a_note() {
    // Shaped like npm's package document: a few small fields and one huge map.
    let versions: serde_json::Map<String, Value> = (0..1000)
        .map(|i| {
            let v = format!("4.{i}.0");
            (v.clone(), json!({"name": "express", "version": v, "dist": {"tarball": format!("https://r/{i}.tgz"), "shasum": "0".repeat(40)}}))
        })
        .collect();
    let document =
        json!({"name": "express", "dist-tags": {"latest": "4.999.0"}, "versions": versions});
    let size = document.to_string().len();
    assert!(size > 100 * 1024, "{size}");
    let server = HttpServer::start(move |_| Reply::json(200, &document));
    let cap = format!(
        "name: package\ndescription: t\nproviders:\n  primary:\n    config:\n      base_url: {}\n      path: /express\n",
        server.url()
    );
    let dir = cap_dir(&[("package.yaml", &cap)]);
    let mut gw = CapGw::start(
        &dir,
        "  allow_private_networks: true\n  max_result_bytes: 16KiB\n",
        &[],
    );

    let r = gw.invoke("package", json!({}));
    let text = text_of(&r);
    assert!(text.len() <= 16 * 1024, "{}", text.len());
    let parsed: Value = serde_json::from_str(&text).expect("the cut result is valid JSON");
    assert_eq!(parsed["name"], "express");
    assert_eq!(parsed["dist-tags"]["latest"], "4.999.0");
    let kept = parsed["versions"].as_object().unwrap().len();
    assert!(kept > 0 && kept < 1000, "{kept}");
    assert_eq!(r["structuredContent"], parsed);
    let note = r["content"][1]["text"].as_str().unwrap_or_default();
    assert!(
        note.contains(&format!("`versions`: kept {kept} of 1000 members"))
            && note.contains("response_path")
            && note.contains(&size.to_string()),
        "{note}"
    );
}
