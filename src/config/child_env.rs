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
    // Proxies: without them `npx -y …`/`uvx …` cannot download a server behind a corporate
    // proxy. Both cases, because curl-style tools read the lower-case names and others the
    // upper-case ones. A proxy URL can carry the proxy's own credentials; the child would
    // need them for the same proxy anyway.
    "HTTP_PROXY",
    "HTTPS_PROXY",
    "NO_PROXY",
    "ALL_PROXY",
    "http_proxy",
    "https_proxy",
    "no_proxy",
    "all_proxy",
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

/// Variable families some servers cannot run without and the allow-list drops, with the
/// words of a command line that suggest the server reads them (`true`: a name prefix).
const NEEDS: &[(&str, bool, &[&str])] = &[
    ("AWS_", true, &["aws"]),
    ("JAVA_HOME", false, &["java", "jar", "mvn", "gradle"]),
    ("NODE_", true, &["node", "npx", "npm", "bun"]),
    ("PYTHON", true, &["python", "uv", "uvx", "pip"]),
];

/// Variables of the gateway's environment that a stdio backend probably needs but will not
/// get: its command line suggests it reads a family of variables (`aws…` and `AWS_*`, Java
/// and `JAVA_HOME`, Node and `NODE_*`, Python and `PYTHON*`), and neither its `env:` nor
/// `inherit_env` passes them. Sorted; empty when nothing is missing.
pub fn dropped_needs(
    command: &str,
    args: &[String],
    env: &BTreeMap<String, String>,
    inherit: bool,
) -> Vec<String> {
    dropped_needs_from(std::env::vars_os(), command, args, env, inherit)
}

/// [`dropped_needs`] with the parent environment as a parameter, for tests.
pub(crate) fn dropped_needs_from(
    parent: impl IntoIterator<Item = (OsString, OsString)>,
    command: &str,
    args: &[String],
    env: &BTreeMap<String, String>,
    inherit: bool,
) -> Vec<String> {
    if inherit {
        return Vec::new();
    }
    let words: Vec<String> = std::iter::once(command)
        .chain(args.iter().map(String::as_str))
        .flat_map(|a| a.split(|c: char| !c.is_ascii_alphanumeric()))
        .filter(|w| !w.is_empty())
        .map(str::to_ascii_lowercase)
        .collect();
    let families: Vec<(&str, bool)> = NEEDS
        .iter()
        .filter(|(_, _, hints)| hints.iter().any(|h| words.iter().any(|w| w.starts_with(h))))
        .map(|(name, prefix, _)| (*name, *prefix))
        .collect();
    let mut missing: Vec<String> = parent
        .into_iter()
        .filter_map(|(name, _)| name.into_string().ok())
        .filter(|name| {
            families.iter().any(|(family, prefix)| {
                if *prefix {
                    name.starts_with(family)
                } else {
                    name == family
                }
            })
        })
        .filter(|name| !is_allowed(name) && !env.contains_key(name))
        .collect();
    missing.sort();
    missing
}

/// The advice for [`dropped_needs`]: what is missing and the two ways to pass it.
pub fn dropped_needs_advice(backend: &str, missing: &[String]) -> String {
    let first = missing.first().map_or("VAR", String::as_str);
    format!(
        "backend `{backend}` probably needs {}, which the gateway does not pass to it (a stdio \
         backend gets only a safe allow-list of the environment): list them under its `env:` \
         (e.g. `{first}: ${{{first}}}`) or set `inherit_env: true`",
        missing.join(", ")
    )
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
            ("HTTPS_PROXY", "http://proxy:3128"),
            ("no_proxy", "localhost"),
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
                "HTTPS_PROXY",
                "LANG",
                "NODE_EXTRA_CA_CERTS",
                "NPM_CONFIG_CACHE",
                "PATH",
                "XDG_CONFIG_HOME",
                "no_proxy",
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
    fn proxies_pass_in_both_cases() {
        let env = child_env_from(parent(), &BTreeMap::new(), false);
        assert!(env.contains(&("HTTPS_PROXY".to_owned(), "http://proxy:3128".to_owned())));
        assert!(env.contains(&("no_proxy".to_owned(), "localhost".to_owned())));
    }

    #[test]
    fn dropped_needs_follow_the_command_line() {
        let parent = || {
            [
                ("AWS_PROFILE", "dev"),
                ("AWS_REGION", "eu-west-1"),
                ("JAVA_HOME", "/opt/jdk"),
                ("NODE_OPTIONS", "--max-old-space-size=4096"),
                ("NODE_EXTRA_CA_CERTS", "/etc/ca.pem"),
                ("PATH", "/usr/bin"),
            ]
            .into_iter()
            .map(|(k, v)| (OsString::from(k), OsString::from(v)))
        };
        let none = BTreeMap::new();
        let aws = ["awslabs.aws-api-mcp-server@latest".to_owned()];
        assert_eq!(
            dropped_needs_from(parent(), "uvx", &aws, &none, false),
            ["AWS_PROFILE", "AWS_REGION"]
        );
        let own = BTreeMap::from([("AWS_PROFILE".to_owned(), "dev".to_owned())]);
        assert_eq!(
            dropped_needs_from(parent(), "uvx", &aws, &own, false),
            ["AWS_REGION"]
        );
        assert!(dropped_needs_from(parent(), "uvx", &aws, &none, true).is_empty());
        // NODE_EXTRA_CA_CERTS is on the allow-list already.
        assert_eq!(
            dropped_needs_from(parent(), "npx", &["-y".to_owned()], &none, false),
            ["NODE_OPTIONS"]
        );
        assert_eq!(
            dropped_needs_from(
                parent(),
                "/usr/bin/java",
                &["-jar".to_owned()],
                &none,
                false
            ),
            ["JAVA_HOME"]
        );
        assert!(dropped_needs_from(parent(), "/bin/cat", &[], &none, false).is_empty());
        let advice = dropped_needs_advice("aws", &["AWS_PROFILE".to_owned()]);
        assert!(advice.contains("env:") && advice.contains("inherit_env: true"));
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
