//! One raw backend entry → a validated [`BackendConfig`].
//!
//! This is where the original mcp-gateway's spellings become ours (single-string `command`,
//! `http_url`), where `${VAR}` references are expanded, and where relative paths are tied to
//! the config file's directory, so the rest of the gateway never sees any of that.
//!
//! Commands are shell-split *before* expansion, so a variable whose value contains spaces
//! stays one argument. Messages quote what the user wrote, never expanded values, since those
//! may be secrets. Expanded: `command`, `args`, `env` values, `cwd`, `url`, `headers` values;
//! `description` is shown to clients and is left as written.

use std::collections::BTreeMap;
use std::path::Path;

use super::expand::{Lookup, VarUse, expand};
use super::locate::{Doc, Seg, Target};
use super::oauth::{self, OAuthConfig};
use super::raw::RawBackend;
use super::{BackendConfig, ConfigError, DEFAULT_START_TIMEOUT, DEFAULT_TIMEOUT, Transport};

/// Longest backend name: names become tool-name prefixes (`<name>__<tool>`), and clients
/// reject tool names over 64 characters.
pub const MAX_BACKEND_NAME: usize = 32;

/// What building a backend needs besides the entry itself.
pub(crate) struct Ctx<'a> {
    pub doc: Doc<'a>,
    /// Directory relative paths resolve against: the config file's.
    pub base_dir: &'a Path,
    pub env: Lookup<'a>,
    pub warnings: &'a mut Vec<String>,
}

/// Builds one backend. `Ok(None)` means the entry is skipped (it only names a transport of
/// the original that we do not speak); a warning says so.
pub(crate) fn build(
    name: &str,
    raw: RawBackend,
    ctx: &mut Ctx<'_>,
) -> Result<Option<BackendConfig>, ConfigError> {
    let here = |key: &str| [Seg::key("backends"), Seg::key(name), Seg::key(key)];
    let doc = ctx.doc;
    check_name(name).map_err(|m| doc.invalid(&here("")[..2], Target::Key, m))?;

    let url_key = match (&raw.url, &raw.http_url) {
        (Some(_), Some(_)) => {
            return Err(doc.invalid(
                &here("http_url"),
                Target::Key,
                format!(
                    "backend `{name}` has both `url` and `http_url`, which mean the same; keep one"
                ),
            ));
        }
        (_, Some(_)) => "http_url",
        _ => "url",
    };
    let url = raw.url.clone().or_else(|| raw.http_url.clone());
    let mut used = VarUse::default();
    let transport = match (raw.command.clone(), url) {
        (Some(_), Some(_)) => {
            return Err(doc.invalid(
                &here(url_key),
                Target::Key,
                format!(
                    "backend `{name}` has both `command` and `{url_key}`: a backend is either \
                     a local command or a remote URL"
                ),
            ));
        }
        (None, None) => {
            if let Some(key) = [
                ("a2a_url", raw.a2a_url.is_some()),
                ("ws_url", raw.ws_url.is_some()),
            ]
            .into_iter()
            .find_map(|(k, present)| present.then_some(k))
            {
                ctx.warnings.push(format!(
                    "backend `{name}` is skipped: `{key}` is a transport this gateway does not speak"
                ));
                return Ok(None);
            }
            return Err(doc.invalid(
                &here("")[..2],
                Target::Key,
                format!(
                    "backend `{name}` has neither `command` (a local server) nor `url` \
                     (a remote one)"
                ),
            ));
        }
        (Some(command), None) => stdio(name, command, &raw, ctx, &mut used)?,
        (None, Some(url)) => http(name, url_key, &url, &raw, ctx, &mut used)?,
    };

    for var in &used.unset {
        ctx.warnings.push(format!(
            "backend `{name}`: environment variable `{var}` is not set; `${{{var}}}` expands \
             to an empty string"
        ));
    }
    let failsafe = super::failsafe::build(name, &raw, doc)?;
    let protocol_version = raw.protocol_version.filter(|v| !v.trim().is_empty());
    if let Some(version) = &protocol_version
        && !INITIALIZE_VERSIONS.contains(&version.trim())
    {
        return Err(doc.invalid(
            &here("protocol_version"),
            Target::Value,
            format!(
                "protocol version `{version}` is not one the gateway can offer in `initialize`; \
                 use one of {}",
                INITIALIZE_VERSIONS.join(", ")
            ),
        ));
    }
    let mut enabled = raw.enabled.unwrap_or(true);
    if let Some(why) = unusable(&transport, &used) {
        // A reference to a variable this shell lacks must not take the whole gateway down.
        ctx.warnings
            .push(format!("backend `{name}` is disabled: {why}"));
        enabled = false;
    }
    Ok(Some(BackendConfig {
        name: name.to_owned(),
        description: raw.description.filter(|d| !d.trim().is_empty()),
        enabled,
        timeout: raw.timeout.map_or(DEFAULT_TIMEOUT, |d| d.0),
        start_timeout: raw.start_timeout.map_or(DEFAULT_START_TIMEOUT, |d| d.0),
        transport,
        protocol_version: protocol_version.map(|v| v.trim().to_owned()),
        trust: raw.trust.unwrap_or_default(),
        start: raw.start.unwrap_or_default(),
        idle_timeout: raw.idle_timeout.map(|d| d.0),
        failsafe,
        referenced_vars: used.referenced,
        unset_vars: used.unset,
    }))
}

/// The MCP versions a backend can be initialized at (2026-07-28 has no `initialize`).
pub const INITIALIZE_VERSIONS: &[&str] = &["2024-11-05", "2025-03-26", "2025-06-18", "2025-11-25"];

fn check_name(name: &str) -> Result<(), String> {
    if name.is_empty() {
        return Err("a backend name must not be empty".into());
    }
    if name.chars().count() > MAX_BACKEND_NAME {
        return Err(format!(
            "backend name `{name}` is longer than {MAX_BACKEND_NAME} characters \
             (it becomes a prefix of tool names)"
        ));
    }
    if let Some(bad) = name
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || *c == '_' || *c == '-'))
    {
        return Err(format!(
            "backend name `{name}` contains `{bad}`; use letters, digits, `_` and `-`"
        ));
    }
    Ok(())
}

/// After expansion, a transport an unset variable emptied out cannot start.
fn unusable(transport: &Transport, used: &VarUse) -> Option<String> {
    let vars = || {
        used.unset
            .iter()
            .map(|v| format!("`{v}`"))
            .collect::<Vec<_>>()
            .join(", ")
    };
    match transport {
        Transport::Stdio { command, .. } if command.trim().is_empty() => Some(format!(
            "its command is empty because {} is not set",
            vars()
        )),
        Transport::Http { url, .. } if check_url(url).is_err() => Some(format!(
            "its url is not valid because {} is not set",
            vars()
        )),
        _ => None,
    }
}

fn stdio(
    name: &str,
    command: String,
    raw: &RawBackend,
    ctx: &mut Ctx<'_>,
    used: &mut VarUse,
) -> Result<Transport, ConfigError> {
    let doc = ctx.doc;
    let at = |key: &str| vec![Seg::key("backends"), Seg::key(name), Seg::key(key)];
    let at_index = |key: &str, i: usize| {
        let mut p = at(key);
        p.push(Seg::Index(i));
        p
    };
    // Each word keeps the path it came from, for error positions.
    let words: Vec<(String, Vec<Seg>)> = match &raw.args {
        Some(args) => std::iter::once((command, at("command")))
            .chain(
                args.iter()
                    .enumerate()
                    .map(|(i, a)| (a.clone(), at_index("args", i))),
            )
            .collect(),
        // The original's form: one string holding the whole command line.
        None => shell_words::split(&command)
            .map_err(|e| {
                doc.invalid(
                    &at("command"),
                    Target::Value,
                    format!("cannot split the command of backend `{name}` into words: {e}"),
                )
            })?
            .into_iter()
            .map(|w| (w, at("command")))
            .collect(),
    };
    let mut expanded = Vec::with_capacity(words.len());
    for (word, path) in words {
        let value = expand(&word, ctx.env, used)
            .map_err(|m| doc.invalid(&path, Target::Value, format!("backend `{name}`: {m}")))?;
        expanded.push(value);
    }
    let mut parts = expanded.into_iter();
    let command = parts.next().unwrap_or_default();
    if command.trim().is_empty() && used.unset.is_empty() {
        return Err(doc.invalid(
            &at("command"),
            Target::Value,
            format!("backend `{name}` has an empty command"),
        ));
    }
    let args: Vec<String> = parts.collect();

    let mut env = BTreeMap::new();
    for (key, value) in raw.env.iter().flatten() {
        let path = [at("env"), vec![Seg::key(key)]].concat();
        if key.is_empty() || key.contains(['=', '\0']) {
            return Err(doc.invalid(
                &path,
                Target::Key,
                format!("backend `{name}`: `{key}` is not a valid environment variable name"),
            ));
        }
        let value = expand(value, ctx.env, used)
            .map_err(|m| doc.invalid(&path, Target::Value, format!("backend `{name}`: {m}")))?;
        env.insert(key.clone(), value);
    }

    let cwd = match &raw.cwd {
        None => None,
        Some(cwd) => {
            let cwd = expand(cwd, ctx.env, used).map_err(|m| {
                doc.invalid(&at("cwd"), Target::Value, format!("backend `{name}`: {m}"))
            })?;
            (!cwd.is_empty()).then(|| ctx.base_dir.join(cwd))
        }
    };

    for (key, present) in [
        ("headers", raw.headers.is_some()),
        ("streamable_http", raw.streamable_http.is_some()),
        ("oauth", raw.oauth.is_some()),
    ] {
        if present {
            ctx.warnings.push(format!(
                "backend `{name}`: `{key}` applies only to `url` backends and is ignored"
            ));
        }
    }

    Ok(Transport::Stdio {
        command: resolve_command(&command, ctx.base_dir),
        args,
        env,
        cwd,
        inherit_env: raw.inherit_env.unwrap_or(false),
    })
}

/// `./server` and `../bin/server` mean "next to this config file", as any other relative path
/// in it does; bare names (`npx`) are looked up on `PATH` by the spawner.
fn resolve_command(command: &str, base_dir: &Path) -> String {
    let relative = ["./", "../"]
        .iter()
        .chain(if cfg!(windows) {
            &[".\\", "..\\"][..]
        } else {
            &[][..]
        })
        .any(|p| command.starts_with(p));
    if relative {
        base_dir.join(command).to_string_lossy().into_owned()
    } else {
        command.to_owned()
    }
}

fn http(
    name: &str,
    url_key: &str,
    url: &str,
    raw: &RawBackend,
    ctx: &mut Ctx<'_>,
    used: &mut VarUse,
) -> Result<Transport, ConfigError> {
    let doc = ctx.doc;
    let at = |key: &str| vec![Seg::key("backends"), Seg::key(name), Seg::key(key)];
    let before = used.unset.len();
    let expanded = expand(url, ctx.env, used).map_err(|m| {
        doc.invalid(
            &at(url_key),
            Target::Value,
            format!("backend `{name}`: {m}"),
        )
    })?;
    if let Err(why) = check_url(&expanded) {
        // An unset variable is reported as a warning by the caller, which disables the backend.
        if used.unset.len() == before {
            return Err(doc.invalid(
                &at(url_key),
                Target::Value,
                format!("backend `{name}`: `{url}` is not a valid URL: {why}"),
            ));
        }
    }
    let path = expanded.split(['?', '#']).next().unwrap_or_default();
    if raw.streamable_http != Some(true) && path.trim_end_matches('/').ends_with("/sse") {
        ctx.warnings.push(format!(
            "backend `{name}`: `{url}` looks like a legacy SSE endpoint; this gateway speaks only \
             Streamable HTTP, so the server must support it at this URL"
        ));
    }

    let mut headers = BTreeMap::new();
    for (key, value) in raw.headers.iter().flatten() {
        let path = [at("headers"), vec![Seg::key(key)]].concat();
        if key.is_empty() || !key.bytes().all(is_token_byte) {
            return Err(doc.invalid(
                &path,
                Target::Key,
                format!("backend `{name}`: `{key}` is not a valid HTTP header name"),
            ));
        }
        let value = expand(value, ctx.env, used)
            .map_err(|m| doc.invalid(&path, Target::Value, format!("backend `{name}`: {m}")))?;
        if value.contains(['\r', '\n', '\0']) {
            return Err(doc.invalid(
                &path,
                Target::Value,
                format!("backend `{name}`: header `{key}` contains a line break"),
            ));
        }
        headers.insert(key.clone(), value);
    }

    for (key, present) in [
        ("args", raw.args.is_some()),
        ("env", raw.env.is_some()),
        ("cwd", raw.cwd.is_some()),
        ("inherit_env", raw.inherit_env.is_some()),
    ] {
        if present {
            ctx.warnings.push(format!(
                "backend `{name}`: `{key}` applies only to `command` backends and is ignored"
            ));
        }
    }
    let oauth = match &raw.oauth {
        None => OAuthConfig::default(),
        Some(raw_oauth) => oauth::build(raw_oauth, ctx.env, used, ctx.warnings, name)
            .map_err(|m| doc.invalid(&at("oauth"), Target::Value, m))?,
    };
    Ok(Transport::Http {
        url: expanded,
        headers,
        oauth,
    })
}

/// RFC 9110 `tchar`: what a header name may contain.
fn is_token_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b)
}

/// A deliberately small URL check (the HTTP client does the full parse): an `http` or
/// `https` scheme, a host, an optional numeric port, and no whitespace.
pub(crate) fn check_url(url: &str) -> Result<(), &'static str> {
    let Some((scheme, rest)) = url.split_once("://") else {
        return Err("it must start with http:// or https://");
    };
    if !(scheme.eq_ignore_ascii_case("http") || scheme.eq_ignore_ascii_case("https")) {
        return Err("only http:// and https:// URLs are supported");
    }
    if url.chars().any(char::is_whitespace) {
        return Err("it contains whitespace");
    }
    let authority = rest.split(['/', '?', '#']).next().unwrap_or_default();
    let host_port = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
    let (host, port) = if let Some(v6) = host_port.strip_prefix('[') {
        match v6.split_once(']') {
            Some((h, p)) => (h, p.strip_prefix(':')),
            None => return Err("it has an unclosed `[` in the host"),
        }
    } else {
        match host_port.rsplit_once(':') {
            Some((h, p)) => (h, Some(p)),
            None => (host_port, None),
        }
    };
    if host.is_empty() {
        return Err("it has no host");
    }
    if let Some(port) = port
        && !port.is_empty()
        && port.parse::<u16>().is_err()
    {
        return Err("its port is not a number from 0 to 65535");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::PathBuf;

    #[test]
    fn backend_names() {
        assert!(check_name("fs").is_ok());
        assert!(check_name("my-server_2").is_ok());
        assert!(check_name(&"a".repeat(32)).is_ok());
        assert!(check_name(&"a".repeat(33)).is_err());
        assert!(check_name("").is_err());
        assert!(check_name("a.b").is_err());
        assert!(check_name("a b").is_err());
        assert!(check_name("fs/x").is_err());
    }

    #[test]
    fn urls() {
        for good in [
            "http://localhost:8080/mcp",
            "https://example.com",
            "https://user:pw@example.com/mcp?x=1",
            "http://[::1]:9000/mcp",
            "HTTPS://EXAMPLE.COM/",
        ] {
            assert_eq!(check_url(good), Ok(()), "{good}");
        }
        for bad in [
            "",
            "example.com/mcp",
            "ftp://example.com",
            "ws://example.com",
            "http://",
            "http:///path",
            "http://host:port/",
            "http://host:99999/",
            "http://exa mple.com",
            "http://[::1/",
        ] {
            assert!(check_url(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn relative_commands_resolve_against_the_config_dir() {
        let base = Path::new("/etc/gw");
        assert_eq!(resolve_command("npx", base), "npx");
        assert_eq!(resolve_command("/usr/bin/x", base), "/usr/bin/x");
        assert_eq!(
            PathBuf::from(resolve_command("./bin/server", base)),
            base.join("./bin/server")
        );
    }
}
