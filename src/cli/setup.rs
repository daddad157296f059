//! `mcp-gateway setup export` and `setup import`: wire AI clients to the gateway, and pull
//! the servers they list into `gateway.yaml`. All file writes go through `export`.
#![allow(clippy::print_stdout)] // these commands report to a person at a terminal

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context, bail};
use clap::{Args, Subcommand};

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
    if client.rewrites_own_file() {
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
struct Found {
    new: Vec<Imported>,
    /// (client, key, why): same server as another, or unreadable.
    skipped: Vec<(Client, String, String)>,
    /// Client → the keys that gateway.yaml now serves (for --replace).
    served_by: Vec<(Client, Scope, Vec<String>)>,
}

fn collect(
    from: &[Client],
    place: &Place,
    existing: &std::collections::BTreeMap<String, String>,
) -> anyhow::Result<Found> {
    // identity → backend name, starting with what gateway.yaml already has.
    let mut seen: std::collections::BTreeMap<String, String> = existing
        .iter()
        .map(|(name, id)| (id.clone(), name.clone()))
        .collect();
    let mut names: std::collections::BTreeSet<String> = existing.keys().cloned().collect();
    let mut found = Found {
        new: Vec::new(),
        skipped: Vec::new(),
        served_by: Vec::new(),
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
            let mut keys = Vec::new();
            for (key, value) in &servers.servers {
                if import::is_gateway_entry(value) {
                    continue;
                }
                let mut imported =
                    match import::from_entry(client, key, value, &servers.root, &place.project) {
                        Ok(i) => i,
                        Err(why) => {
                            found.skipped.push((client, key.clone(), why));
                            continue;
                        }
                    };
                let id = imported.identity();
                if let Some(other) = seen.get(&id) {
                    found.skipped.push((
                        client,
                        key.clone(),
                        format!("the same server as `{other}`"),
                    ));
                    keys.push(key.clone());
                    continue;
                }
                let base = imported.backend.name.clone();
                let mut name = base.clone();
                let mut n = 2;
                while names.contains(&name) {
                    name = format!("{base}-{n}");
                    n += 1;
                }
                imported.backend.name = name.clone();
                names.insert(name.clone());
                seen.insert(id, name);
                keys.push(key.clone());
                found.new.push(imported);
            }
            if !keys.is_empty() {
                found.served_by.push((client, scope, keys));
            }
        }
    }
    Ok(found)
}

fn import_cmd(args: &ImportArgs, config: Option<&Path>) -> anyhow::Result<ExitCode> {
    let place = Place::current();
    let path = gwfile::target_path(config)?;
    let before = export::file::read(&path)?;
    let text = before
        .clone()
        .unwrap_or_else(|| gateway_yaml::STARTER.to_owned());
    let existing = gwfile::identities_of(&text);
    let found = collect(&args.from, &place, &existing)?;
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
