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

struct Report {
    lines: Vec<(bool, String)>,
    problems: Vec<(String, String)>,
    json: serde_json::Map<String, Value>,
}

impl Report {
    fn ok(&mut self, what: String) {
        self.lines.push((true, what));
    }
    fn problem(&mut self, what: String, fix: String) {
        self.lines.push((false, what.clone()));
        self.problems.push((what, fix));
    }
}

pub async fn run(explicit: Option<&Path>, as_json: bool) -> anyhow::Result<ExitCode> {
    let mut r = Report {
        lines: Vec::new(),
        problems: Vec::new(),
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
        check_env(config, &mut r);
        check_backends(config, &mut r).await;
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
        println!("{}", serde_json::to_string_pretty(&Value::Object(r.json))?);
    } else {
        for (ok, line) in &r.lines {
            println!("{} {line}", if *ok { "ok " } else { "ERR" });
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

fn check_env(config: &Config, r: &mut Report) {
    let mut vars = Vec::new();
    for var in config.referenced_vars() {
        let users: Vec<&str> = config
            .backends
            .values()
            .filter(|b| b.unset_vars.contains(&var))
            .map(|b| b.name.as_str())
            .collect();
        let set = users.is_empty();
        vars.push(json!({"name": var, "set": set, "backends": users}));
        if set {
            r.ok(format!("env: ${{{var}}} is set"));
        } else {
            r.problem(
                format!("env: ${{{var}}} is not set (used by {})", users.join(", ")),
                format!(
                    "set {var} in the environment your AI client starts the gateway from, \
                     or give a default in gateway.yaml: ${{{var}:-value}}"
                ),
            );
        }
    }
    r.json.insert("env".into(), Value::Array(vars));
}

async fn check_backends(config: &Config, r: &mut Report) {
    let statuses = match super::probe::run(config, Duration::from_secs(60)).await {
        Ok(statuses) => statuses,
        Err(e) => {
            r.problem(
                format!("cannot start the backends: {e:#}"),
                "run `mcp-gateway serve` with MCP_GATEWAY_LOG=debug to see why".into(),
            );
            return;
        }
    };
    let mut out = Vec::new();
    for s in &statuses {
        let Some(b) = config.backends.get(&s.name) else {
            continue;
        };
        let ms = s.start.map(|d| d.as_millis() as u64);
        out.push(
            json!({"name": s.name, "state": s.state.as_str(), "tools": s.tools,
            "start_ms": ms, "error": s.error}),
        );
        match s.state {
            ServerState::Ready => r.ok(format!(
                "backend {}: answered tools/list with {} tools in {} ms",
                s.name,
                s.tools,
                ms.unwrap_or(0)
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
