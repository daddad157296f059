//! Resource URIs as the client sees them: each backend's URI carries the backend's
//! prefix in its scheme (`<prefix>+<scheme>:…`), so every URI the client is given routes
//! back to the backend it came from, and stays a valid RFC 3986 URI.
//!
//! A scheme may hold only letters, digits, `+`, `-` and `.`, and is case-insensitive, so
//! the prefix is the server name lowercased with anything else turned into `-` (plus a
//! short hash when two servers would meet). `ui://` (MCP Apps) keeps its scheme: the
//! prefix goes first in the authority, `ui://<prefix>+<rest>`. A URI without a scheme
//! becomes `<prefix>:<uri>`. Templates take the same prefix (it sits before any `{…}`).

use std::collections::BTreeMap;

use sha2::{Digest, Sha256};

use super::ProxyError;

/// The reversible map between server names and URI prefixes for one set of servers.
#[derive(Debug, Default, Clone)]
pub struct Namespace {
    prefix_of: BTreeMap<String, String>,
    server_of: BTreeMap<String, String>,
}

impl Namespace {
    /// Prefixes for `servers`; the same set always gets the same prefixes.
    pub fn new<'a>(servers: impl IntoIterator<Item = &'a str>) -> Namespace {
        let mut names: Vec<&str> = servers.into_iter().collect();
        names.sort_unstable();
        let mut ns = Namespace::default();
        // Names that are already valid prefixes claim them first, so renaming others
        // never steals a prefix a user could read off their config.
        let (clean, dirty): (Vec<&str>, Vec<&str>) =
            names.into_iter().partition(|n| clean_prefix(n) == *n);
        for name in clean.into_iter().chain(dirty) {
            let mut prefix = clean_prefix(name);
            if ns.server_of.contains_key(&prefix) {
                prefix = format!("{prefix}-{}", short_hash(name));
            }
            ns.server_of.insert(prefix.clone(), name.to_owned());
            ns.prefix_of.insert(name.to_owned(), prefix);
        }
        ns
    }

    /// The URI the client sees for `uri` of `server`.
    pub fn wrap(&self, server: &str, uri: &str) -> String {
        let prefix = match self.prefix_of.get(server) {
            Some(p) => p.clone(),
            None => clean_prefix(server),
        };
        if let Some(rest) = strip_prefix_ci(uri, "ui://") {
            // The scheme as the backend spelled it, so the round trip is exact.
            let scheme = &uri[..uri.len() - rest.len()];
            return format!("{scheme}{prefix}+{rest}");
        }
        match scheme_len(uri) {
            Some(_) => format!("{prefix}+{uri}"),
            None => format!("{prefix}:{uri}"),
        }
    }

    /// The backend and its own URI for a URI the client was given.
    pub fn unwrap<'a>(&'a self, uri: &str) -> Result<(&'a str, String), ProxyError> {
        let unknown = || ProxyError::UnknownUri {
            uri: uri.to_owned(),
        };
        if let Some(rest) = strip_prefix_ci(uri, "ui://") {
            let (prefix, inner) = rest.split_once('+').ok_or_else(unknown)?;
            let server = self.server(prefix).ok_or_else(unknown)?;
            let scheme = &uri[..uri.len() - rest.len()];
            return Ok((server, format!("{scheme}{inner}")));
        }
        let len = scheme_len(uri).ok_or_else(unknown)?;
        let (scheme, rest) = (&uri[..len], &uri[len + 1..]);
        let (prefix, original) = match scheme.split_once('+') {
            Some((prefix, inner)) => (prefix, format!("{inner}:{rest}")),
            None => (scheme, rest.to_owned()),
        };
        let server = self.server(prefix).ok_or_else(unknown)?;
        Ok((server, original))
    }

    fn server(&self, prefix: &str) -> Option<&str> {
        self.server_of
            .get(&prefix.to_ascii_lowercase())
            .map(String::as_str)
    }
}

/// The length of `uri`'s scheme, if it has a valid one.
fn scheme_len(uri: &str) -> Option<usize> {
    let colon = uri.find(':')?;
    let scheme = &uri[..colon];
    let mut chars = scheme.chars();
    let first = chars.next()?;
    let valid = first.is_ascii_alphabetic()
        && chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.'));
    valid.then_some(colon)
}

fn strip_prefix_ci<'a>(s: &'a str, prefix: &str) -> Option<&'a str> {
    let head = s.get(..prefix.len())?;
    head.eq_ignore_ascii_case(prefix)
        .then(|| &s[prefix.len()..])
}

/// A server name as a scheme part: lowercase letters, digits, `-` and `.`, starting
/// with a letter. `+` is left out: it separates the prefix from the backend's scheme.
fn clean_prefix(name: &str) -> String {
    let mut out: String = name
        .chars()
        .map(|c| {
            let c = c.to_ascii_lowercase();
            if c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '.' {
                c
            } else {
                '-'
            }
        })
        .collect();
    if !out.starts_with(|c: char| c.is_ascii_lowercase()) {
        out.insert(0, 'x');
    }
    out
}

fn short_hash(name: &str) -> String {
    let digest = Sha256::digest(name.as_bytes());
    digest[..4].iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn ns() -> Namespace {
        Namespace::new(["everything", "my_fs", "my-fs", "9lives", "Apps"])
    }

    #[test]
    fn every_kind_of_uri_round_trips() {
        let ns = ns();
        for server in ["everything", "my_fs", "my-fs", "9lives", "Apps"] {
            for uri in [
                "demo://resource/static/document/architecture.md",
                "file:///tmp/a b.txt",
                "svn+ssh://host/repo",
                "ui://widget/card.html",
                "UI://widget/card.html",
                "relative/path",
                "test://template/{id}/data",
                "{+path}",
            ] {
                let wrapped = ns.wrap(server, uri);
                let (back, original) = ns.unwrap(&wrapped).unwrap();
                assert_eq!((back, original.as_str()), (server, uri), "{wrapped}");
            }
        }
    }

    #[test]
    fn wrapped_schemes_are_valid_rfc3986() {
        let ns = ns();
        for server in ["everything", "my_fs", "my-fs", "9lives", "Apps"] {
            let wrapped = ns.wrap(server, "file:///x");
            let scheme = &wrapped[..scheme_len(&wrapped).unwrap()];
            assert!(!scheme.contains('_'), "{wrapped}");
            assert!(scheme.starts_with(|c: char| c.is_ascii_alphabetic()));
        }
        assert_eq!(ns.wrap("everything", "demo://x"), "everything+demo://x");
        assert_eq!(ns.wrap("everything", "ui://w/x"), "ui://everything+w/x");
    }

    #[test]
    fn names_that_sanitise_alike_get_distinct_prefixes() {
        let ns = ns();
        assert_ne!(ns.wrap("my_fs", "a:b"), ns.wrap("my-fs", "a:b"));
        // The name that already was a valid prefix keeps it.
        assert_eq!(ns.wrap("my-fs", "a:b"), "my-fs+a:b");
    }

    #[test]
    fn unknown_prefixes_are_errors_not_guesses() {
        let ns = ns();
        for uri in [
            "nobody+file:///x",
            "file:///x",
            "ui://nobody+x",
            "ui://x",
            "no-scheme",
        ] {
            assert!(ns.unwrap(uri).is_err(), "{uri}");
        }
    }
}
