//! Telling literal secrets from references: what `setup import` flags, and what makes a
//! `gateway.yaml` owner-only when written.
//!
//! A guess by key name (`TOKEN`, `API_KEY`, …) and by well-known token prefixes (`ghp_`,
//! `sk-`, …). A value holding a `${…}` reference is never a literal secret: it is resolved at
//! use. The guess errs on the side of protecting: a false positive costs a `0600` file.

use serde_yaml_ng::Value;

pub use crate::config::looks_secret;

/// One literal secret in a `gateway.yaml`, and the reference that would replace it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LiteralSecret {
    pub backend: String,
    /// `env GITHUB_TOKEN`, `header Authorization` or `url`.
    pub place: String,
    /// What to write instead, e.g. `GITHUB_TOKEN: ${GITHUB_TOKEN}`.
    pub instead: String,
}

/// The literal secrets in a `gateway.yaml` text's backends (none when it does not parse).
pub fn in_gateway_yaml(text: &str) -> Vec<LiteralSecret> {
    let Ok(root) = serde_yaml_ng::from_str::<Value>(text) else {
        return Vec::new();
    };
    let Some(backends) = root.get("backends").and_then(Value::as_mapping) else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for (name, b) in backends {
        let Some(name) = name.as_str() else { continue };
        let entries = |key: &str| -> Vec<(String, String)> {
            b.get(key)
                .and_then(Value::as_mapping)
                .map(|m| {
                    m.iter()
                        .filter_map(|(k, v)| Some((k.as_str()?.to_owned(), scalar(v)?)))
                        .collect()
                })
                .unwrap_or_default()
        };
        for (k, v) in entries("env") {
            if looks_secret(&k, &v) {
                out.push(LiteralSecret {
                    backend: name.to_owned(),
                    place: format!("env {k}"),
                    instead: format!("{k}: ${{{k}}}"),
                });
            }
        }
        for (k, v) in entries("headers") {
            if looks_secret(&k, &v) {
                let var = variable_name(&format!("{name}_{k}"));
                let scheme = ["Bearer ", "Basic ", "token "]
                    .into_iter()
                    .find(|p| v.starts_with(p))
                    .unwrap_or("");
                out.push(LiteralSecret {
                    backend: name.to_owned(),
                    place: format!("header {k}"),
                    instead: format!("{k}: \"{scheme}${{{var}}}\""),
                });
            }
        }
        for key in ["url", "http_url"] {
            if let Some(url) = b.get(key).and_then(Value::as_str)
                && url_has_secret(url)
            {
                out.push(LiteralSecret {
                    backend: name.to_owned(),
                    place: key.to_owned(),
                    instead: format!("{key}: \"{}\"", url_with_references(name, url)),
                });
            }
        }
    }
    out
}

/// The URL with each secret-looking part replaced by a `${…}` reference: a query value by
/// `${<BACKEND>_<PARAM>}`, a key-shaped path segment by `${<BACKEND>_KEY}`.
fn url_with_references(backend: &str, url: &str) -> String {
    let (base, query) = url.split_once('?').unwrap_or((url, ""));
    let path_var = variable_name(&format!("{backend}_key"));
    let base: Vec<String> = base
        .split('/')
        .map(|seg| {
            if looks_secret("", seg) {
                format!("${{{path_var}}}")
            } else {
                seg.to_owned()
            }
        })
        .collect();
    let mut out = base.join("/");
    if !query.is_empty() {
        let pairs: Vec<String> = query
            .split('&')
            .map(|pair| match pair.split_once('=') {
                Some((k, v)) if looks_secret(k, v) || looks_secret("", v) => {
                    format!("{k}=${{{}}}", variable_name(&format!("{backend}_{k}")))
                }
                _ => pair.to_owned(),
            })
            .collect();
        out.push('?');
        out.push_str(&pairs.join("&"));
    }
    out
}

fn scalar(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

/// `gh_Authorization` → `GH_AUTHORIZATION`.
fn variable_name(s: &str) -> String {
    s.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_uppercase()
            } else {
                '_'
            }
        })
        .collect()
}

/// A key in the URL itself (`…/sk-…/sse`, `?api_key=…`).
pub(crate) fn url_has_secret(url: &str) -> bool {
    url.split(['/', '?', '&', '='])
        .any(|part| looks_secret("", part))
        || url.split(['?', '&']).skip(1).any(|pair| {
            pair.split_once('=')
                .is_some_and(|(k, v)| looks_secret(k, v))
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn literals_are_found_and_references_are_not() {
        let text = "backends:\n  gh:\n    command: x\n    env: {GITHUB_TOKEN: ghp_abc, LOG: info, K: \"${K}\"}\n  r:\n    url: https://h/mcp?api_key=abc123\n    headers: {Authorization: Bearer xyz}\n  ok:\n    url: https://h/mcp\n    headers: {Authorization: \"Bearer ${T}\"}\n";
        let found = in_gateway_yaml(text);
        let places: Vec<(&str, &str)> = found
            .iter()
            .map(|s| (s.backend.as_str(), s.place.as_str()))
            .collect();
        assert_eq!(
            places,
            [
                ("gh", "env GITHUB_TOKEN"),
                ("r", "header Authorization"),
                ("r", "url")
            ]
        );
        assert_eq!(found[0].instead, "GITHUB_TOKEN: ${GITHUB_TOKEN}");
        assert_eq!(
            found[1].instead,
            "Authorization: \"Bearer ${R_AUTHORIZATION}\""
        );
        assert_eq!(
            found[2].instead,
            "url: \"https://h/mcp?api_key=${R_API_KEY}\""
        );
    }
}
