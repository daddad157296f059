//! A small JSONC parser that keeps byte positions, so edits can splice text into a user's
//! file instead of re-serialising it.
//!
//! It accepts what the clients accept: `//` and `/* */` comments, trailing commas and a
//! UTF-8 byte-order mark. Every object member records where its key starts, where its value
//! ends and where its comma is; that is all the editor needs to insert, replace or delete a
//! member without touching anything else.

use serde_json::{Map, Value};

/// A parse failure: byte offset plus the 1-based line and column it falls on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SyntaxError {
    pub line: usize,
    pub column: usize,
    pub message: String,
}

/// A JSON value with its byte span in the source.
#[derive(Debug, Clone)]
pub struct Node {
    pub start: usize,
    pub end: usize,
    pub kind: Kind,
}

#[derive(Debug, Clone)]
pub enum Kind {
    Object(Vec<Member>),
    Array(Vec<Node>),
    Scalar(Value),
}

/// One `"key": value` pair of an object.
#[derive(Debug, Clone)]
pub struct Member {
    pub key: String,
    pub key_start: usize,
    pub value: Node,
    /// Offset of the `,` that follows the value, if any.
    pub comma: Option<usize>,
}

impl Node {
    pub fn members(&self) -> &[Member] {
        match &self.kind {
            Kind::Object(members) => members,
            _ => &[],
        }
    }

    pub fn get(&self, key: &str) -> Option<&Node> {
        self.members()
            .iter()
            .rev() // JSON.parse keeps the last duplicate
            .find(|m| m.key == key)
            .map(|m| &m.value)
    }

    pub fn is_object(&self) -> bool {
        matches!(self.kind, Kind::Object(_))
    }

    /// The plain JSON value (comments gone, duplicate keys resolved like `JSON.parse`).
    pub fn to_value(&self) -> Value {
        match &self.kind {
            Kind::Scalar(v) => v.clone(),
            Kind::Array(items) => Value::Array(items.iter().map(Node::to_value).collect()),
            Kind::Object(members) => {
                let mut map = Map::new();
                for m in members {
                    map.insert(m.key.clone(), m.value.to_value());
                }
                Value::Object(map)
            }
        }
    }
}

/// Parses a whole document. An empty (or whitespace and comments only) file is an error;
/// callers that accept a missing file treat it before parsing.
pub fn parse(text: &str) -> Result<Node, SyntaxError> {
    let mut p = Parser {
        s: text.as_bytes(),
        text,
        i: 0,
    };
    if text.starts_with('\u{feff}') {
        p.i = 3;
    }
    p.skip_trivia()?;
    let node = p.value(0)?;
    p.skip_trivia()?;
    if p.i < p.s.len() {
        return Err(p.error("unexpected text after the JSON value"));
    }
    Ok(node)
}

/// 1-based line and column of a byte offset (columns count characters).
pub fn line_col(text: &str, offset: usize) -> (usize, usize) {
    let before = &text[..offset.min(text.len())];
    let line = before.matches('\n').count() + 1;
    let line_start = before.rfind('\n').map_or(0, |i| i + 1);
    (line, before[line_start..].chars().count() + 1)
}

struct Parser<'a> {
    s: &'a [u8],
    text: &'a str,
    i: usize,
}

const MAX_DEPTH: usize = 256;

impl Parser<'_> {
    fn error(&self, message: &str) -> SyntaxError {
        let (line, column) = line_col(self.text, self.i);
        SyntaxError {
            line,
            column,
            message: message.to_owned(),
        }
    }

    fn skip_trivia(&mut self) -> Result<(), SyntaxError> {
        loop {
            match self.s.get(self.i) {
                Some(b' ' | b'\t' | b'\r' | b'\n') => self.i += 1,
                Some(b'/') if self.s.get(self.i + 1) == Some(&b'/') => {
                    while self.i < self.s.len() && self.s[self.i] != b'\n' {
                        self.i += 1;
                    }
                }
                Some(b'/') if self.s.get(self.i + 1) == Some(&b'*') => {
                    let start = self.i;
                    self.i += 2;
                    loop {
                        if self.i + 1 >= self.s.len() {
                            self.i = start;
                            return Err(self.error("unterminated /* comment"));
                        }
                        if self.s[self.i] == b'*' && self.s[self.i + 1] == b'/' {
                            self.i += 2;
                            break;
                        }
                        self.i += 1;
                    }
                }
                _ => return Ok(()),
            }
        }
    }

    fn value(&mut self, depth: usize) -> Result<Node, SyntaxError> {
        if depth > MAX_DEPTH {
            return Err(self.error("nested too deeply"));
        }
        let start = self.i;
        let kind = match self.s.get(self.i) {
            Some(b'{') => self.object(depth)?,
            Some(b'[') => self.array(depth)?,
            Some(b'"') => Kind::Scalar(Value::String(self.string()?)),
            Some(b't') => self.word("true", Value::Bool(true))?,
            Some(b'f') => self.word("false", Value::Bool(false))?,
            Some(b'n') => self.word("null", Value::Null)?,
            Some(b'-' | b'0'..=b'9') => self.number()?,
            Some(_) => return Err(self.error("expected a JSON value")),
            None => return Err(self.error("unexpected end of file")),
        };
        Ok(Node {
            start,
            end: self.i,
            kind,
        })
    }

    fn word(&mut self, word: &str, value: Value) -> Result<Kind, SyntaxError> {
        if self.s[self.i..].starts_with(word.as_bytes()) {
            self.i += word.len();
            Ok(Kind::Scalar(value))
        } else {
            Err(self.error("expected a JSON value"))
        }
    }

    fn number(&mut self) -> Result<Kind, SyntaxError> {
        let start = self.i;
        while let Some(b'-' | b'+' | b'.' | b'e' | b'E' | b'0'..=b'9') = self.s.get(self.i) {
            self.i += 1;
        }
        let text = &self.text[start..self.i];
        serde_json::from_str::<Value>(text)
            .map(Kind::Scalar)
            .map_err(|_| {
                self.i = start;
                self.error("invalid number")
            })
    }

    fn string(&mut self) -> Result<String, SyntaxError> {
        let start = self.i;
        self.i += 1;
        loop {
            match self.s.get(self.i) {
                None | Some(b'\n') => {
                    self.i = start;
                    return Err(self.error("unterminated string"));
                }
                Some(b'\\') => self.i += 2,
                Some(b'"') => {
                    self.i += 1;
                    break;
                }
                Some(_) => self.i += 1,
            }
        }
        serde_json::from_str::<String>(&self.text[start..self.i]).map_err(|_| {
            self.i = start;
            self.error("invalid string escape")
        })
    }

    fn object(&mut self, depth: usize) -> Result<Kind, SyntaxError> {
        self.i += 1;
        let mut members: Vec<Member> = Vec::new();
        loop {
            self.skip_trivia()?;
            match self.s.get(self.i) {
                Some(b'}') => {
                    self.i += 1;
                    return Ok(Kind::Object(members));
                }
                Some(b'"') => {}
                _ => return Err(self.error("expected a quoted key or `}`")),
            }
            if members.last().is_some_and(|m| m.comma.is_none()) {
                return Err(self.error("expected `,` or `}`"));
            }
            let key_start = self.i;
            let key = self.string()?;
            self.skip_trivia()?;
            if self.s.get(self.i) != Some(&b':') {
                return Err(self.error("expected `:` after the key"));
            }
            self.i += 1;
            self.skip_trivia()?;
            let value = self.value(depth + 1)?;
            self.skip_trivia()?;
            let comma = (self.s.get(self.i) == Some(&b',')).then(|| {
                self.i += 1;
                self.i - 1
            });
            if comma.is_none() && self.s.get(self.i) != Some(&b'}') {
                return Err(self.error("expected `,` or `}`"));
            }
            members.push(Member {
                key,
                key_start,
                value,
                comma,
            });
        }
    }

    fn array(&mut self, depth: usize) -> Result<Kind, SyntaxError> {
        self.i += 1;
        let mut items = Vec::new();
        loop {
            self.skip_trivia()?;
            if self.s.get(self.i) == Some(&b']') {
                self.i += 1;
                return Ok(Kind::Array(items));
            }
            items.push(self.value(depth + 1)?);
            self.skip_trivia()?;
            match self.s.get(self.i) {
                Some(b',') => self.i += 1,
                Some(b']') => {}
                _ => return Err(self.error("expected `,` or `]`")),
            }
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn parses_jsonc_with_spans() {
        let text = "\u{feff}// head\n{\n  \"a\": [1, 2,], /* x */\n  \"b\": {\"c\": null},\n}\n";
        let root = parse(text).unwrap();
        assert_eq!(root.members().len(), 2);
        let a = &root.members()[0];
        assert_eq!(&text[a.value.start..a.value.end], "[1, 2,]");
        assert!(a.comma.is_some());
        assert_eq!(
            root.to_value(),
            serde_json::json!({"a": [1, 2], "b": {"c": null}})
        );
    }

    #[test]
    fn errors_name_line_and_column() {
        let err = parse("{\n  \"a\": 1\n  \"b\": 2\n}").unwrap_err();
        assert_eq!((err.line, err.column), (3, 3));
        let err = parse("{\"a\": tru}").unwrap_err();
        assert_eq!(err.line, 1);
        assert!(parse("{} x").is_err());
        assert!(parse("{\"a\": \"x\n\"}").is_err());
        assert!(parse("/* open").is_err());
    }
}

/// Every sample client file: the parser agrees with `serde_json` on strict JSON, and no
/// prefix of any file (a torn write, say) makes it panic.
#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod fixture_tests {
    use super::*;

    fn samples() -> Vec<(String, String)> {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/clients");
        let mut out = Vec::new();
        let mut stack = vec![root];
        while let Some(dir) = stack.pop() {
            for entry in std::fs::read_dir(dir).unwrap() {
                let path = entry.unwrap().path();
                if path.is_dir() {
                    stack.push(path);
                } else if path
                    .extension()
                    .is_some_and(|e| e == "json" || e == "jsonc")
                {
                    out.push((
                        path.display().to_string(),
                        std::fs::read_to_string(&path).unwrap(),
                    ));
                }
            }
        }
        assert!(out.len() >= 20);
        out
    }

    #[test]
    fn agrees_with_serde_json_and_never_panics_on_prefixes() {
        for (name, text) in samples() {
            let node = parse(&text).unwrap_or_else(|e| panic!("{name}: {e:?}"));
            if let Ok(strict) = serde_json::from_str::<serde_json::Value>(&text) {
                assert_eq!(node.to_value(), strict, "{name}");
            }
            for (i, _) in text.char_indices() {
                let _ = parse(&text[..i]);
            }
            // Damage it here and there: errors, never panics, and an edit of whatever still
            // parses never panics either.
            for (i, _) in text.char_indices().step_by(5) {
                for junk in [",", "}", "{", "\"", "/*", "//", "\\", "]", ":", "\u{feff}"] {
                    let mut bad = text.clone();
                    bad.insert_str(i, junk);
                    if parse(&bad).is_ok() {
                        let entry = vec![("command".to_owned(), serde_json::json!("/gw"))];
                        let _ = crate::export::jsonc_edit::set_member(
                            &bad,
                            &["mcpServers"],
                            "g",
                            &entry,
                        );
                    }
                }
            }
        }
    }
}
