//! Backends: one actor per configured MCP server (stdio child or Streamable HTTP), and the
//! supervisor that starts them in the background, reconciles them with each reloaded
//! config, and stops them all on shutdown.
//!
//! This is the only module that spawns processes or opens MCP client connections.

mod actor;
mod call;
mod client;
mod connect;
mod http;
mod lazy;
mod list;
mod progress;
pub mod shim;
mod slots;
mod stdio;

mod supervisor;

pub use crate::target::{BackendHandle, CallError, Caller};
pub use supervisor::{Reconciled, Supervisor};
