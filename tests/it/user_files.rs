//! The safety of files the user owns: rollbacks that refuse to destroy newer data (and save
//! it first when forced), backups that do not pile up, secrets that stay owner-only, and
//! `setup import` doing what its preview says.

use std::path::{Path, PathBuf};
use std::process::Output;

use crate::setup::{Home, all_output, stdout};
use crate::support::gateway_bin;

/// The path in the last `rollback: … --rollback <path>` line.
fn last_rollback(out: &str) -> PathBuf {
    let line = out
        .lines()
        .rfind(|l| l.contains("mcp-gateway setup export --rollback "))
        .unwrap_or_else(|| panic!("no rollback line in:\n{out}"));
    PathBuf::from(line.rsplit(' ').next().unwrap().trim_matches('\''))
}

fn rollback(home: &Home, backup: &Path, force: bool) -> Output {
    let mut args = vec!["setup", "export", "--rollback", backup.to_str().unwrap()];
    if force {
        args.push("--force");
    }
    home.run(&args)
}

/// Backups (not their records) of `file`.
fn backups_of(file: &Path) -> Vec<PathBuf> {
    let prefix = format!(
        "{}.mcp-gateway.bak.",
        file.file_name().unwrap().to_str().unwrap()
    );
    let mut found: Vec<PathBuf> = std::fs::read_dir(file.parent().unwrap())
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| {
            let name = p.file_name().unwrap().to_str().unwrap();
            name.starts_with(&prefix) && !name.ends_with(".sha256")
        })
        .collect();
    found.sort();
    found
}

#[test]
fn rollback_refuses_when_the_client_changed_the_file_and_force_saves_the_newer_content() {
    let home = Home::new();
    let file = home.put("cursor/home/.cursor/mcp.json", ".cursor/mcp.json");
    let original = std::fs::read(&file).unwrap();
    let out = home.run(&["setup", "export", "--target", "cursor"]);
    assert!(out.status.success(), "{}", all_output(&out));
    let backup = last_rollback(&stdout(&out));

    // The client writes its own setting after the export.
    let exported = std::fs::read_to_string(&file).unwrap();
    let newer = exported.replacen('{', "{\n  \"theme\": \"dark\",", 1);
    std::fs::write(&file, &newer).unwrap();

    let refused = rollback(&home, &backup, false);
    let text = all_output(&refused);
    assert!(!refused.status.success(), "{text}");
    assert!(
        text.contains("changed since mcp-gateway wrote it"),
        "{text}"
    );
    assert!(
        text.contains("-  \"theme\": \"dark\","),
        "no diff of the loss: {text}"
    );
    assert!(text.contains("--force"), "{text}");
    assert_eq!(
        std::fs::read_to_string(&file).unwrap(),
        newer,
        "refusal touched the file"
    );

    let forced = rollback(&home, &backup, true);
    let text = all_output(&forced);
    assert!(forced.status.success(), "{text}");
    assert_eq!(std::fs::read(&file).unwrap(), original);
    let saved = last_rollback(&stdout(&forced));
    assert_ne!(saved, backup);
    assert_eq!(std::fs::read_to_string(&saved).unwrap(), newer);

    // Undoing the forced rollback needs no force: the file is what that rollback wrote.
    let undo = rollback(&home, &saved, false);
    assert!(undo.status.success(), "{}", all_output(&undo));
    assert_eq!(std::fs::read_to_string(&file).unwrap(), newer);
}

#[test]
fn rolling_back_a_created_file_never_deletes_what_the_client_wrote_into_it() {
    let home = Home::new();
    std::fs::create_dir_all(home.path(".claude")).unwrap();
    let file = home.path(".claude.json");
    let out = home.run(&["setup", "export", "--target", "claude-code"]);
    assert!(out.status.success(), "{}", all_output(&out));
    let marker = last_rollback(&stdout(&out));
    assert!(marker.to_str().unwrap().ends_with(".absent"), "{marker:?}");

    // Claude Code writes its own state into the file the gateway created.
    let state = std::fs::read_to_string(&file).unwrap().replacen(
        '{',
        "{\n  \"userID\": \"u-1\",\n  \"numStartups\": 4,",
        1,
    );
    std::fs::write(&file, &state).unwrap();

    let refused = rollback(&home, &marker, false);
    let text = all_output(&refused);
    assert!(!refused.status.success(), "{text}");
    assert!(text.contains("deleted by rollback"), "{text}");
    assert!(text.contains("userID"), "{text}");
    assert_eq!(std::fs::read_to_string(&file).unwrap(), state);

    let forced = rollback(&home, &marker, true);
    assert!(forced.status.success(), "{}", all_output(&forced));
    assert!(!file.exists());
    let saved = last_rollback(&stdout(&forced));
    assert_eq!(std::fs::read_to_string(&saved).unwrap(), state);
    let undo = rollback(&home, &saved, false);
    assert!(undo.status.success(), "{}", all_output(&undo));
    assert_eq!(std::fs::read_to_string(&file).unwrap(), state);
}

#[test]
fn rolling_back_an_untouched_created_file_removes_it() {
    let home = Home::new();
    std::fs::create_dir_all(home.path(".claude")).unwrap();
    let out = home.run(&["setup", "export", "--target", "claude-code"]);
    assert!(out.status.success(), "{}", all_output(&out));
    let back = rollback(&home, &last_rollback(&stdout(&out)), false);
    assert!(back.status.success(), "{}", all_output(&back));
    assert!(!home.path(".claude.json").exists());
}

#[test]
fn backups_keep_the_newest_five_and_the_printed_one_works() {
    let home = Home::new();
    let mut last = String::new();
    let mut before_last = Vec::new();
    for n in 0..8 {
        before_last = std::fs::read(home.config()).unwrap_or_default();
        let name = format!("b{n}");
        let out = home.run(&["add", &name, "--", "echo", "hi"]);
        assert!(out.status.success(), "{}", all_output(&out));
        last = stdout(&out);
    }
    let backups = backups_of(&home.config());
    assert_eq!(backups.len(), 5, "{backups:?}");
    let records = std::fs::read_dir(home.dir.clone())
        .unwrap()
        .filter(|e| {
            e.as_ref()
                .unwrap()
                .path()
                .to_str()
                .unwrap()
                .ends_with(".sha256")
        })
        .count();
    assert_eq!(records, 5, "a record outlived its backup");
    let printed = last_rollback(&last);
    assert!(backups.contains(&printed), "{printed:?} was pruned");
    let back = rollback(&home, &printed, false);
    assert!(back.status.success(), "{}", all_output(&back));
    assert_eq!(std::fs::read(home.config()).unwrap(), before_last);
}

#[cfg(unix)]
fn mode(path: &Path) -> u32 {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path).unwrap().permissions().mode() & 0o777
}

#[cfg(unix)]
#[test]
fn import_from_an_owner_only_client_file_writes_gateway_yaml_owner_only() {
    use std::os::unix::fs::PermissionsExt;
    let home = Home::new();
    let claude = home.path(".claude.json");
    std::fs::write(
        &claude,
        r#"{"mcpServers": {"time": {"command": "uvx", "args": ["mcp-server-time"]}}}"#,
    )
    .unwrap();
    std::fs::set_permissions(&claude, std::fs::Permissions::from_mode(0o600)).unwrap();
    let out = home.run(&["setup", "import", "--from", "claude-code", "--yes"]);
    let text = all_output(&out);
    assert!(out.status.success(), "{text}");
    assert_eq!(mode(&home.config()), 0o600, "{text}");
    assert!(text.contains("readable by you only (0600)"), "{text}");
}

#[cfg(unix)]
#[test]
fn a_literal_secret_makes_gateway_yaml_owner_only_and_is_named_with_the_fix() {
    use std::os::unix::fs::PermissionsExt;
    let home = Home::new();
    std::fs::write(home.config(), "backends: {}\n").unwrap();
    std::fs::set_permissions(home.config(), std::fs::Permissions::from_mode(0o644)).unwrap();
    let cursor = home.path(".cursor/mcp.json");
    std::fs::create_dir_all(cursor.parent().unwrap()).unwrap();
    std::fs::write(
        &cursor,
        r#"{"mcpServers": {"gh": {"command": "gh-mcp", "env": {"GITHUB_TOKEN": "ghp_0123456789abcdef", "LOG": "info"}}}}"#,
    )
    .unwrap();
    std::fs::set_permissions(&cursor, std::fs::Permissions::from_mode(0o644)).unwrap();

    let preview = home.run(&["setup", "import", "--from", "cursor"]);
    let text = stdout(&preview);
    assert!(
        text.contains("would be written readable by you only"),
        "{text}"
    );
    // The dry run's diffs (gateway.yaml and the client file) mask the value.
    let dry = home.run(&[
        "setup",
        "import",
        "--from",
        "cursor",
        "--replace",
        "--dry-run",
    ]);
    let text = all_output(&dry);
    assert!(text.contains("GITHUB_TOKEN: ***"), "{text}");
    assert!(!text.contains("ghp_0123456789abcdef"), "{text}");

    let out = home.run(&["setup", "import", "--from", "cursor", "--yes"]);
    let text = stdout(&out);
    assert!(out.status.success(), "{}", all_output(&out));
    assert_eq!(mode(&home.config()), 0o600);
    assert!(text.contains("gh: env GITHUB_TOKEN"), "{text}");
    assert!(text.contains("gh: GITHUB_TOKEN: ${GITHUB_TOKEN}"), "{text}");
    assert!(
        !all_output(&out).contains("ghp_0123456789abcdef"),
        "the secret was printed"
    );

    // The same holds for `add` with a literal header.
    let other = Home::new();
    let out = other.run(&[
        "add",
        "--transport",
        "http",
        "-H",
        "Authorization: Bearer sk-live-123",
        "remote",
        "https://example.com/mcp",
    ]);
    assert!(out.status.success(), "{}", all_output(&out));
    assert_eq!(mode(&other.config()), 0o600);
}

#[test]
fn import_dry_run_previews_the_diff_and_the_removals_and_writes_nothing() {
    let home = Home::new();
    let cursor = home.put("cursor/home/.cursor/mcp.json", ".cursor/mcp.json");
    let before = std::fs::read(&cursor).unwrap();
    let out = home.run(&[
        "setup",
        "import",
        "--from",
        "cursor",
        "--replace",
        "--dry-run",
    ]);
    let text = stdout(&out);
    assert!(out.status.success(), "{}", all_output(&out));
    assert!(
        text.contains("- cursor: would remove `github`, `context7`, `figma` from"),
        "{text}"
    );
    assert!(text.contains("+++ "), "no gateway.yaml diff: {text}");
    assert!(text.contains("+  github:"), "{text}");
    assert!(
        text.contains("-    \"github\": {"),
        "no client diff: {text}"
    );
    assert!(text.contains("nothing was written"), "{text}");
    assert!(!home.config().exists(), "a dry run wrote gateway.yaml");
    assert_eq!(std::fs::read(&cursor).unwrap(), before);
    assert_eq!(backups_of(&cursor).len(), 0);

    let plain = home.run(&["setup", "import", "--from", "cursor", "--replace"]);
    assert!(
        stdout(&plain).contains("- cursor: would remove `github`"),
        "{}",
        stdout(&plain)
    );
    assert!(!home.config().exists());
}

const WORKSPACE_ENTRY: &str = r#"{"mcpServers": {"files": {"command": "npx", "args": ["-y", "@modelcontextprotocol/server-filesystem", "${workspaceFolder}/docs"]}}}"#;

#[test]
fn workspace_folder_is_refused_in_a_user_config_and_kept_relative_in_a_project_one() {
    let home = Home::new();
    let cursor = home.path(".cursor/mcp.json");
    std::fs::create_dir_all(cursor.parent().unwrap()).unwrap();
    std::fs::write(&cursor, WORKSPACE_ENTRY).unwrap();
    let project = home.path("project");

    let out = home.run(&["setup", "import", "--from", "cursor", "--yes"]);
    let text = stdout(&out);
    assert!(out.status.success(), "{}", all_output(&out));
    assert!(
        text.contains("`files`: skipped: uses ${workspaceFolder}")
            && text.contains("./gateway.yaml"),
        "{text}"
    );
    let written = std::fs::read_to_string(home.config()).unwrap_or_default();
    assert!(!written.contains(project.to_str().unwrap()), "{written}");

    let out = home
        .command(&gateway_bin())
        .args([
            "--config",
            "gateway.yaml",
            "setup",
            "import",
            "--from",
            "cursor",
            "--yes",
        ])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", all_output(&out));
    let yaml = std::fs::read_to_string(project.join("gateway.yaml")).unwrap();
    assert!(
        !yaml.contains(project.to_str().unwrap()),
        "frozen to this folder: {yaml}"
    );
    assert!(yaml.contains("./docs"), "{yaml}");
    assert!(yaml.contains(r#"cwd: ".""#), "{yaml}");
}

#[test]
fn project_scope_export_names_mcp_gateway_from_path_and_a_project_relative_config() {
    let home = Home::new();
    let project = home.path("project");
    std::fs::write(project.join("gateway.yaml"), "backends: {}\n").unwrap();
    let bin_dir = gateway_bin().canonicalize().unwrap();
    let path = std::env::join_paths(
        std::iter::once(bin_dir.parent().unwrap().to_path_buf()).chain(std::env::split_paths(
            &std::env::var_os("PATH").unwrap_or_default(),
        )),
    )
    .unwrap();
    let out = home
        .command(&gateway_bin())
        .env("PATH", &path)
        .args([
            "--config",
            "gateway.yaml",
            "setup",
            "export",
            "--target",
            "claude-code",
            "--target",
            "cursor",
            "--scope",
            "project",
        ])
        .output()
        .unwrap();
    let text = stdout(&out);
    assert!(out.status.success(), "{}", all_output(&out));
    assert!(text.contains("runs `mcp-gateway` from PATH"), "{text}");
    let mcp: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(project.join(".mcp.json")).unwrap()).unwrap();
    let gw = &mcp["mcpServers"]["gateway"];
    assert_eq!(gw["command"], "mcp-gateway", "{gw}");
    assert_eq!(
        gw["args"],
        serde_json::json!(["serve", "--config", "gateway.yaml"]),
        "{gw}"
    );
    // Cursor expands `${workspaceFolder}` itself: the path holds whatever folder it starts in.
    let cursor: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(project.join(".cursor/mcp.json")).unwrap())
            .unwrap();
    assert_eq!(
        cursor["mcpServers"]["gateway"]["args"],
        serde_json::json!(["serve", "--config", "${workspaceFolder}/gateway.yaml"]),
        "{cursor}"
    );

    // Without it on PATH the shared file would name this machine's copy: said as a warning.
    let other = Home::new();
    let out = other
        .command(&gateway_bin())
        .env("PATH", "/nonexistent")
        .args([
            "setup",
            "export",
            "--target",
            "claude-code",
            "--scope",
            "project",
            "--dry-run",
        ])
        .output()
        .unwrap();
    assert!(
        stdout(&out).contains("warning: mcp-gateway is not on PATH"),
        "{}",
        all_output(&out)
    );
}

#[cfg(unix)]
#[test]
fn cap_pin_leaves_the_file_as_it_is_and_records_the_approval_owner_only() {
    use std::os::unix::fs::PermissionsExt;
    let home = Home::new();
    let file = home.path("hello.yaml");
    let text = "name: hello\ndescription: Say hello.\nproviders:\n  primary:\n    config:\n      base_url: https://example.com\n      path: /hello\n";
    std::fs::write(&file, text).unwrap();
    std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o600)).unwrap();
    std::fs::write(home.config(), "backends: {}\n").unwrap();
    let data = home.path("data");
    let out = home
        .command(&gateway_bin())
        .env("MCP_GATEWAY_DATA_DIR", &data)
        .arg("--config")
        .arg(home.config())
        .args(["cap", "pin", file.to_str().unwrap()])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", all_output(&out));
    // The approval lives outside the file, so whoever edits the file cannot re-approve it.
    assert_eq!(std::fs::read_to_string(&file).unwrap(), text);
    assert_eq!(mode(&file), 0o600);
    let approvals = data.join("capability-pins.json");
    assert!(
        std::fs::read_to_string(&approvals)
            .unwrap()
            .contains("hello"),
        "{}",
        approvals.display()
    );
    assert_eq!(mode(&approvals), 0o600);
}

#[test]
fn credentials_expanded_from_the_environment_are_never_printed_or_logged() {
    let home = Home::new();
    std::fs::write(
        home.config(),
        "backends:\n  remote:\n    url: \"http://127.0.0.1:9/mcp?api_key=${GW_TEST_KEY}\"\n    headers:\n      Authorization: \"Bearer ${GW_TEST_TOKEN}\"\n",
    )
    .unwrap();
    for args in [&["list", "--json"][..], &["doctor"][..]] {
        let config = home.config();
        let out = home
            .command(&gateway_bin())
            .env("GW_TEST_KEY", "k-secret-123456")
            .env("GW_TEST_TOKEN", "tok-secret-654321")
            .env("MCP_GATEWAY_LOG", "debug")
            .arg("--config")
            .arg(&config)
            .args(args)
            .output()
            .unwrap();
        let text = all_output(&out);
        assert!(text.contains("remote"), "{args:?}: {text}");
        assert!(
            !text.contains("k-secret-123456"),
            "{args:?} leaked the key: {text}"
        );
        assert!(
            !text.contains("tok-secret-654321"),
            "{args:?} leaked the token: {text}"
        );
    }
}

#[test]
fn import_run_from_home_reads_a_file_that_is_both_user_and_project_scope_once() {
    let home = Home::new();
    home.put("cursor/home/.cursor/mcp.json", ".cursor/mcp.json");
    let config = home.config();
    let out = home
        .command(&gateway_bin())
        .current_dir(&home.dir)
        .arg("--config")
        .arg(&config)
        .args(["setup", "import", "--from", "cursor", "--yes", "--replace"])
        .output()
        .unwrap();
    let text = stdout(&out);
    assert!(out.status.success(), "{}", all_output(&out));
    assert!(!text.contains("the same server as"), "{text}");
    assert!(!text.contains("nothing to do"), "{text}");
    assert_eq!(text.matches("cursor: updated").count(), 1, "{text}");
}
