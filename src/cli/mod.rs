//! The command line: clap types and dispatch. One file per command group.

/// Like `println!`, but a closed stdout (`| head`) ends the output quietly instead of
/// panicking. Terminal commands print their results for a person, so stdout is theirs.
/// Defined before the `mod` lines so every command file can use it.
macro_rules! out {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        let _ = writeln!(std::io::stdout(), $($arg)*);
    }};
}

mod auth;
mod cap;
mod cap_import;
mod client_entry;
mod doctor;
mod engine;
mod gwfile;
mod log_sink;
mod logging;
mod manage;
mod probe;
mod serve;
mod setup;
mod setup_import;
mod terminal;
mod tools;

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
    /// Serve MCP over stdin/stdout (what an AI client launches), and optionally over HTTP.
    Serve(serve::ServeArgs),
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
        #[command(flatten)]
        wait: WaitArg,
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
        #[command(flatten)]
        wait: WaitArg,
    },
    /// Connect AI clients to the gateway (`setup export`) or pull their servers in (`setup import`).
    #[command(subcommand)]
    Setup(setup::SetupCommand),
    /// Add a backend to gateway.yaml (`claude mcp add` syntax).
    Add(manage::AddArgs),
    /// Remove a backend from gateway.yaml.
    Remove { name: String },
    /// Restart one backend in the running gateway(s) serving this gateway.yaml.
    Restart { name: String },
    /// List the backends, with each one's state, tool count and start time.
    List {
        #[arg(long)]
        json: bool,
        /// Don't start the backends; show the config only.
        #[arg(long)]
        no_probe: bool,
        #[command(flatten)]
        wait: WaitArg,
    },
    /// Show one backend's configuration as written.
    Get {
        name: String,
        #[arg(long)]
        json: bool,
    },
    /// Check the config, the backends, the environment and the clients; each problem with a fix.
    Doctor {
        #[arg(long)]
        json: bool,
        #[command(flatten)]
        wait: WaitArg,
    },
    /// Write a commented starter gateway.yaml.
    Init {
        /// Overwrite an existing file (a backup is kept).
        #[arg(long)]
        force: bool,
    },
    /// Print a shell completion script.
    Completions { shell: clap_complete::Shell },
    /// REST API capabilities: validate, list, pin, verify, import OpenAPI.
    Cap {
        #[command(subcommand)]
        command: cap::CapCommand,
    },
    /// OAuth sign-in for remote backends: login, logout, status.
    Auth {
        #[command(subcommand)]
        command: auth::AuthCommand,
    },
    /// Backend tools held back by trust (changed since pinned, new, or blocked by the scan):
    /// diff, approve.
    Tools {
        #[command(subcommand)]
        command: tools::ToolsCommand,
    },
}

pub use log_sink::LogGuard;

/// How long a terminal command waits for the backends to start before it reports the
/// slow ones as such and goes on without them.
#[derive(Debug, Clone, Copy, clap::Args)]
pub struct WaitArg {
    /// How long to wait for backends to start, e.g. `10s`, `2m`; slower ones are reported
    /// as still starting.
    #[arg(long = "wait", id = "wait", value_name = "DURATION", default_value = "10s",
          value_parser = crate::config::parse_duration)]
    pub limit: std::time::Duration,
}

/// Logs go to stderr only: in `serve`, stdout carries the protocol. Keep the guard until
/// exit: dropping it writes out the lines still queued.
pub fn init_logging(cli: &Cli) -> LogGuard {
    // A person at a terminal wants results, not the backends' chatter.
    let default = match cli.command {
        Command::Serve(_) => "info,rmcp=warn",
        _ => "warn,rmcp=error",
    };
    let filter =
        EnvFilter::try_from_env("MCP_GATEWAY_LOG").unwrap_or_else(|_| EnvFilter::new(default));
    let (sink, guard) = log_sink::StderrSink::start();
    tracing_subscriber::fmt()
        .with_writer(logging::Scrubbed(sink))
        .with_ansi(std::io::stderr().is_terminal())
        .with_env_filter(filter)
        .init();
    guard
}

pub async fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    // reqwest is built without a default TLS provider to avoid the slow aws-lc build;
    // install ring's. An error only means one is installed already.
    let _ = rustls::crypto::ring::default_provider().install_default();
    // Commands that edit or diagnose the config take only its path: they must run when it
    // does not load. The others get the loaded, validated config.
    let explicit = cli.config.as_deref();
    match cli.command {
        Command::Setup(command) => setup::run(command, explicit),
        Command::Add(args) => manage::add(args, explicit),
        Command::Remove { name } => manage::remove(&name, explicit),
        Command::Restart { name } => manage::restart(&name, explicit),
        Command::Doctor { json, wait } => doctor::run(explicit, json, wait.limit).await,
        Command::Init { force } => manage::init(explicit, force),
        Command::Completions { shell } => manage::completions(shell),
        Command::Serve(args) => serve::run(explicit, args).await,
        Command::Search {
            query,
            limit,
            server,
            json,
            wait,
        } => {
            let query = query.join(" ");
            terminal::search(load(explicit)?, &query, limit, server, json, wait.limit).await
        }
        Command::Call {
            server,
            tool,
            arguments,
            json,
            wait,
        } => {
            terminal::call(
                load(explicit)?,
                &server,
                &tool,
                &arguments,
                json,
                wait.limit,
            )
            .await
        }
        Command::List {
            json,
            no_probe,
            wait,
        } => {
            let probe = (!no_probe).then_some(wait.limit);
            manage::list(&load(explicit)?, json, probe).await
        }
        Command::Get { name, json } => manage::get(&name, &load(explicit)?, json),
        Command::Cap { command } => cap::run(load(explicit)?, command).await,
        Command::Tools { command } => tools::run(load(explicit)?, command).await,
        Command::Auth { command } => auth::run(load(explicit)?, command).await,
    }
}

fn load(explicit: Option<&std::path::Path>) -> anyhow::Result<Config> {
    let config = Config::load(explicit).context("loading the configuration")?;
    for warning in &config.warnings {
        tracing::warn!("{warning}");
    }
    Ok(config)
}
