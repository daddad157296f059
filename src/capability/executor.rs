//! Running a capability: arguments into the request templates, one HTTP call (with the
//! fallback providers on a network error or a 5xx), the response into a `CallToolResult`.
//!
//! Every failure the agent could act on (a missing argument, an unset key, a 404, a timeout,
//! a refused private address) comes back as an `isError` result with a short reason, never
//! as a protocol error the client would hide.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};
use reqwest::{Method, Url};
use rmcp::model::{CallToolResult, ContentBlock};
use serde_json::{Map, Value};

use super::response;
use super::ssrf::NetworkPolicy;
use super::template::{Missing, value_text};
use super::{AuthKind, Body, Capability, Provider, Template};

/// Environment variable mapping capability hosts to local test servers (see [`HostOverrides`]).
pub const OVERRIDE_ENV: &str = "MCP_GATEWAY_CAPABILITY_HOSTS";
/// How much of an error body is quoted back.
const ERROR_EXCERPT: usize = 500;
const MAX_REDIRECTS: usize = 5;
const MAX_CACHE_ENTRIES: usize = 1000;

/// Path segments keep only unreserved characters; everything else is percent-encoded, so an
/// argument cannot add path segments (`../admin`) or a query.
const SEGMENT: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'_')
    .remove(b'.')
    .remove(b'~');

/// Host → replacement origin (`scheme://host:port`): a test hook, e.g.
/// `MCP_GATEWAY_CAPABILITY_HOSTS="crates.io=http://127.0.0.1:8080,pypi.org=http://127.0.0.1:8080"`.
/// A replaced host's target is trusted as if listed in `allowed_hosts`, so the variable is
/// read only by builds with the `test-hooks` cargo feature, which only the test suite turns
/// on (see `Cargo.toml`): in a release an environment variable must not be able to widen
/// the SSRF guard. Even there, `https` is never downgraded to `http` except toward a
/// loopback address.
#[derive(Debug, Clone, Default)]
pub struct HostOverrides(BTreeMap<String, Url>);

/// Whether this build reads [`OVERRIDE_ENV`].
pub const TEST_HOOKS: bool = cfg!(feature = "test-hooks");

impl HostOverrides {
    /// Parses `host=origin` pairs separated by commas; malformed pairs are logged and skipped.
    pub fn parse(spec: &str) -> HostOverrides {
        let mut map = BTreeMap::new();
        for pair in spec.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            match pair
                .split_once('=')
                .map(|(h, o)| (h.trim(), Url::parse(o.trim())))
            {
                Some((host, Ok(origin))) if !host.is_empty() => {
                    map.insert(host.to_ascii_lowercase(), origin);
                }
                _ => tracing::warn!(
                    "{OVERRIDE_ENV}: ignoring `{pair}` (want host=scheme://host:port)"
                ),
            }
        }
        HostOverrides(map)
    }

    /// The overrides from [`OVERRIDE_ENV`], in a build with test hooks; otherwise none, and
    /// a warning if the variable is set.
    pub fn from_env() -> HostOverrides {
        HostOverrides::from_value(TEST_HOOKS, std::env::var(OVERRIDE_ENV).ok().as_deref())
    }

    fn from_value(hooks: bool, value: Option<&str>) -> HostOverrides {
        match value {
            Some(spec) if hooks => {
                tracing::warn!(
                    "{OVERRIDE_ENV} is set: capability hosts are redirected (a test build)"
                );
                HostOverrides::parse(spec)
            }
            Some(_) => {
                tracing::warn!(
                    "{OVERRIDE_ENV} is a test hook this build does not have; it is ignored"
                );
                HostOverrides::default()
            }
            None => HostOverrides::default(),
        }
    }

    fn apply(&self, url: &mut Url) {
        let Some(target) = url.host_str().and_then(|h| self.0.get(h)) else {
            return;
        };
        if url.scheme() == "https" && target.scheme() != "https" && !is_loopback(target) {
            tracing::warn!(
                "{OVERRIDE_ENV}: not downgrading https://{} to {target}",
                url.host_str().unwrap_or("")
            );
            return;
        }
        // Only fails for URLs that cannot have a host, which an http(s) URL always can.
        let _ = url.set_scheme(target.scheme());
        let _ = url.set_host(target.host_str());
        let _ = url.set_port(target.port());
    }

    fn targets(&self) -> impl Iterator<Item = String> + '_ {
        self.0
            .values()
            .filter_map(|u| u.host_str().map(str::to_owned))
    }
}

/// A target on this machine: `localhost` or a loopback IP literal.
fn is_loopback(url: &Url) -> bool {
    let Some(host) = url.host_str() else {
        return false;
    };
    let bare = host.trim_start_matches('[').trim_end_matches(']');
    host.eq_ignore_ascii_case("localhost")
        || bare
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

/// The HTTP client could not be built (in practice: no TLS provider installed).
#[derive(Debug, thiserror::Error)]
#[error("cannot build the HTTP client for capabilities: {0}")]
pub struct ClientError(#[source] reqwest::Error);

/// Makes capability calls; one per capability backend, shared by every call.
pub struct Executor {
    client: reqwest::Client,
    policy: Arc<NetworkPolicy>,
    overrides: HostOverrides,
    cache: Mutex<HashMap<String, (Instant, CallToolResult)>>,
    /// Results are cut (as valid JSON) to this size: `capabilities.max_result_bytes`.
    max_result_bytes: usize,
}

impl Executor {
    /// # Errors
    ///
    /// When the HTTP client cannot be built (no TLS provider).
    pub fn new(
        mut policy: NetworkPolicy,
        overrides: HostOverrides,
    ) -> Result<Executor, ClientError> {
        policy.allowed_hosts.extend(overrides.targets());
        let policy = Arc::new(policy);
        let redirect_policy = Arc::clone(&policy);
        let redirect = reqwest::redirect::Policy::custom(move |attempt| {
            if attempt.previous().len() >= MAX_REDIRECTS {
                return attempt.error("too many redirects");
            }
            match redirect_policy.check_url(attempt.url()) {
                Ok(()) => attempt.follow(),
                Err(blocked) => attempt.error(blocked),
            }
        });
        let client = reqwest::Client::builder()
            .user_agent(concat!("mcp-gateway/", env!("CARGO_PKG_VERSION")))
            // A proxy would resolve names itself, past the address check.
            .no_proxy()
            .redirect(redirect)
            .dns_resolver(policy.resolver())
            .connect_timeout(Duration::from_secs(10))
            .build()
            .map_err(ClientError)?;
        Ok(Executor {
            client,
            policy,
            overrides,
            cache: Mutex::new(HashMap::new()),
            max_result_bytes: crate::config::DEFAULT_CAPABILITY_RESULT_BYTES,
        })
    }

    /// Cut results to `max` bytes of JSON text instead of the default.
    #[must_use]
    pub fn with_max_result_bytes(mut self, max: usize) -> Executor {
        self.max_result_bytes = max;
        self
    }

    /// Calls `cap` with `args`. Never fails: problems are `isError` results.
    pub async fn call(&self, cap: &Capability, mut args: Map<String, Value>) -> CallToolResult {
        apply_defaults(&cap.input_schema, &mut args);
        let key = cap
            .cache_ttl
            .map(|_| format!("{}\u{0}{}", cap.name, Value::Object(args.clone())));
        if let (Some(key), Some(ttl)) = (&key, cap.cache_ttl)
            && let Some(hit) = self.cached(key, ttl)
        {
            return hit;
        }
        let mut last = tool_error("no provider ran".into());
        for provider in &cap.providers {
            match self.attempt(cap, provider, &args).await {
                Attempt::Done(result) => {
                    if let Some(key) = key
                        && result.is_error != Some(true)
                    {
                        self.store(key, result.clone());
                    }
                    return result;
                }
                Attempt::TryNext(result) => last = result,
            }
        }
        last
    }

    fn cached(&self, key: &str, ttl: Duration) -> Option<CallToolResult> {
        let cache = self.cache.lock().ok()?;
        cache
            .get(key)
            .filter(|(at, _)| at.elapsed() < ttl)
            .map(|(_, r)| r.clone())
    }

    fn store(&self, key: String, result: CallToolResult) {
        if let Ok(mut cache) = self.cache.lock() {
            if cache.len() >= MAX_CACHE_ENTRIES {
                cache.clear();
            }
            cache.insert(key, (Instant::now(), result));
        }
    }

    async fn attempt(&self, cap: &Capability, p: &Provider, args: &Map<String, Value>) -> Attempt {
        let request = match self.build(cap, p, args) {
            Ok(request) => request,
            Err(message) => return Attempt::Done(tool_error(message)),
        };
        let shown = request.shown.clone();
        let response = match request.builder.timeout(p.timeout).send().await {
            Ok(response) => response,
            Err(e) => {
                let why = if e.is_timeout() {
                    format!("{shown} timed out after {:?}", p.timeout)
                } else {
                    // The URL may carry a key in its query: `shown` is the safe version.
                    format!("{shown} failed: {}", error_chain(&e.without_url()))
                };
                return Attempt::TryNext(tool_error(why));
            }
        };
        let status = response.status();
        let (bytes, total, cut) = response::read(response).await;
        if !status.is_success() {
            let excerpt = String::from_utf8_lossy(&bytes);
            let excerpt: String = excerpt.trim().chars().take(ERROR_EXCERPT).collect();
            let result = tool_error(format!("HTTP {status} from {shown}: {excerpt}"));
            return if status.is_server_error() || status.as_u16() == 429 {
                Attempt::TryNext(result)
            } else {
                Attempt::Done(result)
            };
        }
        Attempt::Done(response::into_result(
            &bytes,
            total,
            cut,
            p.response_path.as_deref(),
            self.max_result_bytes,
        ))
    }

    fn build(
        &self,
        cap: &Capability,
        p: &Provider,
        args: &Map<String, Value>,
    ) -> Result<Built, String> {
        let env = |name: &str| std::env::var(name).ok();
        let encode = |s: &str| utf8_percent_encode(s, SEGMENT).to_string();
        let plain = |s: &str| s.to_owned();
        let mut used: Vec<String> = p.url.args().map(str::to_owned).collect();
        // `.` and `..` stay dot segments even when encoded (URL parsers normalise `%2e`).
        if let Some(name) = used.iter().find(|n| {
            args.get(*n)
                .is_some_and(|v| matches!(v.as_str(), Some("." | "..")))
        }) {
            return Err(format!("argument `{name}` cannot be `.` or `..`"));
        }
        let url_text = p.url.fill(args, &env, &encode).map_err(|m| missing(&m))?;
        let mut url = Url::parse(&url_text).map_err(|e| format!("bad URL `{url_text}`: {e}"))?;
        self.overrides.apply(&mut url);
        self.policy.check_url(&url).map_err(|e| e.to_string())?;
        let shown = format!("{} {}", p.method, url);

        let mut query: Vec<(String, String)> = Vec::new();
        for (name, t) in &p.params {
            used.extend(t.args().map(str::to_owned));
            // An optional argument that is absent drops its parameter.
            if let Ok(value) = t.fill(args, &env, &plain)
                && !value.is_empty()
            {
                query.push((name.clone(), value));
            }
        }
        query.extend(p.static_params.iter().cloned());
        let mut headers: Vec<(String, String)> = Vec::new();
        for (name, t) in &p.headers {
            used.extend(t.args().map(str::to_owned));
            match t.fill(args, &env, &plain) {
                Ok(value) if !value.is_empty() => headers.push((name.clone(), value)),
                Ok(_) | Err(Missing::Arg(_)) => {}
                Err(m @ Missing::Env(_)) => return Err(missing(&m)),
            }
        }
        let has_body = matches!(p.method, Method::POST | Method::PUT | Method::PATCH);
        let rest = || {
            args.iter()
                .filter(|(k, v)| !used.contains(k) && !v.is_null())
                .map(|(k, v)| (k.clone(), v.clone()))
        };
        if p.params.is_empty() && !has_body {
            for (k, v) in rest() {
                let name = p.param_map.get(&k).cloned().unwrap_or(k);
                query.push((name, value_text(&v)));
            }
        }
        let auth = &cap.auth;
        let mut basic = None;
        if let (Some(kind), Some(var)) = (auth.kind, &auth.key_var) {
            match std::env::var(var).ok().filter(|k| !k.is_empty()) {
                Some(key) => match kind {
                    AuthKind::Basic => {
                        let (user, pass) = key.split_once(':').unwrap_or((&key, ""));
                        basic = Some((user.to_owned(), pass.to_owned()));
                    }
                    AuthKind::ApiKey if auth.param.is_some() => {
                        query.push((auth.param.clone().unwrap_or_default(), key));
                    }
                    AuthKind::ApiKey | AuthKind::Bearer => {
                        let default = if kind == AuthKind::Bearer {
                            ("Authorization", Some("Bearer"))
                        } else {
                            ("X-API-Key", None)
                        };
                        let header = auth.header.as_deref().unwrap_or(default.0);
                        let value = match auth.prefix.as_deref().or(default.1) {
                            Some(prefix) if !prefix.is_empty() => format!("{prefix} {key}"),
                            _ => key,
                        };
                        headers.retain(|(h, _)| !h.eq_ignore_ascii_case(header));
                        headers.push((header.to_owned(), value));
                    }
                },
                None if auth.required => {
                    return Err(format!(
                        "`{}` needs an API key: set the environment variable `{var}`",
                        cap.name
                    ));
                }
                None => {}
            }
        }
        if !query.is_empty() {
            url.query_pairs_mut().extend_pairs(&query);
        }
        let mut builder = self.client.request(p.method.clone(), url);
        match &p.body {
            Some(Body::Json(template)) => {
                let body = fill_json(template, args, &env).unwrap_or(Value::Null);
                builder = builder.json(&body);
            }
            Some(Body::Text(t, content_type)) => {
                let text = t.fill(args, &env, &plain).map_err(|m| missing(&m))?;
                builder = builder
                    .header(reqwest::header::CONTENT_TYPE, content_type)
                    .body(text);
            }
            // The original's rule: without a body template, a write sends the arguments.
            None if has_body => builder = builder.json(&Map::from_iter(rest())),
            None => {}
        }
        if let Some((user, pass)) = basic {
            builder = builder.basic_auth(user, Some(pass));
        }
        for (name, value) in headers {
            builder = builder.header(name, value);
        }
        Ok(Built { builder, shown })
    }
}

struct Built {
    builder: reqwest::RequestBuilder,
    /// Method and URL without the query (which may carry a key), for messages.
    shown: String,
}

enum Attempt {
    Done(CallToolResult),
    /// A network error or a 5xx: the next provider may do better.
    TryNext(CallToolResult),
}

fn missing(m: &Missing) -> String {
    match m {
        Missing::Arg(name) => format!("missing required argument `{name}`"),
        Missing::Env(var) => format!("the environment variable `{var}` is not set"),
    }
}

/// Absent arguments take the schema's `default`, as a person filling a form would expect.
fn apply_defaults(schema: &Map<String, Value>, args: &mut Map<String, Value>) {
    if let Some(Value::Object(props)) = schema.get("properties") {
        for (name, prop) in props {
            if let Some(default) = prop.get("default")
                && !args.contains_key(name)
            {
                args.insert(name.clone(), default.clone());
            }
        }
    }
}

/// Fills a JSON body template; `None` means "leave this value out" (an absent argument).
fn fill_json(
    template: &Value,
    args: &Map<String, Value>,
    env: &dyn Fn(&str) -> Option<String>,
) -> Option<Value> {
    match template {
        Value::String(s) => {
            let t = Template::parse(s).ok()?;
            if let Some(name) = t.sole_arg() {
                return args.get(name).filter(|v| !v.is_null()).cloned();
            }
            t.fill(args, env, &|v| v.to_owned()).ok().map(Value::String)
        }
        Value::Array(items) => Some(Value::Array(
            items
                .iter()
                .filter_map(|i| fill_json(i, args, env))
                .collect(),
        )),
        Value::Object(map) => Some(Value::Object(
            map.iter()
                .filter_map(|(k, v)| fill_json(v, args, env).map(|v| (k.clone(), v)))
                .collect(),
        )),
        other => Some(other.clone()),
    }
}

fn tool_error(message: String) -> CallToolResult {
    CallToolResult::error(vec![ContentBlock::text(message)])
}

/// reqwest's top-level message is generic ("error sending request"); the cause is below.
fn error_chain(e: &dyn std::error::Error) -> String {
    let mut parts = vec![e.to_string()];
    let mut source = e.source();
    while let Some(s) = source {
        let text = s.to_string();
        if !parts.iter().any(|p| p.contains(&text)) {
            parts.push(text);
        }
        source = s.source();
    }
    parts.join(": ")
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use serde_json::json;

    #[test]
    fn body_templates_keep_types_and_drop_absent() {
        let t = json!({"n": "{n}", "s": "id-{n}", "opt": "{missing}", "lit": 3, "list": ["{n}"]});
        let args = json!({"n": 5}).as_object().unwrap().clone();
        let out = fill_json(&t, &args, &|_| None).unwrap();
        assert_eq!(out, json!({"n": 5, "s": "id-5", "lit": 3, "list": [5]}));
    }

    #[test]
    fn overrides_parse_and_apply() {
        let o = HostOverrides::parse("crates.io=http://127.0.0.1:9, bad");
        let mut url = Url::parse("https://crates.io/api/v1/crates?q=x").unwrap();
        o.apply(&mut url);
        assert_eq!(url.as_str(), "http://127.0.0.1:9/api/v1/crates?q=x");
    }

    #[test]
    fn overrides_never_downgrade_https_off_the_machine() {
        let o =
            HostOverrides::parse("crates.io=http://mirror.example:80,pypi.org=https://m.example");
        let mut url = Url::parse("https://crates.io/api").unwrap();
        o.apply(&mut url);
        assert_eq!(url.as_str(), "https://crates.io/api");
        let mut url = Url::parse("https://pypi.org/x").unwrap();
        o.apply(&mut url);
        assert_eq!(url.as_str(), "https://m.example/x");
    }

    #[test]
    fn overrides_are_read_only_with_test_hooks() {
        let spec = Some("crates.io=http://127.0.0.1:9");
        assert!(HostOverrides::from_value(false, spec).0.is_empty());
        assert_eq!(HostOverrides::from_value(true, spec).0.len(), 1);
        assert!(HostOverrides::from_value(true, None).0.is_empty());
    }

    #[test]
    fn path_segments_cannot_escape() {
        assert_eq!(
            utf8_percent_encode("../a b/?", SEGMENT).to_string(),
            "..%2Fa%20b%2F%3F"
        );
    }
}
