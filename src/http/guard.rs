//! The checks every request passes before any route sees it: `Host` (DNS rebinding), `Origin`
//! (browsers) and the bearer token or API key. They run on `/mcp`, `/health` and `/metrics`
//! alike, because rmcp's own checks cover only the MCP service and it leaves `Origin`
//! unchecked by default.

use std::net::SocketAddr;
use std::sync::Arc;

use http::{HeaderMap, StatusCode, header};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use crate::config::{HttpConfig, Scope};

/// Who a request is, once its credentials are checked.
#[derive(Clone)]
pub enum Principal {
    /// No credentials are configured (loopback only), or the full-access token.
    Full,
    /// A named API key, limited to its scope.
    Scoped(Arc<Scope>),
}

/// Why a request was refused: the status and a one-line reason.
pub struct Refusal {
    pub status: StatusCode,
    pub reason: &'static str,
}

impl Refusal {
    fn new(status: StatusCode, reason: &'static str) -> Refusal {
        Refusal { status, reason }
    }
}

/// The allow-lists and credentials, fixed when the listener binds.
pub struct Guard {
    /// Lower-cased `host:port` (or a bare host a proxy passes without a port).
    hosts: Vec<String>,
    /// Lower-cased `scheme://host:port`, without a trailing slash.
    origins: Vec<String>,
    /// SHA-256 of the full-access token; `None` when credentials are not required.
    token: Option<[u8; 32]>,
    keys: Vec<([u8; 32], Arc<Scope>)>,
}

impl Guard {
    /// `bound` is the address actually listened on (its port is the one `Host` must carry).
    pub fn new(
        config: &HttpConfig,
        bound: SocketAddr,
        token: Option<&str>,
        keys: Vec<(String, Scope)>,
    ) -> Guard {
        let port = bound.port();
        let mut hosts: Vec<String> = ["localhost", "127.0.0.1", "[::1]"]
            .iter()
            .map(|h| format!("{h}:{port}"))
            .collect();
        if !bound.ip().is_unspecified() && !bound.ip().is_loopback() {
            hosts.push(authority(bound).to_ascii_lowercase());
        }
        for entry in &config.allowed_hosts {
            let entry = entry.to_ascii_lowercase();
            if has_port(&entry) {
                hosts.push(entry);
            } else {
                // A bare name matches behind a proxy that drops the default port, and
                // on the listener's own port; never any other port.
                hosts.push(format!("{entry}:{port}"));
                hosts.push(entry);
            }
        }
        let mut origins: Vec<String> = ["localhost", "127.0.0.1", "[::1]"]
            .iter()
            .map(|h| format!("http://{h}:{port}"))
            .collect();
        origins.extend(
            config
                .allowed_origins
                .iter()
                .map(|o| o.trim_end_matches('/').to_ascii_lowercase()),
        );
        Guard {
            hosts,
            origins,
            token: token.map(digest),
            keys: keys
                .into_iter()
                .map(|(secret, scope)| (digest(&secret), Arc::new(scope)))
                .collect(),
        }
    }

    /// The `Host` values accepted, for rmcp's own check.
    pub fn hosts(&self) -> &[String] {
        &self.hosts
    }

    /// The `Origin` values accepted, for rmcp's own check.
    pub fn origins(&self) -> &[String] {
        &self.origins
    }

    /// Whether requests must carry credentials.
    pub fn requires_credentials(&self) -> bool {
        self.token.is_some() || !self.keys.is_empty()
    }

    /// `Host` and `Origin` only: what `/health` needs without credentials.
    pub fn check_site(&self, headers: &HeaderMap) -> Result<(), Refusal> {
        let host = headers
            .get(header::HOST)
            .and_then(|h| h.to_str().ok())
            .map(str::to_ascii_lowercase);
        match host {
            Some(host) if self.hosts.contains(&host) => {}
            _ => {
                return Err(Refusal::new(
                    StatusCode::FORBIDDEN,
                    "Host header is not allowed",
                ));
            }
        }
        if let Some(origin) = headers.get(header::ORIGIN) {
            let origin = origin
                .to_str()
                .map(|o| o.trim_end_matches('/').to_ascii_lowercase());
            match origin {
                Ok(origin) if self.origins.contains(&origin) => {}
                _ => {
                    return Err(Refusal::new(
                        StatusCode::FORBIDDEN,
                        "Origin header is not allowed",
                    ));
                }
            }
        }
        Ok(())
    }

    /// The caller's credentials, when they are required.
    pub fn authenticate(&self, headers: &HeaderMap) -> Result<Principal, Refusal> {
        if !self.requires_credentials() {
            return Ok(Principal::Full);
        }
        let presented = headers
            .get(header::AUTHORIZATION)
            .and_then(|h| h.to_str().ok())
            .and_then(|h| {
                let (scheme, rest) = h.split_once(' ')?;
                scheme.eq_ignore_ascii_case("bearer").then(|| rest.trim())
            })
            .ok_or(Refusal::new(
                StatusCode::UNAUTHORIZED,
                "a bearer token is required (Authorization: Bearer <token>)",
            ))?;
        // Both sides are hashed to a fixed length first, so the comparison takes the same
        // time whatever the presented token's length or content.
        let presented = digest(presented);
        let mut found = None;
        if let Some(token) = &self.token
            && bool::from(token.ct_eq(&presented))
        {
            found = Some(Principal::Full);
        }
        for (key, scope) in &self.keys {
            if bool::from(key.ct_eq(&presented)) && found.is_none() {
                found = Some(Principal::Scoped(Arc::clone(scope)));
            }
        }
        found.ok_or(Refusal::new(
            StatusCode::UNAUTHORIZED,
            "the bearer token is not valid",
        ))
    }
}

fn digest(secret: &str) -> [u8; 32] {
    Sha256::digest(secret.as_bytes()).into()
}

fn authority(addr: SocketAddr) -> String {
    match addr {
        SocketAddr::V4(a) => format!("{}:{}", a.ip(), a.port()),
        SocketAddr::V6(a) => format!("[{}]:{}", a.ip(), a.port()),
    }
}

/// `host:port` or `[v6]:port`, as opposed to a bare name or a bare `[v6]`.
fn has_port(entry: &str) -> bool {
    match entry.rsplit_once(':') {
        Some((host, port)) => {
            port.parse::<u16>().is_ok() && (!host.contains(':') || host.ends_with(']'))
        }
        None => false,
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (k, v) in pairs {
            map.insert(*k, v.parse().unwrap());
        }
        map
    }

    fn guard(token: Option<&str>) -> Guard {
        let config = HttpConfig {
            allowed_hosts: vec!["gw.example".into(), "other.example:8443".into()],
            allowed_origins: vec!["https://app.example/".into()],
            ..HttpConfig::default()
        };
        Guard::new(&config, "0.0.0.0:39400".parse().unwrap(), token, Vec::new())
    }

    #[test]
    fn host_ports_are_exact() {
        let g = guard(None);
        assert!(
            g.check_site(&headers(&[("host", "localhost:39400")]))
                .is_ok()
        );
        assert!(
            g.check_site(&headers(&[("host", "LOCALHOST:39400")]))
                .is_ok()
        );
        assert!(
            g.check_site(&headers(&[("host", "localhost:9999")]))
                .is_err()
        );
        assert!(g.check_site(&headers(&[("host", "localhost")])).is_err());
        assert!(g.check_site(&headers(&[("host", "gw.example")])).is_ok());
        assert!(
            g.check_site(&headers(&[("host", "gw.example:39400")]))
                .is_ok()
        );
        assert!(g.check_site(&headers(&[("host", "gw.example:1")])).is_err());
        assert!(
            g.check_site(&headers(&[("host", "other.example:8443")]))
                .is_ok()
        );
        assert!(
            g.check_site(&headers(&[("host", "other.example")]))
                .is_err()
        );
        assert!(g.check_site(&headers(&[("host", "evil.example")])).is_err());
        assert!(g.check_site(&HeaderMap::new()).is_err());
    }

    #[test]
    fn origins_are_exact_and_optional() {
        let g = guard(None);
        let ok = |o: &str| {
            g.check_site(&headers(&[("host", "localhost:39400"), ("origin", o)]))
                .is_ok()
        };
        assert!(ok("http://localhost:39400"));
        assert!(ok("https://app.example"));
        assert!(!ok("http://evil.example"));
        assert!(!ok("http://localhost:1"));
        assert!(!ok("null"));
    }

    #[test]
    fn bearer_tokens() {
        let g = guard(Some("s3cret"));
        let auth = |v: &str| g.authenticate(&headers(&[("authorization", v)]));
        assert!(matches!(auth("Bearer s3cret"), Ok(Principal::Full)));
        assert!(matches!(auth("bearer s3cret"), Ok(Principal::Full)));
        assert_eq!(auth("Bearer nope").err().unwrap().status, 401);
        assert_eq!(auth("Basic s3cret").err().unwrap().status, 401);
        assert!(g.authenticate(&HeaderMap::new()).is_err());
        assert!(guard(None).authenticate(&HeaderMap::new()).is_ok());
    }
}
