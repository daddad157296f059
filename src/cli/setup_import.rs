//! `mcp-gateway setup import`: copy the servers AI clients list into `gateway.yaml`, show
//! exactly what it would do first (`--dry-run`), keep secrets owner-only, and with
//! `--replace` point those clients at the gateway.
#![allow(clippy::print_stdout)] // these commands report to a person at a terminal

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::bail;
use clap::Args;
use serde_json::Value;

use super::client_entry::{check_entry_name, export_one, gateway_entry, workspace_root};
use super::gwfile;
use crate::export::import::{self, Imported, Workspace};
use crate::export::shell_quote;
use crate::export::{self, Change, Client, Place, Scope, gateway_yaml, secret};

#[derive(Debug, Args)]
pub struct ImportArgs {
    /// Only these clients (default: every client found).
    #[arg(long, value_enum, num_args = 1..)]
    pub from: Vec<Client>,
    /// Write gateway.yaml (without it, only the preview is shown).
    #[arg(long, short = 'y')]
    pub yes: bool,
    /// Show the preview and each file's diff, and write nothing.
    #[arg(long, conflicts_with = "yes")]
    pub dry_run: bool,
    /// Then point those clients at the gateway and remove the imported servers from them.
    #[arg(long)]
    pub replace: bool,
    /// The name of the gateway's entry in each client (with --replace).
    #[arg(long, default_value = "gateway")]
    pub name: String,
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
    /// Files not readable by everyone that new backends came from.
    private_sources: Vec<PathBuf>,
}

impl Found {
    /// Takes one client entry; `true` when gateway.yaml will serve it (new or a duplicate).
    fn take(
        &mut self,
        client: Client,
        key: &str,
        value: &Value,
        root: &Value,
        workspace: Workspace<'_>,
    ) -> bool {
        if import::is_gateway_entry(value) {
            return false;
        }
        let mut imported = match import::from_entry(client, key, value, root, workspace) {
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

/// Notes where new backends came from a file that not everyone may read.
fn note_source(found: &mut Found, before: usize, path: &Path) {
    if found.new.len() > before && !export::file::world_readable(path) {
        found.private_sources.push(path.to_path_buf());
    }
}

fn collect(
    from: &[Client],
    place: &Place,
    existing: &BTreeMap<String, String>,
    workspace: Workspace<'_>,
) -> Found {
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
    // Run from the home folder, a client's project file is its user file: read each once, or
    // every server shows up twice (the second time as a duplicate of the first).
    // Keyed by the servers' key path too: Claude Code keeps a project's servers in the same
    // file as the user's, under another key.
    let mut read: Vec<(PathBuf, Vec<String>)> = Vec::new();
    let mut first_time = |path: &Path, container: Vec<String>| {
        let real = std::fs::canonicalize(path).unwrap_or(path.to_path_buf());
        let key = (real, container);
        let new = !read.contains(&key);
        read.push(key);
        new
    };
    for client in clients {
        for scope in [Scope::User, Scope::Project] {
            let container = client.container().iter().map(|k| k.to_string()).collect();
            if client
                .path(scope, place)
                .is_some_and(|p| !first_time(&p, container))
            {
                continue;
            }
            let servers = match export::read_servers(client, scope, place) {
                Ok(Some(s)) => s,
                Ok(None) => continue,
                Err(e) => {
                    found.skipped.push((client, String::new(), format!("{e}")));
                    continue;
                }
            };
            let before = found.new.len();
            let keys: Vec<String> = servers
                .servers
                .iter()
                .filter(|(key, value)| found.take(client, key, value, &servers.root, workspace))
                .map(|(key, _)| key.clone())
                .collect();
            note_source(&mut found, before, &servers.path);
            if !keys.is_empty() {
                found.served_by.push((client, scope, keys));
            }
        }
        // Read-only sources: imported, never edited by --replace.
        for (path, container) in client.import_only_sources(place) {
            if !first_time(&path, container.clone()) {
                continue;
            }
            match export::read_servers_at(&path, &container) {
                Ok(Some(servers)) => {
                    let before = found.new.len();
                    for (key, value) in &servers.servers {
                        found.take(client, key, value, &servers.root, workspace);
                    }
                    note_source(&mut found, before, &servers.path);
                }
                Ok(None) => {}
                Err(e) => found.skipped.push((client, String::new(), format!("{e}"))),
            }
        }
    }
    found
}

pub(super) fn run(args: &ImportArgs, config: Option<&Path>) -> anyhow::Result<ExitCode> {
    check_entry_name(&args.name)?;
    let place = Place::current();
    let path = gwfile::target_path(config)?;
    let before = export::file::read(&path)?;
    let text = before
        .clone()
        .unwrap_or_else(|| gateway_yaml::STARTER.to_owned());
    let existing = gwfile::identities_of(&text);
    let rel = workspace_root(&path, &place);
    let workspace = rel.as_deref().map_or(Workspace::Outside, Workspace::Inside);
    let found = collect(&args.from, &place, &existing, workspace);
    for imported in &found.new {
        let b = &imported.backend;
        let what = match &b.transport {
            gateway_yaml::NewTransport::Stdio { command, args, .. } => {
                format!("{command} {}", args.join(" "))
            }
            gateway_yaml::NewTransport::Http { url, .. } => crate::config::redact_url(url),
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
        if key.is_empty() {
            // A file that could not be read: the error names it.
            println!("= {client}: skipped: {why}");
        } else {
            println!("= {client} `{key}`: skipped: {why}");
        }
    }
    if found.new.is_empty() {
        println!("nothing new to import into {}", path.display());
    }
    let after = if found.new.is_empty() {
        None
    } else {
        let backends: Vec<_> = found.new.iter().map(|i| i.backend.clone()).collect();
        Some(gateway_yaml::add_backends(&text, &backends)?)
    };
    let new_names: BTreeSet<&str> = found.new.iter().map(|i| i.backend.name.as_str()).collect();
    let secrets: Vec<_> = after
        .as_deref()
        .map(secret::in_gateway_yaml)
        .unwrap_or_default()
        .into_iter()
        .filter(|s| new_names.contains(s.backend.as_str()))
        .collect();
    let private = !secrets.is_empty() || !found.private_sources.is_empty();
    if !args.yes {
        if args.replace {
            preview_replace(&found, &place, &args.name);
        }
        if args.dry_run {
            if let Some(after) = &after {
                let change = Change {
                    path: path.clone(),
                    real_path: path.clone(),
                    before: before.clone(),
                    after: after.clone(),
                    removed: Vec::new(),
                    access: export::file::Access::Keep,
                };
                print!("{}", change.diff());
            }
            if args.replace {
                replace_clients(&found, &place, &args.name, &path, true)?;
            }
        }
        report_secrets(&secrets, &found.private_sources, &path, false);
        if !found.new.is_empty() || (args.replace && !found.served_by.is_empty()) {
            println!(
                "\n{}run again with --yes to write {}",
                if args.dry_run {
                    "nothing was written; "
                } else {
                    ""
                },
                path.display()
            );
        }
        return Ok(ExitCode::SUCCESS);
    }
    if let Some(after) = after {
        let backup = gwfile::write_from(&path, before, after, private)?;
        println!("wrote {} backends to {}", found.new.len(), path.display());
        if let Some(backup) = backup {
            println!(
                "  rollback: mcp-gateway setup export --rollback {}",
                shell_quote(&backup)
            );
        }
        report_secrets(&secrets, &found.private_sources, &path, true);
        gwfile::report_running(&path);
    }
    if args.replace && !replace_clients(&found, &place, &args.name, &path, false)? {
        bail!("some clients were not updated; gateway.yaml has the servers");
    }
    Ok(ExitCode::SUCCESS)
}

/// What `--replace` will do to each client file, before it does it.
fn preview_replace(found: &Found, place: &Place, name: &str) {
    for (client, scope, keys) in &found.served_by {
        let path = client.path(*scope, place).unwrap_or_default();
        let keys: Vec<String> = keys.iter().map(|k| format!("`{k}`")).collect();
        println!(
            "- {client}: would remove {} from {} and launch the gateway as `{name}` instead",
            keys.join(", "),
            path.display()
        );
    }
}

/// Points each client that gateway.yaml now serves at the gateway; `false` when one failed.
fn replace_clients(
    found: &Found,
    place: &Place,
    name: &str,
    config: &Path,
    dry_run: bool,
) -> anyhow::Result<bool> {
    let mut ok = true;
    for (client, scope, keys) in &found.served_by {
        let (entry, notes) = gateway_entry(*client, config, *scope, place)?;
        for note in &notes {
            println!("{client}: {note}");
        }
        if let Err(e) = export_one(*client, *scope, place, name, &entry, keys, dry_run) {
            println!("{client}: error: {e:#}");
            ok = false;
        }
    }
    Ok(ok)
}

/// Names the new backends that carry literal secrets, says why the file is owner-only, and
/// how to move each secret out to the environment.
fn report_secrets(
    secrets: &[secret::LiteralSecret],
    private_sources: &[PathBuf],
    path: &Path,
    written: bool,
) {
    if secrets.is_empty() && private_sources.is_empty() {
        return;
    }
    let (is, would) = if written {
        ("is", "was written")
    } else {
        ("would be", "would be written")
    };
    if !secrets.is_empty() {
        println!(
            "\n{} {would} readable by you only (0600): these entries carry literal secrets:",
            path.display()
        );
        for s in secrets {
            println!("  {}: {}", s.backend, s.place);
        }
        println!(
            "  To keep a secret out of the file, set it in the environment the client starts \
             the gateway with, and write a reference instead:"
        );
        for s in secrets {
            println!("    {}: {}", s.backend, s.instead);
        }
    } else {
        let list: Vec<String> = private_sources
            .iter()
            .map(|p| p.display().to_string())
            .collect();
        println!(
            "\n{} {is} readable by you only (0600): what it copies from {} {} not \
             readable by everyone either",
            path.display(),
            list.join(", "),
            if list.len() == 1 { "is" } else { "are" }
        );
    }
}

/// A stdio server moved from a client that hands its children its whole environment gets
/// only the gateway's allow-list: say so, naming the variables it probably needs.
fn env_note(imported: &Imported) -> Option<String> {
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
