//! mcp-gateway: one stdio MCP server in front of many backend MCP servers.
//!
//! Crate map, in the order a call flows through it:
//! - [`cli`]: command-line parsing and the commands (`serve`, `search`, `call`).
//! - [`config`]: `gateway.yaml` — raw serde types, validation, `${VAR}` expansion, discovery.
//! - [`control`]: the running gateway's socket for `restart` and edit reports.
//! - [`framing`]: newline-delimited JSON-RPC with a size limit (client and stdio backends).
//! - [`gateway`]: the MCP server the client sees — meta-tools, flat/surfaced tools, proxying.
//! - [`http`]: the optional Streamable HTTP listener — Host/Origin/token checks, `/health`,
//!   `/metrics`, API-key scopes.
//! - [`failsafe`]: per-backend concurrency and rate limits, the circuit breaker, and
//!   which failed calls may be tried again.
//! - [`policy`]: per-tool allow/deny/confirm rules, and asking the user to confirm.
//! - [`proxy`]: resources, prompts, completion and logging across backends; URI and
//!   prompt-name namespacing.
//! - [`relay`]: a backend's requests to the client (sampling, elicitation, roots) and
//!   the client capabilities declared to backends.
//! - [`mrtr`]: a 2026-07-28 client's tool call parked on the answers to those requests
//!   (`InputRequiredResult` and its sealed `requestState`).
//! - [`registry`]: the immutable snapshot of every backend and its tools.
//! - [`trust`]: backend tool pins (rug-pull quarantine) and the poisoning scan.
//! - [`audit`]: the opt-in audit log of backend tool calls.
//! - [`clock`]: RFC 3339 timestamps.
//! - [`lockfile`]: cross-process locks beside the files the gateway rewrites.
//! - [`sync`]: the one way a mutex is taken (poison does not stop the gateway).
//! - [`target`]: the handle a registry entry holds and what a call through it can return.
//! - [`search`]: the tantivy tool index (the only tantivy user).
//! - [`backend`]: one actor per backend connection, and their supervisor.
//! - [`auth`]: OAuth 2.1 sign-in for remote backends (`auth login`), token store, refresh.
//! - [`capability`]: REST APIs as tools — capability YAML, executor, pinning, OpenAPI import.
//! - [`export`]: every write to a file the user owns (client configs, `gateway.yaml`).
//! - [`watch`]: `gateway.yaml` file events and SIGHUP → reload events.
//! - [`reload`]: each reload event → a new config, reconciled into the running gateway.
//! - [`shutdown`]: the root cancellation token and signal handling.
//! - [`sys`]: process-level C library settings (the only `unsafe` code).

pub mod audit;
pub mod auth;
pub mod backend;
pub mod capability;
pub mod cli;
pub mod clock;
pub mod config;
pub mod control;
pub mod export;
pub mod failsafe;
pub mod framing;
pub mod gateway;
pub mod http;
pub mod lockfile;
pub mod mrtr;
pub mod policy;
pub mod proxy;
pub mod registry;
pub mod relay;
pub mod reload;
pub mod search;
pub mod shutdown;
pub mod sync;
pub mod sys;
pub mod target;
pub mod trust;
pub mod watch;
