//! Which `gateway.yaml` the writing commands edit, and how they write it: every write is
//! re-parsed as a config first and goes through `export::apply` (backup, atomic, verify).

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use serde_yaml_ng::Value;

use crate::config::{self, Config};
use crate::export::{self, Change, gateway_yaml, import};

/// The file to edit: the one `serve` would load, else the user config dir's.
pub fn target_path(explicit: Option<&Path>) -> anyhow::Result<PathBuf> {
    let path = config::discover(explicit)
        .or_else(config::user_config_path)
        .context("no home directory: pass --config PATH")?;
    Ok(std::path::absolute(&path).unwrap_or(path))
}

/// [`target_path`], creating the commented starter file when there is none yet, so a client
/// launching `serve --config <it>` finds a file.
pub fn ensure(explicit: Option<&Path>, dry_run: bool) -> anyhow::Result<PathBuf> {
    let path = target_path(explicit)?;
    if !path.exists() && !dry_run {
        write(&path, None, gateway_yaml::STARTER.to_owned())?;
        eprintln!("created {} (no backends yet)", path.display());
    }
    Ok(path)
}

/// Say whether the gateways running on `path` have loaded what is in it now.
#[allow(clippy::print_stdout)] // the writing commands report to a person at a terminal
pub fn report_running(path: &Path) {
    let Ok(written) = std::fs::read(path) else {
        return;
    };
    for line in crate::control::report_pickup(path, &written) {
        println!("  {line}");
    }
}

/// Writes a new `gateway.yaml` text after checking it loads. Returns the backup's path.
pub fn write(
    path: &Path,
    before: Option<String>,
    after: String,
) -> anyhow::Result<Option<PathBuf>> {
    write_from(path, before, after, false)
}

/// [`write`], where `private_source` says the text came from a file not everyone could
/// read. The result is owner-only (`0600`) then, and also whenever it holds a literal secret:
/// copying a secret must not make it readable to more people than before.
pub fn write_from(
    path: &Path,
    before: Option<String>,
    after: String,
    private_source: bool,
) -> anyhow::Result<Option<PathBuf>> {
    // The same check before writing and on the read-back after.
    let check = |text: &str| {
        Config::from_yaml(text, path)
            .map(|_| ())
            .map_err(|e| e.to_string())
    };
    if let Err(e) = check(&after) {
        bail!(
            "refusing to write {}: the result would not load: {e}",
            path.display()
        );
    }
    let private = private_source || !export::secret::in_gateway_yaml(&after).is_empty();
    let change = Change {
        path: path.to_path_buf(),
        real_path: export::file::resolve(path)?,
        before,
        after,
        removed: Vec::new(),
        access: if private {
            export::file::Access::Private
        } else {
            export::file::Access::Keep
        },
    };
    Ok(export::apply(&change, &check)?)
}

/// The identity of every backend in the file (see `import::identity`).
pub fn identities(path: &Path) -> anyhow::Result<BTreeSet<String>> {
    let text = export::file::read(path)?.unwrap_or_default();
    Ok(identities_of(&text).into_values().collect())
}

/// Backend name → identity, from the file's text as written (references unexpanded).
pub fn identities_of(text: &str) -> BTreeMap<String, String> {
    let Ok(root) = serde_yaml_ng::from_str::<Value>(text) else {
        return BTreeMap::new();
    };
    let Some(backends) = root.get("backends").and_then(Value::as_mapping) else {
        return BTreeMap::new();
    };
    let mut out = BTreeMap::new();
    for (name, b) in backends {
        let Some(name) = name.as_str() else { continue };
        let s = |k: &str| b.get(k).and_then(Value::as_str).map(str::to_owned);
        let transport = if let Some(url) = s("url").or_else(|| s("http_url")) {
            gateway_yaml::NewTransport::Http {
                url,
                headers: BTreeMap::new(),
            }
        } else if let Some(command) = s("command") {
            let mut args: Vec<String> = b
                .get("args")
                .and_then(Value::as_sequence)
                .map(|a| {
                    a.iter()
                        .filter_map(|v| v.as_str().map(str::to_owned))
                        .collect()
                })
                .unwrap_or_default();
            let mut command = command;
            // The original mcp-gateway's single-string command.
            if args.is_empty()
                && command.contains(' ')
                && let Ok(mut words) = shell_words::split(&command)
                && !words.is_empty()
            {
                command = words.remove(0);
                args = words;
            }
            gateway_yaml::NewTransport::Stdio {
                command,
                args,
                env: BTreeMap::new(),
                cwd: None,
            }
        } else {
            continue;
        };
        out.insert(name.to_owned(), import::identity(&transport));
    }
    out
}
