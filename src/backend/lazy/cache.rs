//! The last `tools/list` of each lazy backend, on disk, so its tools are searchable while
//! it is not running — across gateway restarts too. One JSON file per backend config in
//! the user's cache dir (`~/.cache/mcp-gateway/tools/` on Linux, `$MCP_GATEWAY_TOOLS_CACHE`
//! to put it elsewhere), named by a hash of everything that decides what the backend
//! serves: its name, command, arguments, environment, working directory or URL and
//! headers, and protocol version. A changed config misses the cache and the backend is
//! started once to list its tools again. Losing the cache only costs that start, so every
//! failure here is logged and ignored.

use std::io::Write;
use std::path::PathBuf;

use rmcp::model::Tool;
use serde_json::json;
use sha2::{Digest, Sha256};

use crate::config::{BackendConfig, Transport};

/// Overrides the cache folder (tests).
pub const CACHE_ENV: &str = "MCP_GATEWAY_TOOLS_CACHE";

/// Where one backend config's tool list is kept.
pub(crate) struct ToolCache {
    path: PathBuf,
}

impl ToolCache {
    /// The cache entry of `config`; `None` when there is no cache dir (no home directory).
    pub(crate) fn of(config: &BackendConfig) -> Option<ToolCache> {
        let dir = match std::env::var_os(CACHE_ENV) {
            Some(dir) if !dir.is_empty() => PathBuf::from(dir),
            _ => directories::ProjectDirs::from("", "", "mcp-gateway")?
                .cache_dir()
                .join("tools"),
        };
        Some(ToolCache {
            path: dir.join(format!("{}.json", config_hash(config))),
        })
    }

    /// The cached list, if there is one and it reads.
    pub(crate) fn load(&self) -> Option<Vec<Tool>> {
        let text = std::fs::read(&self.path).ok()?;
        let mut value: serde_json::Value = match serde_json::from_slice(&text) {
            Ok(value) => value,
            Err(e) => {
                tracing::debug!(path = %self.path.display(), "tool cache unreadable: {e}");
                return None;
            }
        };
        serde_json::from_value(value.get_mut("tools")?.take()).ok()
    }

    /// Replace the cached list (written aside, then renamed, so a reader never sees half).
    pub(crate) fn store(&self, backend: &str, tools: &[Tool]) {
        let body = json!({"backend": backend, "tools": tools});
        let Some(dir) = self.path.parent() else {
            return;
        };
        let tmp = self
            .path
            .with_extension(format!("tmp{}", std::process::id()));
        let written = std::fs::create_dir_all(dir)
            .and_then(|()| std::fs::File::create(&tmp))
            .and_then(|mut f| f.write_all(body.to_string().as_bytes()))
            .and_then(|()| std::fs::rename(&tmp, &self.path));
        if let Err(e) = written {
            tracing::debug!(path = %self.path.display(), "tool cache not written: {e}");
            let _ = std::fs::remove_file(&tmp);
        }
    }
}

/// sha256 over what decides the backend's tools, hex. Secrets in `env` or `headers` go
/// into the hash with everything else (only the digest is ever written).
fn config_hash(config: &BackendConfig) -> String {
    let transport = match &config.transport {
        Transport::Stdio {
            command,
            args,
            env,
            cwd,
            inherit_env,
        } => {
            json!({"command": command, "args": args, "env": env, "cwd": cwd, "inherit_env": inherit_env})
        }
        // How the gateway signs in (`oauth:`) does not change what the server lists.
        Transport::Http { url, headers, .. } => json!({"url": url, "headers": headers}),
    };
    let canonical = json!({
        "name": config.name,
        "transport": transport,
        "protocol_version": config.protocol_version,
    });
    Sha256::digest(canonical.to_string().as_bytes())
        .iter()
        .take(16)
        .map(|b| format!("{b:02x}"))
        .collect()
}
