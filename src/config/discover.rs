//! Which `gateway.yaml` to load.
//!
//! Order: `--config PATH`, then `$MCP_GATEWAY_CONFIG`, then `./gateway.yaml`, then the user
//! config dir (`~/.config/mcp-gateway/gateway.yaml` on Linux), then
//! `/etc/mcp-gateway/gateway.yaml` (Unix only). The first two are the user naming a file, so
//! they are returned even when absent and loading then fails: silently falling back to some
//! other file would run the wrong config. The rest are only tried when they exist.
//!
//! The decision itself ([`discover_in`]) takes the environment, working directory and file
//! test as parameters, so tests never depend on the real home directory.

use std::ffi::OsString;
use std::path::{Path, PathBuf};

/// The environment variable that names the config file when `--config` is not given.
pub const CONFIG_ENV: &str = "MCP_GATEWAY_CONFIG";

/// The file name looked for in each directory.
pub const CONFIG_FILE_NAME: &str = "gateway.yaml";

/// The config file to load, if any. See the module docs for the order.
pub fn discover(explicit: Option<&Path>) -> Option<PathBuf> {
    find(explicit).map(|f| f.path)
}

/// [`discover`], also saying whether the user named the file.
pub(crate) fn find(explicit: Option<&Path>) -> Option<Found> {
    let cwd = std::env::current_dir().unwrap_or_default();
    discover_in(&Inputs {
        explicit,
        env: std::env::var_os(CONFIG_ENV),
        cwd: &cwd,
        user: user_config_path(),
        system: system_config_path(),
        is_file: &|p| p.is_file(),
    })
}

/// `gateway.yaml` in the per-user config directory (`~/.config/mcp-gateway/` on Linux,
/// `~/Library/Application Support/mcp-gateway/` on macOS, `%APPDATA%\mcp-gateway\config\`
/// on Windows), whether or not it exists. `None` when no home directory is known.
pub fn user_config_path() -> Option<PathBuf> {
    directories::ProjectDirs::from("", "", "mcp-gateway")
        .map(|dirs| dirs.config_dir().join(CONFIG_FILE_NAME))
}

/// Names the gateway's data directory instead of the per-user default (tests, portable
/// installs).
pub const DATA_DIR_ENV: &str = "MCP_GATEWAY_DATA_DIR";

/// The gateway's own data: `$MCP_GATEWAY_DATA_DIR`, else the per-user data directory
/// (`~/.local/share/mcp-gateway/` on Linux). Holds the embedding model and the approvals
/// (pins) of capability files. `None` when no home directory is known.
pub fn data_dir() -> Option<PathBuf> {
    match std::env::var_os(DATA_DIR_ENV) {
        Some(dir) if !dir.is_empty() => Some(PathBuf::from(dir)),
        _ => directories::ProjectDirs::from("", "", "mcp-gateway")
            .map(|dirs| dirs.data_dir().to_path_buf()),
    }
}

/// The system-wide config file; Unix only, where `/etc` is the convention.
pub fn system_config_path() -> Option<PathBuf> {
    cfg!(unix).then(|| PathBuf::from("/etc/mcp-gateway").join(CONFIG_FILE_NAME))
}

/// What discovery looks at.
pub(crate) struct Inputs<'a> {
    pub explicit: Option<&'a Path>,
    /// The value of `$MCP_GATEWAY_CONFIG`.
    pub env: Option<OsString>,
    pub cwd: &'a Path,
    pub user: Option<PathBuf>,
    pub system: Option<PathBuf>,
    pub is_file: &'a dyn Fn(&Path) -> bool,
}

/// A chosen config file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Found {
    /// Absolute, so relative paths inside resolve the same wherever the process later runs.
    pub path: PathBuf,
    /// Named by the user (`--config` or the env var): its absence is an error.
    pub named: bool,
}

pub(crate) fn discover_in(inputs: &Inputs<'_>) -> Option<Found> {
    let named = inputs.explicit.map(Path::to_path_buf).or_else(|| {
        inputs
            .env
            .clone()
            .filter(|v| !v.is_empty())
            .map(PathBuf::from)
    });
    if let Some(path) = named {
        return Some(Found {
            path: inputs.cwd.join(path),
            named: true,
        });
    }
    let candidates = [
        Some(inputs.cwd.join(CONFIG_FILE_NAME)),
        inputs.user.clone(),
        inputs.system.clone(),
    ];
    candidates
        .into_iter()
        .flatten()
        .find(|p| (inputs.is_file)(p))
        .map(|path| Found { path, named: false })
}

#[cfg(test)]
mod tests {
    use super::*;

    struct World {
        files: Vec<PathBuf>,
        env: Option<&'static str>,
    }

    impl World {
        fn discover(&self, explicit: Option<&str>) -> Option<(String, bool)> {
            let exists = |p: &Path| self.files.iter().any(|f| f == p);
            discover_in(&Inputs {
                explicit: explicit.map(Path::new),
                env: self.env.map(OsString::from),
                cwd: Path::new("/work"),
                user: Some(PathBuf::from("/home/u/.config/mcp-gateway/gateway.yaml")),
                system: Some(PathBuf::from("/etc/mcp-gateway/gateway.yaml")),
                is_file: &exists,
            })
            .map(|f| (f.path.to_string_lossy().into_owned(), f.named))
        }
    }

    fn world(files: &[&str], env: Option<&'static str>) -> World {
        World {
            files: files.iter().map(PathBuf::from).collect(),
            env,
        }
    }

    const ALL: &[&str] = &[
        "/work/gateway.yaml",
        "/home/u/.config/mcp-gateway/gateway.yaml",
        "/etc/mcp-gateway/gateway.yaml",
    ];

    #[test]
    fn explicit_beats_env_beats_files() {
        let w = world(ALL, Some("/env/gw.yaml"));
        assert_eq!(
            w.discover(Some("my.yaml")),
            Some(("/work/my.yaml".into(), true))
        );
        assert_eq!(
            w.discover(Some("/abs/x.yaml")),
            Some(("/abs/x.yaml".into(), true))
        );
        assert_eq!(w.discover(None), Some(("/env/gw.yaml".into(), true)));
    }

    #[test]
    fn named_files_are_returned_even_when_missing() {
        let w = world(&[], Some("/nope.yaml"));
        assert_eq!(w.discover(None), Some(("/nope.yaml".into(), true)));
        let w = world(&[], None);
        assert_eq!(
            w.discover(Some("gone.yaml")),
            Some(("/work/gone.yaml".into(), true))
        );
    }

    #[test]
    fn discovered_files_in_order_and_missing_ones_skipped() {
        assert_eq!(
            world(ALL, None).discover(None),
            Some((ALL[0].into(), false))
        );
        assert_eq!(
            world(&ALL[1..], None).discover(None),
            Some((ALL[1].into(), false))
        );
        assert_eq!(
            world(&ALL[2..], None).discover(None),
            Some((ALL[2].into(), false))
        );
        assert_eq!(world(&[], None).discover(None), None);
        // An empty variable is the same as an unset one.
        assert_eq!(
            world(&ALL[2..], Some("")).discover(None),
            Some((ALL[2].into(), false))
        );
    }

    #[test]
    fn user_config_path_ends_in_the_app_dir() {
        if let Some(p) = user_config_path() {
            assert!(p.ends_with("gateway.yaml"));
            assert!(p.to_string_lossy().contains("mcp-gateway"));
        }
    }
}
