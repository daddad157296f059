//! `mcp-gateway cap import`: an OpenAPI document (file or URL) → capability files.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use clap::Args;
use serde_json::json;

use crate::capability::openapi::{self, Options};
use crate::capability::pin;
use crate::capability::pins::{self, PinStore};

#[derive(Debug, Args)]
pub struct ImportArgs {
    /// The OpenAPI 3.0/3.1 or Swagger 2.0 document: a file or an http(s) URL, JSON or YAML.
    pub spec: String,
    /// Directory to write one capability file per operation into (created if missing).
    #[arg(
        long,
        short = 'o',
        value_name = "DIR",
        required_unless_present = "dry_run"
    )]
    pub output: Option<PathBuf>,
    /// Prefix for every tool name (`github` → `github_repos_get`).
    #[arg(long, short = 'p')]
    pub prefix: Option<String>,
    /// Only operations whose path or tool name matches one of these globs.
    #[arg(long, value_name = "GLOB", num_args = 1..)]
    pub include: Vec<String>,
    /// Leave out operations whose path or tool name matches one of these globs.
    #[arg(long, value_name = "GLOB", num_args = 1..)]
    pub exclude: Vec<String>,
    /// Environment variable holding the API key or token (default: derived from the title).
    #[arg(long, value_name = "VAR")]
    pub auth_env: Option<String>,
    /// Base URL to use instead of the document's servers / host.
    #[arg(long, value_name = "URL")]
    pub base_url: Option<String>,
    /// Show what would be written without writing.
    #[arg(long)]
    pub dry_run: bool,
    /// Print the summary as JSON.
    #[arg(long)]
    pub json: bool,
}

pub(super) async fn run(args: ImportArgs) -> anyhow::Result<ExitCode> {
    let started = Instant::now();
    let is_url = args.spec.starts_with("http://") || args.spec.starts_with("https://");
    let text = if is_url {
        fetch(&args.spec).await?
    } else {
        std::fs::read_to_string(&args.spec).with_context(|| format!("reading {}", args.spec))?
    };
    let options = Options {
        prefix: args.prefix.clone(),
        include: args.include.clone(),
        exclude: args.exclude.clone(),
        auth_env: args.auth_env.clone(),
        base_url: args.base_url.clone(),
        source_url: is_url.then(|| args.spec.clone()),
    };
    // Parsing and converting a large document is CPU work: keep it off the async threads.
    let report = tokio::task::spawn_blocking(move || {
        let doc = openapi::parse(&text)?;
        openapi::import(&doc, &options)
    })
    .await
    .context("the import task failed")??;

    let mut report = report;
    let mut created = 0;
    let mut updated = 0;
    if let (false, Some(dir)) = (args.dry_run, &args.output) {
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
        let store = PinStore::default_location();
        let approved = match &store {
            Some(s) => s.read()?,
            None => Default::default(),
        };
        let mut kept = Vec::new();
        let mut writes = Vec::new();
        for g in report.generated.drain(..) {
            let path = dir.join(format!("{}.yaml", g.name));
            match std::fs::read_to_string(&path) {
                Ok(old) if old == g.yaml => {}
                // The user approved this very text with `cap pin` (or pinned it in the file,
                // the older way): regenerating must not replace what they approved.
                Ok(old)
                    if pin::pinned(&old).is_some()
                        || approved
                            .get(&pins::key(&path))
                            .is_some_and(|r| r.how == "cap pin") =>
                {
                    report.skipped.push(openapi::Skipped {
                        operation: g.operation.clone(),
                        reason: format!(
                            "{} exists and is pinned; remove it to regenerate",
                            path.display()
                        ),
                    });
                    continue;
                }
                Ok(_) => {
                    updated += 1;
                    writes.push((path, g.yaml.clone()));
                }
                Err(_) => {
                    created += 1;
                    writes.push((path, g.yaml.clone()));
                }
            }
            kept.push(g);
        }
        // Running the import approves what it writes; recorded first, so a running gateway
        // that sees the files at once finds them approved rather than changed.
        if let Some(store) = &store {
            let approvals: Vec<(PathBuf, String)> = writes
                .iter()
                .map(|(path, yaml)| (path.clone(), pin::digest(yaml)))
                .collect();
            store.record(&approvals, "cap import")?;
        }
        crate::export::file::write_all_atomic(&writes)?;
        let vars: std::collections::BTreeSet<String> = kept
            .iter()
            .filter_map(|g| crate::capability::load_text(&g.yaml).ok())
            .flat_map(|(cap, _)| cap.env_vars())
            .collect();
        if !vars.is_empty() {
            let list: Vec<String> = vars.into_iter().collect();
            report.notes.insert(format!(
                "the files read {}; a capability may read only the variables gateway.yaml \
                 allows it: add `capabilities: env_allow: {{ \"{}/**\": [{}] }}`",
                list.join(", "),
                std::path::absolute(dir)
                    .unwrap_or_else(|_| dir.clone())
                    .display(),
                list.join(", ")
            ));
        }
        report.generated = kept;
    }
    let elapsed = started.elapsed();
    if args.json {
        let out = json!({
            "title": report.title, "base_url": report.base_url, "auth": report.auth,
            "generated": report.generated.iter().map(|g| json!({"name": g.name, "operation": g.operation})).collect::<Vec<_>>(),
            "skipped": report.skipped.iter().map(|s| json!({"operation": s.operation, "reason": s.reason})).collect::<Vec<_>>(),
            "created": created, "updated": updated, "dry_run": args.dry_run,
            "notes": report.notes, "elapsed_ms": elapsed.as_millis(),
        });
        out!("{}", serde_json::to_string_pretty(&out)?);
    } else {
        print_summary(&args, &report, created, updated, elapsed);
    }
    if report.generated.is_empty() && !report.skipped.is_empty() {
        return Ok(ExitCode::FAILURE);
    }
    Ok(ExitCode::SUCCESS)
}

fn print_summary(
    args: &ImportArgs,
    report: &openapi::Report,
    created: usize,
    updated: usize,
    elapsed: Duration,
) {
    out!("{}  ({})", report.title, report.base_url);
    out!(
        "auth: {}",
        report.auth.as_deref().unwrap_or("none in the document")
    );
    if args.dry_run {
        for g in &report.generated {
            out!("  would write {}.yaml  ({})", g.name, g.operation);
        }
    }
    for s in &report.skipped {
        out!("  skipped {}: {}", s.operation, s.reason);
    }
    for n in report.notes.iter().take(10) {
        out!("  note: {n}");
    }
    if report.notes.len() > 10 {
        out!("  … and {} more notes", report.notes.len() - 10);
    }
    let target = match (&args.output, args.dry_run) {
        (Some(dir), false) => format!(" into {} ({created} new, {updated} updated)", dir.display()),
        _ => " (dry run, nothing written)".to_owned(),
    };
    out!(
        "{} capabilities{target}, {} skipped, in {:.2}s",
        report.generated.len(),
        report.skipped.len(),
        elapsed.as_secs_f64()
    );
}

async fn fetch(url: &str) -> anyhow::Result<String> {
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(60))
        .user_agent(concat!("mcp-gateway/", env!("CARGO_PKG_VERSION")))
        .build()?;
    let response = client
        .get(url)
        .send()
        .await
        .with_context(|| format!("fetching {url}"))?;
    if !response.status().is_success() {
        bail!("fetching {url}: HTTP {}", response.status());
    }
    Ok(response.text().await?)
}
