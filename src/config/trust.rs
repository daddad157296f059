//! The trust settings of `gateway.yaml`, validated: each backend's `trust:` mode (what
//! happens to tools it adds after it was first pinned), the `scan:` section (what each kind of
//! tool-definition finding does) and the opt-in `audit:` log.
//!
//! ```yaml
//! backends:
//!   github: { command: github-mcp, trust: review }   # new tools wait for `tools approve`
//! scan:
//!   invisible_unicode: block     # block | warn | off
//!   url: off
//!   max_description_chars: 8192
//! audit:
//!   path: ~/mcp-audit.jsonl
//!   record_values: false         # argument shape only (keys and JSON types)
//!   max_size: 10MiB
//!   keep: 5
//! ```

use std::collections::BTreeMap;
use std::fmt;
use std::path::PathBuf;

use serde::Deserialize;

/// What the gateway does with a backend's tool definitions over time.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum TrustMode {
    /// Pin every tool at first sight; a changed tool waits for approval; a tool added later
    /// is pinned at once (it still passes the poisoning scan). The default: servers add
    /// tools on upgrade all the time, and holding each one back teaches people to approve
    /// blindly, while a changed definition is the rug pull this guards against.
    #[default]
    Auto,
    /// As `auto`, but a tool added after the first pin also waits for approval.
    Review,
    /// No pins (a server under development changes its tools on every build); the
    /// poisoning scan still runs.
    Off,
}

impl TrustMode {
    pub fn as_str(self) -> &'static str {
        match self {
            TrustMode::Auto => "auto",
            TrustMode::Review => "review",
            TrustMode::Off => "off",
        }
    }
}

/// Every kind of finding the poisoning scan reports. A closed set: `scan:` keys are these.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum FindingKind {
    /// Zero-width characters, bidirectional controls, Unicode tag characters.
    InvisibleUnicode,
    /// Text addressed to the model: "ignore previous instructions", "do not tell the user".
    ModelInstructions,
    /// Asks for secrets or other tools' data: `~/.ssh`, `id_rsa`, credentials files.
    SecretAccess,
    /// Asks to send data to an address: "send the contents to https://…".
    Exfiltration,
    /// Any other URL in the description.
    Url,
    /// A description longer than `scan.max_description_chars`.
    Oversized,
    /// The same tool name as a tool of another server.
    Shadowing,
}

impl FindingKind {
    pub const ALL: [FindingKind; 7] = [
        FindingKind::InvisibleUnicode,
        FindingKind::ModelInstructions,
        FindingKind::SecretAccess,
        FindingKind::Exfiltration,
        FindingKind::Url,
        FindingKind::Oversized,
        FindingKind::Shadowing,
    ];

    /// Its key in `scan:` and its name in listings.
    pub fn as_str(self) -> &'static str {
        match self {
            FindingKind::InvisibleUnicode => "invisible_unicode",
            FindingKind::ModelInstructions => "model_instructions",
            FindingKind::SecretAccess => "secret_access",
            FindingKind::Exfiltration => "exfiltration",
            FindingKind::Url => "url",
            FindingKind::Oversized => "oversized",
            FindingKind::Shadowing => "shadowing",
        }
    }

    /// How bad it is when it is real: invisible text and instructions to the model have no
    /// honest use in a tool definition; a URL or a long description usually is honest.
    pub fn severity(self) -> Severity {
        match self {
            FindingKind::InvisibleUnicode
            | FindingKind::ModelInstructions
            | FindingKind::SecretAccess
            | FindingKind::Exfiltration => Severity::High,
            FindingKind::Shadowing => Severity::Medium,
            FindingKind::Url | FindingKind::Oversized => Severity::Low,
        }
    }

    /// What a kind does when `scan:` does not say. Chosen so that no tool of the shared
    /// corpora (4,322 real definitions) is blocked: see `tests/it/trust_corpus.rs`.
    pub fn default_action(self) -> Action {
        match self.severity() {
            Severity::High => Action::Block,
            Severity::Medium | Severity::Low => Action::Warn,
        }
    }
}

impl fmt::Display for FindingKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Severity {
    Low,
    Medium,
    High,
}

impl Severity {
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Low => "low",
            Severity::Medium => "medium",
            Severity::High => "high",
        }
    }
}

/// What a finding does to its tool.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Action {
    /// The tool is quarantined until the user approves it (`tools approve`).
    Block,
    /// The tool is served; the finding is shown in `doctor` and `gateway_list_servers`.
    Warn,
    /// Not reported.
    Off,
}

impl Action {
    pub fn as_str(self) -> &'static str {
        match self {
            Action::Block => "block",
            Action::Warn => "warn",
            Action::Off => "off",
        }
    }
}

/// Longest description (in characters) before an `oversized` finding.
pub const DEFAULT_MAX_DESCRIPTION_CHARS: usize = 8192;

/// The `scan:` section: an action per finding kind.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScanPolicy {
    /// Overrides of [`FindingKind::default_action`].
    pub actions: BTreeMap<FindingKind, Action>,
    pub max_description_chars: usize,
}

impl Default for ScanPolicy {
    fn default() -> Self {
        ScanPolicy {
            actions: BTreeMap::new(),
            max_description_chars: DEFAULT_MAX_DESCRIPTION_CHARS,
        }
    }
}

impl ScanPolicy {
    pub fn action(&self, kind: FindingKind) -> Action {
        self.actions
            .get(&kind)
            .copied()
            .unwrap_or_else(|| kind.default_action())
    }
}

/// Default size at which the audit log is rotated.
pub const DEFAULT_AUDIT_MAX_BYTES: usize = 10 * 1024 * 1024;
/// Default number of rotated audit files kept beside the live one.
pub const DEFAULT_AUDIT_KEEP: usize = 5;

/// The `audit:` section: one JSON line per backend tool call.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditConfig {
    /// The live file (absolute); rotated files are `<path>.1` … `<path>.<keep>`.
    pub path: PathBuf,
    /// Record argument values (scrubbed of known credentials) instead of their shape.
    pub record_values: bool,
    /// Rotate when the live file would grow past this.
    pub max_bytes: usize,
    /// Rotated files kept.
    pub keep: usize,
}
