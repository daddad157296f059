//! The running gateway's control socket, so that commands in a terminal can reach it:
//! `add`, `remove` and `setup import` say whether a running gateway has picked their edit
//! up, and `mcp-gateway restart <name>` restarts one backend in it.
//!
//! Each `serve` listens on `<runtime dir>/<pid>.sock` (an owner-only directory: the user's
//! `$XDG_RUNTIME_DIR/mcp-gateway`, else one under the temp dir named for the uid). A
//! request is one JSON line, its answer one JSON line. A command finds the gateways that
//! serve a given `gateway.yaml` by asking each socket for its status; a socket nobody
//! listens on any more (a gateway that was killed) is removed on the way. Unix only.

mod client;
mod server;

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

pub use client::{RunningGateway, report_pickup, running_gateways};
pub use server::{Control, serve};

/// What a command asks.
#[derive(Debug, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "snake_case")]
enum Request {
    Status,
    Restart { server: String },
}

/// A running gateway's answer to `status`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Status {
    pub pid: u32,
    /// The config file it serves (and watches), if any.
    pub config: Option<PathBuf>,
    /// The outcome of its latest load of that file.
    pub last_load: Option<Load>,
}

/// One load of the config file: which bytes, and what came of them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Load {
    /// sha256 of the file's bytes, as read for this load.
    pub sha256: String,
    /// `None` when it loaded; else the error, as `gateway_list_servers` shows it.
    pub error: Option<String>,
    /// What it changed, e.g. "1 added, 0 removed, 0 restarted, 2 unchanged".
    pub summary: String,
}

/// The answer to `restart`.
#[derive(Debug, Serialize, Deserialize)]
struct Restarted {
    error: Option<String>,
}

/// The owner-only directory the sockets live in.
fn socket_dir() -> PathBuf {
    if let Some(dirs) = directories::ProjectDirs::from("", "", "mcp-gateway")
        && let Some(runtime) = dirs.runtime_dir()
    {
        return runtime.to_path_buf();
    }
    let uid = nix::unistd::getuid();
    std::env::temp_dir().join(format!("mcp-gateway-{uid}"))
}

/// sha256 of `bytes`, hex.
pub fn digest(bytes: &[u8]) -> String {
    use sha2::Digest;
    sha2::Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}
