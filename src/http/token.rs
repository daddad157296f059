//! Reading the listener's secrets where the config says they live, and generating the
//! full-access token on request (stored owner-only, shown once).

use std::io::Write;
use std::path::{Path, PathBuf};

use crate::config::SecretSource;

use super::HttpError;

/// Where `--generate-token` keeps the token between runs.
pub fn default_token_path() -> Option<PathBuf> {
    directories::ProjectDirs::from("", "", "mcp-gateway").map(|d| d.data_dir().join("http-token"))
}

/// The secret's value; a missing variable, an unreadable file or an empty value is an
/// error naming where it was looked for (never the value).
pub fn read(source: &SecretSource) -> Result<String, HttpError> {
    let (value, place) = match source {
        SecretSource::Env(var) => (std::env::var(var).ok(), format!("variable `{var}`")),
        SecretSource::File(path) => (
            std::fs::read_to_string(path).ok(),
            format!("file {}", path.display()),
        ),
    };
    match value.map(|v| v.trim().to_owned()) {
        Some(v) if !v.is_empty() => Ok(v),
        _ => Err(HttpError::Secret(format!("no token in {place}"))),
    }
}

/// A token kept at `path`: the one already there, or a new random one written with mode
/// 0600. The second value is true when it was just made (and so should be shown once).
pub fn generated(path: &Path) -> Result<(String, bool), HttpError> {
    if let Ok(existing) = std::fs::read_to_string(path)
        && !existing.trim().is_empty()
    {
        return Ok((existing.trim().to_owned(), false));
    }
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes).map_err(|e| HttpError::Secret(format!("no randomness: {e}")))?;
    let token: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
    let failed = |e: std::io::Error| {
        HttpError::Secret(format!("cannot store the token in {}: {e}", path.display()))
    };
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(failed)?;
    }
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut file = options.open(path).map_err(failed)?;
    file.write_all(token.as_bytes()).map_err(failed)?;
    Ok((token, true))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn generated_once_then_reused_owner_only() {
        let dir = std::env::temp_dir().join(format!("gw-token-{}", std::process::id()));
        let path = dir.join("t");
        let (first, new) = generated(&path).unwrap();
        assert!(new && first.len() == 64);
        let (again, new) = generated(&path).unwrap();
        assert!(!new && again == first);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&path).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        std::fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn missing_secret_names_its_place() {
        let err = read(&SecretSource::Env("GW_SURELY_UNSET_VAR".into())).unwrap_err();
        assert!(err.to_string().contains("GW_SURELY_UNSET_VAR"));
    }
}
