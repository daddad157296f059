//! `mcp-gateway tools diff|approve`: review and accept backend tools held back by trust (a
//! definition that changed since it was pinned, a new tool of a `trust: review` backend, a
//! tool the poisoning scan blocks).
//!
//! Both work from the pin file, where the gateway records what it last saw of each held tool,
//! so they need no running gateway, and an approval is exactly what `diff` showed: a backend
//! started again to approve could hand out yet another definition. `diff` starts the backend
//! itself (like `list`) when nothing of it is recorded yet, or with `--probe`.
#![allow(clippy::print_stdout)] // these commands report to a person at a terminal

use std::process::ExitCode;
use std::time::Duration;

use anyhow::{Context, bail};
use clap::Subcommand;
use serde_json::{Value, json};

use crate::config::Config;
use crate::trust::{self, canonical, pins};

#[derive(Debug, Subcommand)]
pub enum ToolsCommand {
    /// Show a server's held-back tools: the pinned definition against the one last seen.
    Diff {
        server: String,
        /// Start the backend first, so what it serves now is compared.
        #[arg(long)]
        probe: bool,
        #[arg(long)]
        json: bool,
        #[command(flatten)]
        wait: super::WaitArg,
    },
    /// Accept a server's held-back tools as last seen: all of them, or the ones named. A
    /// running gateway serves them from its next request.
    Approve { server: String, tools: Vec<String> },
}

pub async fn run(config: Config, command: ToolsCommand) -> anyhow::Result<ExitCode> {
    match command {
        ToolsCommand::Diff {
            server,
            probe,
            json,
            wait,
        } => diff(&config, &server, probe, json, wait.limit).await,
        ToolsCommand::Approve { server, tools } => approve(&config, &server, &tools),
    }
}

fn pin_path(config: &Config, server: &str) -> anyhow::Result<std::path::PathBuf> {
    if !config.backends.contains_key(server) {
        let known: Vec<&str> = config.backends.keys().map(String::as_str).collect();
        if server == config.capabilities.name {
            bail!(
                "`{server}` serves capability files, which are scanned but not pinned here; \
                 use `mcp-gateway cap verify`"
            );
        }
        bail!(
            "no backend `{server}` in {}; backends: {}",
            config
                .source
                .as_ref()
                .map_or("the built-in defaults".into(), |p| p.display().to_string()),
            if known.is_empty() {
                "none".into()
            } else {
                known.join(", ")
            }
        );
    }
    let dir = pins::pins_dir().context("no data directory for tool pins (set MCP_GATEWAY_PINS)")?;
    Ok(pins::pin_file(&dir, config.source.as_deref()))
}

async fn diff(
    config: &Config,
    server: &str,
    probe: bool,
    as_json: bool,
    wait: Duration,
) -> anyhow::Result<ExitCode> {
    let path = pin_path(config, server)?;
    let seen = pins::read(&path)?.servers.contains_key(server);
    if probe || !seen {
        // Only this backend: the others need not start for it.
        let mut one = config.clone();
        one.backends.retain(|name, _| name == server);
        one.capabilities.enabled = false;
        super::probe::run(&one, wait).await?;
    }
    let file = pins::read(&path)?;
    let Some(pins) = file.servers.get(server) else {
        bail!("`{server}` listed no tools (is it starting? see `mcp-gateway list`)");
    };
    if as_json {
        let held: Vec<Value> = pins
            .pending
            .iter()
            .map(|(name, p)| {
                json!({
                    "tool": name,
                    "why": p.why,
                    "seen_at": p.seen_at,
                    "pinned": pins.tools.get(name).map(|pin| pin.definition.value()),
                    "seen": p.definition.value(),
                })
            })
            .collect();
        println!(
            "{}",
            serde_json::to_string_pretty(&json!({"server": server, "held": held}))?
        );
        return Ok(ExitCode::SUCCESS);
    }
    if pins.pending.is_empty() {
        println!(
            "no tools of `{server}` are held back ({} pinned)",
            pins.tools.len()
        );
        return Ok(ExitCode::SUCCESS);
    }
    for (name, pending) in &pins.pending {
        println!("{server}/{name}: {}", pending.why.join("; "));
        let seen = canonical::pretty(&pending.definition.value());
        let (before, label) = match pins.tools.get(name) {
            Some(pin) => (
                canonical::pretty(&pin.definition.value()),
                format!("pinned {}", pin.pinned_at),
            ),
            None => (String::new(), "not pinned".to_owned()),
        };
        let text = similar::TextDiff::from_lines(before.as_str(), seen.as_str())
            .unified_diff()
            .context_radius(3)
            .header(&label, &format!("seen {}", pending.seen_at))
            .to_string();
        println!("{text}");
    }
    let names: Vec<&str> = pins.pending.keys().map(String::as_str).collect();
    let trust = trust::Trust::for_config(config);
    println!(
        "accept with `{}`",
        trust.approve_command(server, &names.join(" "))
    );
    Ok(ExitCode::SUCCESS)
}

fn approve(config: &Config, server: &str, tools: &[String]) -> anyhow::Result<ExitCode> {
    let path = pin_path(config, server)?;
    let approved = trust::approve(&path, server, tools)?;
    if approved.is_empty() {
        println!("no tools of `{server}` are held back; nothing to approve");
    } else {
        println!(
            "approved {} tool(s) of `{server}`: {}; a running gateway serves them from its next request",
            approved.len(),
            approved.join(", ")
        );
    }
    Ok(ExitCode::SUCCESS)
}
