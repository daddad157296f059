//! Combining the lexical and the semantic ranking into one list.
//!
//! Three families are implemented so they can be compared on the same candidates
//! (`examples/search_cv.rs` chooses between them by cross-validation; [`DEFAULT`] is its
//! choice): weighted reciprocal-rank fusion, a convex combination of normalised scores,
//! and the convex combination behind a lexical-confidence gate (when the lexical top hit
//! stands far above the rest, trust it more).

/// `(server, tool)`.
pub type ToolKey = (String, String);

/// Both channels' candidates for one query, each best first.
#[derive(Clone, Debug, Default)]
pub struct Candidates {
    /// Lexical (BM25F, coverage re-ranked) scores.
    pub lexical: Vec<(ToolKey, f32)>,
    /// Cosine similarities with the query's embedding; empty when the channel is off.
    pub dense: Vec<(ToolKey, f32)>,
}

/// How to fuse.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Fusion {
    Lexical,
    Dense,
    /// `w_lex/(k + rank_lex) + w_dense/(k + rank_dense)`, with `w_lex = 1`.
    Rrf {
        k: f32,
        dense_weight: f32,
    },
    /// `(1 - alpha)·lex/lex_max + alpha·(cos - cos_min)/(cos_max - cos_min)`.
    Convex {
        alpha: f32,
    },
    /// `Convex` with `alpha_confident` instead of `alpha` when the lexical runner-up scores
    /// at most `(1 - margin)` of the top hit.
    Gated {
        alpha: f32,
        margin: f32,
        alpha_confident: f32,
    },
}

/// The fusion the product uses, chosen by `cargo run --release --example search-cv`
/// (held-out numbers in BENCHMARKS.md).
pub const DEFAULT: Fusion = Fusion::Gated {
    alpha: 0.5,
    margin: 0.35,
    alpha_confident: 0.4,
};

/// A built-in catalog tool's fused score is scaled by this: the user's own backends say
/// what they want to use, so they win ties and near-ties; a catalog tool still wins when it
/// matches clearly better.
pub const DEMOTED_FACTOR: f32 = 0.9;

/// One fused list, best first. Tools on `demoted` (the built-in catalog) are scaled by
/// [`DEMOTED_FACTOR`] and lose exact ties; the rest of a tie goes by name, so the order
/// never depends on index layout.
pub fn fuse(c: &Candidates, how: Fusion, demoted: Option<&str>) -> Vec<(ToolKey, f32)> {
    let dense_on = !c.dense.is_empty();
    let mut scores: Vec<(ToolKey, f32)> = match how {
        _ if !dense_on => c.lexical.clone(),
        Fusion::Lexical => c.lexical.clone(),
        Fusion::Dense => c.dense.clone(),
        Fusion::Rrf { k, dense_weight } => {
            let mut acc = Acc::default();
            for (rank, (key, _)) in c.lexical.iter().enumerate() {
                acc.add(key, 1.0 / (k + rank as f32 + 1.0));
            }
            for (rank, (key, _)) in c.dense.iter().enumerate() {
                acc.add(key, dense_weight / (k + rank as f32 + 1.0));
            }
            acc.0
        }
        Fusion::Convex { alpha } => convex(c, alpha),
        Fusion::Gated {
            alpha,
            margin,
            alpha_confident,
        } => {
            let confident = match (c.lexical.first(), c.lexical.get(1)) {
                (Some((_, top)), Some((_, next))) => *top > 0.0 && *next <= (1.0 - margin) * top,
                (Some(_), None) => true,
                _ => false,
            };
            convex(c, if confident { alpha_confident } else { alpha })
        }
    };
    let demoted = |k: &ToolKey| demoted.is_some_and(|d| d == k.0);
    for (key, score) in &mut scores {
        if demoted(key) {
            *score *= DEMOTED_FACTOR;
        }
    }
    scores.sort_by(|a, b| {
        b.1.total_cmp(&a.1)
            .then_with(|| demoted(&a.0).cmp(&demoted(&b.0)))
            .then_with(|| a.0.cmp(&b.0))
    });
    scores
}

fn convex(c: &Candidates, alpha: f32) -> Vec<(ToolKey, f32)> {
    let lex_max = c.lexical.first().map_or(0.0, |(_, s)| *s);
    let cos_max = c.dense.first().map_or(0.0, |(_, s)| *s);
    let cos_min = c.dense.last().map_or(0.0, |(_, s)| *s);
    let spread = (cos_max - cos_min).max(1e-6);
    let mut acc = Acc::default();
    if lex_max > 0.0 {
        for (key, s) in &c.lexical {
            acc.add(key, (1.0 - alpha) * s / lex_max);
        }
    }
    for (key, s) in &c.dense {
        acc.add(key, alpha * (s - cos_min) / spread);
    }
    acc.0
}

/// Sums per tool; lists are short (≤ 100), so a linear scan beats hashing.
#[derive(Default)]
struct Acc(Vec<(ToolKey, f32)>);

impl Acc {
    fn add(&mut self, key: &ToolKey, score: f32) {
        match self.0.iter_mut().find(|(k, _)| k == key) {
            Some((_, s)) => *s += score,
            None => self.0.push((key.clone(), score)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(t: &str) -> ToolKey {
        ("s".into(), t.into())
    }

    #[test]
    fn lexical_only_when_the_dense_channel_is_empty() {
        let c = Candidates {
            lexical: vec![(key("a"), 3.0), (key("b"), 1.0)],
            dense: vec![],
        };
        let fused = fuse(&c, DEFAULT, None);
        assert_eq!(fused[0].0, key("a"));
        assert_eq!(fused.len(), 2);
    }

    #[test]
    fn a_tool_both_channels_like_beats_one_only_one_likes() {
        let c = Candidates {
            lexical: vec![(key("a"), 3.0), (key("b"), 2.9)],
            dense: vec![(key("b"), 0.8), (key("c"), 0.7), (key("a"), 0.1)],
        };
        for how in [
            Fusion::Rrf {
                k: 10.0,
                dense_weight: 1.0,
            },
            Fusion::Convex { alpha: 0.5 },
        ] {
            assert_eq!(fuse(&c, how, None)[0].0, key("b"), "{how:?}");
        }
    }

    #[test]
    fn ties_go_to_the_users_own_backends() {
        let c = Candidates {
            lexical: vec![
                (("capabilities".into(), "a".into()), 1.0),
                (("time".into(), "b".into()), 1.0),
            ],
            dense: vec![],
        };
        let fused = fuse(&c, DEFAULT, Some("capabilities"));
        assert_eq!(fused[0].0.0, "time");
    }
}
