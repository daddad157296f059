//! `mcp-gateway setup export`: point AI clients at the gateway, and roll such edits back.
//! `setup import` lives in `setup_import`; the client entry both write, in `client_entry`.
//! All file writes go through `export`.
#![allow(clippy::print_stdout)] // these commands report to a person at a terminal

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::{Args, Subcommand};

use super::client_entry::{check_entry_name, export_one, gateway_entry, workspace_root};
use super::gwfile;
use super::setup_import::{self, ImportArgs};
use crate::export::import::{self, Workspace};
pub(super) use crate::export::shell_quote;
use crate::export::{self, Client, Place, Scope};
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
    /// With --rollback: restore even though the file changed since the gateway wrote it. The
    /// current file is saved as a new backup first.
    #[arg(long, requires = "rollback")]
    pub force: bool,
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
        SetupCommand::Import(args) => setup_import::run(&args, config),
    }
}

fn export_cmd(args: &ExportArgs, config: Option<&Path>) -> anyhow::Result<ExitCode> {
    if let Some(backup) = &args.rollback {
        return rollback(backup, args.force);
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
    let rel = workspace_root(&config_path, &place);
    let workspace = rel.as_deref().map_or(Workspace::Outside, Workspace::Inside);
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
            replaced_names(client, args.scope, &place, &served, &args.name, workspace)?
        } else {
            Vec::new()
        };
        let (entry, notes) = gateway_entry(client, &config_path, args.scope, &place)?;
        for note in &notes {
            println!("{client}: {note}");
        }
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

/// Restores a backup, or refuses (with what would be lost) when the file changed since.
fn rollback(backup: &Path, force: bool) -> anyhow::Result<ExitCode> {
    let done = export::backup::rollback(backup, force)?;
    let target = done.target.display();
    if done.unchanged {
        println!(
            "{target} already matches {}; nothing to do",
            backup.display()
        );
        return Ok(ExitCode::SUCCESS);
    }
    if let Some(saved) = &done.saved {
        println!("saved the current {target} as {}", saved.display());
    }
    if done.target.exists() {
        println!("restored {target} from {}", backup.display());
    } else {
        println!(
            "removed {target}: it did not exist before the gateway created it ({})",
            backup.display()
        );
    }
    if let Some(saved) = &done.saved {
        println!(
            "  rollback (undoes this one): mcp-gateway setup export --rollback {}",
            shell_quote(saved)
        );
    }
    Ok(ExitCode::SUCCESS)
}

/// Names of the client's entries for servers gateway.yaml serves.
fn replaced_names(
    client: Client,
    scope: Scope,
    place: &Place,
    served: &std::collections::BTreeSet<String>,
    gateway_name: &str,
    workspace: Workspace<'_>,
) -> anyhow::Result<Vec<String>> {
    let Some(found) = export::read_servers(client, scope, place)? else {
        return Ok(Vec::new());
    };
    Ok(found
        .servers
        .iter()
        .filter(|(k, _)| k != gateway_name)
        .filter_map(|(k, v)| {
            let imported = import::from_entry(client, k, v, &found.root, workspace).ok()?;
            served.contains(&imported.identity()).then(|| k.clone())
        })
        .collect())
}
