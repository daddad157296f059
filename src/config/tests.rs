//! End-to-end tests of loading: text in, `Config` or the exact error out.

use std::path::{Path, PathBuf};
use std::time::Duration;

use super::*;

const FILE: &str = "/cfg/gateway.yaml";

fn env(name: &str) -> Option<String> {
    match name {
        "HOME" => Some("/home/u".into()),
        "TOKEN" => Some("s3cret".into()),
        "HOST" => Some("api.example.com".into()),
        _ => None,
    }
}

fn load(text: &str) -> Config {
    match Config::from_yaml_with_env(text, Path::new(FILE), &env) {
        Ok(c) => c,
        Err(e) => panic!("should load: {e}"),
    }
}

fn fail(text: &str) -> String {
    match Config::from_yaml_with_env(text, Path::new(FILE), &env) {
        Ok(c) => panic!("should fail, got {c:?}"),
        Err(e) => e.to_string(),
    }
}

fn backend<'a>(c: &'a Config, name: &str) -> &'a BackendConfig {
    match c.backends.get(name) {
        Some(b) => b,
        None => panic!("no backend {name}"),
    }
}

fn strings(v: &[&str]) -> Vec<String> {
    v.iter().map(|s| (*s).to_owned()).collect()
}

#[test]
fn both_backend_forms() {
    let c = load(
        "mode: flat
backends:
  fs:
    command: npx
    args: [\"-y\", \"@modelcontextprotocol/server-filesystem\", \"${HOME}/src\"]
    env: { API_KEY: \"${TOKEN}\", PORT: 8080 }
    inherit_env: true
    description: Files
    timeout: 30s
    start_timeout: 5m
  remote:
    url: https://${HOST}/mcp
    headers: { Authorization: \"Bearer ${TOKEN}\" }
    enabled: false
surfaced_tools:
  - { server: fs, tool: read_text_file }
",
    );
    assert_eq!(c.source.as_deref(), Some(Path::new(FILE)));
    assert_eq!(c.mode, Mode::Flat);
    assert!(c.warnings.is_empty(), "{:?}", c.warnings);
    let fs = backend(&c, "fs");
    assert_eq!(fs.description.as_deref(), Some("Files"));
    assert!(fs.enabled);
    assert_eq!(fs.timeout, Duration::from_secs(30));
    assert_eq!(fs.start_timeout, Duration::from_secs(300));
    let Transport::Stdio {
        command,
        args,
        env,
        cwd,
        inherit_env,
    } = &fs.transport
    else {
        panic!("fs should be stdio");
    };
    assert_eq!(command, "npx");
    assert_eq!(
        args,
        &strings(&[
            "-y",
            "@modelcontextprotocol/server-filesystem",
            "/home/u/src"
        ])
    );
    assert_eq!(env.get("API_KEY").map(String::as_str), Some("s3cret"));
    assert_eq!(env.get("PORT").map(String::as_str), Some("8080"));
    assert_eq!(cwd, &None);
    assert!(inherit_env);

    let remote = backend(&c, "remote");
    assert!(!remote.enabled);
    assert_eq!(remote.timeout, DEFAULT_TIMEOUT);
    assert_eq!(remote.start_timeout, DEFAULT_START_TIMEOUT);
    assert_eq!(remote.transport.kind(), "http");
    let Transport::Http { url, headers, .. } = &remote.transport else {
        panic!("remote should be http");
    };
    assert_eq!(url, "https://api.example.com/mcp");
    assert_eq!(
        headers.get("Authorization").map(String::as_str),
        Some("Bearer s3cret")
    );
    assert_eq!(
        c.surfaced_tools,
        [SurfacedTool {
            server: "fs".into(),
            tool: "read_text_file".into()
        }]
    );
    let names: Vec<_> = c.referenced_vars().into_iter().collect();
    assert_eq!(names, ["HOME", "HOST", "TOKEN"]);
    assert_eq!(c.enabled_backends().count(), 1);
}

#[test]
fn single_string_command_is_split_like_a_shell() {
    let c = load(
        "backends:
  t:
    command: \"uvx mcp-server-time --local-timezone 'Europe/Helsinki' \\\"${HOME}/my dir\\\"\"
",
    );
    let Transport::Stdio { command, args, .. } = &backend(&c, "t").transport else {
        panic!("stdio");
    };
    assert_eq!(command, "uvx");
    assert_eq!(
        args,
        &strings(&[
            "mcp-server-time",
            "--local-timezone",
            "Europe/Helsinki",
            "/home/u/my dir"
        ])
    );
    // With `args`, the command is taken whole (paths may contain spaces).
    let c = load("backends:\n  t:\n    command: /opt/My App/server\n    args: []\n");
    let Transport::Stdio { command, .. } = &backend(&c, "t").transport else {
        panic!("stdio");
    };
    assert_eq!(command, "/opt/My App/server");
    let err = fail("backends:\n  t:\n    command: \"npx 'unclosed\"\n");
    assert!(
        err.starts_with("/cfg/gateway.yaml:3:14: cannot split"),
        "{err}"
    );
}

#[test]
fn http_url_is_url_and_streamable_http_is_accepted() {
    let c = load(
        "backends:
  ctx:
    http_url: http://localhost:8080/mcp
    streamable_http: true
    protocol_version: \"2025-03-26\"
",
    );
    let ctx = backend(&c, "ctx");
    assert!(
        matches!(&ctx.transport, Transport::Http { url, .. } if url == "http://localhost:8080/mcp")
    );
    assert_eq!(ctx.protocol_version.as_deref(), Some("2025-03-26"));
    assert!(c.warnings.is_empty(), "{:?}", c.warnings);

    let c = load("backends:\n  p:\n    http_url: http://localhost:39300/sse\n");
    assert_eq!(c.warnings.len(), 1);
    assert!(c.warnings[0].contains("legacy SSE"), "{:?}", c.warnings);

    let err = fail("backends:\n  p:\n    url: http://a/mcp\n    http_url: http://a/mcp\n");
    assert!(
        err.starts_with("/cfg/gateway.yaml:4:5: backend `p` has both `url` and `http_url`"),
        "{err}"
    );
}

#[test]
fn env_expansion_defaults_and_unset_vars() {
    let c = load(
        "backends:
  s:
    command: server
    args: [\"--dir=${DATA_DIR:-/tmp/data}\", \"--key=${MISSING_KEY}\"]
",
    );
    let s = backend(&c, "s");
    let Transport::Stdio { args, .. } = &s.transport else {
        panic!("stdio");
    };
    assert_eq!(args, &strings(&["--dir=/tmp/data", "--key="]));
    assert_eq!(c.warnings.len(), 1);
    assert!(c.warnings[0].contains("`MISSING_KEY`") && c.warnings[0].contains("backend `s`"));
    assert!(s.enabled);
    let referenced: Vec<_> = c.referenced_vars().into_iter().collect();
    assert_eq!(referenced, ["DATA_DIR", "MISSING_KEY"]);
    let unset: Vec<_> = c.unset_vars().into_iter().collect();
    assert_eq!(unset, ["MISSING_KEY"]);

    // A URL that an unset variable empties disables its backend instead of failing the load.
    let c = load("backends:\n  r:\n    url: ${REMOTE_URL}\n");
    assert!(!backend(&c, "r").enabled);
    assert!(
        c.warnings.iter().any(|w| w.contains("is disabled")),
        "{:?}",
        c.warnings
    );

    let err = fail("backends:\n  s:\n    command: x\n    env:\n      K: \"${BAD NAME}\"\n");
    assert!(
        err.starts_with("/cfg/gateway.yaml:5:10: backend `s`: `${BAD NAME}`"),
        "{err}"
    );
    let err = fail("backends:\n  s:\n    url: \"https://${HOST\"\n");
    assert!(err.contains("no closing"), "{err}");
}

#[test]
fn relative_paths_resolve_against_the_config_dir() {
    let c = load(
        "backends:
  a:
    command: ./bin/server
    args: []
    cwd: ./work
  b:
    command: node
    cwd: /abs/dir
",
    );
    let Transport::Stdio { command, cwd, .. } = &backend(&c, "a").transport else {
        panic!("stdio");
    };
    assert_eq!(Path::new(command), Path::new("/cfg/./bin/server"));
    assert_eq!(cwd.as_deref(), Some(Path::new("/cfg/./work")));
    let Transport::Stdio { cwd, .. } = &backend(&c, "b").transport else {
        panic!("stdio");
    };
    assert_eq!(cwd.as_deref(), Some(Path::new("/abs/dir")));
}

#[test]
fn misspelt_top_level_key() {
    let err = fail("mode: meta\nbakends:\n  fs:\n    command: npx\n");
    assert_eq!(
        err,
        "/cfg/gateway.yaml:2:1: unknown key `bakends` at the top level; did you mean `backends`?"
    );
    let err = fail("frobnicate: 1\n");
    assert!(
        err.contains(
            "unknown key `frobnicate` at the top level; expected one of `mode`, `backends`"
        ),
        "{err}"
    );
}

#[test]
fn misspelt_backend_key() {
    let err = fail(
        "# comment
mode: meta
backends:
  remote:
    url: https://example.com/mcp
  fs:
    comand: npx
",
    );
    assert_eq!(
        err,
        "/cfg/gateway.yaml:7:5: unknown key `comand` in backend `fs`; did you mean `command`?"
    );
    let err = fail("backends:\n  fs:\n    command: npx\n    cmd: x\n");
    assert!(
        err.ends_with("unknown key `cmd` in backend `fs`; did you mean `command`?"),
        "{err}"
    );
    let err = fail("surfaced_tools:\n  - { server: fs, tol: x }\n");
    assert!(err.starts_with("/cfg/gateway.yaml:2:19: unknown key `tol` in `surfaced_tools` entry 1; did you mean `tool`?"), "{err}");
}

#[test]
fn transport_must_be_exactly_one() {
    let err = fail("backends:\n  x:\n    description: nothing\n");
    assert_eq!(
        err,
        "/cfg/gateway.yaml:2:3: backend `x` has neither `command` (a local server) nor `url` (a remote one)"
    );
    let err = fail("backends:\n  x:\n    command: npx\n    url: https://e.com\n");
    assert!(
        err.starts_with("/cfg/gateway.yaml:4:5: backend `x` has both `command` and `url`"),
        "{err}"
    );
    let err = fail("backends:\n  x:\n");
    assert!(
        err.starts_with("/cfg/gateway.yaml:2:3: backend `x` is empty"),
        "{err}"
    );
}

#[test]
fn bad_values_point_at_the_value() {
    let err = fail("backends:\n  x:\n    command: npx\n    timeout: 30x\n");
    assert!(
        err.starts_with("/cfg/gateway.yaml:4:14: backends.x.timeout: invalid duration `30x`"),
        "{err}"
    );
    let err = fail("backends:\n  x:\n    url: ftp://example.com\n");
    assert!(
        err.starts_with(
            "/cfg/gateway.yaml:3:10: backend `x`: `ftp://example.com` is not a valid URL"
        ),
        "{err}"
    );
    let err = fail("backends:\n  x:\n    command: npx\n    args: 5\n");
    assert!(
        err.starts_with("/cfg/gateway.yaml:4:11: backends.x.args: invalid type"),
        "{err}"
    );
    let err = fail("mode: flt\n");
    assert!(
        err.starts_with("/cfg/gateway.yaml:1:7: mode: unknown variant `flt`"),
        "{err}"
    );
    let err = fail("backends:\n  my.server:\n    command: npx\n");
    assert!(
        err.starts_with("/cfg/gateway.yaml:2:3: backend name `my.server` contains `.`"),
        "{err}"
    );
    let err = fail(&format!(
        "backends:\n  {}:\n    command: npx\n",
        "n".repeat(33)
    ));
    assert!(err.contains("longer than 32"), "{err}");
    let err = fail("backends:\n  x:\n    url: https://e.com\n    headers: { \"Bad Name\": v }\n");
    assert!(err.contains("not a valid HTTP header name"), "{err}");
    let err = fail("- just\n- a list\n");
    assert!(err.contains("must be a mapping"), "{err}");
}

#[test]
fn invalid_yaml_has_a_position() {
    let err = fail("backends:\n  fs:\n    command: [unclosed\n");
    assert!(
        err.starts_with("/cfg/gateway.yaml:4:1: not valid YAML:"),
        "{err}"
    );
    let err = fail("a: 1\n\tb: 2\n");
    assert!(err.starts_with("/cfg/gateway.yaml:2:"), "{err}");
}

#[test]
fn empty_and_comment_only_files_are_empty_configs() {
    for text in ["", "\n", "# nothing here\n# at all\n", "---\n"] {
        let c = load(text);
        assert!(c.backends.is_empty() && c.warnings.is_empty());
        assert_eq!(c.source, Some(PathBuf::from(FILE)));
        assert_eq!(c.mode, Mode::Meta);
    }
    let c = load("backends:\nsurfaced_tools:\n");
    assert!(c.backends.is_empty());
}

/// The shape of the original mcp-gateway's full example config, with its backend examples
/// filled in.
#[test]
fn original_gateway_config_loads_with_warnings() {
    let c = load(
        "env_files:
  - ~/.mcp-gateway/.env
server:
  host: \"127.0.0.1\"
  port: 39400
  request_timeout: 30s
auth:
  enabled: false
  public_paths: [/health]
meta_mcp:
  enabled: true
  cache_tools: true
  cache_ttl: 5m
  warm_start: []
  surfaced_tools:
    - server: tavily
      tool: search
streaming: { enabled: true, buffer_size: 100 }
failsafe:
  circuit_breaker: { enabled: true, failure_threshold: 5 }
  retry: { enabled: true, max_attempts: 3 }
cache: { enabled: true, default_ttl: 60s }
capabilities:
  enabled: true
  directories: [./capabilities]
backends:
  tavily:
    command: \"npx -y @anthropic/mcp-server-tavily\"
    description: \"Web search\"
    enabled: true
    timeout: 30s
    idle_timeout: 300s
    env:
      TAVILY_API_KEY: \"${TAVILY_API_KEY}\"
    cwd: /tmp
  context7:
    http_url: \"http://localhost:8080/mcp\"
    streamable_http: true
    protocol_version: \"2025-03-26\"
    headers:
      Authorization: \"Bearer ${API_TOKEN:-none}\"
  google:
    http_url: \"https://mcp.googleapis.com/mcp\"
    oauth:
      enabled: true
      scopes: [\"https://www.googleapis.com/auth/gmail.readonly\"]
  travel:
    transport: a2a
    a2a_url: https://travel.example.com
",
    );
    let expect = [
        "`env_files` (from the original mcp-gateway) is not implemented and is ignored",
        "`server` (from the original mcp-gateway)",
        "`auth` (from",
        "`meta_mcp.cache_tools`",
        "`meta_mcp.cache_ttl`",
        "`meta_mcp.warm_start`",
        "`streaming` (from",
        "`failsafe` (from",
        "`cache` (from",
        "`transport` in backend `travel`",
        "`a2a_url` in backend `travel`",
        "backend `travel` is skipped",
        "environment variable `TAVILY_API_KEY` is not set",
    ];
    for e in expect {
        assert!(
            c.warnings.iter().any(|w| w.contains(e)),
            "missing {e:?} in {:#?}",
            c.warnings
        );
    }
    assert_eq!(c.warnings.len(), expect.len(), "{:#?}", c.warnings);
    assert!(!c.warnings.iter().any(|w| w.contains("meta_mcp.enabled")));
    let names: Vec<_> = c.backends.keys().map(String::as_str).collect();
    assert_eq!(names, ["context7", "google", "tavily"]);
    let Transport::Http { oauth, .. } = &backend(&c, "google").transport else {
        panic!("http");
    };
    assert!(oauth.enabled);
    assert_eq!(
        oauth.scopes,
        strings(&["https://www.googleapis.com/auth/gmail.readonly"])
    );
    let Transport::Stdio { command, args, .. } = &backend(&c, "tavily").transport else {
        panic!("stdio");
    };
    assert_eq!(
        (command.as_str(), args.clone()),
        ("npx", strings(&["-y", "@anthropic/mcp-server-tavily"]))
    );
    assert_eq!(c.surfaced_tools.len(), 1);
    assert!(c.capabilities.enabled);
    assert!(c.capabilities.directories[0].ends_with("capabilities"));
}

#[test]
fn surfaced_tools_from_both_places_without_duplicates() {
    let c = load(
        "surfaced_tools:
  - { server: a, tool: x }
meta_mcp:
  surfaced_tools:
    - { server: a, tool: x }
    - { server: b, tool: y }
",
    );
    assert_eq!(c.surfaced_tools.len(), 2);
    assert!(c.warnings.is_empty());
    let err = fail("surfaced_tools:\n  - { server: a }\n");
    assert!(err.contains("missing field `tool`"), "{err}");
}

#[test]
fn debug_output_hides_secret_values() {
    let c = load(
        "backends:
  a: { command: x, env: { KEY: \"${TOKEN}\" } }
  b: { url: \"https://e.com\", headers: { Authorization: \"Bearer ${TOKEN}\" } }
",
    );
    let shown = format!("{c:?}");
    assert!(!shown.contains("s3cret"), "{shown}");
    assert!(shown.contains("KEY") && shown.contains("Authorization"));
}

#[test]
fn merge_keys_are_refused_clearly() {
    let err = fail(
        "defaults: &d { timeout: 5s }
backends:
  a:
    <<: *d
    command: x
",
    );
    assert!(
        err.contains("unknown key `defaults`") || err.contains("merge keys"),
        "{err}"
    );
    let err = fail("backends:\n  a:\n    <<: { timeout: 5s }\n    command: x\n");
    assert!(
        err.starts_with("/cfg/gateway.yaml:3:5: YAML merge keys"),
        "{err}"
    );
}

#[test]
fn load_reads_files_and_refuses_a_missing_explicit_one() {
    let missing = Path::new("/definitely/not/here/gateway.yaml");
    match Config::load(Some(missing)) {
        Err(ConfigError::NotFound { path }) => assert_eq!(path, missing),
        other => panic!("expected NotFound, got {other:?}"),
    }
    let dir = std::env::temp_dir().join(format!("mcp-gateway-config-test-{}", std::process::id()));
    let _ = std::fs::create_dir_all(&dir);
    let file = dir.join("gw.yaml");
    let written = std::fs::write(
        &file,
        "backends:\n  t:\n    command: echo hi\n    cwd: sub\n",
    );
    assert!(written.is_ok());
    let c = Config::load(Some(&file));
    let _ = std::fs::remove_dir_all(&dir);
    let c = match c {
        Ok(c) => c,
        Err(e) => panic!("{e}"),
    };
    assert_eq!(c.source.as_deref(), Some(file.as_path()));
    let Transport::Stdio { cwd, .. } = &backend(&c, "t").transport else {
        panic!("stdio");
    };
    assert_eq!(cwd.as_deref(), Some(dir.join("sub").as_path()));
    assert!(backend(&c, "t").child_env().is_some());
}

#[test]
fn capabilities_section_is_typed_with_defaults() {
    let c = load("backends: {}\n");
    assert_eq!(c.capabilities, CapabilitiesConfig::default());
    assert!(c.capabilities.enabled && c.capabilities.builtin);
    assert_eq!(c.capabilities.name, "capabilities");

    let c = load(
        "capabilities:
  name: rest
  directories: [./caps, /abs/caps, \"${HOME}/more\"]
  builtin: false
  allow_private_networks: true
  allowed_hosts: [localhost]
",
    );
    let caps = &c.capabilities;
    assert_eq!(caps.name, "rest");
    assert_eq!(
        caps.directories,
        [
            PathBuf::from("/cfg/./caps"),
            PathBuf::from("/abs/caps"),
            PathBuf::from("/home/u/more")
        ]
    );
    assert!(!caps.builtin && caps.allow_private_networks);
    assert_eq!(caps.allowed_hosts, ["localhost"]);
}

#[test]
fn protocol_version_must_be_one_with_initialize() {
    let e = fail("backends:\n  p:\n    command: x\n    protocol_version: \"2026-07-28\"\n");
    assert!(
        e.contains("`2026-07-28`") && e.contains("2025-11-25"),
        "{e}"
    );
    let e = fail("backends:\n  p:\n    command: x\n    protocol_version: \"1999-01-01\"\n");
    assert!(
        e.contains("protocol_version") || e.contains("1999-01-01"),
        "{e}"
    );
}

#[test]
fn builtin_catalog_is_on_by_default_only_without_backends() {
    assert!(load("mode: meta\n").capabilities.builtin);
    let with_backend = "backends:\n  t:\n    command: /bin/true\n";
    assert!(!load(with_backend).capabilities.builtin);
    assert!(!load(with_backend).capabilities.serves_anything());
    let asked = format!("{with_backend}capabilities:\n  builtin: true\n");
    assert!(load(&asked).capabilities.builtin);
    let dirs = format!("{with_backend}capabilities:\n  directories: [./caps]\n");
    let c = load(&dirs);
    assert!(!c.capabilities.builtin && c.capabilities.serves_anything());
}

#[test]
fn ignored_protections_of_the_original_are_listed_apart() {
    let c = load(
        "security:\n  tool_policy:\n    deny: [\"fs:write_file\"]\nstreaming: {}\nbackends:\n  t:\n    command: /bin/true\n    oauth: {}\n    input_schema_enforcement: strict\n",
    );
    assert_eq!(
        c.ignored_protections.len(),
        2,
        "{:?}",
        c.ignored_protections
    );
    assert!(
        c.ignored_protections
            .iter()
            .all(|p| p.contains("NOT in effect"))
    );
    assert!(c.ignored_protections[0].contains("`security`"));
    assert!(
        !c.ignored_protections
            .iter()
            .any(|p| p.contains("streaming"))
    );
    assert!(c.warnings.iter().any(|w| w.contains("`streaming`")));
}

#[test]
fn lazy_start_and_idle_timeout_load_and_point_at_their_errors() {
    let c = load(
        "backends:\n  gh:\n    command: npx\n    start: lazy\n    idle_timeout: 10m\n  fs:\n    command: npx\n",
    );
    let gh = backend(&c, "gh");
    assert_eq!(gh.start, StartMode::Lazy);
    assert_eq!(gh.idle_timeout, Some(Duration::from_secs(600)));
    let fs = backend(&c, "fs");
    assert_eq!(fs.start, StartMode::Eager);
    assert_eq!(fs.idle_timeout, None);
    assert!(c.warnings.is_empty(), "{:?}", c.warnings);

    let bad = fail("backends:\n  gh:\n    command: npx\n    start: lazzy\n");
    assert!(
        bad.contains(":4:") && bad.contains("lazzy") && bad.contains("lazy"),
        "{bad}"
    );
    let bad = fail("backends:\n  gh:\n    command: npx\n    idle_timeout: soon\n");
    assert!(bad.contains(":4:") && bad.contains("soon"), "{bad}");
}

#[test]
fn capabilities_section_errors() {
    assert!(fail("capabilities:\n  directores: [x]\n").contains("directores"));
    assert!(fail("capabilities:\n  name: \"a b\"\n").contains("capabilities.name"));
}

#[test]
fn search_model_resolves_against_the_config_file_or_is_off() {
    let c = load("search:\n  model: models/minilm\n");
    let model = c.search_model.unwrap_or_default();
    assert!(
        model.is_absolute() && model.ends_with("models/minilm"),
        "{model:?}"
    );
    let off = load("search:\n  model: off\n");
    assert_eq!(off.search_model, Some(std::path::PathBuf::from("off")));
    assert!(load("").search_model.is_none());
}

#[test]
fn policy_and_env_allow_load_and_point_at_their_errors() {
    let c = load(
        "policy:\n  default: deny\n  rules:\n    - allow: { server: fs, tool: \"read_*\" }\n\
         capabilities:\n  env_allow:\n    github_*: [GITHUB_TOKEN]\n    ./caps/**: [A, B]\n",
    );
    assert_eq!(c.policy.rules.len(), 1);
    assert_eq!(c.policy.default, crate::policy::Action::Deny);
    let allow = &c.capabilities.env_allow;
    assert_eq!(allow.len(), 2);
    assert!(
        allow
            .iter()
            .any(|a| a.by_path && a.pattern == "/cfg/caps/**")
    );
    assert!(
        allow
            .iter()
            .any(|a| !a.by_path && a.vars.contains("GITHUB_TOKEN"))
    );

    let e = fail("policy:\n  rules:\n    - deny: { server: fs, tool: \"a[\" }\n");
    assert!(e.starts_with("/cfg/gateway.yaml:3:"), "{e}");
    assert!(e.contains("not a valid glob"), "{e}");
    let e = fail("policy:\n  rules:\n    - allow: {}\n      deny: {}\n");
    assert!(e.contains("exactly one"), "{e}");
    let e = fail("policy:\n  rules:\n    - deny: { annotations: { destructive: true } }\n");
    assert!(
        e.contains("/cfg/gateway.yaml:3:") && e.contains("destructiveHint"),
        "{e}"
    );
    let e = fail("policy:\n  rule: []\n");
    assert!(e.contains("rule"), "{e}");
    let e = fail("capabilities:\n  env_allow:\n    x: [\"NOT A VAR\"]\n");
    assert!(
        e.contains("/cfg/gateway.yaml:3:") && e.contains("NOT A VAR"),
        "{e}"
    );
}

#[test]
fn trust_scan_and_audit_sections() {
    let c = load(
        "backends:\n  a: { command: x, trust: review }\n  b: { command: y }\n\
         scan:\n  url: warn\n  shadowing: block\n  max_description_chars: 100\n\
         audit:\n  path: logs/audit.jsonl\n  record_values: true\n  max_size: 2MiB\n  keep: 3\n",
    );
    assert_eq!(backend(&c, "a").trust, TrustMode::Review);
    assert_eq!(backend(&c, "b").trust, TrustMode::Auto);
    assert_eq!(c.scan.action(FindingKind::Url), Action::Warn);
    assert_eq!(c.scan.action(FindingKind::Shadowing), Action::Block);
    assert_eq!(c.scan.action(FindingKind::InvisibleUnicode), Action::Block);
    assert_eq!(c.scan.max_description_chars, 100);
    let Some(audit) = c.audit else {
        panic!("no audit section")
    };
    assert!(audit.path.is_absolute() && audit.path.ends_with("logs/audit.jsonl"));
    assert!(audit.record_values);
    assert_eq!((audit.max_bytes, audit.keep), (2 * 1024 * 1024, 3));
    assert!(load("backends: {}\n").audit.is_none());

    assert!(fail("audit: { record_values: true }\n").contains("needs a `path`"));
    assert!(fail("audit: { path: a, keep: 0 }\n").contains("audit.keep"));
    assert!(fail("scan: { url: maybe }\n").contains("block"));
    assert!(fail("scan: { urls: warn }\n").contains("url"));
    assert!(fail("backends:\n  a: { command: x, trust: always }\n").contains("review"));
}

#[test]
fn oauth_settings_of_a_remote_backend() {
    let c = load(
        "backends:\n  r:\n    url: https://h.example/mcp\n    oauth:\n      client_id: cid\n      \
         client_secret: ${MCPGW_TEST_OAUTH_SECRET:-s3cret-value}\n      scopes: [read, write]\n      \
         callback_port: 8765\n      callback_host: localhost\n  l:\n    command: x\n    oauth: {}\n",
    );
    let Transport::Http { oauth, .. } = &backend(&c, "r").transport else {
        panic!("http");
    };
    assert_eq!(oauth.client_id.as_deref(), Some("cid"));
    assert_eq!(oauth.client_secret.as_deref(), Some("s3cret-value"));
    assert_eq!(oauth.scopes, strings(&["read", "write"]));
    assert_eq!(oauth.callback_port, Some(8765));
    // The secret never shows in Debug output, and is masked in messages.
    assert!(!format!("{:?}", backend(&c, "r")).contains("s3cret-value"));
    assert!(
        !backend(&c, "r")
            .transport
            .redact("x s3cret-value y")
            .contains("s3cret")
    );
    assert!(
        c.warnings
            .iter()
            .any(|w| w.contains("`oauth.callback_host`"))
    );
    assert!(
        c.warnings
            .iter()
            .any(|w| w.contains("`oauth` applies only to `url` backends"))
    );
    // A default remote backend uses OAuth when a token is stored.
    let plain = load("backends:\n  r:\n    url: https://h.example/mcp\n");
    let Transport::Http { oauth, .. } = &backend(&plain, "r").transport else {
        panic!("http");
    };
    assert!(oauth.enabled && oauth.client_id.is_none());

    assert!(
        fail("backends:\n  r:\n    url: https://h.example/mcp\n    oauth: {client_secret: x}\n")
            .contains("needs the `oauth.client_id`")
    );
    assert!(
        fail("backends:\n  r:\n    url: https://h.example/mcp\n    oauth: {clientid: x}\n")
            .contains("clientid")
    );
    assert!(
        fail("backends:\n  r:\n    url: https://h.example/mcp\n    oauth: {scopes: [\"a b\"]}\n")
            .contains("whitespace")
    );
}
