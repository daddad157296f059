//! Reading the servers a client lists into gateway backends: every client's entry shapes,
//! its variable syntax turned into the gateway's `${VAR}`, secrets written as found but
//! flagged, and servers that are the same command under another name found out.

use std::collections::BTreeMap;
use std::path::Path;

use serde_json::Value;

use super::client::Client;
use super::gateway_yaml::{NewBackend, NewTransport};
use super::secret::{looks_secret, url_has_secret};

/// One server read from a client.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Imported {
    pub client: Client,
    /// The key in the client's file.
    pub original: String,
    pub backend: NewBackend,
    /// Things to flag in the preview: literal secrets, variables that changed meaning.
    pub notes: Vec<String>,
}

impl Imported {
    /// What makes two servers the same server, whatever they are called.
    pub fn identity(&self) -> String {
        identity(&self.backend.transport)
    }
}

pub fn identity(t: &NewTransport) -> String {
    match t {
        NewTransport::Stdio { command, args, .. } => format!("stdio {command} {}", args.join(" ")),
        NewTransport::Http { url, .. } => format!("http {}", url.trim_end_matches('/')),
    }
}

/// A valid gateway backend name from a client's key: marketplace keys such as
/// `github.com/…/src/github` keep their last segment; other characters become `-`.
pub fn normalize_name(key: &str) -> String {
    let last = key.trim_end_matches('/').rsplit('/').next().unwrap_or(key);
    let mut name: String = last
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '_' || c == '-' {
                c
            } else {
                '-'
            }
        })
        .collect();
    name = name.trim_matches('-').to_owned();
    name.truncate(crate::config::MAX_BACKEND_NAME);
    if name.is_empty() {
        "server".into()
    } else {
        name
    }
}

/// Whether an entry launches this gateway (never import ourselves).
pub fn is_gateway_entry(value: &Value) -> bool {
    let command = match value.get("command") {
        Some(Value::String(s)) => s.clone(),
        Some(Value::Array(a)) => a.first().and_then(Value::as_str).unwrap_or("").to_owned(),
        _ => return false,
    };
    Path::new(&command)
        .file_stem()
        .is_some_and(|s| s.to_string_lossy().starts_with("mcp-gateway"))
}

/// What the client's `${workspaceFolder}` (the folder it has open) can become in the
/// `gateway.yaml` being written. Never the folder the import happens to run in: that would
/// give every project's server this one folder (run from `~`, the whole home directory).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Workspace<'a> {
    /// `gateway.yaml` lies inside the project: the project root as a path relative to the
    /// file's folder (`.` or `..`), which the backend gets as its `cwd`.
    Inside(&'a str),
    /// A `gateway.yaml` outside the project (the user's own): it has no such folder.
    Outside,
}

/// What translating one entry's strings found besides the text.
#[derive(Debug, Default)]
pub struct Translation {
    /// Variables that changed meaning, for the preview.
    pub notes: Vec<String>,
    /// Why the entry cannot be imported as it is, if it cannot.
    pub refused: Option<String>,
    /// Some string pointed into the workspace (relative now).
    pub workspace: bool,
}

/// Reads one entry. `Err` says why it was skipped.
pub fn from_entry(
    client: Client,
    key: &str,
    value: &Value,
    root: &Value,
    workspace: Workspace<'_>,
) -> Result<Imported, String> {
    let mut notes = Vec::new();
    let mut translated = Translation::default();
    let mut tr = |s: &str| translate(s, client, root, workspace, &mut translated);
    // Cline's CLI nests the transport; older Zed nests the command.
    let v = value
        .get("transport")
        .filter(|t| t.is_object())
        .unwrap_or(value);
    if v.get("source").and_then(Value::as_str) == Some("extension")
        || (client == Client::Zed && v.get("command").is_none() && v.get("url").is_none())
    {
        return Err("a Zed extension, configured inside Zed".into());
    }
    let strings = |x: Option<&Value>| -> Vec<String> {
        x.and_then(Value::as_array)
            .map(|a| a.iter().map(value_string).collect())
            .unwrap_or_default()
    };
    let map = |x: Option<&Value>| -> BTreeMap<String, String> {
        x.and_then(Value::as_object)
            .map(|m| {
                m.iter()
                    .filter(|(_, v)| !v.is_null())
                    .map(|(k, v)| (k.clone(), value_string(v)))
                    .collect()
            })
            .unwrap_or_default()
    };
    let ty = v.get("type").and_then(Value::as_str).unwrap_or("");
    if ty == "ws" {
        return Err("a WebSocket server, which the gateway cannot reach".into());
    }
    if ["oauth", "auth", "headersHelper"]
        .iter()
        .any(|k| v.get(*k).is_some_and(|a| a.is_object() || a.is_string()))
    {
        notes.push(
            "signs in with OAuth or a header helper; the gateway sends only its static headers"
                .into(),
        );
    }
    let url = ["url", "serverUrl", "httpUrl"]
        .iter()
        .find_map(|k| v.get(*k).and_then(Value::as_str));
    let transport = if let Some(url) =
        url.filter(|_| !v.get("command").is_some_and(Value::is_string) || ty == "remote")
    {
        let sse = ty == "sse" || (client == Client::Cline && ty.is_empty());
        if sse {
            notes.push("was an SSE server; the gateway speaks Streamable HTTP to it".into());
        }
        let mut headers = map(v.get("headers").or(v.get("http_headers")));
        if let Some(var) = v.get("bearer_token_env_var").and_then(Value::as_str) {
            headers.insert("Authorization".into(), format!("Bearer ${{{var}}}"));
        }
        for (h, var) in map(v.get("env_http_headers")) {
            headers.insert(h, format!("${{{var}}}"));
        }
        let headers = headers.into_iter().map(|(k, v)| (k, tr(&v))).collect();
        NewTransport::Http {
            url: tr(url),
            headers,
        }
    } else {
        let (command, args) = match v.get("command") {
            Some(Value::String(c)) => (c.clone(), strings(v.get("args"))),
            Some(Value::Array(parts)) => {
                let mut parts: Vec<String> = parts.iter().map(value_string).collect();
                if parts.is_empty() {
                    return Err("an empty command".into());
                }
                let c = parts.remove(0);
                (c, parts)
            }
            Some(Value::Object(o)) => (
                o.get("path").map(value_string).unwrap_or_default(),
                strings(o.get("args")),
            ),
            _ => return Err("neither a command nor a URL".into()),
        };
        if command.is_empty() {
            return Err("an empty command".into());
        }
        let mut env = map(v.get("env").or(v.get("environment")));
        if let Some(Value::Object(o)) = v.get("command") {
            env.extend(map(o.get("env")));
        }
        // Codex: names passed through from the parent environment.
        for name in v
            .get("env_vars")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            let name = name
                .as_str()
                .or_else(|| name.get("name").and_then(Value::as_str));
            if let Some(name) = name {
                env.insert(name.to_owned(), format!("${{{name}}}"));
            }
        }
        for (k, val) in &env {
            if looks_secret(k, val) {
                notes.push(format!("env {k} holds a literal secret (written as found)"));
            }
        }
        let command = tr(&command);
        let args = args.iter().map(|a| tr(a)).collect();
        let env = env.iter().map(|(k, v)| (k.clone(), tr(v))).collect();
        let relative = translated.workspace;
        // Its own translation: a cwd inside the workspace does not make the other paths
        // project-relative.
        let mut in_cwd = Translation::default();
        let mut cwd = v
            .get("cwd")
            .and_then(Value::as_str)
            .map(|c| translate(c, client, root, workspace, &mut in_cwd));
        translated.notes.append(&mut in_cwd.notes);
        if translated.refused.is_none() {
            translated.refused = in_cwd.refused;
        }
        if let Workspace::Inside(root) = workspace {
            // Paths relative to the project root hold only when the backend runs there.
            match &cwd {
                None if relative => cwd = Some(root.to_owned()),
                Some(dir) if relative && dir != root => {
                    return Err(format!(
                        "uses ${{workspaceFolder}} but runs in its own folder `{dir}`, where \
                         the project-relative paths would not point into the project; add it \
                         by hand with absolute paths"
                    ));
                }
                _ => {}
            }
        }
        NewTransport::Stdio {
            command,
            args,
            env,
            cwd,
        }
    };
    if let Some(why) = translated.refused {
        return Err(why);
    }
    notes.extend(translated.notes);
    if let NewTransport::Http { headers, url } = &transport {
        if url_has_secret(url) {
            notes.push("the URL holds what looks like a secret (written as found)".into());
        }
        for (k, val) in headers {
            if looks_secret(k, val) {
                notes.push(format!(
                    "header {k} holds a literal secret (written as found)"
                ));
            }
        }
    }
    let disabled = v.get("disabled").and_then(Value::as_bool) == Some(true)
        || value.get("disabled").and_then(Value::as_bool) == Some(true)
        || value.get("enabled").and_then(Value::as_bool) == Some(false);
    let description = value
        .get("description")
        .and_then(Value::as_str)
        .map(str::to_owned);
    notes.sort();
    notes.dedup();
    Ok(Imported {
        client,
        original: key.to_owned(),
        backend: NewBackend {
            name: normalize_name(key),
            transport,
            description,
            enabled: !disabled,
        },
        notes,
    })
}

fn value_string(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// A client's variable syntax → the gateway's `${VAR}`.
pub fn translate(
    s: &str,
    client: Client,
    root: &Value,
    workspace: Workspace<'_>,
    found: &mut Translation,
) -> String {
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while !rest.is_empty() {
        let brace =
            rest.starts_with("${") || (client == Client::Opencode && rest.starts_with("{env:"));
        if brace {
            let open = if rest.starts_with("${") { 2 } else { 1 };
            if let Some(close) = rest.find('}') {
                let inner = &rest[open..close];
                out.push_str(&variable(inner, client, root, workspace, found));
                rest = &rest[close + 1..];
                continue;
            }
        }
        if client == Client::Gemini && rest.starts_with('$') {
            let name: String = rest[1..]
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                .collect();
            if !name.is_empty() && !name.starts_with(|c: char| c.is_ascii_digit()) {
                out.push_str(&format!("${{{name}}}"));
                rest = &rest[1 + name.len()..];
                continue;
            }
        }
        let ch = rest.chars().next().unwrap_or(' ');
        out.push(ch);
        rest = &rest[ch.len_utf8()..];
    }
    out
}

/// VS Code's predefined variables that name the open folder or file: the client fills them
/// per window, so no single gateway.yaml value can stand for them.
const CLIENT_RELATIVE: &[&str] = &[
    "workspaceFolderBasename",
    "file",
    "fileWorkspaceFolder",
    "relativeFile",
    "relativeFileDirname",
    "fileBasename",
    "fileBasenameNoExtension",
    "fileExtname",
    "fileDirname",
    "fileDirnameBasename",
    "cwd",
    "lineNumber",
    "selectedText",
    "execPath",
];

fn variable(
    inner: &str,
    client: Client,
    root: &Value,
    workspace: Workspace<'_>,
    found: &mut Translation,
) -> String {
    let notes = &mut found.notes;
    if let Some(name) = inner.strip_prefix("env:") {
        return format!("${{{name}}}");
    }
    if let Some(id) = inner.strip_prefix("input:") {
        let var: String = id
            .chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() {
                    c.to_ascii_uppercase()
                } else {
                    '_'
                }
            })
            .collect();
        let what = root
            .get("inputs")
            .and_then(Value::as_array)
            .and_then(|a| {
                a.iter()
                    .find(|i| i.get("id").and_then(Value::as_str) == Some(id))
            })
            .and_then(|i| i.get("description").and_then(Value::as_str))
            .map(|d| format!(" ({d})"))
            .unwrap_or_default();
        notes.push(format!(
            "VS Code input `{id}`{what} is now ${{{var}}}: set it in the environment"
        ));
        return format!("${{{var}}}");
    }
    match inner {
        "userHome" => "${HOME}".into(),
        "workspaceFolder" | "workspaceRoot" => match workspace {
            Workspace::Inside(rel) => {
                found.workspace = true;
                notes.push(format!(
                    "${{{inner}}} became `{rel}`: the project root, relative to gateway.yaml's \
                     folder, where this backend now runs"
                ));
                rel.to_owned()
            }
            Workspace::Outside => {
                found.refused.get_or_insert_with(|| {
                    format!(
                        "uses ${{{inner}}}, the folder the client has open, and this gateway.yaml \
                         belongs to no project; import it into the project's own file: run \
                         `mcp-gateway --config ./gateway.yaml setup import` in the project"
                    )
                });
                format!("${{{inner}}}")
            }
        },
        _ if CLIENT_RELATIVE.contains(&inner) || inner.starts_with("workspaceFolder:") => {
            found.refused.get_or_insert_with(|| {
                format!(
                    "uses ${{{inner}}}, which the client fills with what it has open; \
                     gateway.yaml cannot say that: add it by hand with the value written out"
                )
            });
            format!("${{{inner}}}")
        }
        "pathSeparator" | "/" => std::path::MAIN_SEPARATOR.to_string(),
        _ if client == Client::Opencode && inner.starts_with("file:") => {
            notes.push(format!("{{{inner}}} (a file reference) was kept as text"));
            format!("{{{inner}}}")
        }
        _ => format!("${{{inner}}}"),
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use serde_json::json;

    fn tr(s: &str, c: Client) -> String {
        translate(
            s,
            c,
            &json!({}),
            Workspace::Inside("."),
            &mut Translation::default(),
        )
    }

    #[test]
    fn variables_become_gateway_references() {
        assert_eq!(tr("Bearer ${env:GH}", Client::Cursor), "Bearer ${GH}");
        assert_eq!(tr("${VAR:-x}/a", Client::ClaudeCode), "${VAR:-x}/a");
        assert_eq!(tr("$HOME/x $1", Client::Gemini), "${HOME}/x $1");
        assert_eq!(tr("{env:KEY}", Client::Opencode), "${KEY}");
        assert_eq!(tr("$HOME", Client::Cursor), "$HOME");
        assert_eq!(tr("${input:gh-pat}", Client::Vscode), "${GH_PAT}");
        assert_eq!(tr("${userHome}/x", Client::Vscode), "${HOME}/x");
        assert_eq!(tr("${workspaceFolder}/x", Client::Cursor), "./x");
    }

    #[test]
    fn names_and_shapes() {
        assert_eq!(
            normalize_name("github.com/modelcontextprotocol/servers/tree/main/src/github"),
            "github"
        );
        assert_eq!(normalize_name("My Server"), "My-Server");
        let oc = from_entry(
            Client::Opencode,
            "x",
            &json!({"type": "local", "command": ["npx", "-y", "p"], "environment": {"K": "{env:K}"}}),
            &json!({}),
            Workspace::Outside,
        )
        .unwrap();
        assert_eq!(oc.identity(), "stdio npx -y p");
        let secret = from_entry(
            Client::Cursor,
            "s",
            &json!({"command": "x", "env": {"API_KEY": "abc"}}),
            &json!({}),
            Workspace::Outside,
        )
        .unwrap();
        assert_eq!(secret.notes.len(), 1);
        assert!(is_gateway_entry(
            &json!({"command": "/usr/bin/mcp-gateway"})
        ));
    }
}
