//! `mcp-gateway setup export` and `setup import`: wire AI clients to the gateway, and pull
//! the servers they list into `gateway.yaml`. All file writes go through `export`.
#![allow(clippy::print_stdout)] // these commands report to a person at a terminal

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context, bail};
use clap::{Args, Subcommand};
use serde_json::Value;

use super::gwfile;
use crate::export::import::{self, Imported};
use crate::export::{self, Change, Client, Entry, Place, Scope, gateway_yaml};

#[derive(Debug, Subcommand)]
pub enum SetupCommand {
    /// Point AI clients at the gateway: edit each client's config to launch `mcp-gateway serve`.
    Export(ExportArgs),
    /// Copy the MCP servers your clients list into gateway.yaml.
    Import(ImportArgs),
}

#[derive(Debug, Args)]
pub struct ExportArgs {
    /// A client (claude-code, claude-desktop, cursor, vscode, windsurf, cline, zed, codex,
    /// gemini, opencode) or `all`. Repeat for several.
    #[arg(long, short = 't', required_unless_present = "rollback", value_parser = parse_target)]
    pub target: Vec<Target>,
    /// Which of the client's files: the user's own, or the current project's.
    #[arg(long, value_enum, default_value_t = Scope::User)]
    pub scope: Scope,
    /// The name of the gateway's entry in each client.
    #[arg(long, default_value = "gateway")]
    pub name: String,
    /// Show the change as a diff and write nothing.
    #[arg(long)]
    pub dry_run: bool,
    /// Also remove the client's entries for servers gateway.yaml now serves.
    #[arg(long)]
    pub replace: bool,
    /// Restore a file from a backup made by an earlier export.
    #[arg(long, value_name = "BACKUP", conflicts_with_all = ["target", "replace", "dry_run"])]
    pub rollback: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct ImportArgs {
    /// Only these clients (default: every client found).
    #[arg(long, value_enum, num_args = 1..)]
    pub from: Vec<Client>,
    /// Write gateway.yaml (without it, only the preview is shown).
    #[arg(long, short = 'y')]
    pub yes: bool,
    /// Then point those clients at the gateway and remove the imported servers from them.
    #[arg(long)]
    pub replace: bool,
    /// The name of the gateway's entry in each client (with --replace).
    #[arg(long, default_value = "gateway")]
    pub name: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Target {
    All,
    One(Client),
}

fn parse_target(s: &str) -> Result<Target, String> {
    if s == "all" {
        return Ok(Target::All);
    }
    Client::ALL
        .into_iter()
        .find(|c| c.id() == s)
        .map(Target::One)
        .ok_or_else(|| {
            let ids: Vec<&str> = Client::ALL.iter().map(|c| c.id()).collect();
            format!(
                "unknown client `{s}`; expected `all` or one of {}",
                ids.join(", ")
            )
        })
}

pub fn run(command: SetupCommand, config: Option<&Path>) -> anyhow::Result<ExitCode> {
    match command {
        SetupCommand::Export(args) => export_cmd(&args, config),
        SetupCommand::Import(args) => import_cmd(&args, config),
    }
}

/// Every client accepts `[a-z0-9-]` (Gemini splits on `_`; Claude Code and Codex refuse dots).
fn check_entry_name(name: &str) -> anyhow::Result<()> {
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

/// The gateway's entry: this binary, by absolute path, serving the given config.
fn gateway_entry(client: Client, config: &Path) -> anyhow::Result<Entry> {
    let exe = std::env::current_exe().context("finding this program's path")?;
    let exe = std::fs::canonicalize(&exe).unwrap_or(exe);
    let args = vec![
        "serve".to_owned(),
        "--config".to_owned(),
        config.display().to_string(),
    ];
    Ok(client.entry(&exe.display().to_string(), &args))
}

fn export_cmd(args: &ExportArgs, config: Option<&Path>) -> anyhow::Result<ExitCode> {
    if let Some(backup) = &args.rollback {
        let restored = export::file::rollback(backup)?;
        println!("restored {} from {}", restored.display(), backup.display());
        return Ok(ExitCode::SUCCESS);
    }
    check_entry_name(&args.name)?;
    let place = Place::current();
    let all = args.target.contains(&Target::All);
    let clients: Vec<Client> = if all {
        Client::ALL.to_vec()
    } else {
        args.target
            .iter()
            .filter_map(|t| match t {
                Target::One(c) => Some(*c),
                Target::All => None,
            })
            .collect()
    };
    let config_path = gwfile::ensure(config, args.dry_run)?;
    if config_path.exists()
        && let Err(e) = crate::config::Config::load(Some(&config_path))
    {
        eprintln!(
            "warning: the clients will launch the gateway on a config that does not load yet: {e}"
        );
    }
    let served = if args.replace {
        gwfile::identities(&config_path)?
    } else {
        Default::default()
    };
    let mut failed = false;
    for client in clients {
        if client.paths(args.scope, &place).is_empty() {
            if !all {
                println!(
                    "{client}: error: it has no {:?} scope config file",
                    args.scope
                );
                failed = true;
            }
            continue;
        }
        if !client.installed(args.scope, &place) {
            if all {
                println!("{client}: not installed, skipped");
            } else {
                let path = client.path(args.scope, &place).unwrap_or_default();
                println!(
                    "{client}: error: not installed (neither {} nor its folder exists)",
                    path.display()
                );
                failed = true;
            }
            continue;
        }
        let remove = if args.replace {
            replaced_names(client, args.scope, &place, &served, &args.name)?
        } else {
            Vec::new()
        };
        let entry = gateway_entry(client, &config_path)?;
        if let Err(e) = export_one(
            client,
            args.scope,
            &place,
            &args.name,
            &entry,
            &remove,
            args.dry_run,
        ) {
            println!("{client}: error: {e:#}");
            failed = true;
        }
    }
    Ok(if failed {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    })
}

/// Names of the client's entries for servers gateway.yaml serves.
fn replaced_names(
    client: Client,
    scope: Scope,
    place: &Place,
    served: &std::collections::BTreeSet<String>,
    gateway_name: &str,
) -> anyhow::Result<Vec<String>> {
    let Some(found) = export::read_servers(client, scope, place)? else {
        return Ok(Vec::new());
    };
    Ok(found
        .servers
        .iter()
        .filter(|(k, _)| k != gateway_name)
        .filter_map(|(k, v)| {
            let imported = import::from_entry(client, k, v, &found.root, &place.project).ok()?;
            served.contains(&imported.identity()).then(|| k.clone())
        })
        .collect())
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

pub(super) fn shell_quote(path: &Path) -> String {
    let s = path.display().to_string();
    if s.chars()
        .all(|c| c.is_ascii_alphanumeric() || "/._-:+".contains(c))
    {
        s
    } else {
        format!("'{}'", s.replace('\'', r"'\''"))
    }
}

/// What one import run found, per client.
#[derive(Default)]
struct Found {
    new: Vec<Imported>,
    /// (client, key, why): same server as another, or unreadable.
    skipped: Vec<(Client, String, String)>,
    /// Client → the keys that gateway.yaml now serves (for --replace).
    served_by: Vec<(Client, Scope, Vec<String>)>,
    /// identity → backend name, starting with what gateway.yaml already has.
    seen: BTreeMap<String, String>,
    names: BTreeSet<String>,
}

impl Found {
    /// Takes one client entry; `true` when gateway.yaml will serve it (new or a duplicate).
    fn take(
        &mut self,
        client: Client,
        key: &str,
        value: &Value,
        root: &Value,
        place: &Place,
    ) -> bool {
        if import::is_gateway_entry(value) {
            return false;
        }
        let mut imported = match import::from_entry(client, key, value, root, &place.project) {
            Ok(i) => i,
            Err(why) => {
                self.skipped.push((client, key.to_owned(), why));
                return false;
            }
        };
        let id = imported.identity();
        if let Some(other) = self.seen.get(&id) {
            let why = format!("the same server as `{other}`");
            self.skipped.push((client, key.to_owned(), why));
            return true;
        }
        let base = imported.backend.name.clone();
        let mut name = base.clone();
        let mut n = 2;
        while self.names.contains(&name) {
            name = format!("{base}-{n}");
            n += 1;
        }
        imported.backend.name = name.clone();
        self.names.insert(name.clone());
        self.seen.insert(id, name);
        self.new.push(imported);
        true
    }
}

fn collect(from: &[Client], place: &Place, existing: &BTreeMap<String, String>) -> Found {
    let mut found = Found {
        seen: existing
            .iter()
            .map(|(n, id)| (id.clone(), n.clone()))
            .collect(),
        names: existing.keys().cloned().collect(),
        ..Found::default()
    };
    let clients = if from.is_empty() {
        Client::ALL.to_vec()
    } else {
        from.to_vec()
    };
    for client in clients {
        for scope in [Scope::User, Scope::Project] {
            let servers = match export::read_servers(client, scope, place) {
                Ok(Some(s)) => s,
                Ok(None) => continue,
                Err(e) => {
                    found.skipped.push((client, String::new(), format!("{e}")));
                    continue;
                }
            };
            let keys: Vec<String> = servers
                .servers
                .iter()
                .filter(|(key, value)| found.take(client, key, value, &servers.root, place))
                .map(|(key, _)| key.clone())
                .collect();
            if !keys.is_empty() {
                found.served_by.push((client, scope, keys));
            }
        }
        // Read-only sources: imported, never edited by --replace.
        for (path, container) in client.import_only_sources(place) {
            match export::read_servers_at(&path, &container) {
                Ok(Some(servers)) => {
                    for (key, value) in &servers.servers {
                        found.take(client, key, value, &servers.root, place);
                    }
                }
                Ok(None) => {}
                Err(e) => found.skipped.push((client, String::new(), format!("{e}"))),
            }
        }
    }
    found
}

/// A stdio server moved from a client that hands its children its whole environment gets
/// only the gateway's allow-list: say so, naming the variables it probably needs.
fn env_note(imported: &import::Imported) -> Option<String> {
    let gateway_yaml::NewTransport::Stdio {
        command, args, env, ..
    } = &imported.backend.transport
    else {
        return None;
    };
    let name = &imported.backend.name;
    let missing = crate::config::dropped_needs(command, args, env, false);
    // Codex passes its servers a short default set of variables, as the gateway does.
    if imported.client == Client::Codex {
        return (!missing.is_empty()).then(|| crate::config::dropped_needs_advice(name, &missing));
    }
    let probably = if missing.is_empty() {
        String::new()
    } else {
        format!(" (it probably needs {})", missing.join(", "))
    };
    Some(format!(
        "{} starts `{name}` with its whole environment; the gateway passes only a safe \
         allow-list (PATH, HOME, locale, proxies, …){probably}: if it needs more, list the \
         variables under its `env:` or set `inherit_env: true`",
        imported.client
    ))
}

fn import_cmd(args: &ImportArgs, config: Option<&Path>) -> anyhow::Result<ExitCode> {
    check_entry_name(&args.name)?;
    let place = Place::current();
    let path = gwfile::target_path(config)?;
    let before = export::file::read(&path)?;
    let text = before
        .clone()
        .unwrap_or_else(|| gateway_yaml::STARTER.to_owned());
    let existing = gwfile::identities_of(&text);
    let found = collect(&args.from, &place, &existing);
    for imported in &found.new {
        let b = &imported.backend;
        let what = match &b.transport {
            gateway_yaml::NewTransport::Stdio { command, args, .. } => {
                format!("{command} {}", args.join(" "))
            }
            gateway_yaml::NewTransport::Http { url, .. } => url.clone(),
        };
        let from = if imported.original == b.name {
            imported.client.to_string()
        } else {
            format!("{} `{}`", imported.client, imported.original)
        };
        let disabled = if b.enabled { "" } else { " (disabled)" };
        println!("+ {:<20} {}{disabled}   [from {from}]", b.name, what.trim());
        for note in &imported.notes {
            println!("    ! {note}");
        }
        if let Some(note) = env_note(imported) {
            println!("    ! {note}");
        }
    }
    for (client, key, why) in &found.skipped {
        println!("= {client} `{key}`: skipped: {why}");
    }
    if found.new.is_empty() {
        println!("nothing new to import into {}", path.display());
    }
    if !args.yes {
        if !found.new.is_empty() {
            println!("\nrun again with --yes to add these to {}", path.display());
        }
        return Ok(ExitCode::SUCCESS);
    }
    if !found.new.is_empty() {
        let backends: Vec<_> = found.new.iter().map(|i| i.backend.clone()).collect();
        let after = gateway_yaml::add_backends(&text, &backends)?;
        let backup = gwfile::write(&path, before, after)?;
        println!("wrote {} backends to {}", found.new.len(), path.display());
        if let Some(backup) = backup {
            println!(
                "  rollback: mcp-gateway setup export --rollback {}",
                shell_quote(&backup)
            );
        }
    }
    if args.replace {
        let mut failed = false;
        for (client, scope, keys) in &found.served_by {
            let entry = gateway_entry(*client, &path)?;
            if let Err(e) = export_one(*client, *scope, &place, &args.name, &entry, keys, false) {
                println!("{client}: error: {e:#}");
                failed = true;
            }
        }
        if failed {
            bail!("some clients were not updated; gateway.yaml has the servers");
        }
    }
    Ok(ExitCode::SUCCESS)
}
