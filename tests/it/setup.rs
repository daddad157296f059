//! `setup export` against every client's sample file in a temporary HOME: golden output,
//! idempotence, byte-exact rollback, dry runs, syntax errors, symlinks, missing clients,
//! `--replace`; and real clients (`claude mcp list`, `codex mcp list`) reading what we wrote.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::Duration;

use crate::support::{gateway_bin, temp_path};

pub fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/clients")
}

/// A temporary HOME with a project folder; every run of the binary is confined to it.
pub struct Home {
    pub dir: PathBuf,
}

impl Home {
    pub fn new() -> Home {
        let dir = temp_path("home");
        std::fs::create_dir_all(dir.join("project")).unwrap();
        Home { dir }
    }

    pub fn path(&self, rel: &str) -> PathBuf {
        self.dir.join(rel)
    }

    pub fn config(&self) -> PathBuf {
        self.path("gateway.yaml")
    }

    /// Copies a fixture to `rel` under HOME.
    pub fn put(&self, fixture: &str, rel: &str) -> PathBuf {
        let to = self.path(rel);
        std::fs::create_dir_all(to.parent().unwrap()).unwrap();
        std::fs::copy(fixtures().join(fixture), &to).unwrap();
        to
    }

    pub fn command(&self, program: &Path) -> Command {
        let mut cmd = Command::new(program);
        cmd.current_dir(self.path("project"))
            .env("HOME", &self.dir)
            .env("USERPROFILE", &self.dir)
            .env("XDG_CONFIG_HOME", self.path(".config"))
            .env("APPDATA", self.path("AppData/Roaming"))
            .env_remove("CODEX_HOME")
            .env_remove("CLAUDE_CONFIG_DIR")
            .env_remove("MCP_GATEWAY_CONFIG");
        cmd
    }

    /// Runs the gateway with `--config <HOME>/gateway.yaml` and `args`.
    /// [`Home::run`] with `program`'s folder first on PATH.
    pub fn run_with_path(&self, args: &[&str], program: &Path) -> Output {
        let dir = program.parent().unwrap();
        let path = std::env::join_paths(std::iter::once(dir.to_path_buf()).chain(
            std::env::split_paths(&std::env::var_os("PATH").unwrap_or_default()),
        ))
        .unwrap();
        let config = self.config();
        let mut all = vec!["--config", config.to_str().unwrap()];
        all.extend_from_slice(args);
        self.command(&gateway_bin())
            .env("PATH", path)
            .args(&all)
            .output()
            .unwrap()
    }

    pub fn run(&self, args: &[&str]) -> Output {
        let config = self.config();
        let mut all = vec!["--config", config.to_str().unwrap()];
        all.extend_from_slice(args);
        self.command(&gateway_bin()).args(&all).output().unwrap()
    }
}

pub fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

pub fn all_output(out: &Output) -> String {
    format!("{}{}", stdout(out), String::from_utf8_lossy(&out.stderr))
}

/// Every client's user file: (client, fixture, where it lives under HOME on Linux).
const USER_FILES: &[(&str, &str, &str)] = &[
    (
        "claude-code",
        "claude-code/home/.claude.json",
        ".claude.json",
    ),
    (
        "claude-desktop",
        "claude-desktop/claude_desktop_config.json",
        ".config/Claude/claude_desktop_config.json",
    ),
    ("cursor", "cursor/home/.cursor/mcp.json", ".cursor/mcp.json"),
    (
        "vscode",
        "vscode/user/mcp.json",
        ".config/Code/User/mcp.json",
    ),
    (
        "windsurf",
        "windsurf/mcp_config.json",
        ".codeium/windsurf/mcp_config.json",
    ),
    (
        "cline",
        "cline/cline_mcp_settings.json",
        ".cline/data/settings/cline_mcp_settings.json",
    ),
    ("zed", "zed/home/settings.json", ".config/zed/settings.json"),
    (
        "codex",
        "codex/home/.codex/config.toml",
        ".codex/config.toml",
    ),
    (
        "gemini",
        "gemini/home/.gemini/settings.json",
        ".gemini/settings.json",
    ),
    (
        "opencode",
        "opencode/home/opencode.jsonc",
        ".config/opencode/opencode.jsonc",
    ),
];

const PROJECT_FILES: &[(&str, &str, &str)] = &[
    (
        "claude-code",
        "claude-code/project/.mcp.json",
        "project/.mcp.json",
    ),
    (
        "cursor",
        "cursor/project/.cursor/mcp.json",
        "project/.cursor/mcp.json",
    ),
    (
        "vscode",
        "vscode/project/.vscode/mcp.json",
        "project/.vscode/mcp.json",
    ),
    (
        "zed",
        "zed/project/.zed/settings.json",
        "project/.zed/settings.json",
    ),
    (
        "codex",
        "codex/project/.codex/config.toml",
        "project/.codex/config.toml",
    ),
    (
        "gemini",
        "gemini/project/.gemini/settings.json",
        "project/.gemini/settings.json",
    ),
    (
        "opencode",
        "opencode/project/opencode.json",
        "project/opencode.json",
    ),
];

fn golden(name: &str, home: &Home) -> String {
    let text = std::fs::read_to_string(fixtures().join("golden").join(format!("{name}.after")))
        .unwrap_or_else(|e| panic!("golden/{name}.after: {e}"));
    text.replace(
        "@GATEWAY@",
        gateway_bin().canonicalize().unwrap().to_str().unwrap(),
    )
    .replace("@CONFIG@", home.config().to_str().unwrap())
}

fn backup_from(out: &str) -> PathBuf {
    let line = out
        .lines()
        .find(|l| l.contains("rollback: mcp-gateway setup export --rollback "))
        .unwrap_or_else(|| panic!("no rollback line in:\n{out}"));
    PathBuf::from(line.rsplit(' ').next().unwrap())
}

/// Sample → export → golden; again → no-op; rollback → the sample byte for byte.
fn golden_round_trip(client: &str, fixture: &str, rel: &str, scope: &str, golden_name: &str) {
    let home = Home::new();
    let file = home.put(fixture, rel);
    let original = std::fs::read(&file).unwrap();
    let out = home.run(&["setup", "export", "--target", client, "--scope", scope]);
    let text = all_output(&out);
    assert!(out.status.success(), "{client}: {text}");
    assert_eq!(
        std::fs::read_to_string(&file).unwrap(),
        golden(golden_name, &home),
        "{client} ({scope}): the exported file differs from golden/{golden_name}.after"
    );
    let backup = backup_from(&text);
    assert_eq!(
        std::fs::read(&backup).unwrap(),
        original,
        "{client}: backup"
    );

    let after = std::fs::read(&file).unwrap();
    let again = home.run(&["setup", "export", "--target", client, "--scope", scope]);
    assert!(again.status.success());
    assert!(
        stdout(&again).contains("nothing to do"),
        "{}",
        all_output(&again)
    );
    assert_eq!(
        std::fs::read(&file).unwrap(),
        after,
        "{client}: second export changed the file"
    );

    let back = home.run(&["setup", "export", "--rollback", backup.to_str().unwrap()]);
    assert!(back.status.success(), "{}", all_output(&back));
    assert_eq!(
        std::fs::read(&file).unwrap(),
        original,
        "{client}: rollback is not byte-identical"
    );
}

#[test]
fn export_golden_every_client_user_scope() {
    for (client, fixture, rel) in USER_FILES {
        golden_round_trip(client, fixture, rel, "user", client);
    }
}

#[test]
fn export_golden_project_scope() {
    for (client, fixture, rel) in PROJECT_FILES {
        golden_round_trip(
            client,
            fixture,
            rel,
            "project",
            &format!("{client}.project"),
        );
    }
}

#[test]
fn export_all_skips_missing_clients_and_errors_on_a_named_one() {
    let home = Home::new();
    home.put("cursor/home/.cursor/mcp.json", ".cursor/mcp.json");
    let out = home.run(&["setup", "export", "--target", "all"]);
    let text = stdout(&out);
    assert!(out.status.success(), "{}", all_output(&out));
    assert!(text.contains("cursor: updated"), "{text}");
    assert!(text.contains("zed: not installed, skipped"), "{text}");
    assert!(!home.path(".config/zed/settings.json").exists());

    let out = home.run(&["setup", "export", "--target", "windsurf"]);
    assert!(!out.status.success());
    assert!(
        stdout(&out).contains("windsurf: error: not installed"),
        "{}",
        all_output(&out)
    );
}

#[test]
fn export_dry_run_prints_a_diff_and_writes_nothing() {
    let home = Home::new();
    let file = home.put("gemini/home/.gemini/settings.json", ".gemini/settings.json");
    let before = std::fs::read(&file).unwrap();
    let out = home.run(&["setup", "export", "--target", "gemini", "--dry-run"]);
    let text = stdout(&out);
    assert!(out.status.success(), "{}", all_output(&out));
    assert!(text.contains("+++ "), "{text}");
    assert!(text.contains("+    \"gateway\": {"), "{text}");
    assert_eq!(std::fs::read(&file).unwrap(), before);
    let entries: Vec<_> = std::fs::read_dir(file.parent().unwrap()).unwrap().collect();
    assert_eq!(entries.len(), 1, "a dry run left files behind");
    assert!(!home.config().exists(), "a dry run created gateway.yaml");
}

#[test]
fn a_file_that_does_not_parse_is_left_byte_identical() {
    let home = Home::new();
    let file = home.path(".cursor/mcp.json");
    std::fs::create_dir_all(file.parent().unwrap()).unwrap();
    let broken = "{\n  \"mcpServers\": {\n    \"a\": {\"command\": \"x\"}\n    \"b\": {}\n  }\n}\n";
    std::fs::write(&file, broken).unwrap();
    let out = home.run(&["setup", "export", "--target", "cursor"]);
    let text = all_output(&out);
    assert!(!out.status.success());
    assert!(text.contains(&format!("{}:4:5", file.display())), "{text}");
    assert_eq!(std::fs::read_to_string(&file).unwrap(), broken);
    assert_eq!(
        std::fs::read_dir(file.parent().unwrap()).unwrap().count(),
        1
    );

    let codex = home.path(".codex/config.toml");
    std::fs::create_dir_all(codex.parent().unwrap()).unwrap();
    std::fs::write(&codex, "model = \"o3\"\n[mcp_servers.a\ncommand = 1\n").unwrap();
    let out = home.run(&["setup", "export", "--target", "codex"]);
    assert!(!out.status.success());
    assert!(
        all_output(&out).contains("config.toml:2:"),
        "{}",
        all_output(&out)
    );
}

#[cfg(unix)]
#[test]
fn a_symlink_is_edited_through_its_target_or_refused_when_read_only() {
    use std::os::unix::fs::{PermissionsExt, symlink};
    let home = Home::new();
    let real = home.put("cursor/home/.cursor/mcp.json", "dotfiles/cursor-mcp.json");
    std::fs::create_dir_all(home.path(".cursor")).unwrap();
    let link = home.path(".cursor/mcp.json");
    symlink(&real, &link).unwrap();
    let out = home.run(&["setup", "export", "--target", "cursor"]);
    assert!(out.status.success(), "{}", all_output(&out));
    assert!(
        std::fs::symlink_metadata(&link)
            .unwrap()
            .file_type()
            .is_symlink()
    );
    assert!(
        std::fs::read_to_string(&real)
            .unwrap()
            .contains("\"gateway\"")
    );

    // A link into a read-only place (a Nix store, say) is refused with the reason.
    let store = home.path("store");
    std::fs::create_dir_all(&store).unwrap();
    let frozen = store.join("settings.json");
    std::fs::copy(
        fixtures().join("gemini/home/.gemini/settings.json"),
        &frozen,
    )
    .unwrap();
    std::fs::set_permissions(&frozen, std::fs::Permissions::from_mode(0o444)).unwrap();
    std::fs::create_dir_all(home.path(".gemini")).unwrap();
    symlink(&frozen, home.path(".gemini/settings.json")).unwrap();
    let before = std::fs::read(&frozen).unwrap();
    let out = home.run(&["setup", "export", "--target", "gemini"]);
    assert!(!out.status.success());
    assert!(
        all_output(&out).contains("not writable"),
        "{}",
        all_output(&out)
    );
    assert_eq!(std::fs::read(&frozen).unwrap(), before);
}

#[test]
fn replace_removes_the_servers_the_gateway_now_serves() {
    let home = Home::new();
    let file = home.put("cursor/home/.cursor/mcp.json", ".cursor/mcp.json");
    std::fs::write(
        home.config(),
        "backends:\n  gh:\n    command: docker\n    args: [run, -i, --rm, -e, GITHUB_PERSONAL_ACCESS_TOKEN, ghcr.io/github/github-mcp-server]\n",
    )
    .unwrap();
    let out = home.run(&["setup", "export", "--target", "cursor", "--replace"]);
    assert!(out.status.success(), "{}", all_output(&out));
    assert!(stdout(&out).contains("removed github"), "{}", stdout(&out));
    let text = std::fs::read_to_string(&file).unwrap();
    assert!(!text.contains("github-mcp-server"), "{text}");
    assert!(
        text.contains("\"gateway\"") && text.contains("\"figma\""),
        "{text}"
    );
}

fn peer_bin(name: &str) -> PathBuf {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/peers/node_modules/.bin")
        .join(name);
    assert!(
        path.exists(),
        "{} is missing: run tests/peers/install.sh (it installs the pinned real clients)",
        path.display()
    );
    path
}

/// Runs a client CLI with a hard time limit; returns its output.
fn run_bounded(mut cmd: Command, limit: Duration) -> Output {
    cmd.stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped());
    let mut child = cmd.spawn().unwrap();
    let deadline = std::time::Instant::now() + limit;
    while child.try_wait().unwrap().is_none() {
        if std::time::Instant::now() > deadline {
            let _ = child.kill();
            let out = child.wait_with_output().unwrap();
            panic!("timed out after {limit:?}: {}", all_output(&out));
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    child.wait_with_output().unwrap()
}

#[test]
fn claude_mcp_list_reports_the_exported_gateway_connected() {
    let claude = peer_bin("claude");
    // An empty HOME: Claude Code counts as installed because `claude` is on PATH.
    let home = Home::new();
    let out = home.run_with_path(&["setup", "export", "--target", "claude-code"], &claude);
    assert!(out.status.success(), "{}", all_output(&out));
    let mut cmd = home.command(&claude);
    cmd.args(["mcp", "list"])
        .env("DISABLE_AUTOUPDATER", "1")
        .env("DISABLE_TELEMETRY", "1")
        .env("DISABLE_ERROR_REPORTING", "1")
        .env("CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC", "1")
        .env_remove("ANTHROPIC_API_KEY");
    let out = run_bounded(cmd, Duration::from_secs(90));
    let text = all_output(&out);
    let line = text
        .lines()
        .find(|l| l.starts_with("gateway:"))
        .unwrap_or_else(|| panic!("claude mcp list does not show the gateway:\n{text}"));
    assert!(line.contains("Connected"), "{text}");
    assert!(line.contains(home.config().to_str().unwrap()), "{line}");
}

#[test]
fn codex_mcp_list_lists_the_exported_gateway() {
    let codex = peer_bin("codex");
    let home = Home::new();
    let out = home.run_with_path(&["setup", "export", "--target", "codex"], &codex);
    assert!(out.status.success(), "{}", all_output(&out));
    let mut cmd = home.command(&codex);
    cmd.args(["mcp", "list", "--json"]);
    let out = run_bounded(cmd, Duration::from_secs(60));
    assert!(out.status.success(), "{}", all_output(&out));
    let list: serde_json::Value = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("codex mcp list --json: {e}: {}", all_output(&out)));
    let gw = list
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["name"] == "gateway")
        .unwrap_or_else(|| panic!("no gateway in {list}"));
    let bin = gateway_bin().canonicalize().unwrap();
    assert_eq!(gw["transport"]["command"], bin.to_str().unwrap(), "{gw}");
    assert_eq!(gw["transport"]["args"][0], "serve", "{gw}");
}

#[cfg(unix)]
#[test]
fn export_keeps_the_file_mode_and_crlf_line_endings() {
    use std::os::unix::fs::PermissionsExt;
    let home = Home::new();
    let file = home.path(".claude.json");
    let crlf = "{\r\n  \"numStartups\": 3,\r\n  \"mcpServers\": {}\r\n}\r\n";
    std::fs::write(&file, crlf).unwrap();
    std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o600)).unwrap();
    std::fs::create_dir_all(home.path(".claude")).unwrap();
    let out = home.run(&["setup", "export", "--target", "claude-code"]);
    assert!(out.status.success(), "{}", all_output(&out));
    let text = std::fs::read_to_string(&file).unwrap();
    assert!(
        text.contains("\"mcpServers\": {\r\n    \"gateway\": {\r\n"),
        "{text:?}"
    );
    assert!(
        !text.replace("\r\n", "").contains('\n'),
        "a bare LF crept in: {text:?}"
    );
    let mode = std::fs::metadata(&file).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600);
    let backup = backup_from(&stdout(&out));
    assert_eq!(std::fs::read_to_string(backup).unwrap(), crlf);
}
