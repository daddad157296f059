//! `ConfigError`: why a config file was refused, said so that the user can fix it.
//!
//! Every error that comes from the file's contents carries `file:line:column` (the format
//! editors and terminals turn into a link), and a misspelt key carries the closest valid key.
//! Values that came from `${VAR}` expansion are never echoed: they may be secrets.

use std::fmt;
use std::path::{Path, PathBuf};

/// A 1-based line and column. It lives here, beside [`Location`], so that `locate` depends
/// on this module and not the other way round.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct LineCol {
    pub line: usize,
    pub column: usize,
}

/// Where in which file a problem is. Line and column are 1-based and absent only when the
/// position could not be recovered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Location {
    pub file: PathBuf,
    pub line: Option<usize>,
    pub column: Option<usize>,
}

impl Location {
    pub(crate) fn new(file: &Path, at: Option<LineCol>) -> Self {
        Location {
            file: file.to_path_buf(),
            line: at.map(|a| a.line),
            column: at.map(|a| a.column),
        }
    }
}

impl fmt::Display for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.file.display())?;
        if let Some(line) = self.line {
            write!(f, ":{line}")?;
            if let Some(column) = self.column {
                write!(f, ":{column}")?;
            }
        }
        Ok(())
    }
}

/// A config file that cannot be used: the command that loads it stops with this error,
/// which names the file, line and column.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// `--config` or `$MCP_GATEWAY_CONFIG` named a file that is not there. (Files found by
    /// discovery are only tried when they exist.)
    #[error("config file {} does not exist", path.display())]
    NotFound { path: PathBuf },

    #[error("cannot read config file {}: {source}", path.display())]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },

    /// The text is not YAML at all.
    #[error("{at}: not valid YAML: {message}")]
    Syntax { at: Location, message: String },

    /// A key we neither implement nor recognise from the original mcp-gateway. Boxed to keep
    /// `Result<_, ConfigError>` small.
    #[error("{0}")]
    UnknownKey(Box<UnknownKey>),

    /// A value of the wrong type or shape, or one that fails validation (bad duration, URL,
    /// backend name, `${VAR}` syntax, a backend with no or two transports, …).
    #[error("{at}: {message}")]
    Invalid { at: Location, message: String },
}

impl ConfigError {
    /// The position in the file, for errors that have one.
    pub fn location(&self) -> Option<&Location> {
        match self {
            ConfigError::Syntax { at, .. } | ConfigError::Invalid { at, .. } => Some(at),
            ConfigError::UnknownKey(unknown) => Some(&unknown.at),
            ConfigError::NotFound { .. } | ConfigError::Read { .. } => None,
        }
    }

    /// Turns a serde_yaml_ng error into ours, keeping its position. Its message already names
    /// the path (`backends.fs.args: invalid type …`); only the trailing " at line L column C"
    /// is dropped because our prefix says it first.
    pub(crate) fn from_yaml(file: &Path, err: &serde_yaml_ng::Error, syntax: bool) -> Self {
        let at = err.location().map(|l| LineCol {
            line: l.line(),
            column: l.column(),
        });
        let mut message = err.to_string();
        if let Some(at) = at {
            let suffix = format!(" at line {} column {}", at.line, at.column);
            if let Some(i) = message.find(&suffix) {
                message.replace_range(i..i + suffix.len(), "");
            }
        }
        let at = Location::new(file, at);
        if syntax {
            ConfigError::Syntax { at, message }
        } else {
            ConfigError::Invalid { at, message }
        }
    }
}

/// The details of [`ConfigError::UnknownKey`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnknownKey {
    pub at: Location,
    pub key: String,
    /// "at the top level", "in backend `fs`", …
    pub context: String,
    /// The closest valid key, when one is close enough to be a likely typo.
    pub suggestion: Option<String>,
    /// The keys valid here, listed when there is no suggestion.
    pub expected: Vec<String>,
}

impl fmt::Display for UnknownKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}: unknown key `{}` {}",
            self.at, self.key, self.context
        )?;
        match (&self.suggestion, self.expected.as_slice()) {
            (Some(s), _) => write!(f, "; did you mean `{s}`?"),
            (None, []) => Ok(()),
            (None, keys) => {
                f.write_str("; expected one of ")?;
                for (i, k) in keys.iter().enumerate() {
                    if i > 0 {
                        f.write_str(", ")?;
                    }
                    write!(f, "`{k}`")?;
                }
                Ok(())
            }
        }
    }
}

/// The closest candidate to a misspelt `key`, if it is close enough to be a likely typo.
///
/// Jaro-Winkler favours shared prefixes, which is how config keys get mistyped (`comand`,
/// `timout`); 0.8 keeps `url`→`uri`-class typos and rejects unrelated short keys (`env` is not
/// suggested for `enabled`). A case-only difference always matches.
pub(crate) fn suggest<'a>(key: &str, candidates: &[&'a str]) -> Option<&'a str> {
    let lower = key.to_ascii_lowercase();
    if let Some(exact) = candidates.iter().find(|c| c.eq_ignore_ascii_case(key)) {
        return Some(exact);
    }
    candidates
        .iter()
        .map(|c| (strsim::jaro_winkler(&lower, c), *c))
        .filter(|(score, _)| *score >= 0.8)
        .max_by(|a, b| a.0.total_cmp(&b.0))
        .map(|(_, c)| c)
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEYS: &[&str] = &["command", "args", "env", "enabled", "url", "timeout"];

    #[test]
    fn suggests_close_keys_only() {
        assert_eq!(suggest("comand", KEYS), Some("command"));
        assert_eq!(suggest("Command", KEYS), Some("command"));
        assert_eq!(suggest("arg", KEYS), Some("args"));
        assert_eq!(suggest("timout", KEYS), Some("timeout"));
        assert_eq!(suggest("uri", KEYS), Some("url"));
        assert_eq!(suggest("zzzz", KEYS), None);
        assert_eq!(suggest("evn", &["enabled"]), None);
    }

    #[test]
    fn displays_position_and_hint() {
        let at = Location {
            file: PathBuf::from("/p/gateway.yaml"),
            line: Some(7),
            column: Some(5),
        };
        let err = ConfigError::UnknownKey(Box::new(UnknownKey {
            at: at.clone(),
            key: "comand".into(),
            context: "in backend `fs`".into(),
            suggestion: Some("command".into()),
            expected: vec![],
        }));
        assert_eq!(
            err.to_string(),
            "/p/gateway.yaml:7:5: unknown key `comand` in backend `fs`; did you mean `command`?"
        );
        let err = ConfigError::UnknownKey(Box::new(UnknownKey {
            at,
            key: "zz".into(),
            context: "at the top level".into(),
            suggestion: None,
            expected: vec!["mode".into(), "backends".into()],
        }));
        assert!(
            err.to_string()
                .ends_with("; expected one of `mode`, `backends`")
        );
        let nowhere = Location::new(Path::new("f.yaml"), None);
        assert_eq!(nowhere.to_string(), "f.yaml");
    }
}
