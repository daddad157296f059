//! `add`, `remove`, `list`, `get`, `init` and `completions`: managing `gateway.yaml` from a
//! terminal with `claude mcp add` syntax, keeping the file's comments and layout.
#![allow(clippy::print_stdout)] // these commands report to a person at a terminal

use std::collections::BTreeMap;
use std::path::Path;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::{Context, bail};
use clap::{Args, CommandFactory};
use serde_json::{Value, json};

use super::{Cli, gwfile, setup::shell_quote};
use crate::config::{Config, Transport};
use crate::export::gateway_yaml::{self, NewBackend, NewTransport};

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum TransportArg {
    Stdio,
    Http,
}

#[derive(Debug, Args)]
pub struct AddArgs {
    /// Environment for a stdio server, `KEY=VALUE` (write `'${VAR}'` to keep a reference).
    #[arg(long = "env", short = 'e', value_name = "KEY=VALUE")]
    pub env: Vec<String>,
    #[arg(long, short = 't', value_enum, default_value_t = TransportArg::Stdio)]
    pub transport: TransportArg,
    /// An HTTP header, `'Name: value'`.
    #[arg(long = "header", short = 'H', value_name = "NAME: VALUE")]
    pub headers: Vec<String>,
    /// A line saying what the server is for.
    #[arg(long)]
    pub description: Option<String>,
    /// The backend's name in gateway.yaml.
    pub name: String,
    /// `-- <command> [args…]` for stdio, `<url>` for http.
    #[arg(required = true, num_args = 1.., trailing_var_arg = true, allow_hyphen_values = true)]
    pub command: Vec<String>,
}

pub fn add(args: AddArgs, config: Option<&Path>) -> anyhow::Result<ExitCode> {
    let path = gwfile::target_path(config)?;
    let before = crate::export::file::read(&path)?;
    let text = before
        .clone()
        .unwrap_or_else(|| gateway_yaml::STARTER.to_owned());
    if gwfile::identities_of(&text).contains_key(&args.name) {
        bail!(
            "`{}` is already in {}; `mcp-gateway remove {}` first to replace it",
            args.name,
            path.display(),
            args.name
        );
    }
    let pairs =
        |items: &[String], sep: char, what: &str| -> anyhow::Result<BTreeMap<String, String>> {
            items
                .iter()
                .map(|item| {
                    let (k, v) = item.split_once(sep).with_context(|| {
                        format!("{what} `{item}` needs the form NAME{sep}VALUE")
                    })?;
                    Ok((k.trim().to_owned(), v.trim_start().to_owned()))
                })
                .collect()
        };
    let transport = match args.transport {
        TransportArg::Stdio => {
            if !args.headers.is_empty() {
                bail!("--header is for --transport http");
            }
            let mut words = args.command.clone();
            let command = words.remove(0);
            NewTransport::Stdio {
                command,
                args: words,
                env: pairs(&args.env, '=', "--env")?,
                cwd: None,
            }
        }
        TransportArg::Http => {
            if args.command.len() != 1 {
                bail!(
                    "--transport http takes one URL: mcp-gateway add --transport http <name> <url>"
                );
            }
            if !args.env.is_empty() {
                bail!("--env is for stdio servers; use --header for http");
            }
            NewTransport::Http {
                url: args.command[0].clone(),
                headers: pairs(&args.headers, ':', "--header")?,
            }
        }
    };
    let backend = NewBackend {
        name: args.name.clone(),
        transport,
        description: args.description,
        enabled: true,
    };
    let after = gateway_yaml::add_backends(&text, &[backend])?;
    let backup = gwfile::write(&path, before, after)?;
    println!("added `{}` to {}", args.name, path.display());
    if let Some(backup) = backup {
        println!(
            "  rollback: mcp-gateway setup export --rollback {}",
            shell_quote(&backup)
        );
    }
    gwfile::report_running(&path);
    Ok(ExitCode::SUCCESS)
}

pub fn remove(name: &str, config: Option<&Path>) -> anyhow::Result<ExitCode> {
    let path = gwfile::target_path(config)?;
    let Some(text) = crate::export::file::read(&path)? else {
        bail!("{} does not exist", path.display());
    };
    let after = gateway_yaml::remove_backend(&text, name)
        .with_context(|| format!("editing {}", path.display()))?;
    let backup = gwfile::write(&path, Some(text), after)?;
    println!("removed `{name}` from {}", path.display());
    if let Some(backup) = backup {
        println!(
            "  rollback: mcp-gateway setup export --rollback {}",
            shell_quote(&backup)
        );
    }
    gwfile::report_running(&path);
    Ok(ExitCode::SUCCESS)
}

/// `restart <name>`: restart one backend in every gateway running on this config.
pub fn restart(name: &str, config: Option<&Path>) -> anyhow::Result<ExitCode> {
    let path = gwfile::target_path(config)?;
    let gateways = crate::control::running_gateways(&path);
    if gateways.is_empty() {
        bail!(
            "no running gateway serves {}; `mcp-gateway list` starts the backends once to check them",
            path.display()
        );
    }
    let mut failed = false;
    for gateway in gateways {
        match gateway.restart(name) {
            Ok(()) => println!(
                "restarted `{name}` in the gateway with pid {}",
                gateway.pid()
            ),
            Err(e) => {
                failed = true;
                eprintln!("gateway {}: {e}", gateway.pid());
            }
        }
    }
    Ok(if failed {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    })
}

/// `probe`: start the backends and wait this long for them.
pub async fn list(
    config: &Config,
    as_json: bool,
    probe: Option<Duration>,
) -> anyhow::Result<ExitCode> {
    let statuses = match probe {
        Some(limit) => super::probe::run(config, limit).await?,
        None => Vec::new(),
    };
    let mut rows = Vec::new();
    for b in config.backends.values() {
        let status = statuses.iter().find(|s| s.name == b.name);
        let target = match &b.transport {
            Transport::Stdio { command, args, .. } => format!("{command} {}", args.join(" ")),
            Transport::Http { url, .. } => url.clone(),
        };
        rows.push(json!({
            "name": b.name,
            "transport": b.transport.kind(),
            // Expanded from ${VAR}s: a credential in it stays off the screen.
            "target": b.transport.redact(target.trim()),
            "enabled": b.enabled,
            "state": status.map(|s| s.state.as_str()).unwrap_or(if b.enabled { "-" } else { "disabled" }),
            "tools": status.map(|s| s.tools),
            "start_ms": status.and_then(|s| s.start.map(|d| d.as_millis() as u64)),
            "error": status.and_then(|s| s.error.clone()),
            "trust": b.trust.as_str(),
            "limits": limits_json(&b.failsafe),
            "quarantined": status.map(quarantined_json).unwrap_or_default(),
            "findings": status.map(|s| s.findings.clone()).unwrap_or_default(),
        }));
    }
    // The capability backend is not in `backends:` but is a backend all the same: its
    // tools compete in search and call out to the network.
    let caps = &config.capabilities;
    if caps.serves_anything() && !config.backends.contains_key(&caps.name) {
        let status = statuses.iter().find(|s| s.name == caps.name);
        let mut target = Vec::new();
        if caps.builtin {
            target.push("built-in REST catalog".to_owned());
        }
        target.extend(caps.directories.iter().map(|d| d.display().to_string()));
        rows.push(json!({
            "name": caps.name,
            "transport": "capability",
            "target": target.join(", "),
            "enabled": true,
            "state": status.map_or("-", |s| s.state.as_str()),
            "tools": status.map(|s| s.tools),
            "start_ms": status.and_then(|s| s.start.map(|d| d.as_millis() as u64)),
            "error": status.and_then(|s| s.error.clone()),
            "quarantined": status.map(quarantined_json).unwrap_or_default(),
            "findings": status.map(|s| s.findings.clone()).unwrap_or_default(),
        }));
    }
    if as_json {
        println!("{}", serde_json::to_string_pretty(&rows)?);
        return Ok(ExitCode::SUCCESS);
    }
    if config.backends.is_empty() {
        let at = config
            .source
            .as_ref()
            .map_or("(no config file)".to_owned(), |p| p.display().to_string());
        println!("no backends in {at}; add one with `mcp-gateway add <name> -- <command> [args…]`");
    }
    for row in &rows {
        let state = row["state"].as_str().unwrap_or("-");
        let detail = match row["tools"].as_u64() {
            Some(t) if state == "ready" => match row["start_ms"].as_u64() {
                Some(ms) => format!("{t} tools, started in {ms} ms"),
                None => format!("{t} tools"),
            },
            _ => row["error"].as_str().unwrap_or("").to_owned(),
        };
        println!(
            "{:<20} {:<10} {:<9} {}  {}",
            row["name"].as_str().unwrap_or(""),
            row["transport"].as_str().unwrap_or(""),
            state,
            row["target"].as_str().unwrap_or(""),
            detail
        );
        let name = row["name"].as_str().unwrap_or("");
        if let Some(limits) = row["limits"].as_str() {
            println!("  limits: {limits}");
        }
        for held in row["quarantined"].as_array().into_iter().flatten() {
            println!(
                "  quarantined: {}: {}",
                held["tool"].as_str().unwrap_or(""),
                held["why"].as_str().unwrap_or("")
            );
        }
        if let Some(status) = statuses.iter().find(|s| s.name == name)
            && !status.quarantined.is_empty()
        {
            println!("  review with `{}`", status.diff_command);
        }
        for f in row["findings"].as_array().into_iter().flatten() {
            if f["action"] == "warn" {
                println!(
                    "  warning: {} ({}): {}",
                    f["tool"].as_str().unwrap_or(""),
                    f["kind"].as_str().unwrap_or(""),
                    f["reason"].as_str().unwrap_or("")
                );
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn quarantined_json(status: &super::probe::Status) -> Value {
    Value::Array(
        status
            .quarantined
            .iter()
            .map(|(tool, why, approve)| json!({"tool": tool, "why": why, "approve": approve}))
            .collect(),
    )
}

pub fn get(name: &str, config: &Config, as_json: bool) -> anyhow::Result<ExitCode> {
    let Some(path) = &config.source else {
        bail!("no config file; no backend `{name}`");
    };
    let text =
        std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    let root: serde_yaml_ng::Value = serde_yaml_ng::from_str(&text)?;
    // The file's own text for the backend: references stay references.
    let Some(raw) = root.get("backends").and_then(|b| b.get(name)) else {
        bail!("no backend `{name}` in {}", path.display());
    };
    let enabled = config.backends.get(name).is_some_and(|b| b.enabled);
    if as_json {
        let mut v = serde_json::to_value(raw)?;
        if let Some(o) = v.as_object_mut() {
            o.insert("name".into(), json!(name));
        }
        println!("{}", serde_json::to_string_pretty(&v)?);
    } else {
        println!("{name}:{}", if enabled { "" } else { "  (disabled)" });
        for line in serde_yaml_ng::to_string(raw)?.lines() {
            println!("  {line}");
        }
    }
    Ok(ExitCode::SUCCESS)
}

pub fn init(config: Option<&Path>, force: bool) -> anyhow::Result<ExitCode> {
    let named = config.map(Path::to_path_buf).or_else(|| {
        std::env::var_os(crate::config::CONFIG_ENV)
            .filter(|v| !v.is_empty())
            .map(std::path::PathBuf::from)
    });
    let path = match named {
        Some(p) => std::path::absolute(p)?,
        None => {
            crate::config::user_config_path().context("no home directory: pass --config PATH")?
        }
    };
    let before = crate::export::file::read(&path)?;
    if before.is_some() && !force {
        bail!(
            "{} exists; pass --force to overwrite it (a backup is kept)",
            path.display()
        );
    }
    let backup = gwfile::write(&path, before, gateway_yaml::STARTER.to_owned())?;
    println!("wrote {}", path.display());
    if let Some(backup) = backup.filter(|b| !b.to_string_lossy().ends_with(".absent")) {
        println!("  the old file is at {}", backup.display());
    }
    println!("next: `mcp-gateway add <name> -- <command> [args…]` or `mcp-gateway setup import`");
    Ok(ExitCode::SUCCESS)
}

pub fn completions(shell: clap_complete::Shell) -> anyhow::Result<ExitCode> {
    let mut cmd = Cli::command();
    clap_complete::generate(shell, &mut cmd, "mcp-gateway", &mut std::io::stdout());
    Ok(ExitCode::SUCCESS)
}

/// A backend's limits and breaker in words, when they are not the defaults (`list`; the
/// breaker's live state is in the running gateway's `gateway_list_servers`).
fn limits_json(limits: &crate::config::FailsafeConfig) -> serde_json::Value {
    let mut parts = Vec::new();
    if let Some(n) = limits.max_concurrency {
        parts.push(format!("max_concurrency {n}"));
    }
    if let Some(rate) = limits.rate_limit {
        parts.push(format!("rate_limit {rate}"));
    }
    if limits.queue_timeout != crate::config::DEFAULT_QUEUE_TIMEOUT {
        parts.push(format!("queue_timeout {:?}", limits.queue_timeout));
    }
    match limits.breaker {
        None => parts.push("circuit_breaker off".to_owned()),
        Some(b) if b != crate::config::BreakerConfig::default() => parts.push(format!(
            "circuit_breaker after {} failures, cool-down {:?}",
            b.failures, b.cool_down
        )),
        Some(_) => {}
    }
    if parts.is_empty() {
        serde_json::Value::Null
    } else {
        serde_json::Value::String(parts.join(", "))
    }
}
