//! Query-time word options: stop words and a small related-word table.
//!
//! Agents describe needs in their own words ("grab", "folder", "ticket") while
//! tool descriptions use others ("fetch", "directory", "issue"). A short table
//! of generic software verbs and nouns bridges the commonest gaps; it is applied
//! only to the query and with a lower weight than the literal words, so an exact
//! match always wins. The table is deliberately general-purpose: common
//! software verbs and nouns, developer slang ("land" a change, "spin up" an
//! environment), question words, and a few everyday domains many MCP servers
//! cover (maps, stock quotes). No product names or tool names of any corpus:
//! it must help on tool sets nobody has seen yet. Entries that only bridged one
//! dev query to its expected tool were retired once the semantic channel existed
//! (held-out numbers before and after in BENCHMARKS.md); paraphrase is its job.

use std::collections::{HashMap, HashSet};

use tantivy::tokenizer::TextAnalyzer;

use super::tokenizer::terms;

/// Words that carry no intent in a request. Removed from queries unless the
/// query consists of nothing else.
#[rustfmt::skip]
const STOP_WORDS: &[&str] = &[
    "a", "about", "above", "after", "again", "against", "all", "am", "an", "and", "any", "are",
    "as", "at", "be", "because", "been", "before", "being", "below", "between", "both", "but",
    "by", "can", "could", "did", "do", "does", "doing", "down", "during", "each", "few", "for",
    "from", "further", "had", "has", "have", "having", "he", "her", "here", "hers", "him", "his",
    "how", "i", "if", "in", "into", "is", "it", "its", "itself", "just", "let", "lets", "me",
    "might", "more", "most", "must", "my", "myself", "no", "nor", "not", "now", "of", "off", "on",
    "once", "only", "or", "other", "our", "ours", "out", "over", "own", "please", "same", "shall",
    "she", "should", "so", "some", "such", "than", "that", "the", "their", "them", "then", "there",
    "these", "they", "this", "those", "through", "to", "too", "under", "until", "up", "us", "very",
    "want", "was", "we", "were", "what", "whats", "when", "where", "which", "while", "who", "whom",
    "why", "will", "with", "would", "you", "your", "yours", "yet", "i'm", "im", "ll", "ve", "re",
    "don", "isn", "t", "s", "d", "m", "need", "like", "also", "thing", "things", "something",
    "anything", "everything", "someone", "anyone", "way", "many", "much",
];

/// Groups of words that name the same action or object in software tools.
/// Every member expands to the others. Multi-word members expand to all their
/// words (`pr` → `pull request`).
const RELATED: &[&[&str]] = &[
    &[
        "get", "fetch", "retrieve", "read", "show", "view", "display", "grab",
    ],
    &["list", "enumerate"],
    &["delete", "remove", "erase", "destroy", "purge"],
    &["create", "add", "new", "make"],
    &["update", "edit", "modify", "change", "alter"],
    &["search", "find", "lookup", "query", "look up"],
    &["run", "execute", "trigger", "invoke", "launch"],
    &["stop", "cancel", "abort", "terminate", "kill"],
    &["file", "document"],
    &["doc", "document", "documentation", "page"],
    &["repo", "repository"],
    &["pr", "pull request"],
    &["mr", "merge request"],
    &["issue", "ticket", "bug"],
    &["directory", "folder", "dir"],
    &["user", "account", "member"],
    &["comment", "note", "reply"],
    &["image", "picture", "photo", "screenshot"],
    &["download", "export"],
    &["copy", "duplicate", "clone"],
    &["label", "tag"],
    &["permission", "access", "role", "allow"],
    &["credential", "secret", "token", "password", "key"],
    &["notification", "alert"],
    &["price", "cost", "pricing"],
    &["chart", "graph", "plot"],
    &["config", "configuration", "setting"],
    &["env", "environment"],
    &["compare", "diff", "difference"],
    &["website", "web", "url", "site", "page"],
    &["dependency", "package", "library"],
    &["vulnerability", "security", "cve"],
    &["db", "database"],
    &["count", "number", "total"],
    &["location", "address", "place", "coordinates"],
    &["check", "verify", "validate"],
    &["error", "exception", "failure"],
    &["stat", "statistic", "metric"],
    &["message", "msg", "chat"],
    &["screenshot", "capture"],
    &["schedule", "cron"],
    &["login", "auth", "authenticate"],
    &["status", "state", "transition"],
    &["version", "revision"],
    &["save", "store", "persist"],
    &["directions", "route", "navigate"],
    &["stock", "ticker", "quote", "share price"],
];

/// One-way expansions: the way people phrase a need (question words,
/// developer slang) mapped to the words tools use for it. Keys may be two
/// words.
const IMPLIES: &[(&str, &[&str])] = &[
    ("who", &["user", "member", "people", "owner"]),
    ("where", &["location", "path"]),
    ("how many", &["count", "number", "total"]),
    ("tear down", &["delete", "destroy"]),
    ("roll back", &["revert", "rollback"]),
    ("log in", &["login", "authenticate"]),
    ("bump", &["update", "version"]),
    ("nuke", &["delete"]),
];

/// The lexical channel's levers: which kinds of query-time knowledge it uses and how much
/// of a query it reads. The product uses [`Self::DEFAULT`]; `examples/search_cv.rs` moves
/// each lever in turn to measure, held-out, what it is worth (BENCHMARKS.md).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LexicalOptions {
    /// [`STOP_WORDS`] are dropped from queries.
    pub stop_words: bool,
    /// The [`RELATED`] groups.
    pub related: bool,
    /// The one-way [`IMPLIES`] entries.
    pub implies: bool,
    /// Words implied by notations (`#45`, `@alice`, `src/a.py`; `patterns.rs`).
    pub notations: bool,
    /// Unknown words corrected to indexed spellings (`fuzzy.rs`).
    pub corrections: bool,
    /// Query words extended to longer indexed words they start.
    pub extensions: bool,
    /// The coverage re-ranking (`rerank.rs`).
    pub coverage: bool,
    /// How many query words are read: a pasted paragraph's cost is bounded.
    pub max_words: usize,
}

impl LexicalOptions {
    pub const DEFAULT: Self = Self {
        stop_words: true,
        related: true,
        implies: true,
        notations: true,
        corrections: true,
        extensions: true,
        coverage: true,
        max_words: 64,
    };
}

/// Stop words and expansions, in analyzed (stemmed) form so they compare
/// directly with query terms.
pub struct Lexicon {
    pub options: LexicalOptions,
    stop: HashSet<String>,
    /// Keyed by one or two analyzed words.
    expansions: HashMap<Vec<String>, Vec<String>>,
}

impl Lexicon {
    pub fn new(analyzer: &mut TextAnalyzer, options: LexicalOptions) -> Self {
        let stop = if options.stop_words {
            STOP_WORDS.iter().flat_map(|w| terms(analyzer, w)).collect()
        } else {
            HashSet::new()
        };
        let related: &[&[&str]] = if options.related { RELATED } else { &[] };
        let implies: &[(&str, &[&str])] = if options.implies { IMPLIES } else { &[] };
        let mut expansions: HashMap<Vec<String>, Vec<String>> = HashMap::new();
        let mut add = |key: Vec<String>, targets: &[String]| {
            let entry = expansions.entry(key.clone()).or_default();
            for word in targets {
                if !key.contains(word) && !entry.contains(word) {
                    entry.push(word.clone());
                }
            }
        };
        for group in related {
            let members: Vec<Vec<String>> = group.iter().map(|w| terms(analyzer, w)).collect();
            for (i, member) in members.iter().enumerate() {
                for (j, other) in members.iter().enumerate() {
                    if i != j {
                        add(member.clone(), other);
                    }
                }
            }
        }
        for (key, targets) in implies {
            let targets: Vec<String> = targets.iter().flat_map(|w| terms(analyzer, w)).collect();
            add(terms(analyzer, key), &targets);
        }
        Self {
            options,
            stop,
            expansions,
        }
    }

    pub fn is_stop_word(&self, term: &str) -> bool {
        self.stop.contains(term)
    }

    /// Expansions of an analyzed word or word pair (empty when none).
    pub fn expand(&self, words: &[String]) -> &[String] {
        self.expansions.get(words).map_or(&[], Vec::as_slice)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::search::tokenizer::analyzer;

    #[test]
    fn expansions_cover_words_and_phrases_after_stemming() {
        let lexicon = Lexicon::new(&mut analyzer(), LexicalOptions::DEFAULT);
        let words = |text: &str| terms(&mut analyzer(), text);
        assert!(
            lexicon
                .expand(&words("folder"))
                .contains(&"directori".to_string())
        );
        assert!(
            lexicon
                .expand(&words("directory"))
                .contains(&"folder".to_string())
        );
        assert_eq!(lexicon.expand(&words("pr")), ["pull", "request"]);
        assert_eq!(lexicon.expand(&words("pull request")), ["pr"]);
        assert_eq!(
            lexicon.expand(&words("how many")),
            ["count", "number", "total"]
        );
        assert!(lexicon.expand(&words("zebra")).is_empty());
    }

    #[test]
    fn stop_words_are_recognised_after_analysis() {
        let lexicon = Lexicon::new(&mut analyzer(), LexicalOptions::DEFAULT);
        assert!(lexicon.is_stop_word("the"));
        assert!(!lexicon.is_stop_word("list"));
    }
}
