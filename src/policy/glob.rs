//! Name globs of policy rules: `*`, `?`, `[abc]` and `{a,b}` over a whole server or tool
//! name (globset syntax), case-sensitive like the names themselves.

use std::fmt;

use globset::{Glob, GlobMatcher};

/// One compiled glob, compared by its text.
#[derive(Clone)]
pub struct Pattern {
    text: String,
    matcher: GlobMatcher,
}

impl Pattern {
    /// # Errors
    ///
    /// The glob's syntax error, in globset's words.
    pub fn new(text: &str) -> Result<Pattern, String> {
        let glob = Glob::new(text).map_err(|e| format!("`{text}` is not a valid glob: {e}"))?;
        Ok(Pattern {
            text: text.to_owned(),
            matcher: glob.compile_matcher(),
        })
    }

    pub fn matches(&self, name: &str) -> bool {
        self.matcher.is_match(name)
    }

    pub fn as_str(&self) -> &str {
        &self.text
    }
}

impl PartialEq for Pattern {
    fn eq(&self, other: &Self) -> bool {
        self.text == other.text
    }
}

impl Eq for Pattern {}

impl fmt::Debug for Pattern {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:?}", self.text)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn whole_names_match() {
        let p = Pattern::new("delete_*").unwrap();
        assert!(p.matches("delete_file"));
        assert!(!p.matches("undelete_file"));
        let p = Pattern::new("{write,edit}_file").unwrap();
        assert!(p.matches("edit_file") && p.matches("write_file") && !p.matches("read_file"));
        assert!(Pattern::new("a[").is_err());
    }
}
