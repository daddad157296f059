//! `auth login|logout|status`: OAuth sign-in for remote backends, from a terminal.
//!
//! `login` prints the authorization URL (stdout, so a script or a test can follow it) and
//! opens it in the user's browser when there is one (`$BROWSER`, else the desktop's opener;
//! never through a shell, and never fatal), then waits for the redirect. After a login or
//! logout, the gateways running on this config reconnect that backend at once.

use std::path::Path;
use std::process::{Command, ExitCode, Stdio};
use std::time::Duration;

use anyhow::{Context, bail};
use clap::Subcommand;
use serde_json::json;

use crate::auth::{Login, LoginOptions, TokenStore, tokens_dir};
use crate::config::{BackendConfig, Config, Transport};

#[derive(Debug, Subcommand)]
pub enum AuthCommand {
    /// Sign in to a remote backend with OAuth: prints the authorization URL, opens it in the
    /// browser, waits for the redirect and stores the tokens.
    Login {
        name: String,
        /// Only print the URL (headless machines, scripts).
        #[arg(long)]
        no_browser: bool,
        /// How long to wait for the browser to come back, e.g. `5m`.
        #[arg(long, value_name = "DURATION", default_value = "5m",
              value_parser = crate::config::parse_duration)]
        timeout: Duration,
    },
    /// Remove a backend's stored OAuth tokens.
    Logout { name: String },
    /// Which remote backends are signed in, and until when.
    Status {
        /// Only this backend.
        name: Option<String>,
        #[arg(long)]
        json: bool,
    },
}

pub async fn run(config: Config, command: AuthCommand) -> anyhow::Result<ExitCode> {
    match command {
        AuthCommand::Login {
            name,
            no_browser,
            timeout,
        } => login(&config, &name, !no_browser, timeout).await,
        AuthCommand::Logout { name } => logout(&config, &name),
        AuthCommand::Status { name, json } => status(&config, name.as_deref(), json),
    }
}

async fn login(
    config: &Config,
    name: &str,
    browser: bool,
    timeout: Duration,
) -> anyhow::Result<ExitCode> {
    let backend = remote(config, name)?;
    let Transport::Http {
        url,
        headers,
        oauth,
    } = &backend.transport
    else {
        bail!("backend `{name}` is a local command; OAuth sign-in is for `url` backends");
    };
    if !oauth.enabled {
        bail!("backend `{name}` has `oauth.enabled: false`; remove it to sign in");
    }
    if headers
        .keys()
        .any(|h| h.eq_ignore_ascii_case("authorization"))
    {
        eprintln!(
            "note: backend `{name}` has its own `Authorization` header, which is sent instead of \
             a stored token; remove it to use this sign-in"
        );
    }
    let login = Login::begin(LoginOptions {
        backend: name.to_owned(),
        url: url.clone(),
        headers: headers.clone(),
        oauth: oauth.clone(),
    })
    .await
    .with_context(|| format!("signing in to `{name}`"))?;
    if let Some(issuer) = &login.issuer {
        let how = if login.registered {
            "registered as a new client"
        } else {
            "with the configured client"
        };
        eprintln!("authorization server: {issuer} ({how})");
    }
    out!("Open this URL in a browser to authorize `{name}`:\n");
    out!("  {}\n", login.authorization_url());
    if browser {
        open_browser(login.authorization_url());
    }
    eprintln!(
        "waiting up to {timeout:?} for the redirect to {} …",
        login.redirect_uri()
    );
    let signed = login
        .finish(timeout)
        .await
        .with_context(|| format!("signing in to `{name}`"))?;
    let detail = signed
        .summary
        .as_ref()
        .map(|s| {
            let expiry = s
                .expires_in
                .map(|secs| format!("access token valid for {secs} s"))
                .unwrap_or_else(|| "no expiry given".into());
            let refresh = if s.refreshable {
                "refreshed automatically"
            } else {
                "no refresh token: sign in again when it expires"
            };
            format!(" ({expiry}, {refresh})")
        })
        .unwrap_or_default();
    out!(
        "Signed in to `{name}`. Tokens stored in {}{detail}.",
        signed.path.display()
    );
    reconnect(config, name);
    Ok(ExitCode::SUCCESS)
}

fn logout(config: &Config, name: &str) -> anyhow::Result<ExitCode> {
    let Some(dir) = tokens_dir() else {
        bail!("no data directory: set $MCP_GATEWAY_DATA_DIR");
    };
    let files = TokenStore::all_of(&dir, name);
    if files.is_empty() {
        out!("No OAuth tokens are stored for `{name}`.");
        return Ok(ExitCode::SUCCESS);
    }
    for (path, file) in &files {
        crate::auth::TokenStore::in_dir(&dir, name, &file.url)
            .remove()
            .with_context(|| format!("removing {}", path.display()))?;
        out!(
            "Removed the OAuth tokens of `{name}` for {} ({}).",
            crate::config::redact_url(&file.url),
            path.display()
        );
    }
    reconnect(config, name);
    Ok(ExitCode::SUCCESS)
}

fn status(config: &Config, only: Option<&str>, as_json: bool) -> anyhow::Result<ExitCode> {
    if let Some(name) = only {
        remote(config, name)?;
    }
    let mut rows = Vec::new();
    for (name, backend) in &config.backends {
        let Transport::Http { url, .. } = &backend.transport else {
            continue;
        };
        if only.is_some_and(|o| o != name) {
            continue;
        }
        let store = TokenStore::for_backend(name, url)?;
        let summary = store.read()?.map(|f| f.summary(store.path()));
        rows.push((name.clone(), summary));
    }
    if as_json {
        let list: Vec<_> = rows
            .iter()
            .map(|(name, s)| json!({"name": name, "signed_in": s.is_some(), "token": s}))
            .collect();
        out!("{}", serde_json::to_string_pretty(&list)?);
        return Ok(ExitCode::SUCCESS);
    }
    if rows.is_empty() {
        out!("No remote (`url`) backends are configured.");
    }
    for (name, summary) in rows {
        match summary {
            None => out!("{name}: not signed in (`mcp-gateway auth login {name}`)"),
            Some(s) => {
                let expiry = match s.expires_in {
                    Some(secs) if secs <= 0 => "access token expired".to_owned(),
                    Some(secs) => format!("access token valid for {secs} s"),
                    None => "no expiry given".to_owned(),
                };
                let refresh = if s.refreshable {
                    "refreshable"
                } else {
                    "not refreshable"
                };
                out!(
                    "{name}: signed in, {expiry}, {refresh}; scopes: {} ({})",
                    if s.scopes.is_empty() {
                        "-".to_owned()
                    } else {
                        s.scopes.join(" ")
                    },
                    s.path.display()
                );
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// The configured backend `name`, or an error naming the remote ones.
fn remote<'a>(config: &'a Config, name: &str) -> anyhow::Result<&'a BackendConfig> {
    if let Some(backend) = config.backends.get(name) {
        return Ok(backend);
    }
    let remotes: Vec<&str> = config
        .backends
        .iter()
        .filter(|(_, b)| matches!(b.transport, Transport::Http { .. }))
        .map(|(n, _)| n.as_str())
        .collect();
    let file = config
        .source
        .as_deref()
        .map_or_else(|| "the config".to_owned(), |p| p.display().to_string());
    if remotes.is_empty() {
        bail!("no backend `{name}` in {file} (it has no `url` backends)");
    }
    bail!(
        "no backend `{name}` in {file}; its remote backends: {}",
        remotes.join(", ")
    )
}

/// Ask the gateways running on this config to reconnect `name`, so a new (or removed)
/// token is used now rather than at the backend's next call.
fn reconnect(config: &Config, name: &str) {
    let Some(path) = config.source.as_deref() else {
        return;
    };
    if !config.backends.contains_key(name) {
        return;
    }
    for gateway in crate::control::running_gateways(Path::new(path)) {
        match gateway.restart(name) {
            Ok(()) => eprintln!(
                "reconnected `{name}` in the running gateway (pid {})",
                gateway.pid()
            ),
            Err(e) => eprintln!("gateway {}: {e}", gateway.pid()),
        }
    }
}

/// Open `url` in the user's browser, if there is one: `$BROWSER` (a `:`-separated list of
/// commands, `%s` standing for the URL), else the desktop's opener. Never fails: the URL is
/// printed anyway. The URL is one argument, never shell text.
fn open_browser(url: &str) {
    let mut candidates: Vec<Vec<String>> = Vec::new();
    if let Ok(browsers) = std::env::var("BROWSER") {
        for entry in browsers.split(':').filter(|e| !e.trim().is_empty()) {
            let Ok(mut words) = shell_words::split(entry) else {
                continue;
            };
            if words.iter().any(|w| w.contains("%s")) {
                for w in &mut words {
                    *w = w.replace("%s", url);
                }
            } else {
                words.push(url.to_owned());
            }
            candidates.push(words);
        }
    } else if cfg!(target_os = "macos") {
        candidates.push(vec!["open".into(), url.into()]);
    } else if cfg!(windows) {
        candidates.push(vec![
            "rundll32".into(),
            "url.dll,FileProtocolHandler".into(),
            url.into(),
        ]);
    } else if std::env::var_os("DISPLAY").is_some() || std::env::var_os("WAYLAND_DISPLAY").is_some()
    {
        candidates.push(vec!["xdg-open".into(), url.into()]);
    }
    for words in candidates {
        let Some((program, args)) = words.split_first() else {
            continue;
        };
        let spawned = Command::new(program)
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn();
        if let Ok(mut child) = spawned {
            // Reaped in the background; a browser that stays open is not waited for.
            std::thread::spawn(move || child.wait());
            eprintln!("opened the URL with `{program}`");
            return;
        }
    }
    eprintln!("(no browser found: open the URL yourself)");
}
