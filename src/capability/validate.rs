//! From the raw YAML to a runnable [`Capability`]: everything that can be checked without
//! the network is checked here, so a capability that could not run is refused at load.

use std::collections::BTreeMap;
use std::time::Duration;

use serde_json::{Map, Value};

use super::format::{
    INFORMATIONAL_METADATA, RawAuth, RawCapability, RawProvider, RawRestConfig, UNIMPLEMENTED_TOP,
};
use super::template::Template;
use super::{Annotations, Auth, AuthKind, Body, Capability, Provider};

/// Per-provider timeout when the file sets none (the original's default).
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(30);
/// Tool names clients accept (MCP clients reject longer or odder names).
const MAX_NAME: usize = 64;

/// Why a capability file was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct Invalid(pub String);

fn invalid(msg: impl Into<String>) -> Invalid {
    Invalid(msg.into())
}

/// Parses and validates one capability file's text. Warnings name what was ignored.
pub fn parse(text: &str) -> Result<(Capability, Vec<String>), Invalid> {
    let raw: RawCapability =
        serde_yaml_ng::from_str(text).map_err(|e| invalid(format!("not a capability: {e}")))?;
    build(raw)
}

fn build(raw: RawCapability) -> Result<(Capability, Vec<String>), Invalid> {
    let mut warnings = Vec::new();
    let name = raw.name.trim().to_owned();
    if name.is_empty()
        || name.len() > MAX_NAME
        || !name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
    {
        return Err(invalid(format!(
            "name `{name}` must be 1-{MAX_NAME} letters, digits, `_` or `-`"
        )));
    }
    if let Some(v) = &raw.fulcrum
        && v.as_str().or(v.as_f64().map(|_| "1.0")) != Some("1.0")
    {
        warnings.push(format!(
            "format version `fulcrum: {v}` is not 1.0; read as 1.0"
        ));
    }
    for key in raw.other.keys() {
        if UNIMPLEMENTED_TOP.contains(&key.as_str()) {
            warnings.push(format!("`{key}` is not implemented and is ignored"));
        } else {
            warnings.push(format!("unknown key `{key}` is ignored"));
        }
    }
    for key in raw.schema.other.keys() {
        warnings.push(format!("unknown key `schema.{key}` is ignored"));
    }
    let input_schema = match raw.schema.input {
        None | Some(Value::Null) => Map::from_iter([("type".into(), Value::from("object"))]),
        Some(Value::Object(mut schema)) => {
            schema
                .entry("type")
                .or_insert_with(|| Value::from("object"));
            if schema.get("type") != Some(&Value::from("object")) {
                return Err(invalid("`schema.input` must be an object schema"));
            }
            schema
        }
        Some(_) => return Err(invalid("`schema.input` must be a JSON Schema object")),
    };
    let output_schema = match raw.schema.output {
        Some(Value::Object(schema)) => Some(schema),
        _ => None,
    };

    let mut providers = Vec::new();
    for (key, value) in raw.providers {
        match key.as_str() {
            "primary" => providers.insert(0, provider(&key, value, &mut warnings)?),
            "fallback" => match value {
                Value::Array(items) => {
                    for item in items {
                        providers.push(provider(&key, item, &mut warnings)?);
                    }
                }
                one => providers.push(provider(&key, one, &mut warnings)?),
            },
            other => warnings.push(format!(
                "provider `{other}` is ignored (only `primary` and `fallback` are used)"
            )),
        }
    }
    if providers.is_empty() || providers.first().map(|p| p.role) != Some("primary") {
        return Err(invalid("`providers.primary` is missing"));
    }

    let auth = auth(raw.auth.unwrap_or_default(), &mut warnings)?;

    let meta = raw.metadata;
    for key in meta.other.keys() {
        if !INFORMATIONAL_METADATA.contains(&key.as_str()) {
            warnings.push(format!("unknown key `metadata.{key}` is ignored"));
        }
    }
    let read_only = meta.read_only.unwrap_or(false);
    let annotations = Annotations {
        read_only,
        destructive: meta.destructive.unwrap_or(!read_only),
        destructive_stated: meta.destructive.is_some(),
        idempotent: meta.idempotent.unwrap_or(read_only),
        open_world: meta.open_world.unwrap_or(true),
    };

    let cache_ttl = match raw.cache {
        None => None,
        Some(cache) => {
            for key in cache.other.keys() {
                warnings.push(format!("unknown key `cache.{key}` is ignored"));
            }
            if cache.key_template.is_some() {
                warnings.push("`cache.key_template` is ignored: the key is the arguments".into());
            }
            let off = matches!(cache.strategy.as_deref(), Some("none" | "off" | "disabled"));
            match (off, cache.ttl) {
                (true, _) | (false, None) => None,
                (false, Some(ttl)) if !read_only => {
                    // A cached answer to a call with side effects would skip the effect.
                    warnings.push(format!(
                        "`cache.ttl: {ttl}` is ignored: only `metadata.read_only: true` \
                         capabilities are cached"
                    ));
                    None
                }
                (false, Some(ttl)) => seconds(ttl, "cache.ttl")?,
            }
        }
    };

    let mut known_args: Vec<&str> = Vec::new();
    if let Some(Value::Object(props)) = input_schema.get("properties") {
        known_args.extend(props.keys().map(String::as_str));
    }
    for p in &providers {
        for arg in p.args() {
            if !known_args.contains(&arg.as_str()) {
                warnings.push(format!(
                    "`{{{arg}}}` is used by provider `{}` but is not in `schema.input.properties`",
                    p.role
                ));
            }
        }
    }

    let capability = Capability {
        name,
        description: raw.description.trim().to_owned(),
        input_schema,
        output_schema,
        providers,
        auth,
        annotations,
        category: meta.category,
        tags: meta.tags,
        cache_ttl,
    };
    Ok((capability, warnings))
}

fn seconds(value: f64, key: &str) -> Result<Option<Duration>, Invalid> {
    if !(0.0..=86_400.0).contains(&value) {
        return Err(invalid(format!("`{key}` must be 0-86400 seconds")));
    }
    Ok((value > 0.0).then(|| Duration::from_secs_f64(value)))
}

fn provider(role: &str, value: Value, warnings: &mut Vec<String>) -> Result<Provider, Invalid> {
    let raw: RawProvider =
        serde_json::from_value(value).map_err(|e| invalid(format!("provider `{role}`: {e}")))?;
    let role: &'static str = if role == "primary" {
        "primary"
    } else {
        "fallback"
    };
    match raw.service.as_deref().unwrap_or("rest") {
        "rest" | "http" => {}
        other => {
            // The original fell back to REST with an empty URL and failed at call time.
            return Err(invalid(format!(
                "provider `{role}` uses `service: {other}`, which this gateway cannot run \
                 (only `rest`)"
            )));
        }
    }
    for key in raw.other.keys() {
        warnings.push(format!("unknown key `providers.{role}.{key}` is ignored"));
    }
    let timeout = match raw.timeout {
        Some(t) => seconds(t, "timeout")?.unwrap_or(DEFAULT_TIMEOUT),
        None => DEFAULT_TIMEOUT,
    };
    rest(role, raw.config, timeout, warnings)
}

fn rest(
    role: &'static str,
    c: RawRestConfig,
    timeout: Duration,
    warnings: &mut Vec<String>,
) -> Result<Provider, Invalid> {
    if let Some(key) = c.other.keys().next() {
        return Err(invalid(format!(
            "provider `{role}`: `config.{key}` is not supported"
        )));
    }
    if let Some(format) = c.response_format.as_deref()
        && format != "json"
    {
        return Err(invalid(format!(
            "provider `{role}`: `response_format: {format}` is not supported (only json)"
        )));
    }
    let url = match (c.endpoint, c.base_url) {
        (Some(endpoint), _) => endpoint,
        (None, Some(base)) => {
            let path = c.path.unwrap_or_default();
            let base = base.trim_end_matches('/');
            if path.is_empty() || path.starts_with('/') {
                format!("{base}{path}")
            } else {
                format!("{base}/{path}")
            }
        }
        (None, None) => {
            return Err(invalid(format!(
                "provider `{role}` has no `config.base_url` (or `endpoint`)"
            )));
        }
    };
    let origin_ok = url.starts_with("https://") || url.starts_with("http://");
    let parsed_host = url
        .split_once("://")
        .map(|(_, rest)| rest.split(['/', '?', '{']).next().unwrap_or(""));
    if !origin_ok || parsed_host.is_none_or(str::is_empty) {
        return Err(invalid(format!(
            "provider `{role}`: `{url}` is not an absolute http(s) URL with a fixed host"
        )));
    }
    let method = c.method.as_deref().unwrap_or("GET").to_ascii_uppercase();
    let method = reqwest::Method::from_bytes(method.as_bytes())
        .map_err(|_| invalid(format!("provider `{role}`: bad method `{method}`")))?;
    let url = tpl(&url, "url")?;
    let headers = templates(c.headers, "headers")?;
    let params = templates(c.params, "params")?;
    let static_params = c
        .static_params
        .into_iter()
        .map(|(k, v)| (k, scalar_text(&v)))
        .collect();
    let body = match (c.body, c.body_content_type.as_deref()) {
        (None, _) => None,
        (Some(Value::String(text)), Some(ct)) if ct.starts_with("text/") => {
            Some(Body::Text(tpl(&text, "body")?, ct.to_owned()))
        }
        (Some(_), Some(ct)) if ct != "application/json" => {
            return Err(invalid(format!(
                "provider `{role}`: `body_content_type: {ct}` is not supported"
            )));
        }
        (Some(value), _) => {
            body_templates(&value)?;
            Some(Body::Json(value))
        }
    };
    if c.param_map.values().any(String::is_empty) {
        warnings.push(format!(
            "provider `{role}`: empty names in `param_map` are ignored"
        ));
    }
    Ok(Provider {
        role,
        method,
        url,
        headers,
        params,
        param_map: c.param_map,
        static_params,
        body,
        response_path: c
            .response_path
            .filter(|p| !p.trim().is_empty())
            .map(|p| p.split('.').map(str::to_owned).collect()),
        timeout,
    })
}

fn tpl(text: &str, what: &str) -> Result<Template, Invalid> {
    Template::parse(text).map_err(|e| invalid(format!("`{what}`: {e}")))
}

fn templates(map: BTreeMap<String, Value>, what: &str) -> Result<Vec<(String, Template)>, Invalid> {
    map.into_iter()
        .map(|(k, v)| Ok((k.clone(), tpl(&scalar_text(&v), &format!("{what}.{k}"))?)))
        .collect()
}

/// Every string inside a JSON body template must parse (secrets it may not read are refused).
fn body_templates(value: &Value) -> Result<(), Invalid> {
    match value {
        Value::String(s) => tpl(s, "body").map(drop),
        Value::Array(items) => items.iter().try_for_each(body_templates),
        Value::Object(map) => map.values().try_for_each(body_templates),
        _ => Ok(()),
    }
}

fn scalar_text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Null => String::new(),
        other => other.to_string(),
    }
}

fn auth(raw: RawAuth, warnings: &mut Vec<String>) -> Result<Auth, Invalid> {
    for key in raw.other.keys() {
        let what = match key.as_str() {
            "scopes" | "token_endpoint" | "shared_account" => "is not implemented and is ignored",
            _ => "is unknown and ignored",
        };
        warnings.push(format!("`auth.{key}` {what}"));
    }
    let kind = match raw.kind.as_deref().unwrap_or("none") {
        "none" => return Ok(Auth::default()),
        "bearer" => AuthKind::Bearer,
        "api_key" | "apikey" => AuthKind::ApiKey,
        "basic" => AuthKind::Basic,
        other => {
            return Err(invalid(format!(
                "`auth.type: {other}` is not supported (none, bearer, api_key, basic)"
            )));
        }
    };
    let Some(key) = raw.key else {
        return Err(invalid("`auth.key` is required for this `auth.type`"));
    };
    let var = key_var(&key)?;
    Ok(Auth {
        kind: Some(kind),
        key_var: Some(var),
        required: raw.required.unwrap_or(true),
        header: raw.header,
        prefix: raw.prefix,
        param: raw.param,
    })
}

/// The environment variable an `auth.key` names: `env:VAR`, `{env.VAR}` or a bare `VAR`.
fn key_var(key: &str) -> Result<String, Invalid> {
    let key = key.trim();
    let var = key
        .strip_prefix("env:")
        .or_else(|| key.strip_prefix("{env.").and_then(|k| k.strip_suffix('}')))
        .or_else(|| {
            key.chars()
                .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == '_')
                .then_some(key)
        });
    match var {
        Some(v) if !v.is_empty() => Ok(v.to_owned()),
        _ => Err(invalid(format!(
            "`auth.key: {key}` is not supported: use `env:VAR` (keychain, oauth and file \
             references are not implemented)"
        ))),
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    /// The original's shipped `weather_current.yaml`, verbatim (notes §4).
    const WEATHER: &str = r#"fulcrum: "1.0"
name: weather_current
description: Get current weather using Open-Meteo API. Free, no API key required.

schema:
  input:
    type: object
    properties:
      latitude: { type: number, minimum: -90, maximum: 90, examples: [52.52] }
      longitude: { type: number }
      temperature_unit: { type: string, enum: [celsius, fahrenheit], default: celsius }
    required: [latitude, longitude]
  output:
    type: object

providers:
  primary:
    service: rest
    cost_per_call: 0
    timeout: 10
    config:
      base_url: https://api.open-meteo.com
      path: /v1/forecast
      method: GET
      headers:
        Accept: "application/json"
      params:
        latitude: "{latitude}"
        longitude: "{longitude}"
        current: "temperature_2m"
        temperature_unit: "{temperature_unit}"

cache:
  strategy: exact
  ttl: 300

auth:
  required: false
  type: none

metadata:
  category: productivity
  tags: [weather, free]
  cost_category: free
  execution_time: fast
  read_only: true
  rate_limit: 10000 req/day
  docs: https://open-meteo.com/en/docs
"#;

    #[test]
    fn the_original_format_loads_unchanged() {
        let (cap, warnings) = parse(WEATHER).unwrap();
        assert!(warnings.is_empty(), "{warnings:?}");
        assert_eq!(cap.name, "weather_current");
        assert_eq!(cap.providers[0].timeout, Duration::from_secs(10));
        assert_eq!(cap.cache_ttl, Some(Duration::from_secs(300)));
        assert!(cap.annotations.read_only && !cap.annotations.destructive);
        assert!(cap.annotations.idempotent);
        let tool = cap.to_tool();
        assert_eq!(tool.annotations.unwrap().read_only_hint, Some(true));
    }

    #[test]
    fn unrunnable_providers_are_refused_at_load() {
        for (from, to, why) in [
            ("service: rest", "service: cli", "service: cli"),
            ("service: rest", "service: mcp", "service: mcp"),
            ("type: none", "type: oauth2\n  key: oauth:google", "oauth2"),
            (
                "base_url: https://api.open-meteo.com",
                "base_url: \"\"",
                "absolute",
            ),
            (
                "      method: GET",
                "      method: GET\n      response_format: xml",
                "xml",
            ),
            (
                "      method: GET",
                "      method: GET\n      path_selector: {}",
                "path_selector",
            ),
        ] {
            let text = WEATHER.replace(from, to);
            let err = parse(&text).unwrap_err().to_string();
            assert!(err.contains(why), "{to}: {err}");
        }
    }

    #[test]
    fn secrets_only_from_the_environment() {
        let text = WEATHER.replace("type: none", "type: bearer\n  key: keychain:stripe");
        assert!(parse(&text).unwrap_err().to_string().contains("env:VAR"));
        let text = WEATHER.replace("Accept: \"application/json\"", "X-Key: \"{keychain.k}\"");
        assert!(parse(&text).is_err());
        for key in ["env:MY_KEY", "{env.MY_KEY}", "MY_KEY"] {
            let text = WEATHER.replace("type: none", &format!("type: bearer\n  key: \"{key}\""));
            let (cap, _) = parse(&text).unwrap();
            assert_eq!(cap.auth.key_var.as_deref(), Some("MY_KEY"), "{key}");
        }
    }

    #[test]
    fn unimplemented_fields_warn_by_name() {
        let text = format!("{WEATHER}webhooks: {{}}\ntransform: {{}}\nsurprise: 1\n");
        let (_, warnings) = parse(&text).unwrap();
        let all = warnings.join("\n");
        assert!(all.contains("`webhooks` is not implemented"), "{all}");
        assert!(all.contains("`transform` is not implemented"), "{all}");
        assert!(all.contains("unknown key `surprise`"), "{all}");
    }

    #[test]
    fn side_effects_are_never_cached() {
        let text = WEATHER.replace("read_only: true", "read_only: false");
        let (cap, warnings) = parse(&text).unwrap();
        assert_eq!(cap.cache_ttl, None);
        assert!(
            warnings
                .iter()
                .any(|w| w.contains("only `metadata.read_only: true`"))
        );
    }
}
