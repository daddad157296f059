//! Keeping a backend's credentials out of logs and error messages.
//!
//! Error texts from HTTP stacks quote the URL they failed on (query string included), and a
//! failing child may echo its arguments; both end up in the log and in
//! `gateway_list_servers`. [`Transport::redact`] masks every value of the backend's config
//! that may be a credential; [`redact_url`] masks the parts of a URL that carry one. Libraries
//! log too (rmcp logs a failed request with its URL), so every loaded config also registers
//! its credentials here, and the log writer passes each line through [`scrub`].

use std::borrow::Cow;
use std::sync::RwLock;

use super::Transport;

/// Every credential of every config loaded by this process. Process-wide because log lines
/// come from anywhere, libraries included; only grows, as a value logged once stays secret.
static KNOWN: RwLock<Vec<String>> = RwLock::new(Vec::new());

/// Adds credentials for [`scrub`] to mask.
pub fn register_secrets(secrets: impl IntoIterator<Item = String>) {
    let mut known = KNOWN.write().unwrap_or_else(|p| p.into_inner());
    for s in secrets {
        if s.len() >= MIN_SECRET && !known.contains(&s) {
            known.push(s);
        }
    }
    known.sort_by_key(|s| std::cmp::Reverse(s.len()));
}

/// `text` with every registered credential masked; borrowed when there was none.
pub fn scrub(text: &str) -> Cow<'_, str> {
    let known = KNOWN.read().unwrap_or_else(|p| p.into_inner());
    let mut out = Cow::Borrowed(text);
    for secret in known.iter() {
        if out.contains(secret.as_str()) {
            out = Cow::Owned(out.replace(secret.as_str(), MASK));
        }
    }
    out
}

/// What a masked value is shown as.
pub const MASK: &str = "***";
/// Shorter values are not masked: they are not credentials, and masking `1` or `on` would
/// garble the rest of the message.
const MIN_SECRET: usize = 6;

impl Transport {
    /// The expanded values of this backend that may be credentials: every header value, env
    /// values whose name or shape says secret, and the secret parts of the URL.
    pub fn secret_values(&self) -> Vec<String> {
        let mut out: Vec<String> = match self {
            Transport::Stdio { env, args, .. } => env
                .iter()
                .filter(|(k, v)| looks_secret(k, v))
                .map(|(_, v)| v.clone())
                .chain(args.iter().filter(|a| looks_secret("", a)).cloned())
                .collect(),
            Transport::Http {
                url,
                headers,
                oauth,
            } => {
                let mut v: Vec<String> = headers.values().cloned().collect();
                v.extend(oauth.client_secret.iter().cloned());
                // `Bearer abc…`: the token alone, in case a message quotes only that.
                v.extend(
                    headers
                        .values()
                        .filter_map(|h| h.split_once(' ').map(|(_, t)| t.to_owned())),
                );
                v.extend(url_secrets(url));
                v
            }
        };
        out.retain(|s| s.len() >= MIN_SECRET);
        // Longest first, so a token inside a longer value is not masked half-way.
        out.sort_by_key(|s| std::cmp::Reverse(s.len()));
        out.dedup();
        out
    }

    /// `text` with every credential of this backend replaced by [`MASK`].
    pub fn redact(&self, text: &str) -> String {
        let mut text = text.to_owned();
        for secret in self.secret_values() {
            text = text.replace(&secret, MASK);
        }
        text
    }
}

/// `url` with its password, query values and key-like path segments masked.
pub fn redact_url(url: &str) -> String {
    let mut out = url.to_owned();
    for secret in url_secrets(url) {
        out = out.replace(&secret, MASK);
    }
    out
}

/// The parts of a URL that may be credentials: the userinfo password, every query value,
/// and path segments shaped like a key (`sk-…`, `ghp_…`).
pub fn url_secrets(url: &str) -> Vec<String> {
    let mut out = Vec::new();
    let rest = url.split_once("://").map_or(url, |(_, r)| r);
    let authority = rest.split(['/', '?', '#']).next().unwrap_or("");
    if let Some((userinfo, _)) = authority.rsplit_once('@')
        && let Some((_, password)) = userinfo.split_once(':')
    {
        out.push(password.to_owned());
    }
    if let Some((path, query)) = rest.split_once('?') {
        let query = query.split('#').next().unwrap_or("");
        out.extend(
            query
                .split('&')
                .filter_map(|pair| pair.split_once('=').map(|(_, v)| v.to_owned())),
        );
        out.extend(
            path.split('/')
                .filter(|s| looks_secret("", s))
                .map(str::to_owned),
        );
    } else {
        out.extend(
            rest.split('/')
                .filter(|s| looks_secret("", s))
                .map(str::to_owned),
        );
    }
    out.retain(|s| s.len() >= MIN_SECRET);
    out
}

/// Whether a `key: value` pair looks like a literal credential: by the key's words (`TOKEN`,
/// `API_KEY`, …) or the value's well-known prefixes. A value holding a `${…}` reference is
/// not a literal.
pub fn looks_secret(key: &str, value: &str) -> bool {
    if value.is_empty() || value.contains("${") {
        return false;
    }
    let k = key.to_ascii_uppercase();
    // By word, so `PLAYWRIGHT_BROWSERS_PATH` is not a `PAT`.
    k.split(|c: char| !c.is_ascii_alphanumeric()).any(|w| {
        matches!(
            w,
            "TOKEN"
                | "SECRET"
                | "KEY"
                | "APIKEY"
                | "PASSWORD"
                | "PASS"
                | "PAT"
                | "AUTHORIZATION"
                | "AUTH"
                | "CREDENTIAL"
                | "CREDENTIALS"
        )
    }) || [
        "Bearer ",
        "sk-",
        "ghp_",
        "github_pat_",
        "xoxb-",
        "xoxp-",
        "sbp_",
    ]
    .iter()
    .any(|p| value.starts_with(p))
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;

    #[test]
    fn credentials_are_masked_and_the_rest_kept() {
        assert_eq!(
            redact_url("https://u:hunter22@h.example/mcp/sk-abcdef123?api_key=k123456&v=1"),
            "https://u:***@h.example/mcp/***?api_key=***&v=1"
        );
        let http = Transport::Http {
            url: "https://h.example/mcp?key=abcdef123".into(),
            headers: BTreeMap::from([("Authorization".into(), "Bearer tok-123456".into())]),
            oauth: crate::config::OAuthConfig::default(),
        };
        assert_eq!(
            http.redact(
                "error sending request for url (https://h.example/mcp?key=abcdef123): tok-123456"
            ),
            "error sending request for url (https://h.example/mcp?key=***): ***"
        );
        let stdio = Transport::Stdio {
            command: "x".into(),
            args: vec!["--token".into(), "ghp_0123456789".into()],
            env: BTreeMap::from([
                ("GITHUB_TOKEN".into(), "ghp_abcdefgh".into()),
                ("LOG_LEVEL".into(), "verbose".into()),
            ]),
            cwd: None,
            inherit_env: false,
        };
        assert_eq!(
            stdio.redact("exit: ghp_abcdefgh ghp_0123456789 verbose"),
            "exit: *** *** verbose"
        );
    }
}
