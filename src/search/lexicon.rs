//! Query-time word knowledge: stop words and a few one-way implications.
//!
//! Stop words carry no intent and are dropped. The implications map the way people phrase
//! a need (question words, developer slang: "how many", "tear down", "nuke") to the words
//! tools use for it; they apply only to the query, with a lower weight than the literal
//! words, so an exact match always wins. Paraphrase in general ("folder" for "directory",
//! "grab" for "fetch") is the semantic channel's job: a table of related software words
//! was measured and retired, since its gain was confined to the dev queries it had been
//! read from and it lowered msc-bench (held-out numbers in BENCHMARKS.md).

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
        let implies: &[(&str, &[&str])] = if options.implies { IMPLIES } else { &[] };
        let expansions = implies
            .iter()
            .map(|(key, targets)| {
                let targets = targets.iter().flat_map(|w| terms(analyzer, w)).collect();
                (terms(analyzer, key), targets)
            })
            .collect();
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
        assert_eq!(lexicon.expand(&words("nuke")), ["delet"]);
        assert_eq!(lexicon.expand(&words("tear down")), ["delet", "destroy"]);
        assert!(lexicon.expand(&words("delete")).is_empty(), "one way only");
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
