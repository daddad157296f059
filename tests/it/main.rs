//! Integration tests: one test binary, one module per area. They run the real gateway
//! binary over stdio against the fixture server and real third-party MCP peers.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod cap_cli;
mod capabilities;
mod catalog;
mod comeback;
mod conformance;
mod deploy;
mod failsafe;
mod fixture_smoke;
mod gateway;
mod http;
mod hygiene;
mod interop;
mod lazy;
mod manage;
mod oauth;
mod policy;
mod props;
mod proxy;
mod relay;
mod reload;
mod robustness;
mod search_embed;
mod search_eval;
mod search_fetch;
mod search_quality;
mod search_semantic;
mod setup;
mod soak;
mod support;
mod trust;
mod trust_corpus;
mod user_files;
mod wire;
