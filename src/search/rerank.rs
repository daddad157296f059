//! Second ranking stage: rewards tools that match more of the query's words.
//!
//! Plain BM25 sums per-word scores, so one rare word in a short tool name
//! (`open` in `open_nodes`) outweighs a tool whose description matches most of
//! a sentence. The first stage (a flat union of all terms) proposes
//! candidates; here each query word's own scorer is seeked to every candidate
//! to learn how well it matched, and the sum of the words' scores is scaled by
//! the share of the query's weight the candidate covered.

use tantivy::query::{EnableScoring, Query};
use tantivy::{DocAddress, DocId, DocSet, Score, Searcher};

/// Sends ranking through the coverage factor `share^COVERAGE_EXPONENT`.
const COVERAGE_EXPONENT: f32 = 2.0;

/// Re-scores `candidates` (first-stage score, address) given one query per
/// query word; returns them best first.
pub fn by_coverage(
    searcher: &Searcher,
    groups: &[Box<dyn Query>],
    candidates: Vec<(Score, DocAddress)>,
) -> tantivy::Result<Vec<(Score, DocAddress)>> {
    let scores = group_scores(searcher, groups, &candidates)?;
    // A word's importance is the best score it reaches among the candidates:
    // words that match nothing here (names, numbers, typos) do not count
    // against anyone, and rare or name-level matches weigh more.
    let importance: Vec<Score> = (0..groups.len())
        .map(|g| scores.iter().map(|row| row[g]).fold(0.0, Score::max))
        .collect();
    let total: Score = importance.iter().sum();
    if total <= 0.0 {
        return Ok(candidates);
    }
    let mut ranked: Vec<(Score, DocAddress)> = candidates
        .iter()
        .zip(&scores)
        .map(|(&(_, address), row)| {
            let score: Score = row.iter().sum();
            let covered: Score = row
                .iter()
                .zip(&importance)
                .filter(|(s, _)| **s > 0.0)
                .map(|(_, w)| w)
                .sum();
            (score * (covered / total).powf(COVERAGE_EXPONENT), address)
        })
        .collect();
    ranked.sort_by(|a, b| b.0.total_cmp(&a.0).then(a.1.cmp(&b.1)));
    Ok(ranked)
}

/// `scores[candidate][group]`: each group's score on each candidate (0 when
/// the group does not match it).
fn group_scores(
    searcher: &Searcher,
    groups: &[Box<dyn Query>],
    candidates: &[(Score, DocAddress)],
) -> tantivy::Result<Vec<Vec<Score>>> {
    let mut scores = vec![vec![0.0; groups.len()]; candidates.len()];
    // Scorers only move forward: visit candidates segment by segment in doc order.
    let mut order: Vec<usize> = (0..candidates.len()).collect();
    order.sort_by_key(|&i| candidates[i].1);
    let weights = groups
        .iter()
        .map(|q| q.weight(EnableScoring::enabled_from_searcher(searcher)))
        .collect::<tantivy::Result<Vec<_>>>()?;
    let mut start = 0;
    while start < order.len() {
        let segment = candidates[order[start]].1.segment_ord;
        let end = order[start..]
            .iter()
            .position(|&i| candidates[i].1.segment_ord != segment)
            .map_or(order.len(), |n| start + n);
        let reader = searcher.segment_reader(segment);
        for (g, weight) in weights.iter().enumerate() {
            let mut scorer = weight.scorer(reader, 1.0)?;
            for &i in &order[start..end] {
                let doc: DocId = candidates[i].1.doc_id;
                if scorer.doc() < doc {
                    scorer.seek(doc);
                }
                if scorer.doc() == doc {
                    scores[i][g] = scorer.score();
                }
            }
        }
        start = end;
    }
    Ok(scores)
}
