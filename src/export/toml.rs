//! Lossless edits of Codex's `config.toml` through `toml_edit`, which keeps comments, table
//! order and whitespace; plus reading its tables as JSON values for import.

use serde_json::Value;
use toml_edit::{Array, DocumentMut, Item, Table};

use super::jsonc_edit::{Entry, JsonEditError};

fn parse(text: &str) -> Result<DocumentMut, JsonEditError> {
    text.parse::<DocumentMut>().map_err(|e| {
        let offset = e.span().map_or(0, |s| s.start);
        let (line, column) = super::jsonc::line_col(text, offset);
        JsonEditError::Syntax {
            line,
            column,
            message: e.message().trim().to_owned(),
        }
    })
}

/// The file as JSON (tables become objects), for reading servers.
pub fn to_json(text: &str) -> Result<Value, JsonEditError> {
    let doc = parse(text)?;
    Ok(table_json(doc.as_table()))
}

/// `[container.name]` holds `entry`'s keys; other keys of an existing table stay.
pub fn set_member(
    text: &str,
    container: &str,
    name: &str,
    entry: &Entry,
) -> Result<String, JsonEditError> {
    let mut doc = parse(text)?;
    let servers = doc.entry(container).or_insert_with(|| {
        let mut t = Table::new();
        t.set_implicit(true);
        Item::Table(t)
    });
    let Some(servers) = servers.as_table_like_mut() else {
        return Err(JsonEditError::NotObject(container.to_owned()));
    };
    if let Some(existing) = servers.get(name).and_then(Item::as_table_like) {
        let same = entry
            .iter()
            .all(|(k, v)| existing.get(k).is_some_and(|item| item_json(item) == *v));
        if same {
            return Ok(text.to_owned());
        }
    }
    let item = servers
        .entry(name)
        .or_insert_with(|| Item::Table(Table::new()));
    let Some(table) = item.as_table_like_mut() else {
        return Err(JsonEditError::NotObject(format!("{container}.{name}")));
    };
    for (k, v) in entry {
        table.insert(k, Item::Value(to_toml(v)));
    }
    Ok(doc.to_string())
}

/// Removes `[container.name]` (and its sub-tables); unchanged text when absent.
pub fn remove_member(text: &str, container: &str, name: &str) -> Result<String, JsonEditError> {
    let mut doc = parse(text)?;
    let removed = doc
        .get_mut(container)
        .and_then(Item::as_table_like_mut)
        .and_then(|t| t.remove(name));
    Ok(if removed.is_some() {
        doc.to_string()
    } else {
        text.to_owned()
    })
}

fn to_toml(v: &Value) -> toml_edit::Value {
    match v {
        Value::String(s) => s.as_str().into(),
        Value::Bool(b) => (*b).into(),
        Value::Number(n) => match n.as_i64() {
            Some(i) => i.into(),
            None => n.as_f64().unwrap_or(0.0).into(),
        },
        Value::Array(items) => {
            let mut a = Array::new();
            for item in items {
                a.push(to_toml(item));
            }
            toml_edit::Value::Array(a)
        }
        Value::Object(map) => {
            let mut t = toml_edit::InlineTable::new();
            for (k, v) in map {
                t.insert(k, to_toml(v));
            }
            toml_edit::Value::InlineTable(t)
        }
        Value::Null => "".into(),
    }
}

fn table_json(t: &dyn toml_edit::TableLike) -> Value {
    Value::Object(
        t.iter()
            .map(|(k, item)| (k.to_owned(), item_json(item)))
            .collect(),
    )
}

fn item_json(item: &Item) -> Value {
    match item {
        Item::None => Value::Null,
        Item::Table(t) => table_json(t),
        Item::ArrayOfTables(a) => Value::Array(a.iter().map(|t| table_json(t)).collect()),
        Item::Value(v) => value_json(v),
    }
}

fn value_json(v: &toml_edit::Value) -> Value {
    match v {
        toml_edit::Value::String(s) => Value::String(s.value().clone()),
        toml_edit::Value::Integer(i) => Value::from(*i.value()),
        toml_edit::Value::Float(f) => Value::from(*f.value()),
        toml_edit::Value::Boolean(b) => Value::Bool(*b.value()),
        toml_edit::Value::Datetime(d) => Value::String(d.value().to_string()),
        toml_edit::Value::Array(a) => Value::Array(a.iter().map(value_json).collect()),
        toml_edit::Value::InlineTable(t) => table_json(t),
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn edits_keep_comments_and_order() {
        let text =
            "# top\nmodel = \"x\" # why\n\n[mcp_servers.a]\ncommand = \"a\"\n\n[tui]\nx = 1\n";
        let entry = vec![
            ("command".to_owned(), json!("/gw")),
            ("args".to_owned(), json!(["serve"])),
        ];
        let out = set_member(text, "mcp_servers", "gateway", &entry).unwrap();
        assert!(out.starts_with("# top\nmodel = \"x\" # why\n"));
        assert!(out.contains("[mcp_servers.gateway]\ncommand = \"/gw\"\nargs = [\"serve\"]"));
        assert_eq!(
            set_member(&out, "mcp_servers", "gateway", &entry).unwrap(),
            out
        );
        let back = remove_member(&out, "mcp_servers", "gateway").unwrap();
        assert_eq!(back.replace("\n\n\n", "\n\n"), text);
        let err = set_member("[a\n", "mcp_servers", "g", &entry).unwrap_err();
        assert!(matches!(err, JsonEditError::Syntax { line: 1, .. }));
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod inline_tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn inline_and_dotted_containers() {
        let entry = vec![("command".to_owned(), json!("/gw"))];
        let out = set_member(
            "mcp_servers = { a = { command = \"x\" } }\n",
            "mcp_servers",
            "gateway",
            &entry,
        )
        .unwrap();
        let v = to_json(&out).unwrap();
        assert_eq!(v["mcp_servers"]["gateway"]["command"], "/gw", "{out}");
        assert_eq!(v["mcp_servers"]["a"]["command"], "x", "{out}");
        let out = set_member(
            "mcp_servers.a.command = \"x\"\n",
            "mcp_servers",
            "gateway",
            &entry,
        )
        .unwrap();
        let v = to_json(&out).unwrap();
        assert_eq!(v["mcp_servers"]["gateway"]["command"], "/gw", "{out}");
    }
}
