//! The document-wide parts of an import: the base URL (OpenAPI `servers` with variable
//! defaults, or Swagger's `schemes` + `host` + `basePath`) and the one security scheme that
//! becomes each capability's `auth` (the key always read from an environment variable).

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

/// Picks one scheme for the whole document: the first one the document requires globally,
/// else the first defined; preference bearer/oauth2 > apiKey > basic when several are defined.
/// With none defined, `--auth-env` alone means a bearer token.
pub fn security(doc: &Value, title: &str, auth_env: Option<&str>) -> Option<AuthPlan> {
    let schemes = doc
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
    let Some(schemes) = schemes.filter(|s| !s.is_empty()) else {
        return auth_env.map(|env| AuthPlan {
            kind: "bearer",
            env: env.to_owned(),
            name: None,
            in_query: false,
            scheme: "(none in the document)".into(),
        });
    };
    let global: Vec<&str> = doc
        .get("security")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(Value::as_object)
        .flat_map(|o| o.keys().map(String::as_str))
        .collect();
    let rank = |s: &Value| match (
        s.get("type").and_then(Value::as_str),
        s.get("scheme").and_then(Value::as_str),
    ) {
        (Some("http"), Some(sc)) if sc.eq_ignore_ascii_case("bearer") => 0,
        (Some("oauth2" | "openIdConnect"), _) => 1,
        (Some("apiKey"), _) => 2,
        _ => 3,
    };
    let (name, scheme) = global
        .iter()
        .find_map(|g| schemes.get_key_value(*g))
        .or_else(|| schemes.iter().min_by_key(|(_, s)| rank(s)))?;
    let kind_of = |s: &Value| -> Option<AuthPlan> {
        let plan = |kind, suffix: &str, name: Option<String>, in_query| AuthPlan {
            kind,
            env: env_for(suffix),
            name,
            in_query,
            scheme: String::new(),
        };
        match s.get("type").and_then(Value::as_str)? {
            "http" => match s
                .get("scheme")
                .and_then(Value::as_str)?
                .to_ascii_lowercase()
                .as_str()
            {
                "bearer" => Some(plan("bearer", "TOKEN", None, false)),
                "basic" => Some(plan("basic", "CREDENTIALS", None, false)),
                _ => None,
            },
            "basic" => Some(plan("basic", "CREDENTIALS", None, false)),
            "oauth2" | "openIdConnect" => Some(plan("bearer", "TOKEN", None, false)),
            "apiKey" => {
                let location = s.get("in").and_then(Value::as_str)?;
                let key_name = s.get("name").and_then(Value::as_str)?.to_owned();
                match location {
                    "header" => Some(plan("api_key", "API_KEY", Some(key_name), false)),
                    "query" => Some(plan("api_key", "API_KEY", Some(key_name), true)),
                    _ => None,
                }
            }
            _ => None,
        }
    };
    let mut plan = kind_of(scheme)?;
    plan.scheme = name.clone();
    Some(plan)
}
