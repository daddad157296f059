//! `mcp-gateway cap …` from a terminal: pin/verify/validate/list, and OpenAPI import of the
//! Swagger Petstore (2.0, 3.0, 3.1) and of GitHub's full REST description, which is then
//! served and invoked through the gateway.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::capabilities::{CapGw, text_of};
use crate::support::http::{HttpServer, Reply};
use crate::support::temp_path;

/// One data directory (capability approvals) for every command of this test process:
/// `cap pin` and `cap verify` must meet in it, and the user's own must not be touched.
fn data_dir() -> &'static Path {
    static DIR: std::sync::OnceLock<PathBuf> = std::sync::OnceLock::new();
    DIR.get_or_init(|| temp_path("cap-cli-data"))
}

fn gw(args: &[&str]) -> Output {
    let home = temp_path("home");
    crate::support::gateway_command()
        .args(args)
        .env("HOME", &home)
        .env("XDG_CONFIG_HOME", &home)
        .env("MCP_GATEWAY_DATA_DIR", data_dir())
        .env_remove("MCP_GATEWAY_CONFIG")
        .output()
        .unwrap()
}

fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn json_of(out: &Output) -> Value {
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "not JSON ({e}): {}\n{}",
            stdout(out),
            String::from_utf8_lossy(&out.stderr)
        )
    })
}

fn fixture(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/openapi")
        .join(name)
}

const CAP: &str = "name: hello\ndescription: Say hello.\nproviders:\n  primary:\n    config:\n      base_url: https://example.com\n      path: /hello\n";

#[test]
fn pin_records_outside_the_file_and_verify_checks_there() {
    use mcp_gateway::capability::pin;
    let dir = temp_path("pin");
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("hello.yaml");
    std::fs::write(&file, CAP).unwrap();
    let f = file.to_str().unwrap();
    let d = dir.to_str().unwrap();

    let out = gw(&["cap", "verify", d]);
    assert!(out.status.success(), "{}", stdout(&out));
    assert!(stdout(&out).contains("unpinned"));

    let out = gw(&["cap", "pin", f]);
    assert!(out.status.success(), "{}", stdout(&out));
    assert!(
        stdout(&out).contains("approvals recorded in"),
        "{}",
        stdout(&out)
    );
    // The file is not touched: the approval lives in the data directory.
    assert_eq!(std::fs::read_to_string(&file).unwrap(), CAP);
    let store = data_dir().join("capability-pins.json");
    let pins: Value = serde_json::from_str(&std::fs::read_to_string(&store).unwrap()).unwrap();
    let record = &pins["files"][std::fs::canonicalize(&file).unwrap().to_str().unwrap()];
    // `grep -v '^sha256:' f | sha256sum` reproduces the recorded hash.
    let sum = Command::new("sh")
        .arg("-c")
        .arg(format!("grep -v '^sha256:' '{f}' | sha256sum"))
        .output()
        .unwrap();
    let sum = String::from_utf8_lossy(&sum.stdout);
    assert_eq!(
        record["sha256"],
        sum.split_whitespace().next().unwrap(),
        "{pins}"
    );
    assert_eq!(record["how"], "cap pin");

    let out = gw(&["cap", "verify", d, "--json"]);
    assert!(out.status.success());
    assert_eq!(json_of(&out)["files"][0]["state"], "ok");

    // Edited and re-pinned in place (the older in-file pin): still a change.
    let edited = pin::pin(&CAP.replace("Say hello.", "Say goodbye."));
    std::fs::write(&file, &edited).unwrap();
    let out = gw(&["cap", "verify", d]);
    assert!(!out.status.success());
    assert!(stdout(&out).contains("CHANGED"), "{}", stdout(&out));
    assert!(stdout(&out).contains("cap pin"), "{}", stdout(&out));
    // Still a valid file: approval is not validity.
    assert!(gw(&["cap", "validate", f]).status.success());

    // Approved again.
    assert!(gw(&["cap", "pin", f]).status.success());
    assert!(gw(&["cap", "verify", d]).status.success());
}

#[test]
fn validate_warns_of_variables_the_config_does_not_allow() {
    let dir = temp_path("envcap");
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("hello.yaml");
    std::fs::write(
        &file,
        format!("{CAP}      headers: {{ X-Key: \"{{env.HELLO_KEY}}\" }}\n"),
    )
    .unwrap();
    let config = dir.join("gateway.yaml");
    std::fs::write(&config, "capabilities: {}\n").unwrap();
    let c = config.to_str().unwrap();
    let out = gw(&["--config", c, "cap", "validate", file.to_str().unwrap()]);
    let text = stdout(&out);
    assert!(
        text.contains("will not load") && text.contains("`HELLO_KEY`"),
        "{text}"
    );
    assert!(text.contains("env_allow"), "{text}");
    std::fs::write(
        &config,
        "capabilities:\n  env_allow: { hello: [HELLO_KEY] }\n",
    )
    .unwrap();
    let out = gw(&["--config", c, "cap", "validate", file.to_str().unwrap()]);
    assert!(out.status.success(), "{}", stdout(&out));
    assert!(!stdout(&out).contains("will not load"), "{}", stdout(&out));
}

#[test]
fn validate_reports_unrunnable_and_unknown_fields() {
    let dir = temp_path("validate");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("ok.yaml"), format!("{CAP}webhooks: {{}}\n")).unwrap();
    let cli = CAP.replace("    config:", "    service: cli\n    config:");
    std::fs::write(dir.join("cli.yaml"), cli).unwrap();
    let out = gw(&["cap", "validate", dir.to_str().unwrap(), "--json"]);
    assert!(!out.status.success());
    let v = json_of(&out);
    assert_eq!(
        (v["valid"].as_u64(), v["invalid"].as_u64()),
        (Some(1), Some(1)),
        "{v}"
    );
    let files = v["files"].as_array().unwrap();
    let cli = files
        .iter()
        .find(|f| f["file"].as_str().unwrap().ends_with("cli.yaml"))
        .unwrap();
    assert!(
        cli["error"].as_str().unwrap().contains("service: cli"),
        "{cli}"
    );
    let ok = files.iter().find(|f| f["ok"] == true).unwrap();
    assert!(ok["warnings"].to_string().contains("webhooks"), "{ok}");
}

#[test]
fn list_shows_the_builtin_catalog() {
    let out = gw(&["cap", "list", "--json"]);
    assert!(out.status.success());
    let v = json_of(&out);
    assert_eq!(v["server"], "capabilities");
    let caps = v["capabilities"].as_array().unwrap();
    assert!(caps.len() >= 25);
    assert!(caps.iter().any(
        |c| c["name"] == "pypi_package" && c["source"] == "builtin:packages/pypi_package.yaml"
    ));
    let human = stdout(&gw(&["cap", "list"]));
    assert!(
        human.contains("crates_search") && human.contains("capabilities as server"),
        "{human}"
    );
}

fn import(spec: &Path, extra: &[&str]) -> (Value, PathBuf) {
    let out_dir = temp_path("import");
    let mut args = vec![
        "cap",
        "import",
        spec.to_str().unwrap(),
        "--output",
        out_dir.to_str().unwrap(),
        "--json",
    ];
    args.extend_from_slice(extra);
    let out = gw(&args);
    assert!(
        out.status.success(),
        "{}\n{}",
        stdout(&out),
        String::from_utf8_lossy(&out.stderr)
    );
    (json_of(&out), out_dir)
}

fn read_cap(dir: &Path, name: &str) -> serde_yaml_ng::Value {
    let text = std::fs::read_to_string(dir.join(format!("{name}.yaml"))).unwrap();
    serde_yaml_ng::from_str(&text).unwrap()
}

fn y(v: &serde_yaml_ng::Value, path: &[&str]) -> String {
    let mut cur = v;
    for p in path {
        cur = &cur[*p];
    }
    match cur {
        serde_yaml_ng::Value::String(s) => s.clone(),
        other => serde_yaml_ng::to_string(other).unwrap().trim().to_owned(),
    }
}

fn assert_all_valid(dir: &Path, count: usize) {
    let out = gw(&["cap", "validate", dir.to_str().unwrap(), "--json"]);
    let v = json_of(&out);
    assert_eq!(v["invalid"], 0, "{v}");
    assert_eq!(v["valid"].as_u64().unwrap() as usize, count);
}

#[test]
fn petstore_swagger_2_0() {
    let (report, dir) = import(&fixture("petstore-swagger2.json"), &[]);
    assert_eq!(report["base_url"], "https://petstore.swagger.io/v2");
    assert_eq!(report["generated"].as_array().unwrap().len(), 5);
    assert!(
        report["skipped"].to_string().contains("form-data"),
        "{report}"
    );
    assert_all_valid(&dir, 5);
    let get = read_cap(&dir, "get_pet_by_id");
    assert_eq!(
        y(&get, &["providers", "primary", "config", "path"]),
        "/pet/{petId}"
    );
    assert_eq!(y(&get, &["auth", "type"]), "api_key");
    assert_eq!(y(&get, &["auth", "header"]), "api_key");
    assert_eq!(y(&get, &["auth", "key"]), "env:SWAGGER_PETSTORE_API_KEY");
    assert_eq!(y(&get, &["metadata", "read_only"]), "true");
    let add = read_cap(&dir, "add_pet");
    assert_eq!(y(&add, &["auth", "type"]), "bearer");
    assert_eq!(
        y(
            &add,
            &["providers", "primary", "config", "body", "photoUrls"]
        ),
        "{photoUrls}"
    );
    assert_eq!(y(&add, &["metadata", "read_only"]), "false");
    let del = read_cap(&dir, "delete_pet");
    assert_eq!(y(&del, &["metadata", "destructive"]), "true");

    // Re-importing leaves a file the user edited and approved alone.
    let file = dir.join("get_pet_by_id.yaml");
    let edited = std::fs::read_to_string(&file).unwrap() + "# checked by hand\n";
    std::fs::write(&file, &edited).unwrap();
    assert!(gw(&["cap", "pin", file.to_str().unwrap()]).status.success());
    let pinned = std::fs::read_to_string(&file).unwrap();
    let spec = fixture("petstore-swagger2.json");
    let out = gw(&[
        "cap",
        "import",
        spec.to_str().unwrap(),
        "-o",
        dir.to_str().unwrap(),
        "--json",
    ]);
    let again = json_of(&out);
    assert!(
        again["skipped"].to_string().contains("is pinned"),
        "{again}"
    );
    assert_eq!(std::fs::read_to_string(&file).unwrap(), pinned);
}

#[test]
fn petstore_openapi_3_0() {
    let (report, dir) = import(
        &fixture("petstore-3.0.yaml"),
        &["--auth-env", "PETSTORE_KEY", "--prefix", "pets"],
    );
    // Server variables take their defaults.
    assert_eq!(report["base_url"], "https://petstore3.swagger.io/api/v3");
    let names: Vec<&str> = report["generated"]
        .as_array()
        .unwrap()
        .iter()
        .map(|g| g["name"].as_str().unwrap())
        .collect();
    assert!(
        names.contains(&"pets_get_pet_by_id") && names.contains(&"pets_get_user_login"),
        "{names:?}"
    );
    assert!(
        report["skipped"].to_string().contains("octet-stream"),
        "{report}"
    );
    assert!(
        report["notes"]
            .to_string()
            .contains("recursive schema `Category` cut"),
        "{report}"
    );
    assert_all_valid(&dir, names.len());
    let get = read_cap(&dir, "pets_get_pet_by_id");
    assert_eq!(y(&get, &["auth", "type"]), "api_key");
    assert_eq!(y(&get, &["auth", "key"]), "env:PETSTORE_KEY");
    // Path-level `$ref` parameters are resolved.
    assert_eq!(y(&get, &["schema", "input", "required"]), "- petId");
    let login = read_cap(&dir, "pets_get_user_login");
    assert_eq!(y(&login, &["auth", "type"]), "none");
    let update = read_cap(&dir, "pets_update_pet");
    assert_eq!(y(&update, &["auth", "type"]), "bearer");
    assert_eq!(
        y(&update, &["providers", "primary", "config", "method"]),
        "PUT"
    );
}

#[test]
fn petstore_openapi_3_1() {
    let (report, dir) = import(&fixture("petstore-3.1.yaml"), &[]);
    assert_eq!(report["base_url"], "https://petstore31.example.com/v1");
    assert_all_valid(&dir, 4);
    let list = read_cap(&dir, "list_pets");
    assert_eq!(y(&list, &["auth", "type"]), "bearer");
    assert_eq!(y(&list, &["auth", "key"]), "env:PETSTORE_3_1_TOKEN");
    assert_eq!(y(&list, &["auth", "required"]), "true");
    assert_eq!(
        y(
            &list,
            &["providers", "primary", "config", "params", "limit"]
        ),
        "{limit}"
    );
    let health = read_cap(&dir, "head_health");
    assert_eq!(y(&health, &["auth", "type"]), "none");
    assert_eq!(y(&health, &["metadata", "read_only"]), "true");
}

fn github_spec() -> PathBuf {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/peers/node_modules/@octokit/openapi/generated/api.github.com.json");
    assert!(
        path.is_file(),
        "{} is missing: run tests/peers/install.sh",
        path.display()
    );
    path
}

#[test]
fn github_rest_description_imports_and_is_invokable() {
    let spec = github_spec();
    let started = Instant::now();
    let (report, dir) = import(&spec, &["--auth-env", "GITHUB_TOKEN"]);
    // Reported, not asserted: a debug build on a shared 2-core machine is no measure of
    // speed (benches/ and BENCHMARKS.md are).
    eprintln!("GitHub import took {:?}", started.elapsed());
    assert_eq!(
        report["generated"].as_array().unwrap().len(),
        1223,
        "skipped: {}",
        report["skipped"]
    );
    assert_eq!(report["base_url"], "https://api.github.com");
    assert_all_valid(&dir, 1223);

    // Served by the gateway, api.github.com mapped to a local server.
    let server =
        HttpServer::start(|req| Reply::json(200, &json!({"tag_name": "v1.2.3", "path": req.path})));
    let hosts = format!("api.github.com={}", server.url());
    let allow = format!(
        "  env_allow: {{ \"{}/**\": [GITHUB_TOKEN] }}\n",
        dir.display()
    );
    let mut gw = CapGw::start(
        &dir,
        &allow,
        &[
            ("MCP_GATEWAY_CAPABILITY_HOSTS", &hosts),
            ("GITHUB_TOKEN", "ghp_test"),
        ],
    );
    assert_eq!(gw.server_row()["tools_count"], 1223);
    let r = gw.invoke(
        "repos_get_latest_release",
        json!({"owner": "octo", "repo": "hello"}),
    );
    assert_ne!(r["isError"], true, "{r}");
    assert!(text_of(&r).contains("v1.2.3"));
    let req = server.last();
    assert_eq!(req.path, "/repos/octo/hello/releases/latest");
    assert_eq!(req.headers["authorization"], "Bearer ghp_test");

    // Live reload at this scale: one more file among 1,223 is announced.
    gw.settle();
    let t = Instant::now();
    let extra = std::fs::read_to_string(dir.join("repos_get.yaml"))
        .unwrap()
        .replace("name: repos_get\n", "name: repos_get_again\n");
    std::fs::write(dir.join("repos_get_again.yaml"), extra).unwrap();
    gw.list_changed(t);
    assert_eq!(gw.server_row()["tools_count"], 1224);
}

/// An imported API's tools are found by search like any backend's.
#[test]
fn github_search_ranks_latest_release_in_top_3() {
    let (_, dir) = import(&github_spec(), &[]);
    let mut gw = CapGw::start(&dir, "", &[]);
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let found = gw.tool(
            "gateway_search_tools",
            json!({"query": "get the latest release of a repository", "limit": 3}),
        );
        let tools: Vec<String> = found["structuredContent"]["matches"]
            .as_array()
            .unwrap()
            .iter()
            .map(|m| m["tool"].as_str().unwrap().to_owned())
            .collect();
        if tools.iter().any(|t| t == "repos_get_latest_release") {
            return;
        }
        assert!(Instant::now() < deadline, "top 3: {tools:?}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[test]
fn import_from_a_url_resolves_a_relative_server() {
    let spec = std::fs::read_to_string(fixture("petstore-3.0.yaml"))
        .unwrap()
        .replace(
            "https://{environment}.swagger.io/{basePath}",
            "/api/{basePath}",
        );
    let server = HttpServer::start(move |_| Reply::raw(200, "application/yaml", spec.clone()));
    let url = format!("{}/specs/openapi.yaml", server.url());
    let out = gw(&[
        "cap",
        "import",
        &url,
        "--dry-run",
        "--json",
        "--include",
        "/pet/*",
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v = json_of(&out);
    assert_eq!(v["base_url"], format!("{}/api/api/v3", server.url()));
    let names: Vec<&str> = v["generated"]
        .as_array()
        .unwrap()
        .iter()
        .map(|g| g["name"].as_str().unwrap())
        .collect();
    // `--include /pet/*` keeps /pet/findByTags and /pet/{petId}, not /pet or /user/login.
    assert_eq!(names, ["find_pets_by_tags", "get_pet_by_id"], "{v}");
    assert_eq!(v["created"], 0);
}

/// The host-override test hook widens the SSRF guard, so a release must not have it: only
/// the test suite's self dev-dependency turns the `test-hooks` feature on. Cargo's own
/// feature resolution is the proof: the normal build graph (what `cargo build --release`
/// and `cargo install` compile) has no `test-hooks`, the test graph does.
#[test]
fn release_builds_have_no_test_hooks() {
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let tree = |edges: &str| {
        let out = std::process::Command::new(&cargo)
            .args(["tree", "--offline", "-e", edges, "-i", "mcp-gateway"])
            .arg("--manifest-path")
            .arg(std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("Cargo.toml"))
            .output()
            .expect("cannot run cargo tree");
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    let release = tree("features,normal");
    assert!(!release.contains("test-hooks"), "{release}");
    let test = tree("features");
    assert!(test.contains("feature \"test-hooks\""), "{test}");
    const {
        assert!(
            mcp_gateway::capability::TEST_HOOKS,
            "this test build lacks the hooks"
        )
    };
}
