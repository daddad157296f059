//! The document-wide parts of an import: the base URL (OpenAPI `servers` with variable
//! defaults, or Swagger's `schemes` + `host` + `basePath`) and the one security scheme that
//! becomes each capability's `auth` (the key always read from an environment variable).

use std::collections::BTreeMap;

use serde_json::{Value, json};

use super::{Options, sanitize};

/// The base URL every generated capability uses.
pub fn base_url(doc: &Value, options: &Options) -> Result<String, String> {
    if let Some(base) = &options.base_url {
        return Ok(base.trim_end_matches('/').to_owned());
    }
    let url = if doc.get("swagger").is_some() {
        swagger_base(doc)
    } else {
        openapi_base(doc)
    };
    let url = url.unwrap_or_default();
    if url.starts_with("http://") || url.starts_with("https://") {
        return Ok(url.trim_end_matches('/').to_owned());
    }
    // A relative server URL is relative to where the document was fetched from.
    if let Some(source) = &options.source_url
        && let Ok(source) = reqwest::Url::parse(source)
        && let Ok(joined) = source.join(if url.is_empty() { "/" } else { &url })
    {
        return Ok(joined.as_str().trim_end_matches('/').to_owned());
    }
    Err(format!(
        "the document gives no absolute server URL (found `{url}`); pass --base-url"
    ))
}

fn openapi_base(doc: &Value) -> Option<String> {
    let server = doc.get("servers")?.as_array()?.first()?;
    let mut url = server.get("url")?.as_str()?.to_owned();
    if let Some(vars) = server.get("variables").and_then(Value::as_object) {
        for (name, var) in vars {
            let default = var.get("default").and_then(Value::as_str).unwrap_or("");
            url = url.replace(&format!("{{{name}}}"), default);
        }
    }
    Some(url)
}

fn swagger_base(doc: &Value) -> Option<String> {
    let host = doc.get("host")?.as_str()?;
    let schemes: Vec<&str> = doc
        .get("schemes")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
        .collect();
    let scheme = if schemes.is_empty() || schemes.contains(&"https") {
        "https"
    } else {
        schemes[0]
    };
    let base_path = doc.get("basePath").and_then(Value::as_str).unwrap_or("");
    Some(format!("{scheme}://{host}{base_path}"))
}

/// How generated capabilities authenticate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuthPlan {
    /// `bearer`, `basic` or `api_key`.
    pub kind: &'static str,
    pub env: String,
    /// For `api_key`: the header, or the query parameter when `in_query`.
    pub name: Option<String>,
    pub in_query: bool,
    /// The scheme's name in the document.
    pub scheme: String,
}

impl AuthPlan {
    pub fn describe(&self) -> String {
        match (self.kind, &self.name) {
            ("api_key", Some(name)) if self.in_query => {
                format!("api_key in query `{name}` from ${}", self.env)
            }
            ("api_key", Some(name)) => format!("api_key in header `{name}` from ${}", self.env),
            (kind, _) => format!("{kind} from ${}", self.env),
        }
    }

    /// Whether a parameter is the credential itself (so it is not asked of the caller).
    pub fn covers(&self, location: &str, name: &str) -> bool {
        match (self.kind, &self.name) {
            ("api_key", Some(n)) => {
                n.eq_ignore_ascii_case(name) && (location == "query") == self.in_query
            }
            _ => location == "header" && name.eq_ignore_ascii_case("authorization"),
        }
    }

    pub fn to_auth(&self, required: bool) -> Value {
        let mut auth = json!({
            "required": required,
            "type": self.kind,
            "key": format!("env:{}", self.env),
        });
        if let Some(name) = &self.name {
            auth[if self.in_query { "param" } else { "header" }] = json!(name);
        }
        auth
    }
}

/// Every security scheme of a document that maps to a capability `auth`, by name.
#[derive(Debug, Clone, Default)]
pub struct Schemes {
    pub plans: BTreeMap<String, AuthPlan>,
    /// Used when an operation names no requirement: the document's global one, else the
    /// best of those defined (bearer/oauth2 > apiKey > basic), sent only when the key is set.
    pub default: Option<AuthPlan>,
}

impl Schemes {
    /// The auth of one operation, from its `security` (or the document's).
    pub fn for_operation(&self, op: &Value, doc: &Value) -> Option<(AuthPlan, bool)> {
        let reqs = op
            .get("security")
            .or_else(|| doc.get("security"))
            .and_then(Value::as_array);
        let Some(reqs) = reqs else {
            return self.default.clone().map(|p| (p, false));
        };
        // `security: []` or a `{}` alternative: the operation works without credentials.
        let optional = reqs
            .iter()
            .any(|r| r.as_object().is_none_or(|o| o.is_empty()));
        let chosen = reqs
            .iter()
            .filter_map(Value::as_object)
            .flat_map(|o| o.keys())
            .find_map(|name| self.plans.get(name));
        match chosen {
            Some(plan) => Some((plan.clone(), !optional)),
            None if reqs.is_empty() => None,
            None => self.default.clone().map(|p| (p, false)),
        }
    }

    pub fn describe(&self) -> Option<String> {
        if self.plans.is_empty() {
            return self.default.as_ref().map(AuthPlan::describe);
        }
        let all: Vec<String> = self
            .plans
            .iter()
            .map(|(name, p)| format!("{name}: {}", p.describe()))
            .collect();
        Some(all.join("; "))
    }
}

/// Reads the document's security schemes. `auth_env` names the variable for every scheme;
/// without it each gets `<TITLE>_TOKEN`, `_API_KEY` or `_CREDENTIALS`. With no scheme in the
/// document, `auth_env` alone means an optional bearer token.
pub fn security(doc: &Value, title: &str, auth_env: Option<&str>) -> Schemes {
    let defined = doc
        .pointer("/components/securitySchemes")
        .or_else(|| doc.get("securityDefinitions"))
        .and_then(Value::as_object);
    let env_for = |suffix: &str| {
        auth_env.map(str::to_owned).unwrap_or_else(|| {
            let stem = sanitize(title).to_uppercase();
            let stem = if stem.is_empty() { "API".into() } else { stem };
            format!("{stem}_{suffix}")
        })
    };
    let mut schemes = Schemes::default();
    let Some(defined) = defined.filter(|s| !s.is_empty()) else {
        schemes.default = auth_env.map(|env| AuthPlan {
            kind: "bearer",
            env: env.to_owned(),
            name: None,
            in_query: false,
            scheme: "(none in the document)".into(),
        });
        return schemes;
    };
    let mut ranked: Vec<(u8, String)> = Vec::new();
    for (name, s) in defined {
        let plan = |kind, suffix: &str, key: Option<String>, in_query| AuthPlan {
            kind,
            env: env_for(suffix),
            name: key,
            in_query,
            scheme: name.clone(),
        };
        let kind = s.get("type").and_then(Value::as_str).unwrap_or("");
        let http = s
            .get("scheme")
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_ascii_lowercase();
        let found = match (kind, http.as_str()) {
            ("http", "bearer") => Some((0, plan("bearer", "TOKEN", None, false))),
            ("oauth2" | "openIdConnect", _) => Some((1, plan("bearer", "TOKEN", None, false))),
            ("apiKey", _) => {
                let key = s.get("name").and_then(Value::as_str).map(str::to_owned);
                match s.get("in").and_then(Value::as_str) {
                    Some("header") => Some((2, plan("api_key", "API_KEY", key, false))),
                    Some("query") => Some((2, plan("api_key", "API_KEY", key, true))),
                    _ => None,
                }
            }
            ("http", "basic") | ("basic", _) => {
                Some((3, plan("basic", "CREDENTIALS", None, false)))
            }
            _ => None,
        };
        if let Some((rank, plan)) = found {
            ranked.push((rank, name.clone()));
            schemes.plans.insert(name.clone(), plan);
        }
    }
    let global = doc
        .get("security")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(Value::as_object)
        .flat_map(|o| o.keys())
        .find(|n| schemes.plans.contains_key(*n))
        .cloned();
    ranked.sort();
    let best = global.or_else(|| ranked.first().map(|(_, n)| n.clone()));
    schemes.default = best.and_then(|n| schemes.plans.get(&n).cloned());
    schemes
}
