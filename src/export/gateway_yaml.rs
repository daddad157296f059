//! Text edits of `gateway.yaml` that keep its comments and layout: add backends at the end
//! of the `backends:` block, remove one backend's lines, and the commented starter file.
//!
//! The block is found by lines: `backends:` at column 0, ending at the next column-0 key.
//! New entries take the block's own indentation and the file's line ending. Callers re-parse
//! the result with `Config::from_yaml` before writing.

use std::collections::BTreeMap;

/// What `init` writes: every section explained, nothing enabled.
pub const STARTER: &str = r#"# mcp-gateway configuration.
# The AI client launches `mcp-gateway serve`; the gateway starts the backends below and shows
# the client a few meta-tools (list, search, invoke) instead of every tool.
#
# Add servers from a terminal:   mcp-gateway add <name> -- <command> [args…]
#                                mcp-gateway add --transport http <name> <url>
# Pull in what your clients use: mcp-gateway setup import
# Check everything works:        mcp-gateway doctor

# `meta` (default): four meta-tools. `flat`: also every backend tool as <server>__<tool>.
mode: meta

# The built-in REST catalog (30 keyless APIs: crates.io, PyPI, npm, weather, …) is served
# only while no backends are listed below. To keep it beside your own backends:
# capabilities:
#   builtin: true

backends:
  # A local server, launched as a child process (stdio):
  # filesystem:
  #   command: npx
  #   args: ["-y", "@modelcontextprotocol/server-filesystem", "${HOME}/src"]
  #   env: { LOG_LEVEL: info }       # ${VAR} and ${VAR:-default} expand from your environment
  #   timeout: 60s                   # per call
  #
  # A remote server (Streamable HTTP):
  # remote:
  #   url: https://mcp.example.com/mcp
  #   headers: { Authorization: "Bearer ${EXAMPLE_TOKEN}" }
"#;

/// A backend to write, in the gateway's own syntax (`${VAR}` references kept as text).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewBackend {
    pub name: String,
    pub transport: NewTransport,
    pub description: Option<String>,
    pub enabled: bool,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NewTransport {
    Stdio {
        command: String,
        args: Vec<String>,
        env: BTreeMap<String, String>,
        cwd: Option<String>,
    },
    Http {
        url: String,
        headers: BTreeMap<String, String>,
    },
}

/// Why `gateway.yaml` could not be edited as text.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum YamlEditError {
    #[error("`backends:` is written in flow style (`{{…}}`) on line {0}; edit it by hand")]
    FlowStyle(usize),
    #[error("no backend named `{0}`")]
    NoSuchBackend(String),
}

struct Block {
    /// Index of the `backends:` line.
    header: usize,
    /// One past the last line of the block.
    end: usize,
    indent: String,
}

fn newline(text: &str) -> &'static str {
    if text.contains("\r\n") { "\r\n" } else { "\n" }
}

fn find_block(lines: &[&str]) -> Result<Option<Block>, YamlEditError> {
    let Some(header) = lines.iter().position(|l| l.starts_with("backends:")) else {
        return Ok(None);
    };
    let rest = lines[header]["backends:".len()..].trim();
    if !(rest.is_empty() || rest.starts_with('#') || rest == "{}" || rest == "null") {
        return Err(YamlEditError::FlowStyle(header + 1));
    }
    let mut end = lines.len();
    for (i, line) in lines.iter().enumerate().skip(header + 1) {
        let first = line.chars().next();
        if first.is_some_and(|c| !c.is_whitespace() && c != '#') {
            end = i;
            break;
        }
    }
    let indent = lines[header + 1..end]
        .iter()
        .find(|l| {
            let t = l.trim_start();
            !t.is_empty() && !t.starts_with('#') && t.len() < l.len()
        })
        .map_or("  ".to_owned(), |l| {
            l[..l.len() - l.trim_start().len()].to_owned()
        });
    Ok(Some(Block {
        header,
        end,
        indent,
    }))
}

/// Appends `backends` to the `backends:` block (creating it at the end of the file).
pub fn add_backends(text: &str, backends: &[NewBackend]) -> Result<String, YamlEditError> {
    let nl = newline(text);
    let lines: Vec<&str> = text.lines().collect();
    let Some(block) = find_block(&lines)? else {
        let mut out = text.to_owned();
        if !out.is_empty() && !out.ends_with('\n') {
            out.push_str(nl);
        }
        if !out.trim().is_empty() {
            out.push_str(nl);
        }
        out.push_str(&format!("backends:{nl}"));
        for b in backends {
            out.push_str(&render(b, "  ", nl));
        }
        return Ok(out);
    };
    // After the block's last indented content line: comments and blank lines that follow it
    // introduce whatever comes next.
    let mut at = block.header + 1;
    for (i, line) in lines
        .iter()
        .enumerate()
        .take(block.end)
        .skip(block.header + 1)
    {
        let t = line.trim_start();
        if !t.is_empty() && t.len() < line.len() && !t.starts_with('#') {
            at = i + 1;
        }
    }
    let mut out: Vec<String> = lines.iter().map(|l| (*l).to_owned()).collect();
    let header_rest = lines[block.header]["backends:".len()..].trim();
    if header_rest == "{}" || header_rest == "null" {
        out[block.header] = "backends:".to_owned();
    }
    let rendered: String = backends
        .iter()
        .map(|b| render(b, &block.indent, nl))
        .collect();
    let rendered: Vec<String> = rendered
        .trim_end_matches(['\r', '\n'])
        .split(nl)
        .map(str::to_owned)
        .collect();
    out.splice(at..at, rendered);
    Ok(join(&out, text, nl))
}

/// Removes one backend's lines (its key line and everything indented under it).
pub fn remove_backend(text: &str, name: &str) -> Result<String, YamlEditError> {
    let nl = newline(text);
    let lines: Vec<&str> = text.lines().collect();
    let missing = || YamlEditError::NoSuchBackend(name.to_owned());
    let block = find_block(&lines)?.ok_or_else(missing)?;
    let keys = [
        format!("{name}:"),
        format!("\"{name}\":"),
        format!("'{name}':"),
    ];
    let start = (block.header + 1..block.end)
        .find(|&i| {
            let l = lines[i];
            l.starts_with(&block.indent)
                && keys
                    .iter()
                    .any(|k| l[block.indent.len()..].starts_with(k.as_str()))
        })
        .ok_or_else(missing)?;
    let mut end = start + 1;
    for (i, line) in lines.iter().enumerate().take(block.end).skip(start + 1) {
        let t = line.trim_start();
        let indent = line.len() - t.len();
        if t.is_empty() || t.starts_with('#') {
            continue;
        }
        if indent <= block.indent.len() {
            break;
        }
        end = i + 1;
    }
    let mut out: Vec<String> = lines.iter().map(|l| (*l).to_owned()).collect();
    out.drain(start..end);
    Ok(join(&out, text, nl))
}

fn join(lines: &[String], original: &str, nl: &str) -> String {
    let mut out = lines.join(nl);
    if original.ends_with('\n') || original.is_empty() {
        out.push_str(nl);
    }
    out
}

/// Double-quoted YAML is a superset of JSON strings, so JSON quoting is always safe.
fn scalar(s: &str) -> String {
    let plain = !s.is_empty()
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || "_./@~+=-".contains(c))
        && !s.starts_with(['-', '@', '~', '.'])
        && !matches!(
            s.to_ascii_lowercase().as_str(),
            "true" | "false" | "yes" | "no" | "on" | "off" | "null"
        )
        && s.parse::<f64>().is_err();
    if plain {
        s.to_owned()
    } else {
        serde_json::to_string(s).unwrap_or_else(|_| format!("\"{s}\""))
    }
}

fn key(s: &str) -> String {
    scalar(s)
}

/// One backend as YAML lines under `indent`.
pub fn render(b: &NewBackend, indent: &str, nl: &str) -> String {
    let i2 = format!("{indent}  ");
    let i3 = format!("{indent}    ");
    let mut out = format!("{indent}{}:{nl}", key(&b.name));
    if let Some(d) = &b.description {
        out.push_str(&format!("{i2}description: {}{nl}", scalar(d)));
    }
    let map = |out: &mut String, name: &str, m: &BTreeMap<String, String>| {
        if m.is_empty() {
            return;
        }
        out.push_str(&format!("{i2}{name}:{nl}"));
        for (k, v) in m {
            out.push_str(&format!("{i3}{}: {}{nl}", key(k), scalar(v)));
        }
    };
    match &b.transport {
        NewTransport::Stdio {
            command,
            args,
            env,
            cwd,
        } => {
            out.push_str(&format!("{i2}command: {}{nl}", scalar(command)));
            if !args.is_empty() {
                let args: Vec<String> = args
                    .iter()
                    .map(|a| serde_json::to_string(a).unwrap_or_default())
                    .collect();
                out.push_str(&format!("{i2}args: [{}]{nl}", args.join(", ")));
            }
            map(&mut out, "env", env);
            if let Some(cwd) = cwd {
                out.push_str(&format!("{i2}cwd: {}{nl}", scalar(cwd)));
            }
        }
        NewTransport::Http { url, headers } => {
            out.push_str(&format!("{i2}url: {}{nl}", scalar(url)));
            map(&mut out, "headers", headers);
        }
    }
    if !b.enabled {
        out.push_str(&format!("{i2}enabled: false{nl}"));
    }
    out
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn stdio(name: &str) -> NewBackend {
        NewBackend {
            name: name.into(),
            transport: NewTransport::Stdio {
                command: "npx".into(),
                args: vec!["-y".into(), "pkg".into()],
                env: [("KEY".to_owned(), "${KEY}".to_owned())].into(),
                cwd: None,
            },
            description: None,
            enabled: true,
        }
    }

    #[test]
    fn add_and_remove_keep_comments() {
        let text = "# top\nmode: meta\n\nbackends:\n    # first\n    a:\n        command: x # why\n\n# trailing\nsurfaced_tools: []\n";
        let out = add_backends(text, &[stdio("b")]).unwrap();
        assert_eq!(
            out,
            "# top\nmode: meta\n\nbackends:\n    # first\n    a:\n        command: x # why\n    b:\n      command: npx\n      args: [\"-y\", \"pkg\"]\n      env:\n        KEY: \"${KEY}\"\n\n# trailing\nsurfaced_tools: []\n"
        );
        assert_eq!(remove_backend(&out, "b").unwrap(), text);
        let gone = remove_backend(text, "a").unwrap();
        assert_eq!(
            gone,
            "# top\nmode: meta\n\nbackends:\n    # first\n\n# trailing\nsurfaced_tools: []\n"
        );
        assert!(remove_backend(text, "zz").is_err());
    }

    #[test]
    fn creates_the_block_and_keeps_crlf() {
        let out = add_backends("mode: meta\r\n", &[stdio("b")]).unwrap();
        assert!(out.starts_with("mode: meta\r\n\r\nbackends:\r\n  b:\r\n"));
        assert!(!out.replace("\r\n", "").contains('\n'));
        let out = add_backends("backends: {}\n", &[stdio("b")]).unwrap();
        assert!(out.starts_with("backends:\n  b:\n"));
        assert!(add_backends("backends: {a: {command: x}}\n", &[]).is_err());
    }
}
