//! The identifier-aware tokenizer shared by every text field and by queries.
//!
//! Tool names are identifiers (`get_user_by_id`, `getUserByID`, `API-post-page`,
//! `s3.PutObject`) while descriptions are prose; one analyzer handles both so that
//! index time and query time always agree (a query `getUserById` must produce the
//! same terms as the indexed name). It is registered on the tantivy `Index` under
//! [`ANALYZER`] and the query builder runs the very same analyzer.

use tantivy::tokenizer::{
    Language, RemoveLongFilter, Stemmer, TextAnalyzer, Token, TokenStream, Tokenizer,
};

/// Name under which the analyzer is registered on the index.
pub const ANALYZER: &str = "tool_ident";

/// Tokens longer than this are base64 blobs, hashes or URLs glued together;
/// they never help ranking and would bloat the term dictionary.
const MAX_TOKEN_BYTES: usize = 40;

/// Splits identifiers and prose into lowercase word parts, then stems them.
///
/// Stemming applies to identifier parts as well: `list_releases` must meet a
/// query for "release".
pub fn analyzer() -> TextAnalyzer {
    TextAnalyzer::builder(IdentTokenizer)
        .filter(RemoveLongFilter::limit(MAX_TOKEN_BYTES))
        .filter(Stemmer::new(Language::English))
        .build()
}

/// Runs the analyzer over `text` and returns the produced terms in order.
pub fn terms(analyzer: &mut TextAnalyzer, text: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut stream = analyzer.token_stream(text);
    while let Some(token) = stream.next() {
        out.push(token.text.clone());
    }
    out
}

/// Splitting rules, applied to every maximal run of alphanumeric characters:
/// - lower→upper (`getUser` → get, user) and the end of an acronym
///   (`HTMLParser` → html, parser; `getUserByID` → get, user, by, id);
/// - letter↔digit (`ec2` → ec, 2; `oauth2` → oauth, 2);
/// - parts of one character are dropped when they came from a split (they are
///   noise: the `s` of `s3`), but the whole run is also emitted lowercased when
///   it was split, so `s3`, `ec2` and `putobject` still match as written.
#[derive(Clone, Copy, Debug, Default)]
pub struct IdentTokenizer;

/// Token stream over pre-computed tokens; tool texts are short, so producing
/// them eagerly is simpler than a lazy state machine and just as fast.
pub struct IdentTokenStream {
    tokens: Vec<Token>,
    index: usize,
    empty: Token,
}

impl Tokenizer for IdentTokenizer {
    type TokenStream<'a> = IdentTokenStream;

    fn token_stream<'a>(&'a mut self, text: &'a str) -> IdentTokenStream {
        let mut tokens = Vec::new();
        let mut position = 0;
        for (start, run) in alnum_runs(text) {
            split_run(run, start, &mut position, &mut tokens);
        }
        IdentTokenStream {
            tokens,
            index: 0,
            empty: Token::default(),
        }
    }
}

impl TokenStream for IdentTokenStream {
    fn advance(&mut self) -> bool {
        if self.index < self.tokens.len() {
            self.index += 1;
            true
        } else {
            false
        }
    }

    fn token(&self) -> &Token {
        self.index
            .checked_sub(1)
            .and_then(|i| self.tokens.get(i))
            .unwrap_or(&self.empty)
    }

    fn token_mut(&mut self) -> &mut Token {
        match self.index.checked_sub(1) {
            Some(i) if i < self.tokens.len() => &mut self.tokens[i],
            _ => &mut self.empty,
        }
    }
}

/// Maximal runs of alphanumeric characters with their byte offsets.
fn alnum_runs(text: &str) -> impl Iterator<Item = (usize, &str)> {
    let mut rest = text.char_indices().peekable();
    std::iter::from_fn(move || {
        while let Some(&(_, c)) = rest.peek() {
            if c.is_alphanumeric() {
                break;
            }
            rest.next();
        }
        let (start, _) = *rest.peek()?;
        let mut end = start;
        while let Some(&(i, c)) = rest.peek() {
            if !c.is_alphanumeric() {
                break;
            }
            end = i + c.len_utf8();
            rest.next();
        }
        Some((start, &text[start..end]))
    })
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Class {
    Lower,
    Upper,
    Digit,
}

fn class(c: char) -> Class {
    if c.is_numeric() {
        Class::Digit
    } else if c.is_uppercase() {
        Class::Upper
    } else {
        // Caseless letters (CJK, ...) behave like lowercase: no split inside.
        Class::Lower
    }
}

/// Byte offsets (within `run`) where a new part starts, excluding 0.
fn boundaries(run: &str) -> Vec<usize> {
    let chars: Vec<(usize, Class)> = run.char_indices().map(|(i, c)| (i, class(c))).collect();
    let mut cuts = Vec::new();
    for k in 1..chars.len() {
        let (i, cur) = chars[k];
        let prev = chars[k - 1].1;
        let next = chars.get(k + 1).map(|&(_, c)| c);
        let cut = match (prev, cur) {
            (Class::Lower, Class::Upper) => true,
            // "HTMLParser": cut before the 'P' that starts a capitalised word.
            (Class::Upper, Class::Upper) => next == Some(Class::Lower),
            (Class::Digit, Class::Digit) => false,
            (Class::Digit, _) | (_, Class::Digit) => true,
            _ => false,
        };
        if cut {
            cuts.push(i);
        }
    }
    cuts
}

fn split_run(run: &str, start: usize, position: &mut usize, out: &mut Vec<Token>) {
    let cuts = boundaries(run);
    let push = |out: &mut Vec<Token>, from: usize, to: usize, position: usize| {
        out.push(Token {
            offset_from: start + from,
            offset_to: start + to,
            position,
            text: run[from..to].to_lowercase(),
            position_length: 1,
        });
    };
    if cuts.is_empty() {
        push(out, 0, run.len(), *position);
        *position += 1;
        return;
    }
    // The joined form shares the first part's position (like a synonym).
    push(out, 0, run.len(), *position);
    let mut from = 0;
    for to in cuts.into_iter().chain(std::iter::once(run.len())) {
        if run[from..to].chars().count() > 1 {
            push(out, from, to, *position);
            *position += 1;
        }
        from = to;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn raw(text: &str) -> Vec<String> {
        let mut analyzer = TextAnalyzer::builder(IdentTokenizer).build();
        terms(&mut analyzer, text)
    }

    fn stemmed(text: &str) -> Vec<String> {
        terms(&mut analyzer(), text)
    }

    #[test]
    fn splits_snake_kebab_and_dots() {
        assert_eq!(raw("git_log"), ["git", "log"]);
        assert_eq!(raw("API-post-page"), ["api", "post", "page"]);
        assert_eq!(raw("s3.list"), ["s3", "list"]);
    }

    #[test]
    fn splits_camel_case_and_acronyms() {
        assert_eq!(
            raw("getUserByID"),
            ["getuserbyid", "get", "user", "by", "id"]
        );
        assert_eq!(raw("HTMLParser"), ["htmlparser", "html", "parser"]);
        assert_eq!(raw("PutObject"), ["putobject", "put", "object"]);
    }

    #[test]
    fn splits_letter_digit_boundaries_keeping_the_whole() {
        assert_eq!(raw("ec2"), ["ec2", "ec"]);
        assert_eq!(raw("s3"), ["s3"]);
        assert_eq!(raw("oauth2Token"), ["oauth2token", "oauth", "token"]);
        assert_eq!(raw("12345"), ["12345"]);
    }

    #[test]
    fn tolerates_odd_text() {
        assert!(raw("").is_empty());
        assert!(raw("  --- :: ").is_empty());
        assert_eq!(raw("naïve Ünïcode 東京"), ["naïve", "ünïcode", "東京"]);
    }

    #[test]
    fn stems_identifier_parts_and_prose_alike() {
        assert_eq!(stemmed("list_releases"), stemmed("list release"));
        assert_eq!(stemmed("Lists the releases"), ["list", "the", "releas"]);
    }
}
