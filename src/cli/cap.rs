//! `mcp-gateway cap …`: capability files from a terminal — validate, list, approve (pin),
//! verify against the approvals, and import an OpenAPI document.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context, bail};
use clap::Subcommand;
use serde_json::{Value, json};

use crate::capability::load::{self, FileError, Loader};
use crate::capability::pin::{self, PinState};
use crate::capability::pins::{self, PinStore};
use crate::capability::{self};
use crate::config::Config;

#[derive(Debug, Subcommand)]
pub enum CapCommand {
    /// Check capability files (or every file under directories) without serving them.
    Validate {
        #[arg(required = true)]
        paths: Vec<PathBuf>,
        #[arg(long)]
        json: bool,
    },
    /// List the capabilities the gateway would serve (built-in catalog and directories).
    List {
        #[arg(long)]
        json: bool,
    },
    /// Approve each file as it is now: its hash is recorded in the data directory, and a
    /// later change quarantines it until it is approved again.
    Pin {
        #[arg(required = true)]
        files: Vec<PathBuf>,
    },
    /// Check files against their approvals without serving (default: the configured
    /// directories).
    Verify {
        paths: Vec<PathBuf>,
        #[arg(long)]
        json: bool,
    },
    /// Turn an OpenAPI 3.x or Swagger 2.0 document (file or URL) into capability files.
    Import(super::cap_import::ImportArgs),
}

pub(super) async fn run(config: Config, command: CapCommand) -> anyhow::Result<ExitCode> {
    match command {
        CapCommand::Validate { paths, json } => validate(&config, &paths, json),
        CapCommand::List { json } => list(&config, json),
        CapCommand::Pin { files } => pin_files(&config, &files),
        CapCommand::Verify { paths, json } => {
            let paths = if paths.is_empty() {
                config.capabilities.directories.clone()
            } else {
                paths
            };
            verify(&paths, json)
        }
        CapCommand::Import(args) => super::cap_import::run(args).await,
    }
}

/// Files named directly, plus every capability file under directories.
fn expand(paths: &[PathBuf]) -> anyhow::Result<Vec<PathBuf>> {
    let mut files = Vec::new();
    for path in paths {
        if path.is_dir() {
            let mut found = Vec::new();
            load::collect(path, &mut found)
                .with_context(|| format!("reading {}", path.display()))?;
            found.sort();
            files.extend(found);
        } else {
            files.push(path.clone());
        }
    }
    Ok(files)
}

fn validate(config: &Config, paths: &[PathBuf], as_json: bool) -> anyhow::Result<ExitCode> {
    let files = expand(paths)?;
    let trust = capability::trust(&config.capabilities, false);
    let mut rows = Vec::new();
    let mut bad = 0;
    for file in &files {
        let row = match std::fs::read_to_string(file) {
            Err(e) => json!({"file": file, "ok": false, "error": format!("cannot read: {e}")}),
            Ok(text) => match load::load_text(&text) {
                Ok((cap, mut warnings)) => {
                    // Valid, yet the config may not let it read what it reads: say so
                    // here rather than at the next `serve`.
                    let missing = trust.env_refused(&cap, file);
                    if !missing.is_empty() {
                        let refusal = FileError::EnvNotAllowed {
                            name: cap.name.clone(),
                            missing,
                        };
                        warnings.push(format!("it will not load: {refusal}"));
                    }
                    json!({"file": file, "ok": true, "name": cap.name, "warnings": warnings})
                }
                Err(e) => json!({"file": file, "ok": false, "error": e.to_string()}),
            },
        };
        if row["ok"] != true {
            bad += 1;
        }
        rows.push(row);
    }
    if as_json {
        let out = json!({"files": rows, "valid": files.len() - bad, "invalid": bad});
        out!("{}", serde_json::to_string_pretty(&out)?);
    } else {
        for row in &rows {
            let file = row["file"].as_str().unwrap_or("");
            if row["ok"] == true {
                out!("ok       {file}  ({})", row["name"].as_str().unwrap_or(""));
                for w in row["warnings"].as_array().into_iter().flatten() {
                    out!("  warning: {}", w.as_str().unwrap_or(""));
                }
            } else {
                out!("INVALID  {file}\n  {}", row["error"].as_str().unwrap_or(""));
            }
        }
        out!("{} valid, {bad} invalid", files.len() - bad);
    }
    Ok(if bad == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

fn list(config: &Config, as_json: bool) -> anyhow::Result<ExitCode> {
    let caps = &config.capabilities;
    let loaded = if caps.enabled {
        Loader::new(
            caps.builtin,
            caps.directories.clone(),
            capability::trust(caps, false),
        )
        .load()
    } else {
        load::Loaded::default()
    };
    if as_json {
        let tools: Vec<Value> = loaded
            .capabilities
            .values()
            .map(|l| {
                let c = &l.capability;
                json!({
                    "name": c.name, "description": c.description, "source": l.source.to_string(),
                    "category": c.category, "read_only": c.annotations.read_only,
                    "pinned": l.pinned, "warnings": l.warnings,
                })
            })
            .collect();
        let problems: Vec<String> = loaded.problems.iter().map(ToString::to_string).collect();
        let out = json!({"server": caps.name, "enabled": caps.enabled, "capabilities": tools,
                         "problems": problems});
        out!("{}", serde_json::to_string_pretty(&out)?);
        return Ok(ExitCode::SUCCESS);
    }
    if !caps.enabled {
        out!("capabilities are disabled (`capabilities.enabled: false`)");
        return Ok(ExitCode::SUCCESS);
    }
    let width = loaded
        .capabilities
        .keys()
        .map(String::len)
        .max()
        .unwrap_or(0);
    for l in loaded.capabilities.values() {
        let c = &l.capability;
        let mut flags = String::new();
        flags.push(if c.annotations.read_only { 'r' } else { 'w' });
        flags.push(if l.pinned { 'p' } else { '-' });
        let description: String = c.description.chars().take(70).collect();
        out!("{:width$}  {flags}  {description}", c.name);
        out!("{:width$}      {}", "", l.source);
    }
    for p in &loaded.problems {
        out!("problem: {p}");
    }
    out!(
        "{} capabilities as server `{}` (r = read-only, w = may write, p = pinned)",
        loaded.capabilities.len(),
        caps.name
    );
    Ok(ExitCode::SUCCESS)
}

/// Valid, and reading only variables the config allows.
fn checked(
    trust: &capability::Trust,
    file: &Path,
    text: &str,
) -> Result<(capability::Capability, Vec<String>), FileError> {
    let (cap, warnings) = load::load_text(text)?;
    let missing = trust.env_refused(&cap, file);
    if missing.is_empty() {
        Ok((cap, warnings))
    } else {
        Err(FileError::EnvNotAllowed {
            name: cap.name,
            missing,
        })
    }
}

fn store() -> anyhow::Result<PinStore> {
    PinStore::default_location().context(
        "no data directory to keep approvals in (no home directory); set MCP_GATEWAY_DATA_DIR",
    )
}

fn pin_files(config: &Config, files: &[PathBuf]) -> anyhow::Result<ExitCode> {
    let store = store()?;
    let trust = capability::trust(&config.capabilities, false);
    let approved = store.read()?;
    let mut failed = false;
    let mut approvals = Vec::new();
    for file in files {
        let text =
            std::fs::read_to_string(file).with_context(|| format!("reading {}", file.display()))?;
        // Approving means "run this": it must be a capability that can run.
        if let Err(e) = load::load_text(&text) {
            out!("not pinned {}: {e}", file.display());
            failed = true;
            continue;
        }
        let hash = pin::digest(&text);
        let was = approved.get(&pins::key(file)).map(|r| r.sha256.as_str());
        if was == Some(hash.as_str()) {
            out!("unchanged  {}  sha256:{hash}", file.display());
        } else {
            out!("pinned     {}  sha256:{hash}", file.display());
        }
        if let Err(e) = checked(&trust, file, &text) {
            out!("  note: it will not load yet: {e}");
        }
        approvals.push((file.clone(), hash));
    }
    store.record(&approvals, "cap pin")?;
    if !approvals.is_empty() {
        out!("approvals recorded in {}", store.path().display());
    }
    Ok(if failed {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    })
}

fn verify(paths: &[PathBuf], as_json: bool) -> anyhow::Result<ExitCode> {
    if paths.is_empty() {
        bail!("no capability directories configured; name files or directories to verify");
    }
    let files = expand(paths)?;
    let store = store()?;
    let approved = store.read()?;
    let mut rows = Vec::new();
    let mut mismatches = 0;
    for file in &files {
        let text =
            std::fs::read_to_string(file).with_context(|| format!("reading {}", file.display()))?;
        let actual = pin::digest(&text);
        let shown = file.display().to_string();
        let (state, detail) = match approved.get(&pins::key(file)) {
            Some(r) if r.sha256 == actual => ("ok", String::new()),
            Some(r) => {
                mismatches += 1;
                let e = FileError::Changed {
                    file: shown,
                    approved: r.sha256.clone(),
                    how: r.how.clone(),
                    actual,
                };
                ("CHANGED", e.to_string())
            }
            None => match pin::check(&text) {
                PinState::Mismatch { pinned, actual } => {
                    mismatches += 1;
                    let e = FileError::PinMismatch {
                        file: shown,
                        pinned,
                        actual,
                    };
                    ("MISMATCH", e.to_string())
                }
                _ => (
                    "unpinned",
                    "not approved yet: `serve` approves it on its first load, `cap pin` now"
                        .to_owned(),
                ),
            },
        };
        rows.push(json!({"file": file, "state": state, "detail": detail}));
    }
    if as_json {
        let out = json!({"files": rows, "mismatches": mismatches, "store": store.path()});
        out!("{}", serde_json::to_string_pretty(&out)?);
    } else {
        for row in &rows {
            let file = row["file"].as_str().unwrap_or("");
            out!("{:9} {file}", row["state"].as_str().unwrap_or(""));
            if let Some(d) = row["detail"].as_str().filter(|d| !d.is_empty()) {
                out!("  {d}");
            }
        }
        out!(
            "{} file(s), {mismatches} changed since approved (approvals: {})",
            files.len(),
            store.path().display()
        );
    }
    Ok(if mismatches == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}
