//! The command line: clap types and dispatch. One file per command group.

mod cap;
mod cap_import;
mod engine;
mod serve;
mod terminal;

use std::io::IsTerminal;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use clap::{Parser, Subcommand};
use tracing_subscriber::EnvFilter;

use crate::config::Config;

/// One MCP server in front of all your MCP servers and REST APIs.
#[derive(Debug, Parser)]
#[command(name = "mcp-gateway", version, about, propagate_version = true)]
pub struct Cli {
    /// Config file (default: $MCP_GATEWAY_CONFIG, ./gateway.yaml, the user config dir,
    /// /etc/mcp-gateway/gateway.yaml; none → built-in defaults).
    #[arg(long, short = 'c', global = true, value_name = "PATH")]
    pub config: Option<PathBuf>,

    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Serve MCP over stdin/stdout (what an AI client launches).
    Serve,
    /// Search the tools of every backend, as `gateway_search_tools` does.
    Search {
        /// What you want to do, in plain words.
        #[arg(required = true, num_args = 1..)]
        query: Vec<String>,
        /// Number of results.
        #[arg(long, short = 'n', default_value_t = 10)]
        limit: usize,
        /// Only this server's tools.
        #[arg(long)]
        server: Option<String>,
        /// Print the raw JSON result.
        #[arg(long)]
        json: bool,
    },
    /// Call one backend tool, as `gateway_invoke` does.
    Call {
        server: String,
        tool: String,
        /// Arguments as a JSON object.
        #[arg(default_value = "{}")]
        arguments: String,
        /// Print the raw JSON result.
        #[arg(long)]
        json: bool,
    },
    /// REST API capabilities: validate, list, pin, verify, import OpenAPI.
    Cap {
        #[command(subcommand)]
        command: cap::CapCommand,
    },
}

/// Logs go to stderr only: in `serve`, stdout carries the protocol.
pub fn init_logging(cli: &Cli) {
    // A person at a terminal wants results, not the backends' chatter.
    let default = match cli.command {
        Command::Serve => "info,rmcp=warn",
        _ => "warn,rmcp=error",
    };
    let filter =
        EnvFilter::try_from_env("MCP_GATEWAY_LOG").unwrap_or_else(|_| EnvFilter::new(default));
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal())
        .with_env_filter(filter)
        .init();
}

pub async fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    // reqwest is built without a default TLS provider to avoid the slow aws-lc build;
    // install ring's. An error only means one is installed already.
    let _ = rustls::crypto::ring::default_provider().install_default();
    let config = Config::load(cli.config.as_deref()).context("loading the configuration")?;
    for warning in &config.warnings {
        tracing::warn!("{warning}");
    }
    match cli.command {
        Command::Serve => serve::run(config).await,
        Command::Search {
            query,
            limit,
            server,
            json,
        } => terminal::search(config, &query.join(" "), limit, server, json).await,
        Command::Call {
            server,
            tool,
            arguments,
            json,
        } => terminal::call(config, &server, &tool, &arguments, json).await,
        Command::Cap { command } => cap::run(config, command).await,
    }
}
