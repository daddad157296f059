//! Long requests: an agent may send a whole task ("make a PDF report of this week's trends
//! with a word cloud, then email it to the team") rather than one need. One embedding of
//! the whole text blurs its parts together; the semantic channel therefore also embeds
//! each clause and scores a tool by its best match with the text or any clause, so each
//! distinct need can bring its own tool into the list.

/// Clauses shorter than this many words are fragments ("then", "and so on"), not needs.
const MIN_WORDS: usize = 3;
/// More clauses than this cost query time for little gain.
const MAX_CLAUSES: usize = 6;

/// The clauses of `query` when it has at least two real ones; empty otherwise.
pub fn split(query: &str) -> Vec<String> {
    let mut clauses: Vec<String> = Vec::new();
    let mut current = String::new();
    let flush = |current: &mut String, clauses: &mut Vec<String>| {
        let clause = current.trim().to_owned();
        if clause.split_whitespace().count() >= MIN_WORDS {
            clauses.push(clause);
        } else if let Some(last) = clauses.last_mut() {
            // A fragment belongs to the clause before it.
            if !clause.is_empty() {
                last.push(' ');
                last.push_str(&clause);
            }
        }
        current.clear();
    };
    let words: Vec<&str> = query.split_whitespace().collect();
    for (i, word) in words.iter().enumerate() {
        let lower = word.to_lowercase();
        let next = words.get(i + 1).map(|w| w.to_lowercase());
        // Joining words that start a new step.
        let starts_step = matches!(lower.as_str(), "then" | "afterwards" | "finally" | "next")
            || (lower == "and"
                && next
                    .as_deref()
                    .is_some_and(|n| n == "then" || n == "finally"));
        if starts_step && !current.trim().is_empty() {
            flush(&mut current, &mut clauses);
        }
        current.push_str(word);
        current.push(' ');
        // Sentence ends and semicolons close a clause (but not "e.g." or "3.5").
        let ends =
            word.ends_with(['.', '!', '?', ';']) && word.chars().filter(|c| *c == '.').count() <= 1;
        if ends {
            flush(&mut current, &mut clauses);
        }
    }
    flush(&mut current, &mut clauses);
    clauses.truncate(MAX_CLAUSES);
    if clauses.len() < 2 {
        Vec::new()
    } else {
        clauses
    }
}

#[cfg(test)]
mod tests {
    use super::split;

    #[test]
    fn a_task_splits_into_its_steps() {
        let c = split(
            "Find the latest sales figures in the database. Then draw a bar chart of them; finally send the chart to the team by email.",
        );
        assert_eq!(c.len(), 3, "{c:?}");
        assert!(c[1].starts_with("Then draw"));
        assert!(c[2].starts_with("finally send"));
    }

    #[test]
    fn a_single_need_is_not_split() {
        assert!(split("what time is it in Tokyo right now?").is_empty());
        assert!(split("list files. ok.").is_empty());
    }
}
