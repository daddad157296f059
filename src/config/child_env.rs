//! The environment a stdio backend is started with.
//!
//! By default a backend does not inherit the gateway's environment: the gateway usually runs
//! inside an AI client whose environment holds API keys for every service the user has, and a
//! third-party MCP server should see only the secrets its own `env:` hands it. It gets a short
//! allow-list of variables that programs need to run at all, plus its `env:` (which wins).
//! `inherit_env: true` passes everything through instead.

use std::collections::BTreeMap;
use std::ffi::OsString;

/// Variables every child gets (when the gateway has them): locating programs, the home and
/// temp dirs, locale, time zone, the terminal, and on Windows what the C runtime, `cmd.exe`
/// and Node need to start. None of them carries a credential.
const ALLOWED: &[&str] = &[
    "PATH",
    "HOME",
    "USER",
    "LOGNAME",
    "LANG",
    "LC_ALL",
    "LC_CTYPE",
    "TZ",
    "TMPDIR",
    "TEMP",
    "TMP",
    "SHELL",
    "TERM",
    // Windows.
    "SYSTEMROOT",
    "WINDIR",
    "USERPROFILE",
    "APPDATA",
    "LOCALAPPDATA",
    "PROGRAMDATA",
    "PATHEXT",
    "COMSPEC",
    // Custom certificate authorities: without these, `npx`/`uvx` cannot download a server
    // behind a corporate TLS-inspecting proxy. They name files, not secrets.
    "NODE_EXTRA_CA_CERTS",
    "SSL_CERT_FILE",
    "SSL_CERT_DIR",
    "UV_SYSTEM_CERTS",
];

/// Prefixes passed through as well. `npm_config_*` is how npm/npx learn a private registry
/// or cache location (a registry token there is only ever sent to that registry, which is
/// where the child would send it anyway); `XDG_*` tells tools where config and caches live.
/// Comparison ignores case: npm reads `NPM_CONFIG_*` too.
const ALLOWED_PREFIXES: &[&str] = &["npm_config_", "XDG_"];

/// The complete environment for a stdio child: start it with an empty environment and set
/// exactly these, sorted by name. `env` is the backend's `env:` map, already expanded.
///
/// Parent variables whose name or value is not UTF-8 are left out.
pub fn child_env(env: &BTreeMap<String, String>, inherit: bool) -> Vec<(String, String)> {
    child_env_from(std::env::vars_os(), env, inherit)
}

/// [`child_env`] with the parent environment as a parameter, for tests.
pub(crate) fn child_env_from(
    parent: impl IntoIterator<Item = (OsString, OsString)>,
    env: &BTreeMap<String, String>,
    inherit: bool,
) -> Vec<(String, String)> {
    // Keyed by the normalised name so that on Windows, where names are case-insensitive,
    // a backend's `PATH` replaces the parent's `Path` instead of sitting beside it.
    let mut out: BTreeMap<String, (String, String)> = BTreeMap::new();
    for (name, value) in parent {
        let (Ok(name), Ok(value)) = (name.into_string(), value.into_string()) else {
            continue;
        };
        if inherit || is_allowed(&name) {
            out.insert(normalise(&name), (name, value));
        }
    }
    for (name, value) in env {
        out.insert(normalise(name), (name.clone(), value.clone()));
    }
    out.into_values().collect()
}

fn is_allowed(name: &str) -> bool {
    let upper = name.to_ascii_uppercase();
    // Exact names compare case-insensitively only on Windows; elsewhere `path` is not `PATH`.
    let exact = if cfg!(windows) {
        ALLOWED.contains(&upper.as_str())
    } else {
        ALLOWED.contains(&name)
    };
    exact
        || ALLOWED_PREFIXES
            .iter()
            .any(|p| upper.starts_with(&p.to_ascii_uppercase()))
}

fn normalise(name: &str) -> String {
    if cfg!(windows) {
        name.to_ascii_uppercase()
    } else {
        name.to_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parent() -> Vec<(OsString, OsString)> {
        [
            ("PATH", "/usr/bin"),
            ("HOME", "/home/u"),
            ("LANG", "C.UTF-8"),
            ("OPENAI_API_KEY", "sk-secret"),
            ("AWS_SECRET_ACCESS_KEY", "aws-secret"),
            ("npm_config_registry", "https://npm.example"),
            ("NPM_CONFIG_CACHE", "/cache"),
            ("XDG_CONFIG_HOME", "/home/u/.config"),
            ("NODE_EXTRA_CA_CERTS", "/etc/ca.pem"),
            ("FOO", "bar"),
        ]
        .into_iter()
        .map(|(k, v)| (OsString::from(k), OsString::from(v)))
        .collect()
    }

    fn names(env: &[(String, String)]) -> Vec<&str> {
        env.iter().map(|(k, _)| k.as_str()).collect()
    }

    #[test]
    fn allow_list_keeps_secrets_out() {
        let own = BTreeMap::from([("API_KEY".to_owned(), "mine".to_owned())]);
        let env = child_env_from(parent(), &own, false);
        assert_eq!(
            names(&env),
            [
                "API_KEY",
                "HOME",
                "LANG",
                "NODE_EXTRA_CA_CERTS",
                "NPM_CONFIG_CACHE",
                "PATH",
                "XDG_CONFIG_HOME",
                "npm_config_registry",
            ]
        );
        assert!(!env.iter().any(|(_, v)| v.contains("secret")));
    }

    #[test]
    fn own_env_wins() {
        let own = BTreeMap::from([("PATH".to_owned(), "/opt/bin".to_owned())]);
        let env = child_env_from(parent(), &own, false);
        let path: Vec<_> = env.iter().filter(|(k, _)| k == "PATH").collect();
        assert_eq!(path, [&("PATH".to_owned(), "/opt/bin".to_owned())]);
    }

    #[test]
    fn inherit_passes_everything() {
        let own = BTreeMap::from([("FOO".to_owned(), "mine".to_owned())]);
        let env = child_env_from(parent(), &own, true);
        assert_eq!(env.len(), parent().len());
        assert!(env.contains(&("OPENAI_API_KEY".to_owned(), "sk-secret".to_owned())));
        assert!(env.contains(&("FOO".to_owned(), "mine".to_owned())));
    }
}
