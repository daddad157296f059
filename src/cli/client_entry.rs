//! The gateway's entry in a client's config file, and writing it there: shared by
//! `setup export` and `setup import --replace`.
#![allow(clippy::print_stdout)] // these commands report to a person at a terminal

use std::path::Path;

use anyhow::{Context, bail};

use crate::export::shell_quote;
use crate::export::{self, Change, Client, Entry, Place, Scope};

/// Every client accepts `[a-z0-9-]` (Gemini splits on `_`; Claude Code and Codex refuse dots).
pub(super) fn check_entry_name(name: &str) -> anyhow::Result<()> {
    let ok = !name.is_empty()
        && name.len() <= 32
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-');
    if !ok {
        bail!("--name `{name}`: use 1 to 32 of a-z, 0-9 and `-`, which every client accepts");
    }
    Ok(())
}

/// The gateway's entry: this binary, by absolute path, serving the given config. A project's
/// file is shared with a team, so there it names `mcp-gateway` from `$PATH` and a config path
/// relative to the project (or none, to find each user's own), and says when it cannot.
pub(super) fn gateway_entry(
    client: Client,
    config: &Path,
    scope: Scope,
    place: &Place,
) -> anyhow::Result<(Entry, Vec<String>)> {
    let exe = std::env::current_exe().context("finding this program's path")?;
    let exe = std::fs::canonicalize(&exe).unwrap_or(exe);
    let mut notes = Vec::new();
    let mut command = exe.display().to_string();
    let mut args = vec!["serve".to_owned()];
    let mut config_arg = Some(config.display().to_string());
    if scope == Scope::Project {
        match export::client::find_program("mcp-gateway", place) {
            Some(found) => {
                command = "mcp-gateway".to_owned();
                notes.push(format!(
                    "the entry runs `mcp-gateway` from PATH (here {}), so it works on every \
                     machine that has it installed",
                    found.display()
                ));
            }
            None => notes.push(format!(
                "warning: mcp-gateway is not on PATH, so this shared file names this machine's \
                 copy, {}; put mcp-gateway on PATH and export again to make it portable",
                exe.display()
            )),
        }
        let project = std::fs::canonicalize(&place.project).unwrap_or(place.project.clone());
        let real = config
            .parent()
            .and_then(|d| std::fs::canonicalize(d).ok())
            .map(|d| d.join(config.file_name().unwrap_or_default()))
            .unwrap_or(config.to_path_buf());
        if let Ok(rel) = real.strip_prefix(&project) {
            config_arg = Some(rel.display().to_string());
            notes.push(format!(
                "the entry names the config as `{}`, relative to the project root the client \
                 starts it in",
                rel.display()
            ));
        } else if crate::config::user_config_path().is_some_and(|u| u == config) {
            config_arg = None;
            notes.push(
                "the entry names no config: each user's gateway finds their own \
                 (./gateway.yaml in the project, else the user config dir)"
                    .to_owned(),
            );
        } else {
            notes.push(format!(
                "warning: this shared file names {}, a config on this machine only; keep a \
                 gateway.yaml in the project to make it portable",
                config.display()
            ));
        }
    }
    if let Some(c) = config_arg {
        args.extend(["--config".to_owned(), c]);
    }
    Ok((client.entry(&command, &args), notes))
}

/// Plans, shows or writes one client's change, and says what happened.
pub(super) fn export_one(
    client: Client,
    scope: Scope,
    place: &Place,
    name: &str,
    entry: &Entry,
    remove: &[String],
    dry_run: bool,
) -> anyhow::Result<()> {
    let change: Change = export::plan_export(client, scope, place, name, entry, remove)?;
    let path = change.path.display();
    if change.is_noop() {
        println!("{client}: {path} already launches the gateway as `{name}`; nothing to do");
        return Ok(());
    }
    if dry_run {
        println!("{client}: would change {path}:");
        print!("{}", change.diff());
        return Ok(());
    }
    if client.rewrites_own_file() && scope == Scope::User {
        println!(
            "{client}: warning: {} rewrites this file while it runs; quit it before this edit \
             and check the entry is still there after it starts",
            if client == Client::ClaudeDesktop {
                "Claude Desktop"
            } else {
                "Claude Code"
            }
        );
    }
    let check = |text: &str| export::verify_client(client, text, name, entry);
    let backup = export::apply(&change, &check)?;
    let verb = if change.before.is_some() {
        "updated"
    } else {
        "created"
    };
    let mut what = format!("{verb} {path}: gateway entry `{name}`");
    if !change.removed.is_empty() {
        what.push_str(&format!("; removed {}", change.removed.join(", ")));
    }
    println!("{client}: {what}");
    println!("  then: {}", client.reload_hint());
    if client == Client::ClaudeCode && scope == Scope::Project {
        println!("  Claude Code asks once to approve servers from a project's .mcp.json");
    }
    if let Some(backup) = backup {
        println!(
            "  rollback: mcp-gateway setup export --rollback {}",
            shell_quote(&backup)
        );
    }
    Ok(())
}

/// Where the project root is, relative to `gateway.yaml`'s folder, when the file belongs to
/// the project the command runs in (`.`, `..`, …); `None` for the user's own file.
pub(super) fn workspace_root(config: &Path, place: &Place) -> Option<String> {
    let canon = |p: &Path| std::fs::canonicalize(p).unwrap_or(p.to_path_buf());
    let project = canon(&place.project);
    let dir = canon(config.parent()?);
    let home = canon(&place.home);
    let user = crate::config::user_config_path()
        .and_then(|u| u.parent().map(canon))
        .is_some_and(|u| u == dir);
    if project == home || user {
        return None;
    }
    let depth = dir.strip_prefix(&project).ok()?.components().count();
    Some(if depth == 0 {
        ".".to_owned()
    } else {
        vec![".."; depth].join("/")
    })
}
