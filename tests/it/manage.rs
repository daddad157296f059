//! `setup import`, `add`/`remove`/`get`/`list`, `doctor`, `init` and `completions`, each
//! run as the real binary in a temporary HOME.

use std::time::Duration;

use serde_json::Value;

use crate::setup::{Home, all_output, stdout};
use crate::support::{StdioPeer, fixture_server_path, gateway_bin};

/// Puts the samples of eight clients in their Linux places under HOME.
fn many_clients(home: &Home) {
    home.put("claude-code/home/.claude.json", ".claude.json");
    home.put("cursor/home/.cursor/mcp.json", ".cursor/mcp.json");
    home.put("vscode/user/mcp.json", ".config/Code/User/mcp.json");
    home.put(
        "windsurf/mcp_config.json",
        ".codeium/windsurf/mcp_config.json",
    );
    home.put(
        "zed/home/settings.legacy-2025-06-source-custom.json",
        ".config/zed/settings.json",
    );
    home.put("codex/home/.codex/config.toml", ".codex/config.toml");
    home.put("gemini/home/.gemini/settings.json", ".gemini/settings.json");
    home.put(
        "opencode/home/opencode.jsonc",
        ".config/opencode/opencode.jsonc",
    );
}

fn list_json(home: &Home) -> Vec<Value> {
    let out = home.run(&["list", "--no-probe", "--json"]);
    assert!(out.status.success(), "{}", all_output(&out));
    serde_json::from_slice::<Value>(&out.stdout)
        .unwrap()
        .as_array()
        .unwrap()
        .clone()
}

#[test]
fn import_from_eight_clients_yields_a_config_serve_accepts() {
    let home = Home::new();
    many_clients(&home);
    let preview = home.run(&["setup", "import"]);
    assert!(preview.status.success(), "{}", all_output(&preview));
    assert!(!home.config().exists(), "the preview wrote gateway.yaml");
    let text = stdout(&preview);
    assert!(
        text.contains("literal secret"),
        "secrets are not flagged:\n{text}"
    );
    assert!(
        text.contains("the same server as"),
        "no duplicates found:\n{text}"
    );

    let out = home.run(&["setup", "import", "--yes"]);
    assert!(out.status.success(), "{}", all_output(&out));
    let yaml = std::fs::read_to_string(home.config()).unwrap();
    // References keep their meaning, in the gateway's syntax.
    for var in [
        "${GITHUB_PAT}",
        "${LINEAR_API_KEY}",
        "${CONTEXT7_API_KEY}",
        "${DB_CONNECTION_STRING}",
        "${EXTERNAL_API_KEY}",
        "${HOME}/.local/share/mcp-memory/memory.json",
    ] {
        assert!(yaml.contains(var), "{var} missing from:\n{yaml}");
    }
    for foreign in ["${env:", "{env:", "${input:", "$DB_", "${userHome}"] {
        assert!(!yaml.contains(foreign), "{foreign} left in:\n{yaml}");
    }
    // Every server once: no two backends run the same thing.
    let backends = list_json(&home);
    assert!(backends.len() >= 15, "{yaml}");
    let mut targets: Vec<&str> = backends
        .iter()
        .map(|b| b["target"].as_str().unwrap())
        .collect();
    targets.sort_unstable();
    let n = targets.len();
    targets.dedup();
    assert_eq!(targets.len(), n, "a server was imported twice:\n{yaml}");
    assert_eq!(yaml.matches("server-github\"]").count(), 1, "{yaml}");

    // A second import finds nothing new.
    let again = home.run(&["setup", "import", "--yes"]);
    assert!(
        stdout(&again).contains("nothing new"),
        "{}",
        all_output(&again)
    );

    // serve accepts it: no PATH, so stdio backends fail at once, contained.
    let empty = home.path("empty-path");
    std::fs::create_dir_all(&empty).unwrap();
    let config = home.config();
    let mut peer = StdioPeer::spawn(
        &gateway_bin(),
        &["serve", "--config", config.to_str().unwrap()],
        &[
            ("PATH", empty.to_str().unwrap()),
            ("HOME", home.dir.to_str().unwrap()),
        ],
    );
    let init = peer.initialize();
    assert!(
        init["result"]["serverInfo"].is_object() || init["serverInfo"].is_object(),
        "{init}"
    );
    let tools = peer.call_ok("tools/list", serde_json::json!({}), Duration::from_secs(20));
    assert!(
        tools.to_string().contains("gateway_search_tools"),
        "{tools}"
    );
    peer.close_stdin();
    peer.wait_exit(Duration::from_secs(10));
}

#[test]
fn import_replace_consolidates_a_client_into_the_gateway() {
    let home = Home::new();
    let cursor = home.put("cursor/home/.cursor/mcp.json", ".cursor/mcp.json");
    let claude = home.put("claude-code/home/.claude.json", ".claude.json");
    let claude_before = std::fs::read(&claude).unwrap();
    let out = home.run(&["setup", "import", "--from", "cursor", "--yes", "--replace"]);
    assert!(out.status.success(), "{}", all_output(&out));
    let text = std::fs::read_to_string(&cursor).unwrap();
    let root: Value = serde_json::from_str(&text).unwrap();
    let names: Vec<&String> = root["mcpServers"].as_object().unwrap().keys().collect();
    assert_eq!(names, ["gateway"], "{text}");
    assert_eq!(
        std::fs::read(&claude).unwrap(),
        claude_before,
        "claude-code was not asked for"
    );
    let yaml = std::fs::read_to_string(home.config()).unwrap();
    assert!(
        yaml.contains("github-mcp-server") && yaml.contains("mcp.figma.com"),
        "{yaml}"
    );
}

const COMMENTED: &str = "# My gateway\nmode: meta  # the four meta-tools\n\nbackends:\n  # the clock\n  time:\n    command: uvx   # from PyPI\n    args: [mcp-server-time]\n\n# pinned tools\nsurfaced_tools: []\n";

#[test]
fn add_and_remove_keep_comments() {
    let home = Home::new();
    std::fs::write(home.config(), COMMENTED).unwrap();
    let out = home.run(&[
        "add",
        "-e",
        "API_KEY=${MY_KEY}",
        "fs",
        "--",
        "npx",
        "-y",
        "@modelcontextprotocol/server-filesystem",
        "/tmp",
    ]);
    assert!(out.status.success(), "{}", all_output(&out));
    let out = home.run(&[
        "add",
        "--transport",
        "http",
        "--header",
        "Authorization: Bearer ${TOKEN}",
        "remote",
        "https://mcp.example.com/mcp",
    ]);
    assert!(out.status.success(), "{}", all_output(&out));
    let yaml = std::fs::read_to_string(home.config()).unwrap();
    for comment in [
        "# My gateway",
        "# the four meta-tools",
        "# the clock",
        "# from PyPI",
        "# pinned tools",
    ] {
        assert!(yaml.contains(comment), "{comment} lost:\n{yaml}");
    }
    assert!(yaml.contains("API_KEY: \"${MY_KEY}\""), "{yaml}");
    let names: Vec<String> = list_json(&home)
        .iter()
        .map(|b| b["name"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(names, ["fs", "remote", "time"]);

    let get = home.run(&["get", "remote", "--json"]);
    let v: Value = serde_json::from_slice(&get.stdout).unwrap();
    assert_eq!(v["headers"]["Authorization"], "Bearer ${TOKEN}", "{v}");

    let dup = home.run(&["add", "time", "--", "uvx", "x"]);
    assert!(!dup.status.success());
    for name in ["fs", "remote"] {
        let out = home.run(&["remove", name]);
        assert!(out.status.success(), "{}", all_output(&out));
    }
    assert_eq!(std::fs::read_to_string(home.config()).unwrap(), COMMENTED);
    let out = home.run(&["remove", "nope"]);
    assert!(!out.status.success());
    assert!(all_output(&out).contains("no backend named `nope`"));
}

#[test]
fn add_without_a_config_creates_one_in_the_user_config_dir() {
    let home = Home::new();
    let out = home
        .command(&gateway_bin())
        .args(["add", "t", "--", "uvx", "mcp-server-time"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", all_output(&out));
    let created = home.path(".config/mcp-gateway/gateway.yaml");
    let yaml = std::fs::read_to_string(&created).unwrap();
    assert!(yaml.starts_with("# mcp-gateway configuration."), "{yaml}");
    assert!(yaml.contains("  t:\n    command: uvx\n"), "{yaml}");
}

#[test]
fn doctor_reports_a_missing_variable_and_a_bad_command_with_fixes() {
    let home = Home::new();
    let fixture = fixture_server_path();
    std::fs::write(
        home.config(),
        format!(
            "backends:\n  good:\n    command: {}\n  broken:\n    command: /nonexistent/mcp-server\n  needs-key:\n    command: {}\n    env: {{ KEY: \"${{MCPGW_DOCTOR_UNSET}}\" }}\n",
            fixture.display(),
            fixture.display()
        ),
    )
    .unwrap();
    let out = home.run(&["doctor"]);
    let text = stdout(&out);
    assert!(!out.status.success(), "{text}");
    assert!(
        text.contains("${MCPGW_DOCTOR_UNSET} is not set (used by needs-key)"),
        "{text}"
    );
    assert!(text.contains("fix: set MCPGW_DOCTOR_UNSET"), "{text}");
    assert!(text.contains("backend broken:"), "{text}");
    assert!(
        text.contains("fix: check `backends.broken.command`"),
        "{text}"
    );
    assert!(
        text.contains("backend good: answered tools/list with"),
        "{text}"
    );

    let out = home.run(&["doctor", "--json"]);
    assert!(!out.status.success());
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["ok"], false);
    assert_eq!(report["problems"].as_array().unwrap().len(), 2, "{report}");
}

#[test]
fn doctor_reports_ignored_protections_defaults_and_surfaced_typos() {
    let home = Home::new();
    let fixture = fixture_server_path();
    std::fs::write(
        home.config(),
        format!(
            "security:\n  tool_policy:\n    deny: [\"fx:crash\"]\nbackends:\n  fx:\n    command: {}\n    oauth: {{}}\n    input_schema_enforcement: strict\n    env: {{ LEVEL: \"${{MCPGW_DOCTOR_DFLT:-info}}\" }}\nsurfaced_tools:\n  - {{server: ghost, tool: echo}}\n  - {{server: fx, tool: nonexistent}}\n  - {{server: fx, tool: echo}}\n",
            fixture.display()
        ),
    )
    .unwrap();
    let out = home.run(&["doctor"]);
    let text = stdout(&out);
    assert!(!out.status.success(), "{text}");
    assert!(!text.contains("no problems found"), "{text}");
    assert!(
        text.contains("`security` (from the original mcp-gateway) is not implemented: the protection it configures is NOT in effect"),
        "{text}"
    );
    // `oauth` is ours now, and means nothing for a local command: a warning, not a problem.
    assert!(
        text.contains("backend `fx`: `oauth` applies only to `url` backends"),
        "{text}"
    );
    assert!(
        text.contains("`input_schema_enforcement` in backend `fx`"),
        "{text}"
    );
    assert!(
        text.contains("${MCPGW_DOCTOR_DFLT} is not set; the default"),
        "{text}"
    );
    assert!(!text.contains("${MCPGW_DOCTOR_DFLT} is set"), "{text}");
    assert!(
        text.contains("surfaced_tools: `ghost/echo` names no configured server"),
        "{text}"
    );
    assert!(
        text.contains("surfaced_tools: `fx/nonexistent`: server `fx` has no tool `nonexistent`"),
        "{text}"
    );
    assert!(text.contains("surfaced_tools: `fx/echo` exists"), "{text}");
    let out = home.run(&["doctor", "--json"]);
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    // security, input_schema_enforcement, two surfaced typos.
    assert_eq!(report["problems"].as_array().unwrap().len(), 4, "{report}");
}

#[test]
fn doctor_shows_the_catalog_and_warns_of_dropped_environment() {
    let home = Home::new();
    let fixture = fixture_server_path();
    // The fixture ignores its arguments; the words make it look like an AWS server.
    std::fs::write(
        home.config(),
        format!(
            "backends:\n  aws:\n    command: {}\n    args: [awslabs.aws-api-mcp-server]\ncapabilities:\n  builtin: true\n",
            fixture.display()
        ),
    )
    .unwrap();
    let out = home
        .command(&gateway_bin())
        .args(["--config", home.config().to_str().unwrap(), "doctor"])
        .env("AWS_PROFILE", "dev")
        .output()
        .unwrap();
    let text = stdout(&out);
    assert!(
        text.contains("backend capabilities (the built-in REST catalog):"),
        "{text}"
    );
    assert!(text.contains("warn backend `aws` probably needs"), "{text}");
    assert!(text.contains("AWS_PROFILE"), "{text}");
    assert!(text.contains("inherit_env: true"), "{text}");
}

#[test]
fn doctor_names_clients_wired_and_not() {
    let home = Home::new();
    home.put("cursor/home/.cursor/mcp.json", ".cursor/mcp.json");
    home.put("gemini/home/.gemini/settings.json", ".gemini/settings.json");
    assert!(
        home.run(&["setup", "export", "--target", "gemini"])
            .status
            .success()
    );
    let out = home.run(&["doctor"]);
    let text = stdout(&out);
    assert!(out.status.success(), "{text}");
    assert!(
        text.contains("client gemini") && text.contains("launches the gateway"),
        "{text}"
    );
    assert!(
        text.contains("client cursor") && text.contains("not wired"),
        "{text}"
    );
    assert!(text.contains("--from cursor --replace"), "{text}");

    // An entry whose binary is gone is a problem, with the command that fixes it.
    let zed = home.path(".config/zed/settings.json");
    std::fs::create_dir_all(zed.parent().unwrap()).unwrap();
    std::fs::write(
        &zed,
        "{\"context_servers\": {\"gateway\": {\"command\": \"/gone/mcp-gateway\", \"args\": [\"serve\"]}}}",
    )
    .unwrap();
    let out = home.run(&["doctor"]);
    let text = stdout(&out);
    assert!(!out.status.success(), "{text}");
    assert!(
        text.contains("launches /gone/mcp-gateway, which does not exist"),
        "{text}"
    );
    assert!(
        text.contains("fix: mcp-gateway setup export --target zed"),
        "{text}"
    );
}

#[test]
fn list_starts_each_backend_and_shows_tools_and_start_time() {
    let home = Home::new();
    let fixture = fixture_server_path();
    std::fs::write(
        home.config(),
        format!(
            "backends:\n  fx:\n    command: {}\n  off:\n    command: x\n    enabled: false\n",
            fixture.display()
        ),
    )
    .unwrap();
    let out = home.run(&["list", "--json"]);
    assert!(out.status.success(), "{}", all_output(&out));
    let rows: Value = serde_json::from_slice(&out.stdout).unwrap();
    let fx = &rows[0];
    assert_eq!(fx["state"], "ready", "{rows}");
    assert!(fx["tools"].as_u64().unwrap() > 0, "{rows}");
    assert!(fx["start_ms"].is_u64(), "{rows}");
    assert_eq!(rows[1]["state"], "disabled", "{rows}");
    let human = stdout(&home.run(&["list"]));
    assert!(human.contains("tools, started in"), "{human}");
}

#[test]
fn init_writes_a_starter_and_refuses_to_overwrite() {
    let home = Home::new();
    let out = home.run(&["init"]);
    assert!(out.status.success(), "{}", all_output(&out));
    // No backends yet: the built-in catalog is on, and listed as a backend.
    let rows = list_json(&home);
    assert_eq!(rows.len(), 1, "{rows:?}");
    assert_eq!(rows[0]["name"], "capabilities");
    assert_eq!(rows[0]["transport"], "capability");
    let again = home.run(&["init"]);
    assert!(!again.status.success());
    assert!(all_output(&again).contains("--force"));
    std::fs::write(home.config(), "mode: flat\n").unwrap();
    assert!(home.run(&["init", "--force"]).status.success());
    assert!(
        std::fs::read_to_string(home.config())
            .unwrap()
            .contains("# mcp-gateway configuration.")
    );
}

#[test]
fn completions_for_each_shell() {
    for shell in ["bash", "zsh", "fish"] {
        let out = crate::support::gateway_command()
            .args(["completions", shell])
            .output()
            .unwrap();
        assert!(out.status.success());
        let text = stdout(&out);
        assert!(
            text.contains("mcp-gateway") && text.contains("setup"),
            "{shell}"
        );
    }
}

#[test]
fn import_reads_older_and_nested_shapes() {
    let home = Home::new();
    home.put(
        "cline/cline_mcp_settings.cli-nested.json",
        ".cline/data/settings/cline_mcp_settings.json",
    );
    home.put(
        "zed/home/settings.legacy-2025-06-source-custom.json",
        ".config/zed/settings.json",
    );
    home.put("vscode/user/mcp.json", ".config/Code/User/mcp.json");
    home.put(
        "vscode/legacy-settings/settings.json",
        ".config/Code/User/settings.json",
    );
    // Claude Code's local scope: this project's servers inside ~/.claude.json.
    let claude =
        std::fs::read_to_string(crate::setup::fixtures().join("claude-code/home/.claude.json"))
            .unwrap()
            .replace(
                "/home/alex/projects/webshop",
                home.path("project").to_str().unwrap(),
            );
    std::fs::write(home.path(".claude.json"), claude).unwrap();

    let out = home.run(&["setup", "import"]);
    let text = stdout(&out);
    assert!(out.status.success(), "{}", all_output(&out));
    for line in [
        "+ fetch                uvx mcp-server-fetch",
        "+ linear               https://mcp.linear.app/mcp",
        "+ puppeteer            npx -y @modelcontextprotocol/server-puppeteer",
        "+ time                 uvx mcp-server-time --local-timezone=Europe/Berlin",
        "+ postgres             npx -y @bytebase/dbhub",
    ] {
        assert!(text.contains(line), "missing `{line}` in:\n{text}");
    }
    // VS Code's `github` is Claude Code's `github` (same URL): imported once.
    assert!(
        text.contains("vscode `github`: skipped: the same server as `github`"),
        "{text}"
    );
    assert!(
        text.contains("`mcp-server-context7`: skipped: a Zed extension"),
        "{text}"
    );
}

#[test]
fn import_says_which_servers_lose_their_client_environment() {
    let home = Home::new();
    home.put("claude-code/home/.claude.json", ".claude.json");
    let out = home.run(&["setup", "import", "--from", "claude-code"]);
    let text = stdout(&out);
    assert!(out.status.success(), "{}", all_output(&out));
    assert!(text.contains("with its whole environment"), "{text}");
    assert!(text.contains("inherit_env: true"), "{text}");
}
