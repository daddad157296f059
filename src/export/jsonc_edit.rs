//! Lossless edits of JSON/JSONC client files: set or remove one member of one object and
//! leave every other byte as it was (comments, key order, indentation, line endings,
//! trailing commas, unknown keys).
//!
//! Edits are splices at positions the [`jsonc`](super::jsonc) parser reports. New text takes
//! the file's own style: its indent unit (tabs or N spaces), its line ending, and whether the
//! object it lands in is written on one line.

use serde_json::Value;

use super::jsonc::{self, Kind, Node};

/// An ordered JSON object: the gateway's entries keep the key order a person expects
/// (`type`, `command`, `args`), which `serde_json::Map` would sort.
pub type Entry = Vec<(String, Value)>;

/// Why a JSON edit could not be made.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum JsonEditError {
    #[error("line {line}, column {column}: {message}")]
    Syntax {
        line: usize,
        column: usize,
        message: String,
    },
    #[error("`{0}` is not a JSON object")]
    NotObject(String),
}

impl From<jsonc::SyntaxError> for JsonEditError {
    fn from(e: jsonc::SyntaxError) -> Self {
        JsonEditError::Syntax {
            line: e.line,
            column: e.column,
            message: e.message,
        }
    }
}

/// The whitespace conventions of one file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Style {
    pub unit: String,
    pub newline: &'static str,
}

impl Style {
    pub fn detect(text: &str) -> Style {
        let newline = if text.contains("\r\n") { "\r\n" } else { "\n" };
        let mut unit: Option<String> = None;
        for line in text.lines() {
            let ws: String = line
                .chars()
                .take_while(|c| *c == ' ' || *c == '\t')
                .collect();
            if ws.is_empty() || !line[ws.len()..].starts_with('"') {
                continue;
            }
            if ws.starts_with('\t') {
                unit = Some("\t".into());
                break;
            }
            if unit.as_ref().is_none_or(|u| ws.len() < u.len()) {
                unit = Some(ws);
            }
        }
        Style {
            unit: unit.unwrap_or_else(|| "  ".into()),
            newline,
        }
    }
}

/// `container[name] = entry`, creating the container path when absent. Unchanged text is
/// returned when the member already holds exactly `entry`.
pub fn set_member(
    text: &str,
    container: &[&str],
    name: &str,
    entry: &Entry,
) -> Result<String, JsonEditError> {
    let style = Style::detect(text);
    let root = jsonc::parse(text)?;
    let mut node = &root;
    for (depth, key) in container.iter().enumerate() {
        if !node.is_object() {
            return Err(JsonEditError::NotObject(container[..depth].join(".")));
        }
        match node.get(key) {
            Some(child) => node = child,
            None => {
                // Build the rest of the path around the entry and insert it here.
                let rendered = render_nested(key, container[depth + 1..].to_vec(), name, entry);
                return Ok(insert_member(text, node, key, &rendered, &style));
            }
        }
    }
    if !node.is_object() {
        return Err(JsonEditError::NotObject(container.join(".")));
    }
    let wanted = Value::Object(entry_map(entry));
    if let Some(member) = node.members().iter().rev().find(|m| m.key == name) {
        if member.value.to_value() == wanted {
            return Ok(text.to_owned());
        }
        let indent = member_indent(text, member.key_start, node, &style);
        let rendered = render_entry(entry, &indent, &style);
        let mut out = text.to_owned();
        out.replace_range(member.value.start..member.value.end, &rendered);
        return Ok(out);
    }
    let rendered = Rendered::Entry(name.to_owned(), entry.clone());
    Ok(insert_member(text, node, name, &rendered, &style))
}

/// Removes `container[name]`; unchanged text when it is not there.
pub fn remove_member(text: &str, container: &[&str], name: &str) -> Result<String, JsonEditError> {
    let root = jsonc::parse(text)?;
    let mut node = &root;
    for key in container {
        match node.get(key) {
            Some(child) => node = child,
            None => return Ok(text.to_owned()),
        }
    }
    let members = node.members();
    let Some(idx) = members.iter().rposition(|m| m.key == name) else {
        return Ok(text.to_owned());
    };
    let m = &members[idx];
    let mut out = text.to_owned();
    if let Some(comma) = m.comma {
        let ls = line_start(text, m.key_start);
        let start = if text[ls..m.key_start].trim().is_empty() {
            ls
        } else {
            m.key_start
        };
        let mut end = comma + 1;
        let rest_end = line_end(text, end);
        let rest = text[end..rest_end].trim();
        if start == ls && (rest.is_empty() || rest.starts_with("//")) {
            end = (rest_end + 1).min(text.len());
        } else {
            end += text[end..].len() - text[end..].trim_start_matches([' ', '\t']).len();
        }
        out.replace_range(start..end, "");
    } else if idx > 0 {
        let prev_comma = members[idx - 1].comma.unwrap_or(m.key_start);
        let ls = line_start(text, m.key_start);
        if ls > prev_comma && text[ls..m.key_start].trim().is_empty() {
            // Own line: drop it from the line break before it, and the comma before that;
            // a comment after the previous member stays with it.
            let nl = if text[..ls - 1].ends_with('\r') {
                ls - 2
            } else {
                ls - 1
            };
            out.replace_range(nl..m.value.end, "");
            out.replace_range(prev_comma..prev_comma + 1, "");
        } else {
            out.replace_range(prev_comma..m.value.end, "");
        }
    } else {
        out.replace_range(node.start + 1..node.end - 1, "");
    }
    Ok(out)
}

/// The entry's members, as a `serde_json` object for comparisons.
pub fn entry_map(entry: &Entry) -> serde_json::Map<String, Value> {
    entry.iter().cloned().collect()
}

enum Rendered {
    /// `"name": {entry}`
    Entry(String, Entry),
    /// `"key": { … path … { "name": {entry} } }`
    Nested(String, Vec<String>, String, Entry),
}

fn render_nested(key: &str, path: Vec<&str>, name: &str, entry: &Entry) -> Rendered {
    Rendered::Nested(
        key.to_owned(),
        path.into_iter().map(str::to_owned).collect(),
        name.to_owned(),
        entry.clone(),
    )
}

impl Rendered {
    fn text(&self, indent: &str, style: &Style) -> String {
        match self {
            Rendered::Entry(name, entry) => {
                format!("{}: {}", quote(name), render_entry(entry, indent, style))
            }
            Rendered::Nested(key, path, name, entry) => {
                let inner_indent = format!("{indent}{}", style.unit);
                let inner = match path.split_first() {
                    None => Rendered::Entry(name.clone(), entry.clone()),
                    Some((first, rest)) => {
                        Rendered::Nested(first.clone(), rest.to_vec(), name.clone(), entry.clone())
                    }
                };
                format!(
                    "{}: {{{nl}{inner_indent}{}{nl}{indent}}}",
                    quote(key),
                    inner.text(&inner_indent, style),
                    nl = style.newline
                )
            }
        }
    }
}

fn insert_member(text: &str, obj: &Node, _key: &str, rendered: &Rendered, style: &Style) -> String {
    let nl = style.newline;
    let mut out = text.to_owned();
    let Kind::Object(members) = &obj.kind else {
        return out;
    };
    let open_indent = line_indent(text, obj.start);
    let one_line = !text[obj.start..obj.end].contains('\n');
    let Some(last) = members.last() else {
        let child = format!("{open_indent}{}", style.unit);
        let inner = &text[obj.start + 1..obj.end - 1];
        let body = rendered.text(&child, style);
        if inner.trim().is_empty() {
            out.replace_range(
                obj.start + 1..obj.end - 1,
                &format!("{nl}{child}{body}{nl}{open_indent}"),
            );
        } else {
            out.insert_str(obj.start + 1, &format!("{nl}{child}{body}"));
        }
        return out;
    };
    if one_line {
        let body = rendered.text(
            "",
            &Style {
                unit: String::new(),
                newline: "",
            },
        );
        match last.comma {
            Some(c) => out.insert_str(c + 1, &format!(" {body},")),
            None => out.insert_str(last.value.end, &format!(", {body}")),
        }
        return out;
    }
    let indent = member_indent(text, last.key_start, obj, style);
    let body = rendered.text(&indent, style);
    let after = last.comma.map_or(last.value.end, |c| c + 1);
    let eol = line_end(text, after);
    let rest = text[after..eol].trim();
    // A comment closing the last member's line belongs to that member: insert after it.
    let one_block =
        rest.len() >= 4 && rest.starts_with("/*") && rest[2..].find("*/") == Some(rest.len() - 4);
    let at = if rest.is_empty() || rest.starts_with("//") || one_block {
        // Before a CRLF's `\r` as well as a bare `\n`.
        if text[..eol].ends_with('\r') {
            eol - 1
        } else {
            eol
        }
    } else {
        after
    };
    match last.comma {
        Some(_) => out.insert_str(at, &format!("{nl}{indent}{body},")),
        None => {
            out.insert_str(at, &format!("{nl}{indent}{body}"));
            out.insert(last.value.end, ',');
        }
    }
    out
}

/// The indentation of a member's line, or one unit deeper than its object when the member
/// does not start its line.
fn member_indent(text: &str, key_start: usize, obj: &Node, style: &Style) -> String {
    let ls = line_start(text, key_start);
    let before = &text[ls..key_start];
    if before.chars().all(|c| c == ' ' || c == '\t') {
        before.to_owned()
    } else {
        format!("{}{}", line_indent(text, obj.start), style.unit)
    }
}

fn line_start(text: &str, at: usize) -> usize {
    text[..at].rfind('\n').map_or(0, |i| i + 1)
}

fn line_end(text: &str, at: usize) -> usize {
    text[at..].find('\n').map_or(text.len(), |i| at + i)
}

fn line_indent(text: &str, at: usize) -> String {
    let ls = line_start(text, at);
    text[ls..]
        .chars()
        .take_while(|c| *c == ' ' || *c == '\t')
        .collect()
}

fn quote(s: &str) -> String {
    serde_json::to_string(s).unwrap_or_else(|_| format!("\"{s}\""))
}

fn render_entry(entry: &Entry, indent: &str, style: &Style) -> String {
    if entry.is_empty() {
        return "{}".into();
    }
    let inner = format!("{indent}{}", style.unit);
    let nl = style.newline;
    let fields: Vec<String> = entry
        .iter()
        .map(|(k, v)| format!("{inner}{}: {}", quote(k), render_value(v, &inner, style)))
        .collect();
    let sep = if nl.is_empty() {
        ", ".to_owned()
    } else {
        format!(",{nl}")
    };
    format!("{{{nl}{}{nl}{indent}}}", fields.join(&sep))
}

/// Arrays of scalars stay on one line (`"args": ["serve", "--config", "…"]`); objects open.
fn render_value(value: &Value, indent: &str, style: &Style) -> String {
    match value {
        Value::Object(map) => {
            let entry: Entry = map.iter().map(|(k, v)| (k.clone(), v.clone())).collect();
            render_entry(&entry, indent, style)
        }
        Value::Array(items) if items.iter().all(|v| !v.is_object() && !v.is_array()) => {
            let parts: Vec<String> = items.iter().map(Value::to_string).collect();
            format!("[{}]", parts.join(", "))
        }
        Value::Array(items) => {
            let inner = format!("{indent}{}", style.unit);
            let nl = style.newline;
            let parts: Vec<String> = items
                .iter()
                .map(|v| format!("{inner}{}", render_value(v, &inner, style)))
                .collect();
            format!("[{nl}{}{nl}{indent}]", parts.join(&format!(",{nl}")))
        }
        scalar => scalar.to_string(),
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use serde_json::json;

    fn entry() -> Entry {
        vec![
            ("command".to_owned(), json!("/gw")),
            ("args".to_owned(), json!(["serve"])),
        ]
    }

    fn set(text: &str) -> String {
        set_member(text, &["mcpServers"], "gateway", &entry()).unwrap()
    }

    #[test]
    fn keeps_crlf_and_a_comment_after_the_last_member() {
        let text =
            "{\r\n  \"mcpServers\": {\r\n    \"a\": {\"command\": \"x\"} // mine\r\n  }\r\n}\r\n";
        let out = set(text);
        assert_eq!(
            out,
            "{\r\n  \"mcpServers\": {\r\n    \"a\": {\"command\": \"x\"}, // mine\r\n    \"gateway\": {\r\n      \"command\": \"/gw\",\r\n      \"args\": [\"serve\"]\r\n    }\r\n  }\r\n}\r\n"
        );
        assert_eq!(set(&out), out);
        let back = remove_member(&out, &["mcpServers"], "gateway").unwrap();
        assert_eq!(back, text);
    }

    #[test]
    fn creates_the_container_and_fills_empty_objects() {
        assert_eq!(
            set("{\n\t\"theme\": 1\n}"),
            "{\n\t\"theme\": 1,\n\t\"mcpServers\": {\n\t\t\"gateway\": {\n\t\t\t\"command\": \"/gw\",\n\t\t\t\"args\": [\"serve\"]\n\t\t}\n\t}\n}"
        );
        assert_eq!(
            set("{\"mcpServers\": {}}"),
            "{\"mcpServers\": {\n  \"gateway\": {\n    \"command\": \"/gw\",\n    \"args\": [\"serve\"]\n  }\n}}"
        );
        assert!(set("{}\n").starts_with("{\n  \"mcpServers\": {\n    \"gateway\": {\n"));
    }

    #[test]
    fn one_line_objects_stay_on_one_line_and_trailing_commas_stay() {
        let out = set("{\"mcpServers\": {\"a\": {\"command\": \"x\"}}}");
        assert_eq!(
            out,
            "{\"mcpServers\": {\"a\": {\"command\": \"x\"}, \"gateway\": {\"command\": \"/gw\", \"args\": [\"serve\"]}}}"
        );
        let out = set("{\n  \"mcpServers\": {\n    \"a\": 1,\n  },\n}\n");
        assert_eq!(
            out,
            "{\n  \"mcpServers\": {\n    \"a\": 1,\n    \"gateway\": {\n      \"command\": \"/gw\",\n      \"args\": [\"serve\"]\n    },\n  },\n}\n"
        );
    }

    #[test]
    fn replaces_a_changed_entry_and_removes_members() {
        let text = "{\n  \"mcpServers\": {\n    \"gateway\": {\"command\": \"/old\"},\n    \"b\": 2\n  }\n}\n";
        let out = set(text);
        assert!(out.contains("\"gateway\": {\n      \"command\": \"/gw\""));
        assert!(out.contains("\"b\": 2"));
        let gone = remove_member(text, &["mcpServers"], "b").unwrap();
        assert_eq!(
            gone,
            "{\n  \"mcpServers\": {\n    \"gateway\": {\"command\": \"/old\"}\n  }\n}\n"
        );
        let gone = remove_member(text, &["mcpServers"], "gateway").unwrap();
        assert_eq!(gone, "{\n  \"mcpServers\": {\n    \"b\": 2\n  }\n}\n");
        let only = remove_member("{\"mcpServers\": {\"a\": 1}}", &["mcpServers"], "a").unwrap();
        assert_eq!(only, "{\"mcpServers\": {}}");
        assert!(matches!(
            set_member("[1]", &["mcpServers"], "g", &entry()),
            Err(JsonEditError::NotObject(_))
        ));
    }
}

/// Every sample client file: adding the entry and removing it again gives back the file byte
/// for byte; the edited text parses and holds exactly the entry; a second add is a no-op.
#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod fixture_tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn add_then_remove_is_the_identity_on_every_sample() {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/clients");
        let entry: Entry = vec![
            ("type".to_owned(), json!("stdio")),
            ("command".to_owned(), json!("C:\\gw\\mcp-gateway.exe")),
            (
                "args".to_owned(),
                json!(["serve", "--config", "/a b/\"q\".yaml"]),
            ),
        ];
        let mut checked = 0;
        let mut stack = vec![root];
        while let Some(dir) = stack.pop() {
            for path in std::fs::read_dir(dir).unwrap().map(|e| e.unwrap().path()) {
                if path.is_dir() {
                    if !path.ends_with("golden") {
                        stack.push(path);
                    }
                    continue;
                }
                if !path
                    .extension()
                    .is_some_and(|e| e == "json" || e == "jsonc")
                {
                    continue;
                }
                let text = std::fs::read_to_string(&path).unwrap();
                let parsed = super::jsonc::parse(&text).unwrap().to_value();
                for key in ["mcpServers", "servers", "context_servers", "mcp"] {
                    if !parsed.get(key).is_some_and(serde_json::Value::is_object) {
                        continue;
                    }
                    let name = path.display();
                    let added = set_member(&text, &[key], "gateway", &entry).unwrap();
                    let v = super::jsonc::parse(&added).unwrap().to_value();
                    assert_eq!(v[key]["gateway"], json!(entry_map(&entry)), "{name}");
                    assert_eq!(
                        set_member(&added, &[key], "gateway", &entry).unwrap(),
                        added
                    );
                    let removed = remove_member(&added, &[key], "gateway").unwrap();
                    assert_eq!(removed, text, "{name}: add + remove is not the identity");
                    checked += 1;
                }
            }
        }
        assert!(checked >= 20, "{checked}");
    }
}
