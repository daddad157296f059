//! Trust in backend tools: which of the tools a backend lists are served, and which are held
//! back (quarantined) until a person approves them.
//!
//! Every tool list a backend sends passes [`Trust::admit`]: each tool is scanned for poisoning
//! (`scan.rs`) and compared with its pin (`pins.rs`, hashes over canonical JSON from
//! `canonical.rs`). A tool is held when its definition changed since it was pinned, when it is
//! new to a `trust: review` backend, or when a finding's action is `block`; a held tool is
//! absent from search, listings and flat `tools/list`, and a call to it is refused naming
//! what changed and the command to approve it. What was seen is recorded in the pin file, so
//! `mcp-gateway tools diff` and `tools approve` work from it without a running gateway, and a
//! running gateway re-reads the file when it changes ([`Trust::reload_if_changed`]).
//!
//! Capability tools are scanned but not pinned here (capability files carry their own pins).
//! The built-in catalog's tools are the binary's own text, checked by its tests
//! ([`Trust::vouch`]): they are not scanned, so a gateway serving only them never compiles
//! the scan's patterns, which are large once compiled.

pub mod canonical;
pub mod pins;
pub mod scan;

use std::collections::HashMap;
use std::path::Path;
use std::sync::{Arc, RwLock};

use rmcp::model::Tool;
use serde_json::{Value, json};

use crate::config::{Action, Config, FindingKind, ScanPolicy, TrustMode};
pub use pins::{PINS_ENV, PinError, PinFile, PinStore};
pub use scan::Finding;

/// How one backend's tools are trusted: its `trust:` mode and what it is (a hash of its
/// command and arguments, or its URL). Pins belong to what a name points at: a backend whose
/// `gateway.yaml` entry now starts another program is pinned afresh, as at first sight
/// (the user changed it), while the same command serving other definitions (an upgrade, a
/// rug pull) is held.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BackendTrust {
    pub mode: TrustMode,
    pub origin: String,
}

impl BackendTrust {
    pub fn of(backend: &crate::config::BackendConfig) -> BackendTrust {
        use sha2::{Digest, Sha256};
        let identity = match &backend.transport {
            crate::config::Transport::Stdio { command, args, .. } => {
                serde_json::to_string(&(command, args)).unwrap_or_default()
            }
            crate::config::Transport::Http { url, .. } => url.clone(),
        };
        let digest = Sha256::digest(identity.as_bytes());
        BackendTrust {
            mode: backend.trust,
            origin: digest[..8].iter().map(|b| format!("{b:02x}")).collect(),
        }
    }
}

/// Why a tool is held back.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Hold {
    /// Its definition differs from the pinned one in these parts.
    Changed(Vec<&'static str>),
    /// New to a backend whose `trust` is `review`.
    New,
    /// A finding whose action is `block`.
    Blocked { kind: FindingKind, reason: String },
}

impl Hold {
    pub fn describe(&self) -> String {
        match self {
            Hold::Changed(parts) => format!("its {} changed since it was pinned", parts.join(", ")),
            Hold::New => "it is new and this server's tools need review (`trust: review`)".into(),
            Hold::Blocked { kind, reason } => format!("blocked by the scan ({kind}): {reason}"),
        }
    }
}

/// A tool held back, with why.
#[derive(Debug, Clone)]
pub struct Held {
    pub tool: Tool,
    pub holds: Vec<Hold>,
}

impl Held {
    pub fn name(&self) -> &str {
        self.tool.name.as_ref()
    }

    pub fn why(&self) -> String {
        self.holds
            .iter()
            .map(Hold::describe)
            .collect::<Vec<_>>()
            .join("; ")
    }

    pub fn to_json(&self) -> Value {
        let changed: Vec<&str> = self
            .holds
            .iter()
            .flat_map(|h| match h {
                Hold::Changed(parts) => parts.clone(),
                _ => Vec::new(),
            })
            .collect();
        let mut out = json!({"tool": self.name(), "why": self.why()});
        if !changed.is_empty() {
            out["changed"] = json!(changed);
        }
        out
    }
}

/// A backend's tool list after [`Trust::admit`].
#[derive(Debug, Clone, Default)]
pub struct Gated {
    /// Served.
    pub visible: Vec<Tool>,
    pub held: Vec<Held>,
    /// Every finding not turned off, on served and held tools alike.
    pub findings: Vec<Finding>,
}

/// The pin store (when there is one) and the scan policy, shared by every backend.
pub struct Trust {
    store: Option<PinStore>,
    scan: RwLock<ScanPolicy>,
    /// How a person names this config on the command line (`--config …`), for the
    /// commands a refusal quotes.
    config_arg: String,
    /// Definitions the gateway itself ships: not scanned.
    vouched: RwLock<Vec<Tool>>,
}

impl Default for Trust {
    /// Scan with the default policy, pin nothing.
    fn default() -> Self {
        Trust {
            store: None,
            scan: RwLock::new(ScanPolicy::default()),
            config_arg: String::new(),
            vouched: RwLock::default(),
        }
    }
}

impl Trust {
    /// The trust of `config`: its scan policy, and the pin file of its source in the pin
    /// directory (none when there is no data dir).
    pub fn for_config(config: &Config) -> Trust {
        let store = pins::pins_dir().map(|dir| {
            PinStore::open(
                pins::pin_file(&dir, config.source.as_deref()),
                config.source.as_deref(),
            )
        });
        Trust {
            store,
            scan: RwLock::new(config.scan.clone()),
            config_arg: config_arg(config.source.as_deref()),
            vouched: RwLock::default(),
        }
    }

    /// Pins kept in the file at `path` (tests, and `tools` commands that name a file).
    pub fn with_pins(path: std::path::PathBuf, policy: ScanPolicy) -> Trust {
        Trust {
            store: Some(PinStore::open(path, None)),
            scan: RwLock::new(policy),
            config_arg: String::new(),
            vouched: RwLock::default(),
        }
    }

    /// A reloaded config's scan policy; callers re-admit the backends' tools afterwards.
    pub fn set_scan(&self, policy: ScanPolicy) {
        *self.scan.write().unwrap_or_else(|p| p.into_inner()) = policy;
    }

    /// `tools` are the gateway's own (the built-in catalog): a tool defined exactly so is not
    /// scanned, whoever lists it. A definition that differs in anything is scanned as usual.
    pub fn vouch(&self, tools: Vec<Tool>) {
        *self.vouched.write().unwrap_or_else(|p| p.into_inner()) = tools;
    }

    pub fn scan_policy(&self) -> ScanPolicy {
        self.scan.read().unwrap_or_else(|p| p.into_inner()).clone()
    }

    pub fn store(&self) -> Option<&PinStore> {
        self.store.as_ref()
    }

    /// Whether the pin file changed on disk (an approval) since it was last read.
    pub fn reload_if_changed(&self) -> bool {
        self.store.as_ref().is_some_and(PinStore::refresh)
    }

    /// The command that shows a server's held tools.
    pub fn diff_command(&self, server: &str) -> String {
        format!("mcp-gateway tools diff {server}{}", self.config_arg)
    }

    /// The command that approves one held tool.
    pub fn approve_command(&self, server: &str, tool: &str) -> String {
        format!(
            "mcp-gateway tools approve {server} {tool}{}",
            self.config_arg
        )
    }

    /// What a call to a held tool is answered with.
    pub fn refusal(&self, server: &str, held: &Held) -> String {
        format!(
            "tool `{}` of `{server}` is quarantined: {}. Nothing was called. The user can \
             review it with `{}` and accept it with `{}`",
            held.name(),
            held.why(),
            self.diff_command(server),
            self.approve_command(server, held.name())
        )
    }

    /// Sort `tools` of `server` into served and held. `backend` is how the backend is
    /// trusted (`None` for capability tools: scanned, not pinned). `shadowed` names the other
    /// server that already serves a tool of the same name, if any.
    pub fn admit(
        &self,
        server: &str,
        backend: Option<&BackendTrust>,
        tools: &[Tool],
        shadowed: &dyn Fn(&str) -> Option<String>,
    ) -> Gated {
        let policy = self.scan.read().unwrap_or_else(|p| p.into_inner()).clone();
        let vouched = self.vouched.read().unwrap_or_else(|p| p.into_inner());
        let scanned: Vec<Vec<Finding>> = tools
            .iter()
            .map(|tool| {
                let mut found = if vouched.contains(tool) {
                    Vec::new()
                } else {
                    scan::scan(tool, &policy)
                };
                let action = policy.action(FindingKind::Shadowing);
                if action != Action::Off
                    && let Some(other) = shadowed(tool.name.as_ref())
                {
                    found.push(Finding {
                        tool: tool.name.to_string(),
                        kind: FindingKind::Shadowing,
                        reason: format!("`{other}` also has a tool named `{}`", tool.name),
                        action,
                    });
                }
                found
            })
            .collect();
        drop(vouched);
        let pinned = match (backend, &self.store) {
            (Some(backend), Some(store)) if backend.mode != TrustMode::Off => {
                let decisions =
                    store.update(server, |pins| pin(pins, server, backend, tools, &scanned));
                if decisions
                    .as_ref()
                    .is_some_and(|d| d.iter().any(|(holds, _)| !holds.is_empty()))
                {
                    store.flush();
                }
                decisions
            }
            _ => None,
        };
        let mut gated = Gated::default();
        for (i, (tool, mut found)) in tools.iter().zip(scanned).enumerate() {
            let (mut holds, approved) = match &pinned {
                Some(decisions) => decisions[i].clone(),
                None => (blocking(&found, false), false),
            };
            holds.dedup();
            if approved {
                // A person accepted this very definition: what would block it is a warning.
                for f in &mut found {
                    if f.action == Action::Block {
                        f.action = Action::Warn;
                    }
                }
            }
            gated.findings.extend(found);
            if holds.is_empty() {
                gated.visible.push(tool.clone());
            } else {
                gated.held.push(Held {
                    tool: tool.clone(),
                    holds,
                });
            }
        }
        gated
    }
}

/// The holds from `found`'s blocking findings, unless a person approved this very definition.
fn blocking(found: &[Finding], approved: bool) -> Vec<Hold> {
    if approved {
        return Vec::new();
    }
    found
        .iter()
        .filter(|f| f.action == Action::Block)
        .map(|f| Hold::Blocked {
            kind: f.kind,
            reason: f.reason.clone(),
        })
        .collect()
}

/// Compare `tools` with `server`'s `pins`, pin what is trusted at sight, record what
/// is held as pending; the holds of each tool, in order, and whether a person approved its
/// definition as it is.
fn pin(
    pins: &mut pins::ServerPins,
    server: &str,
    backend: &BackendTrust,
    tools: &[Tool],
    scanned: &[Vec<Finding>],
) -> Vec<(Vec<Hold>, bool)> {
    let mode = backend.mode;
    if pins.origin.as_deref() != Some(backend.origin.as_str()) {
        if pins.origin.is_some() {
            tracing::info!(
                "backend `{server}` now starts another program: its tools are pinned afresh"
            );
        }
        *pins = pins::ServerPins {
            origin: Some(backend.origin.clone()),
            ..pins::ServerPins::default()
        };
    }
    // A backend seen for the first time is trusted as it is (trust on first use); after
    // that, `mode` decides for tools it adds.
    let first_sight = pins.tools.is_empty();
    let now = crate::clock::now();
    let mut decisions = Vec::with_capacity(tools.len());
    for (tool, found) in tools.iter().zip(scanned) {
        let name = tool.name.to_string();
        let def = canonical::definition(tool);
        let hash = canonical::hash(&def);
        let pin = pins.tools.get(&name);
        let approved = pin.is_some_and(|p| p.sha256 == hash && p.approved);
        let mut holds = blocking(found, approved);
        match pin {
            Some(p) if p.sha256 == hash => {}
            Some(p) => holds.push(Hold::Changed(canonical::changed_parts(
                &p.definition.value(),
                &def,
            ))),
            None if first_sight || mode == TrustMode::Auto => {
                if holds.is_empty() {
                    pins.tools.insert(
                        name.clone(),
                        pins::Pin {
                            sha256: hash.clone(),
                            definition: pins::Definition::of(&def),
                            pinned_at: now.clone(),
                            approved: false,
                        },
                    );
                }
            }
            None => holds.push(Hold::New),
        }
        if holds.is_empty() {
            pins.pending.remove(&name);
        } else {
            let why: Vec<String> = holds.iter().map(Hold::describe).collect();
            let same = pins
                .pending
                .get(&name)
                .is_some_and(|p| p.sha256 == hash && p.why == why);
            if !same {
                pins.pending.insert(
                    name,
                    pins::Pending {
                        sha256: hash,
                        definition: pins::Definition::of(&def),
                        seen_at: now.clone(),
                        why,
                    },
                );
            }
        }
        decisions.push((holds, approved));
    }
    decisions
}

/// ` --config <path>` unless `source` is the file every command finds by itself.
fn config_arg(source: Option<&Path>) -> String {
    let Some(source) = source else {
        return String::new();
    };
    if crate::config::user_config_path().as_deref() == Some(source) {
        return String::new();
    }
    let text = source.display().to_string();
    if text
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || "/._-+".contains(c))
    {
        format!(" --config {text}")
    } else {
        format!(" --config '{}'", text.replace('\'', r"'\''"))
    }
}

/// Tool name → the server serving it, over `servers` other than `except`.
pub fn tool_owners<'a>(
    servers: impl IntoIterator<Item = (&'a str, &'a [Tool])>,
    except: &str,
) -> HashMap<String, String> {
    let mut owners = HashMap::new();
    for (server, tools) in servers {
        if server == except {
            continue;
        }
        for t in tools {
            owners
                .entry(t.name.to_string())
                .or_insert_with(|| server.to_owned());
        }
    }
    owners
}

/// Accept `server`'s pending definitions (all, or only `tools`) as its pins. Returns the
/// names approved; an error names a requested tool with nothing pending.
///
/// # Errors
///
/// [`ApproveError`] when the file cannot be read or written, or names are not pending.
pub fn approve(path: &Path, server: &str, tools: &[String]) -> Result<Vec<String>, ApproveError> {
    // A running gateway pinning meanwhile must not write over the approval, nor this over
    // its pins.
    let _turn = pins::turn(path);
    let mut file = pins::read(path)?;
    let Some(pins) = file.servers.get_mut(server) else {
        return Err(ApproveError::NothingSeen(server.to_owned()));
    };
    let wanted: Vec<String> = if tools.is_empty() {
        pins.pending.keys().cloned().collect()
    } else {
        tools.to_vec()
    };
    let missing: Vec<&String> = wanted
        .iter()
        .filter(|t| !pins.pending.contains_key(*t))
        .collect();
    if !missing.is_empty() {
        return Err(ApproveError::NotPending {
            server: server.to_owned(),
            tools: missing
                .iter()
                .map(|t| format!("`{t}`"))
                .collect::<Vec<_>>()
                .join(", "),
            pending: pins
                .pending
                .keys()
                .map(|t| format!("`{t}`"))
                .collect::<Vec<_>>()
                .join(", "),
        });
    }
    let now = crate::clock::now();
    for name in &wanted {
        if let Some(p) = pins.pending.remove(name) {
            pins.tools.insert(
                name.clone(),
                pins::Pin {
                    sha256: p.sha256,
                    definition: p.definition,
                    pinned_at: now.clone(),
                    approved: true,
                },
            );
        }
    }
    if !wanted.is_empty() {
        pins::write(path, &file)?;
    }
    Ok(wanted)
}

#[derive(Debug, thiserror::Error)]
pub enum ApproveError {
    #[error(transparent)]
    Pins(#[from] PinError),
    #[error("no tools of `{0}` have been seen yet; start it once (`mcp-gateway list`)")]
    NothingSeen(String),
    #[error("nothing to approve for {tools} of `{server}`; held back: {}", if pending.is_empty() { "none" } else { pending.as_str() })]
    NotPending {
        server: String,
        tools: String,
        pending: String,
    },
}

/// A shared handle, as the registry holds it.
pub type SharedTrust = Arc<Trust>;

#[cfg(test)]
mod tests;
