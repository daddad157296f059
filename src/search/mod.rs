//! Full-text search over every backend's tools: the in-RAM tantivy index, its
//! per-server updates, and ranking of free-text queries.
//!
//! This module owns the only use of tantivy in the crate. Callers hand it
//! [`ToolDoc`]s per server and ask [`SearchIndex::search`] for ranked [`Hit`]s.
//! Updates are blocking (a commit costs ~10 ms); async callers wrap them in
//! `spawn_blocking`. Searches never wait for an update: they read the last
//! committed state.
//!
//! Two channels rank: lexical (tantivy BM25F with typo tolerance and coverage
//! re-ranking) and semantic (a sentence-embedding model, `embed`, over each tool's
//! text, `semantic`); `fusion` merges them. The semantic channel fills in the
//! background and the lexical one serves alone until it is ready.

mod cache;
mod clauses;
pub mod embed;
pub mod fetch;
mod fields;
pub mod fusion;
mod fuzzy;
mod lexicon;
pub mod model;
mod patterns;
mod query;
mod rerank;
mod schema_text;
mod semantic;
mod tokenizer;

use std::collections::HashSet;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError, RwLock};

use tantivy::collector::TopDocs;
use tantivy::index::SegmentId;
use tantivy::indexer::NoMergePolicy;
use tantivy::query::{BooleanQuery, ConstScoreQuery, Occur, Query, TermQuery};
use tantivy::schema::{IndexRecordOption, Value};
use tantivy::tokenizer::TextAnalyzer;
use tantivy::{Index, IndexReader, IndexWriter, ReloadPolicy, TantivyDocument, TantivyError, Term};

use fields::Fields;
use fusion::{Candidates, Fusion, ToolKey};
use fuzzy::Vocabulary;
pub use lexicon::LexicalOptions;
use lexicon::Lexicon;
use semantic::Semantic;
pub use semantic::{Semantics, Status as SemanticStatus, tool_text};

/// One tool as the index sees it.
#[derive(Clone, Debug)]
pub struct ToolDoc {
    pub server: String,
    pub name: String,
    pub title: Option<String>,
    pub description: String,
    /// JSON Schema object; property names and descriptions are indexed.
    pub input_schema: serde_json::Value,
}

/// One ranked search result.
#[derive(Clone, Debug, PartialEq)]
pub struct Hit {
    pub server: String,
    pub tool: String,
    /// Relevance, higher is better; only comparable within one result list.
    pub score: f32,
}

#[derive(Debug, thiserror::Error)]
pub enum SearchError {
    #[error("search index error: {0}")]
    Index(#[from] tantivy::TantivyError),
}

/// The smallest budget tantivy accepts per writer thread; tool documents are
/// tiny, so more would only cost memory.
const WRITER_BUDGET_BYTES: usize = 15_000_000;

/// How many first-stage results the coverage re-ranking considers.
const CANDIDATES: usize = 50;
/// How many nearest tools the semantic channel proposes.
const DENSE_CANDIDATES: usize = 50;
/// Whether long requests are also embedded clause by clause (`clauses.rs`); chosen by
/// `examples/search_cv.rs` on msc-bench's multi-step levels.
pub const SPLIT_CLAUSES: bool = true;

/// The tool index. `Send + Sync`: share it in an `Arc`, update it from one
/// task while others search.
pub struct SearchIndex {
    reader: IndexReader,
    /// tantivy allows one writer per index; the lock also serializes updates
    /// so the vocabulary always matches the last commit. The writer exists
    /// only while an update or merge needs it: an idle one holds megabytes of
    /// indexing buffers and threads for nothing (see [`Writer`]).
    writer: Arc<Writer>,
    fields: Fields,
    /// Cloned per query: analyzers need `&mut` and searches run concurrently.
    analyzer: TextAnalyzer,
    lexicon: Lexicon,
    vocabulary: RwLock<Arc<Vocabulary>>,
    /// The background merge: at most one at a time.
    merges: Arc<Merges>,
    semantic: Semantic,
    /// The built-in catalog's server name: its tools lose ties to the user's own.
    demoted: RwLock<Option<String>>,
}

impl SearchIndex {
    /// An empty in-RAM index, lexical only.
    pub fn new() -> Result<Self, SearchError> {
        Self::with_semantics(Semantics::Off)
    }

    /// An empty in-RAM index whose semantic channel uses `semantics`, caching tool
    /// embeddings in the user's cache dir (or `$MCP_GATEWAY_EMBED_CACHE`).
    pub fn with_semantics(semantics: Semantics) -> Result<Self, SearchError> {
        Self::build(
            semantics,
            cache::VectorCache::open_default(),
            LexicalOptions::DEFAULT,
        )
    }

    /// A lexical-only index with the levers `options`: how `examples/search_cv.rs`
    /// measures what each kind is worth.
    pub fn with_options(options: LexicalOptions) -> Result<Self, SearchError> {
        Self::build(Semantics::Off, None, options)
    }

    /// Like [`Self::with_semantics`], caching tool embeddings under `cache_dir`.
    pub fn with_semantics_in(
        semantics: Semantics,
        cache_dir: &std::path::Path,
    ) -> Result<Self, SearchError> {
        Self::build(
            semantics,
            Some(cache::VectorCache::open(cache_dir)),
            LexicalOptions::DEFAULT,
        )
    }

    fn build(
        semantics: Semantics,
        cache: Option<cache::VectorCache>,
        options: LexicalOptions,
    ) -> Result<Self, SearchError> {
        let (schema, fields) = fields::build_schema();
        let index = Index::create_in_ram(schema);
        let mut analyzer = tokenizer::analyzer();
        index
            .tokenizers()
            .register(tokenizer::ANALYZER, analyzer.clone());
        // Manual reload: a search right after an update must see it, which
        // the background reload policies do not guarantee.
        let reader = index
            .reader_builder()
            .reload_policy(ReloadPolicy::Manual)
            .try_into()?;
        let lexicon = Lexicon::new(&mut analyzer, options);
        Ok(Self {
            writer: Arc::new(Writer {
                index: index.clone(),
                slot: Mutex::new(None),
            }),
            reader,
            fields,
            analyzer,
            lexicon,
            vocabulary: RwLock::new(Arc::new(Vocabulary::default())),
            merges: Arc::new(Merges::default()),
            semantic: Semantic::new(semantics, cache),
            demoted: RwLock::new(None),
        })
    }

    /// Names the built-in catalog's server, whose tools rank after the user's on ties.
    pub fn demote_server(&self, server: Option<&str>) {
        *self.demoted.write().unwrap_or_else(PoisonError::into_inner) = server.map(str::to_owned);
    }

    /// What the semantic channel can do now.
    pub fn semantic_status(&self) -> SemanticStatus {
        self.semantic.status()
    }

    /// Blocks until every indexed tool has its embedding (or the model failed to load),
    /// at most `timeout`.
    pub fn wait_semantic(&self, timeout: std::time::Duration) -> SemanticStatus {
        self.semantic.wait_ready(timeout)
    }

    /// Replaces every tool of `server` with `tools` (an empty slice removes
    /// the server). Blocking.
    pub fn replace_server(&self, server: &str, tools: &[ToolDoc]) -> Result<(), SearchError> {
        self.update(|writer, fields| {
            writer.delete_term(Term::from_field_text(fields.server, server));
            add_tools(writer, fields, server, tools)
        })?;
        self.semantic.replace(server, tools);
        Ok(())
    }

    /// Replaces several servers in one commit (startup).
    pub fn replace_servers(&self, servers: &[(String, Vec<ToolDoc>)]) -> Result<(), SearchError> {
        self.update(|writer, fields| {
            for (server, tools) in servers {
                writer.delete_term(Term::from_field_text(fields.server, server));
                add_tools(writer, fields, server, tools)?;
            }
            Ok(())
        })?;
        for (server, tools) in servers {
            self.semantic.replace(server, tools);
        }
        Ok(())
    }

    /// Removes every tool of `server`. Blocking.
    pub fn remove_server(&self, server: &str) -> Result<(), SearchError> {
        self.replace_server(server, &[])
    }

    /// The best matches for `query`, best first, at most `limit`, optionally
    /// only from `server`. Text that yields no searchable word gives no hits.
    pub fn search(
        &self,
        query: &str,
        limit: usize,
        server: Option<&str>,
    ) -> Result<Vec<Hit>, SearchError> {
        if limit == 0 {
            return Ok(Vec::new());
        }
        let candidates = self.candidates(query, server)?;
        Ok(self.rank(&candidates, fusion::DEFAULT, limit))
    }

    /// Fuses `candidates` with `how`; at most `limit` hits.
    pub fn rank(&self, candidates: &Candidates, how: Fusion, limit: usize) -> Vec<Hit> {
        let demoted = self.demoted.read().unwrap_or_else(PoisonError::into_inner);
        fusion::fuse(candidates, how, demoted.as_deref())
            .into_iter()
            .take(limit)
            .map(|((server, tool), score)| Hit {
                server,
                tool,
                score,
            })
            .collect()
    }

    /// Both channels' candidates for `query`, before fusion.
    pub fn candidates(&self, query: &str, server: Option<&str>) -> Result<Candidates, SearchError> {
        self.candidates_with(query, server, SPLIT_CLAUSES)
    }

    /// [`Self::candidates`], choosing whether a long request is also embedded per clause.
    pub fn candidates_with(
        &self,
        query: &str,
        server: Option<&str>,
        split_clauses: bool,
    ) -> Result<Candidates, SearchError> {
        let lexical = self.lexical(query, server)?;
        let Some(lexical) = lexical else {
            return Ok(Candidates::default());
        };
        self.semantic.activate();
        let mut texts = vec![query.to_owned()];
        if split_clauses {
            texts.extend(clauses::split(query));
        }
        let dense = match self.semantic.embed_query(&texts) {
            Some(vectors) => self.semantic.nearest(&vectors, server, DENSE_CANDIDATES),
            None => Vec::new(),
        };
        Ok(Candidates { lexical, dense })
    }

    /// The lexical channel's ranking; `None` when the query has no searchable word.
    fn lexical(
        &self,
        query: &str,
        server: Option<&str>,
    ) -> Result<Option<Vec<(ToolKey, f32)>>, SearchError> {
        let vocabulary = Arc::clone(
            &self
                .vocabulary
                .read()
                .unwrap_or_else(PoisonError::into_inner),
        );
        let mut analyzer = self.analyzer.clone();
        let plan = query::plan(query, &mut analyzer, &self.lexicon, &vocabulary);
        tracing::trace!(query, ?plan, "search plan");
        let groups = query::compile(&plan, &self.fields, &vocabulary);
        let Some(mut text_query) = query::union(groups.iter().map(|q| q.box_clone()).collect())
        else {
            // Words no indexed tool uses: the semantic channel may still know them.
            return Ok(terms_of(&mut analyzer, query).then(Vec::new));
        };
        if let Some(server) = server {
            let only: Box<dyn Query> = Box::new(ConstScoreQuery::new(
                Box::new(TermQuery::new(
                    Term::from_field_text(self.fields.server, server),
                    IndexRecordOption::Basic,
                )),
                0.0,
            ));
            text_query = Box::new(BooleanQuery::new(vec![
                (Occur::Must, only),
                (Occur::Must, text_query),
            ]));
        }
        let searcher = self.reader.searcher();
        let candidates = searcher.search(
            &text_query,
            &TopDocs::with_limit(CANDIDATES).order_by_score(),
        )?;
        let ranked = if self.lexicon.options.coverage {
            rerank::by_coverage(&searcher, &groups, candidates)?
        } else {
            candidates
        };
        let mut hits = Vec::with_capacity(ranked.len());
        for (score, address) in ranked {
            let doc: TantivyDocument = searcher.doc(address)?;
            let text = |field| {
                doc.get_first(field)
                    .and_then(|v| v.as_str())
                    .unwrap_or_default()
                    .to_owned()
            };
            hits.push(((text(self.fields.server), text(self.fields.tool)), score));
        }
        Ok(Some(hits))
    }

    /// Runs `edit` on the writer, commits and makes the result visible; on
    /// failure the uncommitted edits are rolled back so a later commit cannot
    /// publish half an update.
    fn update(
        &self,
        edit: impl FnOnce(&IndexWriter, &Fields) -> Result<(), SearchError>,
    ) -> Result<(), SearchError> {
        let mut slot = self.writer.lock();
        let writer = match slot.take() {
            Some(writer) => writer,
            None => self.writer.open()?,
        };
        let writer = slot.insert(writer);
        let result = edit(writer, &self.fields).and_then(|()| Ok(writer.commit().map(drop)?));
        if let Err(err) = result {
            if let Err(rollback) = writer.rollback() {
                tracing::warn!(error = %rollback, "search index rollback failed");
            }
            return Err(err);
        }
        self.reader.reload()?;
        let vocabulary =
            Vocabulary::from_searcher(&self.reader.searcher(), &self.fields.vocabulary_fields())?;
        *self
            .vocabulary
            .write()
            .unwrap_or_else(PoisonError::into_inner) = Arc::new(vocabulary);
        drop(slot);
        self.compact();
        Ok(())
    }

    /// Merges all segments into one in the background, reloading the reader
    /// after each merge. Every commit adds a segment and per-query cost grows
    /// with the segment count (a 10,000-tool index answers about twice as
    /// fast from one segment as from seven), but a synchronous merge would
    /// blow the update budget. Searches use the committed segments meanwhile.
    fn compact(&self) {
        if segment_ids(&self.reader).is_none() {
            if !self.merges.running.load(Ordering::Acquire) {
                self.writer.release();
            }
            return;
        }
        if self.merges.running.swap(true, Ordering::AcqRel) {
            return;
        }
        let writer = Arc::clone(&self.writer);
        let reader = self.reader.clone();
        let merges = Arc::clone(&self.merges);
        let spawned = std::thread::Builder::new()
            .name("search-merge".into())
            .spawn(move || merge_until_compact(&writer, &reader, &merges));
        if let Err(err) = spawned {
            self.merges.failed(&err);
        }
    }

    /// How many background merges have failed since the index was made.
    pub fn merge_failures(&self) -> u64 {
        self.merges.failures.load(Ordering::Relaxed)
    }
}

/// Whether `query` has any word at all (after stop words are dropped or not): a query of
/// only punctuation gives no hits from either channel.
fn terms_of(analyzer: &mut TextAnalyzer, query: &str) -> bool {
    !tokenizer::terms(analyzer, query).is_empty()
}

/// The searchable segments when there is more than one.
fn segment_ids(reader: &IndexReader) -> Option<Vec<SegmentId>> {
    let ids: Vec<SegmentId> = reader
        .searcher()
        .segment_readers()
        .iter()
        .map(|s| s.segment_id())
        .collect();
    (ids.len() > 1).then_some(ids)
}

/// The background merge's state.
#[derive(Default)]
struct Merges {
    /// Held true while a merge thread runs.
    running: AtomicBool,
    failures: AtomicU64,
}

impl Merges {
    /// A merge stopped on `err`: the next update starts another.
    fn failed(&self, err: &dyn std::fmt::Display) {
        tracing::warn!(error = %err, "search index merge failed");
        self.failures.fetch_add(1, Ordering::Relaxed);
        self.running.store(false, Ordering::Release);
    }
}

/// Body of the merge thread; `merges.running` is held true while it runs.
fn merge_until_compact(writer: &Writer, reader: &IndexReader, merges: &Merges) {
    loop {
        loop {
            // Segment ids are read from the committed index meta under the writer lock, never
            // from the reader: a commit between the two (an update that deleted every document
            // of a segment, which the commit then drops) would otherwise hand tantivy ids it
            // no longer has, and the merge fails ("Starting the merge failed").
            let merge = {
                let mut slot = writer.lock();
                let ids = match writer.index.searchable_segment_ids() {
                    Ok(ids) if ids.len() > 1 => ids,
                    Ok(_) => break,
                    Err(err) => return merges.failed(&err),
                };
                match slot.take().map_or_else(|| writer.open(), Ok) {
                    Ok(w) => slot.insert(w).merge(&ids),
                    Err(err) => return merges.failed(&err),
                }
            };
            match merge.wait() {
                // A commit dropped one of its segments meanwhile (every document of it
                // deleted): tantivy discards that merge's result, and the next round merges
                // what is there now.
                Err(TantivyError::InvalidArgument(why)) => {
                    tracing::debug!("search index merge superseded: {why}");
                    continue;
                }
                Err(err) => return merges.failed(&err),
                Ok(_) => {}
            }
            if let Err(err) = reader.reload() {
                return merges.failed(&err);
            }
        }
        // Compact: let the writer go while still marked as running, so no
        // update's `compact` can race this release.
        writer.release();
        merges.running.store(false, Ordering::Release);
        // A commit may have landed between the last check and the store.
        if segment_ids(reader).is_none() || merges.running.swap(true, Ordering::AcqRel) {
            return;
        }
    }
}

/// The index's one writer, opened on demand and released when idle.
struct Writer {
    index: Index,
    slot: Mutex<Option<IndexWriter>>,
}

impl Writer {
    fn lock(&self) -> std::sync::MutexGuard<'_, Option<IndexWriter>> {
        self.slot.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn open(&self) -> Result<IndexWriter, TantivyError> {
        let writer: IndexWriter = self.index.writer_with_num_threads(1, WRITER_BUDGET_BYTES)?;
        // Merges are started explicitly after commits (see `compact`).
        writer.set_merge_policy(Box::new(NoMergePolicy));
        Ok(writer)
    }

    /// Drop the writer, waiting for its threads, so its memory goes back.
    fn release(&self) {
        // The slot stays locked until the writer is gone: it holds the index's lock, and an
        // update opening the next writer meanwhile would fail on it.
        let mut slot = self.lock();
        let Some(writer) = slot.take() else {
            return;
        };
        if let Err(err) = writer.wait_merging_threads() {
            tracing::warn!(error = %err, "search index writer did not shut down cleanly");
        }
        drop(slot);
        crate::sys::release_free_memory();
    }
}

/// Adds `tools` as documents of `server`; a repeated tool name keeps its first
/// definition (names are unique per server, but backends misbehave).
fn add_tools(
    writer: &IndexWriter,
    fields: &Fields,
    server: &str,
    tools: &[ToolDoc],
) -> Result<(), SearchError> {
    let mut seen = HashSet::new();
    for tool in tools {
        if tool.server != server {
            tracing::warn!(server, tool_server = %tool.server, tool = %tool.name, "tool filed under another server; indexing it under this one");
        }
        if !seen.insert(tool.name.as_str()) {
            continue;
        }
        writer.add_document(fields::document(fields, server, tool))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests;
