//! `mcp-gateway doctor`: does the config load, does every backend start and answer
//! `tools/list`, is every `${VAR}` set, which clients launch the gateway and which still list
//! servers directly. Each problem comes with a one-line fix; any problem exits non-zero.
#![allow(clippy::print_stdout)] // doctor reports to a person at a terminal

use std::path::Path;
use std::process::ExitCode;
use std::time::Duration;

use serde_json::{Value, json};

use crate::config::{Config, Transport};
use crate::export::{self, Client, Place, Scope, import};
use crate::registry::ServerState;

/// How a line of the report is marked.
#[derive(Clone, Copy)]
enum Mark {
    Ok,
    /// Worth knowing, not a failure (does not change the exit code).
    Warn,
    Problem,
}

struct Report {
    lines: Vec<(Mark, String)>,
    problems: Vec<(String, String)>,
    warnings: Vec<String>,
    json: serde_json::Map<String, Value>,
}

impl Report {
    fn ok(&mut self, what: String) {
        self.lines.push((Mark::Ok, what));
    }
    fn warn(&mut self, what: String) {
        self.lines.push((Mark::Warn, what.clone()));
        self.warnings.push(what);
    }
    fn problem(&mut self, what: String, fix: String) {
        self.lines.push((Mark::Problem, what.clone()));
        self.problems.push((what, fix));
    }
}

pub async fn run(
    explicit: Option<&Path>,
    as_json: bool,
    wait: Duration,
) -> anyhow::Result<ExitCode> {
    let mut r = Report {
        lines: Vec::new(),
        problems: Vec::new(),
        warnings: Vec::new(),
        json: serde_json::Map::new(),
    };
    let config = match Config::load(explicit) {
        Ok(c) => {
            let at = c
                .source
                .as_ref()
                .map_or("no config file (built-in defaults)".into(), |p| {
                    p.display().to_string()
                });
            r.ok(format!(
                "config: {at} loads ({} backends)",
                c.backends.len()
            ));
            r.json
                .insert("config".into(), json!({"path": c.source, "ok": true}));
            Some(c)
        }
        Err(e) => {
            r.problem(
                format!("config: {e}"),
                "fix the file at the line shown, then run `mcp-gateway doctor` again".into(),
            );
            r.json.insert(
                "config".into(),
                json!({"ok": false, "error": e.to_string()}),
            );
            None
        }
    };
    if let Some(config) = &config {
        check_ignored(config, &mut r);
        check_env(config, &mut r);
        check_child_env(config, &mut r);
        let statuses = check_backends(config, wait, &mut r).await;
        check_surfaced(config, &statuses, &mut r);
    }
    check_clients(&mut r);

    let problems: Vec<Value> = r
        .problems
        .iter()
        .map(|(what, fix)| json!({"problem": what, "fix": fix}))
        .collect();
    if as_json {
        r.json.insert("ok".into(), json!(problems.is_empty()));
        r.json.insert("problems".into(), Value::Array(problems));
        r.json.insert("warnings".into(), json!(r.warnings));
        println!("{}", serde_json::to_string_pretty(&Value::Object(r.json))?);
    } else {
        for (mark, line) in &r.lines {
            let mark = match mark {
                Mark::Ok => "ok  ",
                Mark::Warn => "warn",
                Mark::Problem => "ERR ",
            };
            println!("{mark} {line}");
        }
        if r.problems.is_empty() {
            println!("\nno problems found");
        } else {
            println!("\n{} problem(s):", r.problems.len());
            for (what, fix) in &r.problems {
                println!("- {what}\n  fix: {fix}");
            }
        }
    }
    Ok(if r.problems.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

/// Keys of the original mcp-gateway that are accepted but do nothing. Those that configure
/// a protection are problems: the user believes the protection is on.
fn check_ignored(config: &Config, r: &mut Report) {
    for what in &config.ignored_protections {
        r.problem(
            format!("config: {what}"),
            "this gateway does not enforce it: remove the key, and keep the servers it \
             protected out of `backends:` (or restrict them by other means) until then"
                .into(),
        );
    }
    for warning in &config.warnings {
        if !config.ignored_protections.contains(warning) {
            r.warn(format!("config: {warning}"));
        }
    }
}

fn check_env(config: &Config, r: &mut Report) {
    let mut vars = Vec::new();
    for var in config.referenced_vars() {
        let users: Vec<&str> = config
            .backends
            .values()
            .filter(|b| b.unset_vars.contains(&var))
            .map(|b| b.name.as_str())
            .collect();
        let unset_without_default = !users.is_empty();
        // `${X:-default}` expands to its default when X is unset or empty.
        let in_env = std::env::var_os(&var).is_some_and(|v| !v.is_empty());
        vars.push(
            json!({"name": var, "set": in_env, "default_used": !in_env && !unset_without_default,
            "backends": users}),
        );
        if unset_without_default {
            r.problem(
                format!("env: ${{{var}}} is not set (used by {})", users.join(", ")),
                format!(
                    "set {var} in the environment your AI client starts the gateway from, \
                     or give a default in gateway.yaml: ${{{var}:-value}}"
                ),
            );
        } else if in_env {
            r.ok(format!("env: ${{{var}}} is set"));
        } else {
            r.ok(format!(
                "env: ${{{var}}} is not set; the default from `${{{var}:-…}}` in gateway.yaml is used"
            ));
        }
    }
    r.json.insert("env".into(), Value::Array(vars));
}

/// Stdio backends whose command suggests they need variables the allow-list drops.
fn check_child_env(config: &Config, r: &mut Report) {
    for b in config.backends.values().filter(|b| b.enabled) {
        let Transport::Stdio {
            command,
            args,
            env,
            inherit_env,
            ..
        } = &b.transport
        else {
            continue;
        };
        let missing = crate::config::dropped_needs(command, args, env, *inherit_env);
        if !missing.is_empty() {
            r.warn(crate::config::dropped_needs_advice(&b.name, &missing));
        }
    }
}

/// `surfaced_tools` entries must name a configured server and one of its tools; a typo
/// leaves the pinned tool silently missing from the client's list.
fn check_surfaced(config: &Config, statuses: &[super::probe::Status], r: &mut Report) {
    for pin in &config.surfaced_tools {
        let status = statuses.iter().find(|s| s.name == pin.server);
        let what = format!("surfaced_tools: `{}/{}`", pin.server, pin.tool);
        match status {
            None => r.problem(
                format!("{what} names no configured server"),
                format!(
                    "fix `server: {}` in `surfaced_tools` (servers: {})",
                    pin.server,
                    statuses
                        .iter()
                        .map(|s| s.name.as_str())
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            ),
            Some(s) if s.state == ServerState::Ready && !s.tool_names.contains(&pin.tool) => r
                .problem(
                    format!("{what}: server `{}` has no tool `{}`", pin.server, pin.tool),
                    format!(
                        "fix `tool: {}` in `surfaced_tools` (`mcp-gateway search --server {} …` \
                         lists its tools)",
                        pin.tool, pin.server
                    ),
                ),
            Some(s) if s.state == ServerState::Ready => r.ok(format!("{what} exists")),
            // Not ready: its tools cannot be checked; the backend line says why.
            Some(_) => {}
        }
    }
}

async fn check_backends(
    config: &Config,
    wait: Duration,
    r: &mut Report,
) -> Vec<super::probe::Status> {
    let statuses = match super::probe::run(config, wait).await {
        Ok(statuses) => statuses,
        Err(e) => {
            r.problem(
                format!("cannot start the backends: {e:#}"),
                "run `mcp-gateway serve` with MCP_GATEWAY_LOG=debug to see why".into(),
            );
            return Vec::new();
        }
    };
    let mut out = Vec::new();
    for s in &statuses {
        let ms = s.start.map(|d| d.as_millis() as u64);
        out.push(
            json!({"name": s.name, "transport": s.transport.as_str(), "state": s.state.as_str(),
            "tools": s.tools, "start_ms": ms, "error": s.error, "problems": s.problems,
            "quarantined": s.quarantined.iter().map(|(t, why, _)| json!({"tool": t, "why": why})).collect::<Vec<_>>(),
            "findings": s.findings}),
        );
        for problem in &s.problems {
            r.warn(format!("backend {}: {problem}", s.name));
        }
        for (tool, why, approve) in &s.quarantined {
            r.problem(
                format!("backend {}: tool `{tool}` is quarantined: {why}", s.name),
                format!(
                    "review it with `{}`; accept it with `{approve}` if the change is expected",
                    s.diff_command
                ),
            );
        }
        for f in s.findings.iter().filter(|f| f["action"] == "warn") {
            r.warn(format!(
                "backend {}: tool `{}`: {} ({}): {}",
                s.name,
                f["tool"].as_str().unwrap_or(""),
                f["kind"].as_str().unwrap_or(""),
                f["severity"].as_str().unwrap_or(""),
                f["reason"].as_str().unwrap_or("")
            ));
        }
        let Some(b) = config.backends.get(&s.name) else {
            capability_line(config, s, r);
            continue;
        };
        match s.state {
            ServerState::Ready => r.ok(format!(
                "backend {}: answered tools/list with {} tools in {} ms",
                s.name,
                s.tools,
                ms.unwrap_or(0)
            )),
            ServerState::Idle => r.ok(format!(
                "backend {}: idle (lazy), {} tools from its cached list",
                s.name, s.tools
            )),
            ServerState::Disabled if b.unset_vars.is_empty() => {
                r.ok(format!("backend {}: disabled", s.name));
            }
            // Disabled for an unset variable: the env check already said so.
            ServerState::Disabled => {}
            ServerState::Failed | ServerState::Starting => {
                let error = s.error.clone().unwrap_or_else(|| "unknown error".into());
                let fix = match &b.transport {
                    Transport::Stdio { command, args, .. } => format!(
                        "check `backends.{}.command` in gateway.yaml: `{command}` must be installed \
                         and on PATH; try it by hand: {command} {}",
                        s.name,
                        args.join(" ")
                    ),
                    Transport::Http { url, .. } => format!(
                        "check that {url} is up and `backends.{}.headers` are right",
                        s.name
                    ),
                };
                // The fix quotes expanded values: keep credentials off the screen.
                r.problem(
                    format!("backend {}: {error}", s.name),
                    b.transport.redact(&fix),
                );
            }
        }
    }
    r.json.insert("backends".into(), Value::Array(out));
    statuses
}

/// The capability backend (the built-in catalog and capability directories) is a backend
/// like the others for the user: its tools compete in search and make outbound calls.
fn capability_line(config: &Config, s: &super::probe::Status, r: &mut Report) {
    let caps = &config.capabilities;
    let what = match (caps.builtin, caps.directories.len()) {
        (true, 0) => "the built-in REST catalog".to_owned(),
        (true, n) => format!("the built-in REST catalog and {n} capability directories"),
        (false, n) => format!("{n} capability directories"),
    };
    match s.state {
        ServerState::Ready => r.ok(format!("backend {} ({what}): {} tools", s.name, s.tools)),
        _ => r.problem(
            format!(
                "backend {} ({what}): {}",
                s.name,
                s.error.as_deref().unwrap_or("unknown error")
            ),
            "run `mcp-gateway cap validate` on the capability directories".into(),
        ),
    }
    // Quarantined and refused files serve nothing: the user believes they do.
    for p in &s.problems {
        if p.contains("QUARANTINED") {
            r.problem(
                format!("capability {p}"),
                "review the change, then approve it with `mcp-gateway cap pin <file>`".into(),
            );
        } else if p.contains("env_allow") {
            r.problem(
                format!("capability {p}"),
                "allow the variable under `capabilities.env_allow` in gateway.yaml".into(),
            );
        }
    }
}

/// A wired entry whose binary moved or was deleted leaves the client with no tools at all.
fn check_entry(client: Client, scope: Scope, entry: &Value, r: &mut Report) {
    let command = match entry.get("command") {
        Some(Value::String(c)) => c.clone(),
        Some(Value::Array(a)) => a.first().and_then(Value::as_str).unwrap_or("").to_owned(),
        _ => return,
    };
    if !Path::new(&command).is_file() {
        let scope_flag = if scope == Scope::Project {
            " --scope project"
        } else {
            ""
        };
        r.problem(
            format!("client {client}: its gateway entry launches {command}, which does not exist"),
            format!("mcp-gateway setup export --target {client}{scope_flag}"),
        );
    }
}

fn check_clients(r: &mut Report) {
    let place = Place::current();
    let mut out = Vec::new();
    for client in Client::ALL {
        for scope in [Scope::User, Scope::Project] {
            match export::read_servers(client, scope, &place) {
                Ok(None) => {}
                Ok(Some(found)) => {
                    let wired = found
                        .servers
                        .iter()
                        .any(|(_, v)| import::is_gateway_entry(v));
                    let direct: Vec<&str> = found
                        .servers
                        .iter()
                        .filter(|(_, v)| !import::is_gateway_entry(v))
                        .map(|(k, _)| k.as_str())
                        .collect();
                    out.push(
                        json!({"client": client.id(), "scope": format!("{scope:?}").to_lowercase(),
                        "path": found.path, "wired": wired, "direct": direct}),
                    );
                    let mut line = format!(
                        "client {client} ({}): {}",
                        found.path.display(),
                        if wired {
                            "launches the gateway"
                        } else {
                            "not wired to the gateway"
                        }
                    );
                    if !direct.is_empty() {
                        line.push_str(&format!(
                            "; still lists {} directly (`mcp-gateway setup import --from {client} --replace` moves them)",
                            direct.join(", ")
                        ));
                    }
                    r.ok(line);
                    for (_, entry) in found
                        .servers
                        .iter()
                        .filter(|(_, v)| import::is_gateway_entry(v))
                    {
                        check_entry(client, scope, entry, r);
                    }
                }
                Err(e) => r.problem(
                    format!("client {client}: {e}"),
                    "fix that line by hand; mcp-gateway never edits a file it cannot parse".into(),
                ),
            }
        }
    }
    r.json.insert("clients".into(), Value::Array(out));
}
