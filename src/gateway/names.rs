//! Tool names the client sees: `<server>__<tool>` for flat mode and surfaced tools, kept
//! to `^[A-Za-z0-9_-]{1,64}$` (what real clients accept), and "did you mean" suggestions.

use std::collections::BTreeMap;

use sha2::{Digest, Sha256};

/// Longest tool name clients reliably accept (Claude Desktop rejects the whole list past it).
pub const MAX_NAME: usize = 64;

/// The exposed name of `tool` on `server`, before collision handling.
pub fn flat_name(server: &str, tool: &str) -> String {
    let raw = format!("{server}__{tool}");
    let clean: String = raw
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '_' || c == '-' {
                c
            } else {
                '_'
            }
        })
        .collect();
    if clean == raw && clean.len() <= MAX_NAME {
        return clean;
    }
    hashed(&clean, &raw, 0)
}

/// Truncate and append a short hash of the raw name, so distinct raw names stay distinct.
fn hashed(clean: &str, raw: &str, salt: u32) -> String {
    let mut hasher = Sha256::new();
    hasher.update(raw.as_bytes());
    hasher.update(salt.to_le_bytes());
    let digest = hasher.finalize();
    let tag: String = digest[..4].iter().map(|b| format!("{b:02x}")).collect();
    let keep = MAX_NAME - tag.len() - 1;
    // `clean` is ASCII, so byte truncation is char-safe.
    let head = &clean[..clean.len().min(keep)];
    format!("{head}_{tag}")
}

/// Exposed name → `(server, tool)` for every pair, unique even when sanitising or
/// truncation makes two names meet.
pub fn flat_names<'a>(
    pairs: impl IntoIterator<Item = (&'a str, &'a str)>,
) -> BTreeMap<String, (String, String)> {
    let mut map = BTreeMap::new();
    for (server, tool) in pairs {
        let mut name = flat_name(server, tool);
        let mut salt = 1;
        while map.contains_key(&name) {
            name = hashed(&name, &format!("{server}__{tool}"), salt);
            salt += 1;
        }
        map.insert(name, (server.to_owned(), tool.to_owned()));
    }
    map
}

/// Up to three candidates closest to `wanted`, best first.
pub fn suggest<'a>(wanted: &str, candidates: impl IntoIterator<Item = &'a str>) -> Vec<String> {
    let wanted = wanted.to_lowercase();
    let mut scored: Vec<(f64, &str)> = candidates
        .into_iter()
        .filter_map(|c| {
            let lower = c.to_lowercase();
            let mut score = strsim::jaro_winkler(&wanted, &lower);
            if !wanted.is_empty() && (lower.contains(&wanted) || wanted.contains(&lower)) {
                score = score.max(0.9);
            }
            (score >= 0.75).then_some((score, c))
        })
        .collect();
    scored.sort_by(|a, b| b.0.total_cmp(&a.0).then_with(|| a.1.cmp(b.1)));
    scored
        .into_iter()
        .take(3)
        .map(|(_, c)| c.to_owned())
        .collect()
}

/// "; did you mean `a`, `b`?" or nothing.
pub fn did_you_mean(suggestions: &[String]) -> String {
    if suggestions.is_empty() {
        return String::new();
    }
    let list: Vec<String> = suggestions.iter().map(|s| format!("`{s}`")).collect();
    format!("; did you mean {}?", list.join(", "))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn valid(name: &str) -> bool {
        !name.is_empty()
            && name.len() <= MAX_NAME
            && name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
    }

    #[test]
    fn plain_names_are_kept() {
        assert_eq!(flat_name("git", "git_log"), "git__git_log");
    }

    #[test]
    fn odd_and_long_names_are_made_valid() {
        let dotted = flat_name("aws", "s3.list.buckets");
        assert!(valid(&dotted), "{dotted}");
        assert!(dotted.starts_with("aws__s3_list_buckets_"));
        let long = flat_name("server", &"x".repeat(100));
        assert!(valid(&long), "{long}");
        assert_eq!(long.len(), MAX_NAME);
    }

    #[test]
    fn colliding_names_stay_unique() {
        let map = flat_names([("s", "a.b"), ("s", "a_b"), ("s", "a-b"), ("s", "a b")]);
        assert_eq!(map.len(), 4);
        assert!(map.keys().all(|k| valid(k)));
        let long_a = "y".repeat(80) + "a";
        let long_b = "y".repeat(80) + "b";
        let map = flat_names([("s", long_a.as_str()), ("s", long_b.as_str())]);
        assert_eq!(map.len(), 2);
    }

    #[test]
    fn suggestions_rank_close_names_first() {
        let got = suggest(
            "get_curent_time",
            ["convert_time", "get_current_time", "echo"],
        );
        assert_eq!(got.first().map(String::as_str), Some("get_current_time"));
        assert!(suggest("zzzz", ["echo", "time"]).is_empty());
        assert_eq!(
            did_you_mean(&got[..1]),
            "; did you mean `get_current_time`?"
        );
    }
}
