//! The key check: every key in the file is either ours, a key of the original mcp-gateway
//! (accepted with a warning), or an error that points at it and suggests the likely key.
//!
//! This runs on the parsed `Value` before the typed deserialization, because serde's
//! `deny_unknown_fields` stops at the first unknown key without telling ours apart from the
//! original's, and its message would have to be parsed to get the key back. The legal keys
//! come from the raw structs themselves ([`fields_of`]), so there is one list to maintain.

use serde_yaml_ng::Value;

use super::error::{ConfigError, UnknownKey, suggest};
use super::locate::{Doc, Seg, Target};
use super::raw::{
    ORIGINAL_BACKEND_KEYS, ORIGINAL_META_KEYS, ORIGINAL_SECTIONS, RawBackend, RawConfig,
    RawMetaMcp, RawSurfacedTool, fields_of,
};

/// Keys people bring from other tools' configs, and what they mean here. Spelling distance
/// cannot find these (`cmd` is far from `command`).
const FOREIGN: &[(&str, &str)] = &[
    ("cmd", "command"),
    ("arguments", "args"),
    ("environment", "env"),
    ("working_dir", "cwd"),
    ("workdir", "cwd"),
    ("working_directory", "cwd"),
    ("httpurl", "url"),
    ("serverurl", "url"),
    ("server_url", "url"),
    ("endpoint", "url"),
    ("uri", "url"),
    ("disabled", "enabled"),
];

/// Keys of the original mcp-gateway that protect something (a deny policy, client
/// authentication, schema enforcement). Ignoring them silently would leave a user believing
/// a protection is on, so they are reported as problems, not just warnings.
const PROTECTIONS: &[&str] = &["security", "auth", "mtls", "input_schema_enforcement"];

/// Checks all keys of the document; pushes a warning for each accepted-but-ignored key,
/// and for ignored protections also a line to `protections`.
pub(crate) fn check(
    doc: Doc<'_>,
    root: &Value,
    warnings: &mut Vec<String>,
    protections: &mut Vec<String>,
) -> Result<(), ConfigError> {
    let Value::Mapping(top) = root else {
        return Err(doc.invalid(
            &[],
            Target::Value,
            "a config file must be a mapping of sections such as `backends:`".into(),
        ));
    };
    let fields = fields_of::<RawConfig>();
    for (key, value) in top {
        let key = key_text(key);
        if ORIGINAL_SECTIONS.contains(&key.as_str()) {
            if PROTECTIONS.contains(&key.as_str()) {
                let what = format!(
                    "`{key}` (from the original mcp-gateway) is not implemented: \
                     the protection it configures is NOT in effect"
                );
                warnings.push(what.clone());
                protections.push(what);
            } else {
                warnings.push(format!(
                    "`{key}` (from the original mcp-gateway) is not implemented and is ignored"
                ));
            }
            continue;
        }
        let path = [Seg::Key(key.clone())];
        known(doc, &path, fields, ORIGINAL_SECTIONS, "at the top level")?;
        match key.as_str() {
            "backends" => check_backends(doc, value, warnings, protections)?,
            "meta_mcp" => check_meta(doc, value, warnings)?,
            "surfaced_tools" => check_surfaced(doc, &path, value)?,
            _ => {}
        }
    }
    Ok(())
}

fn check_backends(
    doc: Doc<'_>,
    value: &Value,
    warnings: &mut Vec<String>,
    protections: &mut Vec<String>,
) -> Result<(), ConfigError> {
    let Value::Mapping(backends) = value else {
        return Ok(()); // null means none; other shapes are left to the typed pass
    };
    let fields = fields_of::<RawBackend>();
    for (name, backend) in backends {
        let name = key_text(name);
        let base = [Seg::key("backends"), Seg::Key(name.clone())];
        let map = match backend {
            Value::Mapping(map) => map,
            Value::Null => {
                return Err(doc.invalid(
                    &base,
                    Target::Key,
                    format!(
                        "backend `{name}` is empty: give it a `command` (a local server) \
                         or a `url` (a remote one)"
                    ),
                ));
            }
            _ => continue,
        };
        let context = format!("in backend `{name}`");
        for key in map.keys() {
            let key = key_text(key);
            if ORIGINAL_BACKEND_KEYS.contains(&key.as_str()) {
                if PROTECTIONS.contains(&key.as_str()) {
                    let what = format!(
                        "`{key}` in backend `{name}` (from the original mcp-gateway) is not \
                         implemented: the protection it configures is NOT in effect"
                    );
                    warnings.push(what.clone());
                    protections.push(what);
                } else {
                    warnings.push(format!(
                        "`{key}` in backend `{name}` (from the original mcp-gateway) is not \
                         implemented and is ignored"
                    ));
                }
                continue;
            }
            let path = [base[0].clone(), base[1].clone(), Seg::Key(key)];
            known(doc, &path, fields, ORIGINAL_BACKEND_KEYS, &context)?;
        }
    }
    Ok(())
}

fn check_meta(doc: Doc<'_>, value: &Value, warnings: &mut Vec<String>) -> Result<(), ConfigError> {
    let Value::Mapping(map) = value else {
        return Ok(());
    };
    let fields = fields_of::<RawMetaMcp>();
    for (key, value) in map {
        let key = key_text(key);
        let path = [Seg::key("meta_mcp"), Seg::Key(key.clone())];
        if key == "surfaced_tools" {
            check_surfaced(doc, &path, value)?;
        } else if key == "enabled" && value == &Value::Bool(true) {
            // The original's default, which is also what we do: nothing to warn about.
        } else if ORIGINAL_META_KEYS.contains(&key.as_str()) {
            warnings.push(format!(
                "`meta_mcp.{key}` (from the original mcp-gateway) is not implemented and is ignored"
            ));
        } else {
            known(doc, &path, fields, ORIGINAL_META_KEYS, "in `meta_mcp`")?;
        }
    }
    Ok(())
}

fn check_surfaced(doc: Doc<'_>, base: &[Seg], value: &Value) -> Result<(), ConfigError> {
    let Value::Sequence(items) = value else {
        return Ok(());
    };
    let fields = fields_of::<RawSurfacedTool>();
    for (i, item) in items.iter().enumerate() {
        let Value::Mapping(map) = item else { continue };
        let context = format!("in `surfaced_tools` entry {}", i + 1);
        for key in map.keys() {
            let mut path = base.to_vec();
            path.extend([Seg::Index(i), Seg::Key(key_text(key))]);
            known(doc, &path, fields, &[], &context)?;
        }
    }
    Ok(())
}

/// Ok if the last key of `path` is one of `fields`, else the unknown-key error.
fn known(
    doc: Doc<'_>,
    path: &[Seg],
    fields: &[&str],
    original: &[&str],
    context: &str,
) -> Result<(), ConfigError> {
    let Some(Seg::Key(key)) = path.last() else {
        return Ok(());
    };
    if fields.contains(&key.as_str()) {
        return Ok(());
    }
    if key == "<<" {
        return Err(ConfigError::Invalid {
            at: doc.location(path, Target::Key),
            message: "YAML merge keys (`<<`) are not supported; anchors and aliases \
                      (`&name`, `*name`) are"
                .into(),
        });
    }
    let ours: Vec<&str> = fields
        .iter()
        .copied()
        .filter(|f| !original.contains(f))
        .collect();
    let foreign = FOREIGN
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case(key))
        .map(|(_, v)| *v)
        .filter(|v| fields.contains(v));
    let suggestion = foreign.or_else(|| suggest(key, &ours).or_else(|| suggest(key, fields)));
    Err(ConfigError::UnknownKey(Box::new(UnknownKey {
        at: doc.location(path, Target::Key),
        key: key.clone(),
        context: context.to_owned(),
        suggestion: suggestion.map(str::to_owned),
        expected: if suggestion.is_some() {
            Vec::new()
        } else {
            ours.iter().map(|s| (*s).to_owned()).collect()
        },
    })))
}

/// A mapping key as text, the way [`super::locate`] compares keys.
pub(crate) fn key_text(key: &Value) -> String {
    match key {
        Value::String(s) => s.clone(),
        Value::Number(n) => n.to_string(),
        Value::Bool(b) => b.to_string(),
        Value::Null => "null".into(),
        Value::Sequence(_) | Value::Mapping(_) | Value::Tagged(_) => "<complex key>".into(),
    }
}
