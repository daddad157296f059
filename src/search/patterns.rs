//! Words implied by the shape of a query token rather than its letters.
//!
//! Developers refer to objects by notation: `#general` is a chat channel,
//! `#45` an issue, `!17` a merge request, `PROJ-123` a tracker ticket,
//! `@alice` a user, `*.yaml` a file pattern, `src/auth.py` a file. The
//! analyzer strips that punctuation, so the notation is read here from the
//! raw text and turned into the words tools use for those objects.

/// Words implied by notations found in `text`, in order of appearance,
/// without duplicates.
pub fn implied_words(text: &str) -> Vec<&'static str> {
    let mut out: Vec<&'static str> = Vec::new();
    for raw in text.split_whitespace() {
        let token = raw.trim_end_matches([',', ';', ':', '?', '!', ')', '\'', '"']);
        let token = token.trim_start_matches(['(', '\'', '"']);
        for word in classify(token) {
            if !out.contains(word) {
                out.push(word);
            }
        }
    }
    out
}

fn classify(token: &str) -> &'static [&'static str] {
    let all = |s: &str, f: fn(char) -> bool| !s.is_empty() && s.chars().all(f);
    if token.contains("://") {
        return &["url"];
    }
    if let Some(rest) = token.strip_prefix('#') {
        if all(rest, |c| c.is_ascii_digit()) {
            return &["issue"];
        }
        if all(rest, |c| c.is_alphanumeric() || c == '-' || c == '_') {
            return &["channel"];
        }
    }
    if token
        .strip_prefix('!')
        .is_some_and(|rest| all(rest, |c| c.is_ascii_digit()))
    {
        return &["merge", "request"];
    }
    if token
        .strip_prefix('@')
        .is_some_and(|rest| all(rest, |c| c.is_alphanumeric() || c == '-' || c == '_'))
    {
        return &["user"];
    }
    if token
        .split_once('@')
        .is_some_and(|(local, domain)| !local.is_empty() && domain.contains('.'))
    {
        return &["email", "user"];
    }
    if is_ticket_key(token) {
        return &["issue"];
    }
    if token.contains('*') && token.contains('.') {
        return &["pattern", "file"];
    }
    if is_file_name(token) {
        return &["file"];
    }
    &[]
}

/// `PROJ-123`: an upper-case project key, a dash and a number.
fn is_ticket_key(token: &str) -> bool {
    token.split_once('-').is_some_and(|(key, number)| {
        key.len() >= 2
            && key
                .chars()
                .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit())
            && key.starts_with(|c: char| c.is_ascii_uppercase())
            && !number.is_empty()
            && number.chars().all(|c| c.is_ascii_digit())
    })
}

/// `src/auth.py`, `CHANGELOG.md`: a name with a short alphabetic extension.
/// Versions (`v1.2.0`) and domains with a scheme are handled elsewhere.
fn is_file_name(token: &str) -> bool {
    let Some((stem, ext)) = token.rsplit_once('.') else {
        return false;
    };
    !stem.is_empty()
        && (1..=4).contains(&ext.len())
        && ext.chars().all(|c| c.is_ascii_alphabetic())
        && stem.chars().any(|c| c.is_alphabetic())
        && !matches!(ext, "com" | "org" | "net" | "io" | "dev")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_common_notations() {
        assert_eq!(implied_words("what was said in #general?"), ["channel"]);
        assert_eq!(implied_words("close #45 now"), ["issue"]);
        assert_eq!(implied_words("approve !17"), ["merge", "request"]);
        assert_eq!(implied_words("move PROJ-123 along"), ["issue"]);
        assert_eq!(implied_words("ping @alice"), ["user"]);
        assert_eq!(implied_words("invite jane@example.com"), ["email", "user"]);
        assert_eq!(implied_words("find *.yaml"), ["pattern", "file"]);
        assert_eq!(implied_words("edit src/auth.py, then README.md"), ["file"]);
        assert_eq!(implied_words("open https://example.com/a"), ["url"]);
    }

    #[test]
    fn ignores_plain_words_versions_and_domains() {
        assert!(implied_words("list the open issues").is_empty());
        assert!(implied_words("compare v1.2.0 and 1.3").is_empty());
        assert!(implied_words("example.com # ! @ - .").is_empty());
        assert!(implied_words("").is_empty());
    }
}
