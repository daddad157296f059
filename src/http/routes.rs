//! The listener's routes: `/mcp` (rmcp's Streamable HTTP service), `/health` and `/metrics`.
//! Every request passes the guard first; refusals are small JSON bodies.

use std::sync::Arc;

use bytes::Bytes;
use http::{Method, Request, Response, StatusCode, header};
use http_body_util::combinators::BoxBody;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use rmcp::transport::streamable_http_server::StreamableHttpService;
use rmcp::transport::streamable_http_server::session::local::LocalSessionManager;
use serde_json::json;
use tower_service::Service;

use super::guard::{Guard, Principal, Refusal};
use super::metrics::Metrics;
use crate::gateway::Gateway;
use crate::registry::{Registry, ServerState};

type Body = BoxBody<Bytes, std::convert::Infallible>;

/// Everything a request may need; shared by all connections.
pub(super) struct App {
    pub guard: Guard,
    pub mcp: StreamableHttpService<Gateway, LocalSessionManager>,
    pub sessions: Arc<LocalSessionManager>,
    pub metrics: Arc<Metrics>,
    pub registry: Arc<Registry>,
    pub max_sessions: usize,
}

impl App {
    pub async fn handle(&self, mut request: Request<Incoming>) -> Response<Body> {
        let route = match request.uri().path() {
            "/mcp" | "/mcp/" => "/mcp",
            "/health" => "/health",
            "/metrics" => "/metrics",
            _ => "other",
        };
        let response = match self.guard.check_site(request.headers()) {
            Err(refusal) => refused(&refusal),
            Ok(()) => {
                let principal = self.guard.authenticate(request.headers());
                match (route, principal) {
                    // Health without credentials tells only the overall state: probes can
                    // reach it, and it names nothing.
                    ("/health", Err(_)) => self.health(false),
                    ("/health", Ok(_)) => self.health(true),
                    (_, Err(refusal)) => refused(&refusal),
                    ("/metrics", Ok(_)) => self.metrics().await,
                    ("/mcp", Ok(principal)) => {
                        // The client's credential is for the gateway alone (never passed on).
                        request.headers_mut().remove(header::AUTHORIZATION);
                        if let Principal::Scoped(scope) = principal {
                            request.extensions_mut().insert(scope);
                        }
                        match self.session_limit(&request).await {
                            Some(refusal) => refused(&refusal),
                            None => self.mcp_call(request).await,
                        }
                    }
                    (_, Ok(_)) => json_response(
                        StatusCode::NOT_FOUND,
                        &json!({"error": "not found; MCP is at /mcp"}),
                    ),
                }
            }
        };
        self.metrics.http_request(route, response.status().as_u16());
        response
    }

    async fn mcp_call(&self, request: Request<Incoming>) -> Response<Body> {
        let mut mcp = self.mcp.clone();
        match mcp.call(request).await {
            Ok(response) => response,
            Err(never) => match never {},
        }
    }

    /// A request that may open a 2025-era session (a POST with neither a session id nor a
    /// 2026 protocol header) is refused while the session table is full.
    async fn session_limit(&self, request: &Request<Incoming>) -> Option<Refusal> {
        let headers = request.headers();
        if request.method() != Method::POST
            || headers.contains_key("mcp-session-id")
            || headers.contains_key("mcp-protocol-version")
        {
            return None;
        }
        let open = self.sessions.sessions.read().await.len();
        (open >= self.max_sessions).then_some(Refusal {
            status: StatusCode::SERVICE_UNAVAILABLE,
            reason: "too many open sessions; close one or raise http.max_sessions",
        })
    }

    fn health(&self, detailed: bool) -> Response<Body> {
        let snap = self.registry.snapshot();
        let enabled = snap
            .servers
            .values()
            .filter(|s| s.state != ServerState::Disabled);
        let (mut starting, mut failed) = (false, false);
        for server in enabled {
            starting |= server.state == ServerState::Starting;
            failed |= server.state == ServerState::Failed;
        }
        let status = if failed {
            "degraded"
        } else if starting {
            "starting"
        } else {
            "ok"
        };
        let mut body = json!({ "status": status });
        if detailed {
            let backends: Vec<_> = snap
                .servers
                .values()
                .map(|s| {
                    let mut row = json!({
                        "name": s.name,
                        "state": s.state.as_str(),
                        "tools": s.tools.len(),
                    });
                    if let Some(e) = &s.last_error {
                        row["error"] = json!(e);
                    }
                    row
                })
                .collect();
            body["backends"] = json!(backends);
        }
        // Always 200: a failed backend is contained (its own tools fail), the gateway serves.
        json_response(StatusCode::OK, &body)
    }

    async fn metrics(&self) -> Response<Body> {
        let sessions = self.sessions.sessions.read().await.len();
        let text = self.metrics.render(&self.registry, sessions);
        let mut response = Response::new(Full::new(Bytes::from(text)).boxed());
        response.headers_mut().insert(
            header::CONTENT_TYPE,
            http::HeaderValue::from_static("text/plain; version=0.0.4; charset=utf-8"),
        );
        response
    }
}

fn refused(refusal: &Refusal) -> Response<Body> {
    let mut response = json_response(refusal.status, &json!({ "error": refusal.reason }));
    if refusal.status == StatusCode::UNAUTHORIZED {
        response.headers_mut().insert(
            header::WWW_AUTHENTICATE,
            http::HeaderValue::from_static("Bearer"),
        );
    }
    response
}

fn json_response(status: StatusCode, body: &serde_json::Value) -> Response<Body> {
    let mut response = Response::new(Full::new(Bytes::from(body.to_string())).boxed());
    *response.status_mut() = status;
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        http::HeaderValue::from_static("application/json"),
    );
    response
}
