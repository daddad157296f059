//! The on-disk cache of tool embeddings: one file per server in the user's cache dir,
//! under a folder named after the model, holding `(sha256 of the embedded text, vector)`
//! records. A restart, or a backend that lists the same tools again, re-embeds nothing;
//! a changed tool re-embeds only itself. Losing the cache only costs time, so every
//! failure here is logged and ignored.

use std::collections::HashMap;
use std::io::Write;
use std::path::PathBuf;

use sha2::{Digest, Sha256};

use super::embed::MODEL_ID;

/// Overrides the cache folder (tests and benchmarks share one across runs this way).
pub const CACHE_ENV: &str = "MCP_GATEWAY_EMBED_CACHE";

pub struct VectorCache {
    dir: PathBuf,
}

/// The cache key of one embedded text.
pub fn key(text: &str) -> [u8; 32] {
    Sha256::digest(text.as_bytes()).into()
}

impl VectorCache {
    /// `$MCP_GATEWAY_EMBED_CACHE`, else the user's cache dir; `None` when neither exists.
    pub fn open_default() -> Option<Self> {
        let base = std::env::var_os(CACHE_ENV).map(PathBuf::from).or_else(|| {
            directories::ProjectDirs::from("", "", "mcp-gateway")
                .map(|d| d.cache_dir().join("embeddings"))
        })?;
        Some(Self::open(&base))
    }

    /// The cache under `base` (one folder per model inside).
    pub fn open(base: &std::path::Path) -> Self {
        Self {
            dir: base.join(MODEL_ID),
        }
    }

    fn file(&self, server: &str) -> PathBuf {
        let name: String = Sha256::digest(server.as_bytes())[..12]
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        self.dir.join(format!("{name}.vec"))
    }

    /// Every cached vector of `server`, by text key.
    pub fn load(&self, server: &str) -> HashMap<[u8; 32], Vec<f32>> {
        let mut out = HashMap::new();
        let Ok(bytes) = std::fs::read(self.file(server)) else {
            return out;
        };
        // Header: record width in floats (u32 LE); then records of key + floats.
        let Some(dim) = bytes
            .get(..4)
            .and_then(|b| <[u8; 4]>::try_from(b).ok())
            .map(|b| u32::from_le_bytes(b) as usize)
        else {
            return out;
        };
        let record = 32 + dim * 4;
        for chunk in bytes[4..].chunks_exact(record) {
            let Ok(k) = <[u8; 32]>::try_from(&chunk[..32]) else {
                continue;
            };
            let v = chunk[32..]
                .chunks_exact(4)
                .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
                .collect();
            out.insert(k, v);
        }
        out
    }

    /// Replaces `server`'s cache file with `entries` (written aside, then renamed).
    pub fn store(&self, server: &str, entries: &[([u8; 32], Vec<f32>)]) {
        let Some(dim) = entries.first().map(|(_, v)| v.len()) else {
            return;
        };
        let mut bytes = Vec::with_capacity(4 + entries.len() * (32 + dim * 4));
        bytes.extend_from_slice(&(dim as u32).to_le_bytes());
        for (k, v) in entries.iter().filter(|(_, v)| v.len() == dim) {
            bytes.extend_from_slice(k);
            for x in v {
                bytes.extend_from_slice(&x.to_le_bytes());
            }
        }
        let path = self.file(server);
        let tmp = path.with_extension(format!("tmp{}", std::process::id()));
        let written = std::fs::create_dir_all(&self.dir)
            .and_then(|()| std::fs::File::create(&tmp))
            .and_then(|mut f| f.write_all(&bytes))
            .and_then(|()| std::fs::rename(&tmp, &path));
        if let Err(e) = written {
            tracing::debug!(error = %e, path = %path.display(), "embedding cache not written");
            let _ = std::fs::remove_file(&tmp);
        }
    }
}
