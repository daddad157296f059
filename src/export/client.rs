//! The client table: every AI client we wire, where its config file lives on each OS, which
//! key holds its MCP servers, and the shape of the gateway's entry in it.
//!
//! Paths are computed from an explicit [`Place`] (home, OS, env dirs, project root) so the
//! tables are unit-tested for Linux, macOS and Windows on any machine.

use std::path::{Path, PathBuf};

use serde_json::{Value, json};

use super::jsonc_edit::Entry;

/// Every client `setup` knows. A closed set: adding one means adding its rows below.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, clap::ValueEnum)]
pub enum Client {
    ClaudeCode,
    ClaudeDesktop,
    Cursor,
    Vscode,
    Windsurf,
    Cline,
    Zed,
    Codex,
    Gemini,
    Opencode,
}

/// Which of a client's files.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum Scope {
    #[default]
    User,
    Project,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Os {
    Linux,
    Macos,
    Windows,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// JSON, read as JSONC.
    Json,
    Toml,
}

/// Where things are on the machine: the inputs of every path below.
#[derive(Debug, Clone)]
pub struct Place {
    pub os: Os,
    pub home: PathBuf,
    /// `$XDG_CONFIG_HOME` (Linux).
    pub xdg_config: Option<PathBuf>,
    /// `%APPDATA%` (Windows).
    pub appdata: Option<PathBuf>,
    /// `$CODEX_HOME`.
    pub codex_home: Option<PathBuf>,
    /// `$CLAUDE_CONFIG_DIR` (Claude Code may keep `.claude.json` there).
    pub claude_config_dir: Option<PathBuf>,
    /// `%LOCALAPPDATA%` (Windows; the Store build of Claude Desktop lives under it).
    pub local_appdata: Option<PathBuf>,
    /// The project root for project scope.
    pub project: PathBuf,
    /// `$PATH`, to find clients' programs.
    pub path_var: Option<std::ffi::OsString>,
}

fn on_path(program: &str, place: &Place) -> bool {
    find_program(program, place).is_some()
}

/// Where `program` is found on the place's `$PATH`, if it is.
pub fn find_program(program: &str, place: &Place) -> Option<PathBuf> {
    let path = place.path_var.as_ref()?;
    let exe = if place.os == Os::Windows {
        format!("{program}.exe")
    } else {
        program.to_owned()
    };
    std::env::split_paths(path).find_map(|dir| {
        let found = dir.join(&exe);
        if found.is_file() {
            return Some(found);
        }
        let cmd = dir.join(format!("{program}.cmd"));
        (place.os == Os::Windows && cmd.is_file()).then_some(cmd)
    })
}

impl Place {
    /// This machine, from the process environment.
    pub fn current() -> Place {
        let os = if cfg!(windows) {
            Os::Windows
        } else if cfg!(target_os = "macos") {
            Os::Macos
        } else {
            Os::Linux
        };
        let var = |k: &str| {
            std::env::var_os(k)
                .filter(|v| !v.is_empty())
                .map(PathBuf::from)
        };
        let home = var(if os == Os::Windows {
            "USERPROFILE"
        } else {
            "HOME"
        })
        .or_else(|| directories::BaseDirs::new().map(|d| d.home_dir().to_path_buf()))
        .unwrap_or_default();
        Place {
            os,
            home,
            xdg_config: var("XDG_CONFIG_HOME"),
            appdata: var("APPDATA"),
            codex_home: var("CODEX_HOME"),
            claude_config_dir: var("CLAUDE_CONFIG_DIR"),
            local_appdata: var("LOCALAPPDATA"),
            project: std::env::current_dir().unwrap_or_default(),
            path_var: std::env::var_os("PATH"),
        }
    }

    /// `~/.config` on Linux (or `$XDG_CONFIG_HOME`), the platform's app-config dir elsewhere.
    fn app_config(&self) -> PathBuf {
        match self.os {
            Os::Linux => self
                .xdg_config
                .clone()
                .unwrap_or_else(|| self.home.join(".config")),
            Os::Macos => self.home.join("Library/Application Support"),
            Os::Windows => self
                .appdata
                .clone()
                .unwrap_or_else(|| self.home.join("AppData").join("Roaming")),
        }
    }

    fn vscode_user(&self) -> PathBuf {
        self.app_config().join("Code").join("User")
    }
}

impl Client {
    pub const ALL: [Client; 10] = [
        Client::ClaudeCode,
        Client::ClaudeDesktop,
        Client::Cursor,
        Client::Vscode,
        Client::Windsurf,
        Client::Cline,
        Client::Zed,
        Client::Codex,
        Client::Gemini,
        Client::Opencode,
    ];

    /// The id used on the command line.
    pub fn id(self) -> &'static str {
        match self {
            Client::ClaudeCode => "claude-code",
            Client::ClaudeDesktop => "claude-desktop",
            Client::Cursor => "cursor",
            Client::Vscode => "vscode",
            Client::Windsurf => "windsurf",
            Client::Cline => "cline",
            Client::Zed => "zed",
            Client::Codex => "codex",
            Client::Gemini => "gemini",
            Client::Opencode => "opencode",
        }
    }

    pub fn format(self) -> Format {
        match self {
            Client::Codex => Format::Toml,
            _ => Format::Json,
        }
    }

    /// The key path of the object that maps server names to entries.
    pub fn container(self) -> &'static [&'static str] {
        match self {
            Client::Vscode => &["servers"],
            Client::Zed => &["context_servers"],
            Client::Codex => &["mcp_servers"],
            Client::Opencode => &["mcp"],
            _ => &["mcpServers"],
        }
    }

    /// Clients that rewrite their file from memory while running, undoing outside edits.
    pub fn rewrites_own_file(self) -> bool {
        matches!(self, Client::ClaudeCode | Client::ClaudeDesktop)
    }

    /// What the user does for the client to see an edit of its file.
    pub fn reload_hint(self) -> &'static str {
        match self {
            Client::ClaudeCode => "start a new Claude Code session (or reconnect from /mcp)",
            Client::ClaudeDesktop => "quit Claude Desktop completely and start it again",
            Client::Cursor => "Cursor picks it up; toggle it in Settings → MCP if it does not",
            Client::Vscode => "start it from `MCP: List Servers` in VS Code and trust it",
            Client::Windsurf => "press refresh in Windsurf's MCP panel",
            Client::Cline | Client::Zed => "it reloads the file by itself",
            Client::Codex => "start a new codex session",
            Client::Gemini => "restart gemini",
            Client::Opencode => "restart opencode",
        }
    }

    /// Candidate files for a scope, preferred first; empty when the client has no such scope.
    /// The first that exists is used; when none exists the first is created.
    pub fn paths(self, scope: Scope, place: &Place) -> Vec<PathBuf> {
        let h = &place.home;
        let p = &place.project;
        match (self, scope) {
            (Client::ClaudeCode, Scope::User) => place
                .claude_config_dir
                .iter()
                .map(|d| d.join(".claude.json"))
                .chain([h.join(".claude.json")])
                .collect(),
            (Client::ClaudeCode, Scope::Project) => vec![p.join(".mcp.json")],
            (Client::ClaudeDesktop, Scope::User) => {
                let file = "claude_desktop_config.json";
                let mut paths = vec![place.app_config().join("Claude").join(file)];
                // The Microsoft Store (MSIX) build keeps a virtualised copy.
                if let (Os::Windows, Some(local)) = (place.os, &place.local_appdata) {
                    paths.push(
                        local
                            .join("Packages/Claude_pzs8sxrjxfjjc/LocalCache/Roaming/Claude")
                            .join(file),
                    );
                }
                paths
            }
            (Client::Cursor, Scope::User) => vec![h.join(".cursor").join("mcp.json")],
            (Client::Cursor, Scope::Project) => vec![p.join(".cursor").join("mcp.json")],
            (Client::Vscode, Scope::User) => vec![place.vscode_user().join("mcp.json")],
            (Client::Vscode, Scope::Project) => vec![p.join(".vscode").join("mcp.json")],
            (Client::Windsurf, Scope::User) => {
                vec![h.join(".codeium").join("windsurf").join("mcp_config.json")]
            }
            (Client::Cline, Scope::User) => vec![
                h.join(".cline/data/settings")
                    .join("cline_mcp_settings.json"),
                place
                    .vscode_user()
                    .join("globalStorage/saoudrizwan.claude-dev/settings")
                    .join("cline_mcp_settings.json"),
            ],
            (Client::Zed, Scope::User) => match place.os {
                Os::Windows => vec![place.app_config().join("Zed").join("settings.json")],
                // Zed uses ~/.config/zed on macOS too.
                _ => vec![
                    place
                        .xdg_config
                        .clone()
                        .unwrap_or_else(|| h.join(".config"))
                        .join("zed")
                        .join("settings.json"),
                ],
            },
            (Client::Zed, Scope::Project) => vec![p.join(".zed").join("settings.json")],
            (Client::Codex, Scope::User) => vec![
                place
                    .codex_home
                    .clone()
                    .unwrap_or_else(|| h.join(".codex"))
                    .join("config.toml"),
            ],
            (Client::Codex, Scope::Project) => vec![p.join(".codex").join("config.toml")],
            (Client::Gemini, Scope::User) => vec![h.join(".gemini").join("settings.json")],
            (Client::Gemini, Scope::Project) => vec![p.join(".gemini").join("settings.json")],
            (Client::Opencode, Scope::User) => {
                let dir = match place.os {
                    Os::Linux => place
                        .xdg_config
                        .clone()
                        .unwrap_or_else(|| h.join(".config")),
                    _ => h.join(".config"),
                }
                .join("opencode");
                vec![dir.join("opencode.json"), dir.join("opencode.jsonc")]
            }
            (Client::Opencode, Scope::Project) => {
                vec![p.join("opencode.json"), p.join("opencode.jsonc")]
            }
            (Client::ClaudeDesktop | Client::Windsurf | Client::Cline, Scope::Project) => vec![],
        }
    }

    /// The file to read or edit: the first candidate that exists, else the first.
    pub fn path(self, scope: Scope, place: &Place) -> Option<PathBuf> {
        let paths = self.paths(scope, place);
        paths.iter().find(|p| p.exists()).or(paths.first()).cloned()
    }

    /// Whether the client looks installed: its file exists, or the folder it keeps it in
    /// does (for user scope; a project file can always be created).
    pub fn installed(self, scope: Scope, place: &Place) -> bool {
        if scope == Scope::Project {
            return true;
        }
        let paths = self.paths(scope, place);
        if paths.iter().any(|p| p.exists()) {
            return true;
        }
        let folder = match self {
            // ~/.claude.json lives in home itself; ~/.claude is its data folder.
            Client::ClaudeCode => place.home.join(".claude").is_dir(),
            _ => paths.iter().any(|p| p.parent().is_some_and(Path::is_dir)),
        };
        // A command-line client installed but never run has no folder yet.
        folder || self.program().is_some_and(|p| on_path(p, place))
    }

    /// The client's command-line program, for those that have one.
    fn program(self) -> Option<&'static str> {
        match self {
            Client::ClaudeCode => Some("claude"),
            Client::Codex => Some("codex"),
            Client::Gemini => Some("gemini"),
            Client::Opencode => Some("opencode"),
            _ => None,
        }
    }

    /// Other places this client reads servers from, for import only (never written): VS Code's
    /// pre-1.102 `settings.json` `mcp.servers`, Claude Code's local scope (this project's
    /// servers inside `~/.claude.json`). Each is a file and the key path of its servers.
    pub fn import_only_sources(self, place: &Place) -> Vec<(PathBuf, Vec<String>)> {
        match self {
            Client::Vscode => vec![(
                place.vscode_user().join("settings.json"),
                vec!["mcp".into(), "servers".into()],
            )],
            Client::ClaudeCode => vec![(
                place.home.join(".claude.json"),
                vec![
                    "projects".into(),
                    place.project.display().to_string(),
                    "mcpServers".into(),
                ],
            )],
            _ => Vec::new(),
        }
    }

    /// The gateway's entry in this client's shape.
    pub fn entry(self, command: &str, args: &[String]) -> Entry {
        let s = |k: &str, v: Value| (k.to_owned(), v);
        match self {
            Client::ClaudeCode | Client::Vscode => vec![
                s("type", json!("stdio")),
                s("command", json!(command)),
                s("args", json!(args)),
            ],
            Client::Opencode => {
                let mut cmd = vec![command.to_owned()];
                cmd.extend(args.iter().cloned());
                vec![
                    s("type", json!("local")),
                    s("command", json!(cmd)),
                    s("enabled", json!(true)),
                ]
            }
            _ => vec![s("command", json!(command)), s("args", json!(args))],
        }
    }
}

impl std::fmt::Display for Client {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.id())
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn place(os: Os, home: &str) -> Place {
        Place {
            os,
            home: PathBuf::from(home),
            xdg_config: None,
            appdata: (os == Os::Windows).then(|| PathBuf::from(format!("{home}/AppData/Roaming"))),
            codex_home: None,
            claude_config_dir: None,
            local_appdata: (os == Os::Windows)
                .then(|| PathBuf::from(format!("{home}/AppData/Local"))),
            project: PathBuf::from("/proj"),
            path_var: None,
        }
    }

    fn user(client: Client, p: &Place) -> String {
        client.paths(Scope::User, p)[0]
            .to_string_lossy()
            .replace('\\', "/")
    }

    #[test]
    fn linux_paths() {
        let p = place(Os::Linux, "/home/u");
        assert_eq!(user(Client::ClaudeCode, &p), "/home/u/.claude.json");
        assert_eq!(
            user(Client::ClaudeDesktop, &p),
            "/home/u/.config/Claude/claude_desktop_config.json"
        );
        assert_eq!(user(Client::Cursor, &p), "/home/u/.cursor/mcp.json");
        assert_eq!(
            user(Client::Vscode, &p),
            "/home/u/.config/Code/User/mcp.json"
        );
        assert_eq!(
            user(Client::Windsurf, &p),
            "/home/u/.codeium/windsurf/mcp_config.json"
        );
        assert_eq!(
            user(Client::Cline, &p),
            "/home/u/.cline/data/settings/cline_mcp_settings.json"
        );
        assert_eq!(user(Client::Zed, &p), "/home/u/.config/zed/settings.json");
        assert_eq!(user(Client::Codex, &p), "/home/u/.codex/config.toml");
        assert_eq!(user(Client::Gemini, &p), "/home/u/.gemini/settings.json");
        assert_eq!(
            user(Client::Opencode, &p),
            "/home/u/.config/opencode/opencode.json"
        );
        let xdg = Place {
            xdg_config: Some("/x".into()),
            codex_home: Some("/c".into()),
            claude_config_dir: Some("/cc".into()),
            ..p.clone()
        };
        assert_eq!(user(Client::ClaudeCode, &xdg), "/cc/.claude.json");
        assert_eq!(user(Client::Vscode, &xdg), "/x/Code/User/mcp.json");
        assert_eq!(user(Client::Zed, &xdg), "/x/zed/settings.json");
        assert_eq!(user(Client::Codex, &xdg), "/c/config.toml");
        let proj = |c: Client| c.paths(Scope::Project, &p).first().cloned();
        assert_eq!(proj(Client::ClaudeCode), Some("/proj/.mcp.json".into()));
        assert_eq!(proj(Client::Vscode), Some("/proj/.vscode/mcp.json".into()));
        assert_eq!(proj(Client::Cursor), Some("/proj/.cursor/mcp.json".into()));
        assert_eq!(proj(Client::ClaudeDesktop), None);
    }

    #[test]
    fn macos_paths() {
        let p = place(Os::Macos, "/Users/u");
        assert_eq!(
            user(Client::ClaudeDesktop, &p),
            "/Users/u/Library/Application Support/Claude/claude_desktop_config.json"
        );
        assert_eq!(
            user(Client::Vscode, &p),
            "/Users/u/Library/Application Support/Code/User/mcp.json"
        );
        assert_eq!(user(Client::Zed, &p), "/Users/u/.config/zed/settings.json");
        assert_eq!(user(Client::Cursor, &p), "/Users/u/.cursor/mcp.json");
        assert_eq!(user(Client::Codex, &p), "/Users/u/.codex/config.toml");
    }

    #[test]
    fn windows_paths() {
        let p = place(Os::Windows, "C:/Users/u");
        assert_eq!(
            user(Client::ClaudeDesktop, &p),
            "C:/Users/u/AppData/Roaming/Claude/claude_desktop_config.json"
        );
        assert_eq!(
            user(Client::Vscode, &p),
            "C:/Users/u/AppData/Roaming/Code/User/mcp.json"
        );
        assert_eq!(
            user(Client::Zed, &p),
            "C:/Users/u/AppData/Roaming/Zed/settings.json"
        );
        assert_eq!(user(Client::ClaudeCode, &p), "C:/Users/u/.claude.json");
        let msix = Client::ClaudeDesktop.paths(Scope::User, &p)[1]
            .to_string_lossy()
            .replace('\\', "/");
        assert_eq!(
            msix,
            "C:/Users/u/AppData/Local/Packages/Claude_pzs8sxrjxfjjc/LocalCache/Roaming/Claude/claude_desktop_config.json"
        );
        assert_eq!(
            user(Client::Opencode, &p),
            "C:/Users/u/.config/opencode/opencode.json"
        );
        assert_eq!(
            user(Client::Windsurf, &p),
            "C:/Users/u/.codeium/windsurf/mcp_config.json"
        );
    }

    #[test]
    fn entry_shapes() {
        let args = vec!["serve".to_owned()];
        let oc = Client::Opencode.entry("/gw", &args);
        assert_eq!(oc[1].1, json!(["/gw", "serve"]));
        assert_eq!(Client::Vscode.entry("/gw", &args)[0].1, json!("stdio"));
        assert_eq!(Client::Cursor.entry("/gw", &args).len(), 2);
    }
}
