//! Turns free text typed by a model or a person into a tantivy query.
//!
//! The query is built from analyzed terms rather than parsed with tantivy's
//! query language: model-written text is full of quotes, colons, parentheses
//! and URLs, and none of that may ever turn into a syntax error. Each query
//! word becomes one weighted group: the literal term at full weight, typo
//! corrections and implied words at reduced weights, each searched in every
//! text field with that field's boost under BM25.

use std::collections::HashSet;

use tantivy::Term;
use tantivy::query::{BooleanQuery, BoostQuery, DisjunctionMaxQuery, Occur, Query, TermQuery};
use tantivy::schema::IndexRecordOption;
use tantivy::tokenizer::TextAnalyzer;

use super::fields::Fields;
use super::fuzzy::Vocabulary;
use super::lexicon::Lexicon;
use super::patterns;
use super::tokenizer::terms;

/// A corrected spelling is probably, not certainly, what was meant.
const CORRECTION_WEIGHT: f32 = 0.7;
/// Implied words widen recall but must not beat the user's own words.
const IMPLIED_WEIGHT: f32 = 0.4;
/// Longer indexed words that start with a query word are likely kin.
const EXTENSION_WEIGHT: f32 = 0.5;
/// How many longer words one query word may extend to.
const MAX_EXTENSIONS: usize = 3;
/// How many spellings one unknown word may be corrected to.
const MAX_CORRECTIONS: usize = 3;

/// One query word with its alternatives and their weights.
#[derive(Debug, PartialEq)]
pub struct Group {
    pub alternatives: Vec<(String, f32)>,
}

/// The words of a query after analysis, stop-word removal, typo correction
/// and expansion.
pub fn plan(
    text: &str,
    analyzer: &mut TextAnalyzer,
    lexicon: &Lexicon,
    vocabulary: &Vocabulary,
) -> Vec<Group> {
    let options = lexicon.options;
    let words = terms(analyzer, text);
    // Bare numbers are issue ids, line numbers and versions: they name the
    // object, not the action, and would only match by accident.
    let noise = |w: &String| lexicon.is_stop_word(w) || w.chars().all(char::is_numeric);
    // A query of only stop words ("who am I") still deserves an answer.
    let keep_all = words.iter().all(noise);
    let mut groups: Vec<Group> = Vec::new();
    let mut seen = HashSet::new();
    // Words the lexicon knows are real words, not typos, even when no tool
    // uses them ("clash" must not become "class").
    let mut in_phrase = vec![false; words.len()];
    for (i, word) in words.iter().enumerate() {
        if groups.len() >= options.max_words {
            break;
        }
        if let Some(pair) = words.get(i..i + 2) {
            let targets = lexicon.expand(pair);
            if !targets.is_empty() {
                in_phrase[i] = true;
                in_phrase[i + 1] = true;
                if seen.insert(pair.join(" ")) {
                    groups.push(expansion_group(targets, vocabulary));
                }
            }
        }
        if !seen.insert(word.clone()) {
            continue;
        }
        let targets = lexicon.expand(std::slice::from_ref(word));
        if noise(word) && !keep_all {
            // A stop word can still imply something ("who" → user).
            if !targets.is_empty() {
                groups.push(expansion_group(targets, vocabulary));
            }
            continue;
        }
        let mut group = Group {
            alternatives: vec![(word.clone(), 1.0)],
        };
        if options.corrections && !vocabulary.contains(word) && !in_phrase[i] && targets.is_empty()
        {
            for fixed in vocabulary.corrections(word, MAX_CORRECTIONS) {
                group.push(fixed, CORRECTION_WEIGHT);
            }
        }
        if options.extensions {
            for longer in vocabulary.extensions(word, MAX_EXTENSIONS) {
                group.push(longer, EXTENSION_WEIGHT);
            }
        }
        for target in targets {
            if vocabulary.contains(target) {
                group.push(target.clone(), IMPLIED_WEIGHT);
            }
        }
        groups.push(group);
    }
    let notations = if options.notations {
        patterns::implied_words(text)
    } else {
        Vec::new()
    };
    for implied in notations {
        let targets: Vec<String> = terms(analyzer, implied)
            .into_iter()
            .filter(|t| seen.insert(t.clone()))
            .collect();
        groups.push(expansion_group(&targets, vocabulary));
    }
    groups.retain(|g| !g.alternatives.is_empty());
    groups
}

fn expansion_group(targets: &[String], vocabulary: &Vocabulary) -> Group {
    let mut group = Group {
        alternatives: Vec::new(),
    };
    for target in targets {
        if vocabulary.contains(target) {
            group.push(target.clone(), IMPLIED_WEIGHT);
        }
    }
    group
}

impl Group {
    /// Adds an alternative unless the word is already there.
    fn push(&mut self, word: String, weight: f32) {
        if !self.alternatives.iter().any(|(w, _)| *w == word) {
            self.alternatives.push((word, weight));
        }
    }
}

/// Compiles each group into one query: the best of its alternatives counts
/// (a tool that says both "get" and "fetch" has not matched the word twice),
/// and an alternative sums over the fields that contain it. Terms are only
/// looked up in fields that contain them: every lookup costs a dictionary
/// probe per segment, and most (term, field) pairs are empty. Groups with no
/// indexed term are dropped.
pub fn compile(groups: &[Group], fields: &Fields, vocabulary: &Vocabulary) -> Vec<Box<dyn Query>> {
    let weighted = fields.weighted();
    let mut compiled: Vec<Box<dyn Query>> = Vec::new();
    for group in groups {
        let mut alternatives: Vec<Box<dyn Query>> = Vec::new();
        for (word, weight) in &group.alternatives {
            let leaves: Vec<Box<dyn Query>> = weighted
                .iter()
                .enumerate()
                .filter(|(i, _)| vocabulary.in_field(word, *i))
                .map(|(_, &(field, boost))| {
                    let term = TermQuery::new(
                        Term::from_field_text(field, word),
                        IndexRecordOption::WithFreqs,
                    );
                    Box::new(BoostQuery::new(Box::new(term), boost * weight)) as Box<dyn Query>
                })
                .collect();
            if let Some(query) = union(leaves) {
                alternatives.push(query);
            }
        }
        match alternatives.len() {
            0 => {}
            1 => compiled.extend(alternatives),
            _ => compiled.push(Box::new(DisjunctionMaxQuery::new(alternatives))),
        }
    }
    compiled
}

/// A sum over `queries`, or `None` when empty.
pub fn union(mut queries: Vec<Box<dyn Query>>) -> Option<Box<dyn Query>> {
    if queries.len() <= 1 {
        return queries.pop();
    }
    Some(Box::new(BooleanQuery::new(
        queries.into_iter().map(|q| (Occur::Should, q)).collect(),
    )))
}
