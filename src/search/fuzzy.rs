//! Typo correction against the index's own vocabulary.
//!
//! tantivy's `FuzzyTermQuery` scores every match with a constant and fires for
//! correctly spelled words too, which lets near-miss words (`list`→`lint`)
//! drown exact hits. Instead, a query word that does not occur anywhere in the
//! index is corrected to the closest indexed terms, which are then scored with
//! real BM25 at a reduced weight. Words that do occur are never "corrected".

use std::collections::HashMap;

use tantivy::Searcher;
use tantivy::schema::Field;

/// Shorter prefixes match too much to mean anything.
const MIN_PREFIX_CHARS: usize = 3;

/// The indexed terms. Every field counts for "is this word known", but only
/// the prose-like fields (name, title, description) supply corrections and
/// extensions: parameter names are full of glued identifiers (`storedBytes`
/// → `storedbytes`) that make poor guesses. Candidates are bucketed by first
/// character: typos rarely hit the first letter, and the bucket keeps a
/// lookup to a few hundred comparisons even at 10,000 tools.
#[derive(Default)]
pub struct Vocabulary {
    /// Term → bit set of the fields (by position in the list given to
    /// [`Vocabulary::from_searcher`]) that contain it.
    known: HashMap<String, u8>,
    by_first: HashMap<char, Vec<(String, u32)>>,
}

impl Vocabulary {
    /// Reads the term dictionaries of every live segment. `fields` lists each
    /// text field (at most 8) and whether it is prose.
    pub fn from_searcher(searcher: &Searcher, fields: &[(Field, bool)]) -> tantivy::Result<Self> {
        let mut doc_freq: HashMap<String, u32> = HashMap::new();
        let mut known: HashMap<String, u8> = HashMap::new();
        for segment in searcher.segment_readers() {
            for (bit, &(field, is_prose)) in fields.iter().enumerate().take(8) {
                let inverted = segment.inverted_index(field)?;
                let mut stream = inverted.terms().stream()?;
                while stream.advance() {
                    let Ok(term) = std::str::from_utf8(stream.key()) else {
                        continue;
                    };
                    // Rebuilt on every index update: a key is allocated once per new term,
                    // not once per field and segment it occurs in.
                    if is_prose {
                        let freq = stream.value().doc_freq;
                        match doc_freq.get_mut(term) {
                            Some(total) => *total += freq,
                            None => {
                                doc_freq.insert(term.to_owned(), freq);
                            }
                        }
                    }
                    match known.get_mut(term) {
                        Some(mask) => *mask |= 1 << bit,
                        None => {
                            known.insert(term.to_owned(), 1 << bit);
                        }
                    }
                }
            }
        }
        let mut by_first: HashMap<char, Vec<(String, u32)>> = HashMap::new();
        for (term, freq) in doc_freq {
            if let Some(first) = term.chars().next() {
                by_first.entry(first).or_default().push((term, freq));
            }
        }
        // Sorted for prefix ranges and so equal-distance ties resolve the same way.
        for bucket in by_first.values_mut() {
            bucket.sort_unstable();
        }
        Ok(Self { known, by_first })
    }

    pub fn contains(&self, term: &str) -> bool {
        self.known.contains_key(term)
    }

    /// Whether `term` occurs in the field at position `field` of the list the
    /// vocabulary was built from; lets queries skip terms a field lacks.
    pub fn in_field(&self, term: &str, field: usize) -> bool {
        field < 8
            && self
                .known
                .get(term)
                .is_some_and(|mask| mask & (1 << field) != 0)
    }

    /// Indexed terms that extend `term` (`org` → `organ`, `star` →
    /// `stargaz`): abbreviations and word families that stemming misses.
    /// Most common first (rare ones are often glued identifiers such as
    /// `storedbytes`), at most `max`.
    pub fn extensions(&self, term: &str, max: usize) -> Vec<String> {
        if term.chars().count() < MIN_PREFIX_CHARS {
            return Vec::new();
        }
        let Some(bucket) = term.chars().next().and_then(|c| self.by_first.get(&c)) else {
            return Vec::new();
        };
        let start = bucket.partition_point(|(t, _)| t.as_str() <= term);
        let mut found: Vec<&(String, u32)> = bucket[start..]
            .iter()
            .take_while(|(t, _)| t.starts_with(term))
            .collect();
        found.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.len().cmp(&b.0.len())));
        found
            .into_iter()
            .take(max)
            .map(|(t, _)| t.clone())
            .collect()
    }

    /// The closest indexed terms to an unknown `term`, best first, at most `max`.
    ///
    /// Allowed distance grows with length: short words have too many
    /// neighbours to guess from (only a swap of two letters is accepted for
    /// three-letter words), long ones tolerate two edits.
    pub fn corrections(&self, term: &str, max: usize) -> Vec<String> {
        let chars: Vec<char> = term.chars().collect();
        let limit = match chars.len() {
            0..=2 => return Vec::new(),
            3..=7 => 1,
            _ => 2,
        };
        let Some(bucket) = chars.first().and_then(|c| self.by_first.get(c)) else {
            return Vec::new();
        };
        let mut found: Vec<(usize, u32, &str)> = Vec::new();
        let mut other: Vec<char> = Vec::new();
        for (candidate, freq) in bucket {
            let len = candidate.chars().count();
            if len.abs_diff(chars.len()) > limit || len < 3 {
                continue;
            }
            other.clear();
            other.extend(candidate.chars());
            let Some(distance) = osa_distance(&chars, &other, limit) else {
                continue;
            };
            if chars.len() == 3 && !is_transposition(&chars, &other) {
                continue;
            }
            found.push((distance, *freq, candidate));
        }
        // Nearest first; among equals the more common term is the likelier intent.
        found.sort_by(|a, b| a.0.cmp(&b.0).then(b.1.cmp(&a.1)).then(a.2.cmp(b.2)));
        let best = found.first().map(|f| f.0);
        found
            .into_iter()
            .filter(|f| Some(f.0) == best)
            .take(max)
            .map(|f| f.2.to_owned())
            .collect()
    }
}

fn is_transposition(a: &[char], b: &[char]) -> bool {
    let diff: Vec<usize> = (0..a.len()).filter(|&i| a.get(i) != b.get(i)).collect();
    a.len() == b.len()
        && matches!(diff.as_slice(), [i, j] if *j == i + 1 && a[*i] == b[*j] && a[*j] == b[*i])
}

/// Optimal-string-alignment distance (edits plus adjacent swaps), or `None`
/// as soon as it must exceed `limit`.
fn osa_distance(a: &[char], b: &[char], limit: usize) -> Option<usize> {
    let width = b.len() + 1;
    let mut prev2 = vec![0usize; width];
    let mut prev: Vec<usize> = (0..width).collect();
    let mut cur = vec![0usize; width];
    for i in 1..=a.len() {
        cur[0] = i;
        let mut row_min = cur[0];
        for j in 1..width {
            let cost = usize::from(a[i - 1] != b[j - 1]);
            let mut d = (prev[j] + 1).min(cur[j - 1] + 1).min(prev[j - 1] + cost);
            if i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] {
                d = d.min(prev2[j - 2] + 1);
            }
            cur[j] = d;
            row_min = row_min.min(d);
        }
        if row_min > limit {
            return None;
        }
        std::mem::swap(&mut prev2, &mut prev);
        std::mem::swap(&mut prev, &mut cur);
    }
    prev.last().copied().filter(|&d| d <= limit)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn chars(s: &str) -> Vec<char> {
        s.chars().collect()
    }

    fn vocab(terms: &[(&str, u32)]) -> Vocabulary {
        let mut by_first: HashMap<char, Vec<(String, u32)>> = HashMap::new();
        for (t, f) in terms {
            if let Some(c) = t.chars().next() {
                by_first.entry(c).or_default().push(((*t).to_owned(), *f));
            }
        }
        for bucket in by_first.values_mut() {
            bucket.sort_unstable();
        }
        let known = terms.iter().map(|(t, _)| ((*t).to_owned(), 1)).collect();
        Vocabulary { known, by_first }
    }

    #[test]
    fn distance_counts_swaps_as_one() {
        assert_eq!(osa_distance(&chars("serach"), &chars("search"), 2), Some(1));
        assert_eq!(
            osa_distance(&chars("colect"), &chars("collect"), 2),
            Some(1)
        );
        assert_eq!(osa_distance(&chars("abc"), &chars("xyz"), 1), None);
        assert_eq!(osa_distance(&chars(""), &chars("ab"), 2), Some(2));
    }

    #[test]
    fn corrects_only_to_the_nearest_terms() {
        let v = vocab(&[("search", 5), ("serial", 1), ("run", 3), ("rust", 1)]);
        assert_eq!(v.corrections("serach", 3), ["search"]);
        assert_eq!(v.corrections("rnu", 3), ["run"]);
        assert!(v.corrections("ru", 3).is_empty());
        assert!(v.corrections("zzzz", 3).is_empty());
        assert!(v.contains("run") && !v.contains("rnu"));
    }
}
