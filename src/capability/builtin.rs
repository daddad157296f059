//! The built-in catalog: the top-level `capabilities/` folder, embedded at build time by
//! `build.rs` so the gateway needs no files on disk.

include!(concat!(env!("OUT_DIR"), "/builtin_capabilities.rs"));
