//! Newline-delimited JSON-RPC framing with a size limit, shared by the client-facing stdio
//! transport (`gateway::wire`) and stdio backends (`backend::stdio`).
//!
//! A line over the limit is not silently dropped: it is read to its end (never buffered),
//! and a streaming scan picks out its top-level `id` and whether it has a `method`, so
//! the side that reads it can answer the request, or fail the call, with an error that
//! names the size and the limit instead of leaving the peer waiting.

use serde_json::Value;
use tokio::io::{AsyncBufReadExt, AsyncRead, BufReader};

/// Largest JSON-RPC message either side may send when the config sets no limit (the limit
/// rmcp's own transports use).
pub const DEFAULT_MAX_MESSAGE_BYTES: usize = 16 * 1024 * 1024;

/// Bytes read from the stream at a time. Small, because a gateway holds one reader per
/// backend (hundreds for some users: 64 KiB each was a third of the memory of a gateway with
/// 491 backends); a long line is gathered in the line buffer whatever this is.
const READ_BUFFER_BYTES: usize = 8 * 1024;

/// Capacity the line buffer keeps between lines. One long message (a tools/list of
/// megabytes) would otherwise stay allocated for as long as the stream lives.
const KEPT_LINE_BYTES: usize = 64 * 1024;

/// What [`LineReader::next`] found.
#[derive(Debug)]
pub enum Frame {
    /// A complete line, available from [`LineReader::line`].
    Line,
    /// A line over the limit, read to its end and dropped.
    Oversized(Oversized),
    /// The stream ended (a trailing line without its newline is dropped).
    Eof,
    Io(std::io::Error),
}

/// What could be learned of a line too long to keep.
#[derive(Debug, Clone, PartialEq)]
pub struct Oversized {
    /// Its length in bytes, newline excluded.
    pub size: usize,
    /// Its top-level `id`, when that was a string or a number.
    pub id: Option<Value>,
    /// Whether it has a top-level `method` (a request or notification, not a response).
    pub has_method: bool,
}

/// Reads newline-delimited messages of at most `max` bytes.
///
/// Cancel-safe: `next` is polled inside `select!` loops, so all progress lives in `self`
/// and a dropped call resumes where it stopped.
pub struct LineReader<R> {
    read: BufReader<R>,
    buf: Vec<u8>,
    max: usize,
    /// The line in `buf` was returned; clear it before reading on.
    returned: bool,
    /// Scanning the rest of an oversized line.
    over: Option<Scan>,
}

impl<R: AsyncRead + Unpin> LineReader<R> {
    pub fn new(read: R, max: usize) -> Self {
        LineReader {
            read: BufReader::with_capacity(READ_BUFFER_BYTES, read),
            buf: Vec::new(),
            max,
            returned: false,
            over: None,
        }
    }

    pub fn max(&self) -> usize {
        self.max
    }

    /// The line of the last [`Frame::Line`], without its `\n`, `\r` or a UTF-8 BOM.
    pub fn line(&self) -> &[u8] {
        let line = self.buf.strip_suffix(b"\n").unwrap_or(&self.buf);
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        line.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(line)
    }

    /// The next line, skipping empty ones.
    pub async fn next(&mut self) -> Frame {
        if self.returned {
            self.buf.clear();
            self.buf.shrink_to(KEPT_LINE_BYTES);
            self.returned = false;
        }
        loop {
            let available = match self.read.fill_buf().await {
                Ok(available) => available,
                Err(e) => return Frame::Io(e),
            };
            if available.is_empty() {
                return Frame::Eof;
            }
            let newline = newline_at(available);
            let take = newline.map_or(available.len(), |i| i + 1);
            let chunk = &available[..take];
            if let Some(scan) = &mut self.over {
                scan.feed(chunk);
                self.read.consume(take);
                if newline.is_some() {
                    let scan = self.over.take().unwrap_or_default();
                    return Frame::Oversized(scan.finish());
                }
                continue;
            }
            if self.buf.len() + take > self.max.saturating_add(2) {
                // Past the limit (the +2 leaves room for a `\r\n` the limit does not count).
                let mut scan = Scan::default();
                scan.feed(&self.buf);
                scan.feed(chunk);
                self.buf.clear();
                self.read.consume(take);
                if newline.is_some() {
                    return Frame::Oversized(scan.finish());
                }
                self.over = Some(scan);
                continue;
            }
            self.buf.extend_from_slice(chunk);
            self.read.consume(take);
            if newline.is_some() {
                if self.line().iter().all(u8::is_ascii_whitespace) {
                    self.buf.clear();
                    continue;
                }
                if self.line().len() > self.max {
                    let mut scan = Scan::default();
                    scan.feed(&self.buf);
                    self.buf.clear();
                    return Frame::Oversized(scan.finish());
                }
                self.returned = true;
                return Frame::Line;
            }
        }
    }
}

fn newline_at(bytes: &[u8]) -> Option<usize> {
    bytes.iter().position(|b| *b == b'\n')
}

/// Where a streaming scan stands at the top level of the message object.
#[derive(Debug, Default, Clone, Copy, PartialEq)]
enum Top {
    #[default]
    ExpectKey,
    InKey,
    AfterKey,
    InValue,
}

/// A byte-at-a-time scan of one JSON object for its top-level `id` and `method` keys,
/// keeping nothing else.
#[derive(Debug, Default)]
struct Scan {
    size: usize,
    depth: u32,
    in_string: bool,
    escape: bool,
    top: Top,
    key: Vec<u8>,
    capturing: bool,
    id: Vec<u8>,
    found_id: Option<Vec<u8>>,
    has_method: bool,
}

/// Longest key or id kept; a longer one is not an id we could answer anyway.
const KEEP: usize = 1024;

impl Scan {
    fn feed(&mut self, bytes: &[u8]) {
        for &b in bytes {
            if b != b'\n' {
                self.size += 1;
            }
            self.byte(b);
        }
    }

    fn byte(&mut self, b: u8) {
        let at_top = self.depth == 1;
        if self.in_string {
            if self.escape {
                self.escape = false;
            } else if b == b'\\' {
                self.escape = true;
            } else if b == b'"' {
                self.in_string = false;
                if at_top && self.top == Top::InKey {
                    self.top = Top::AfterKey;
                    return;
                }
            }
            self.keep(b, at_top);
            return;
        }
        match b {
            b' ' | b'\t' | b'\r' | b'\n' => {}
            b'"' => {
                self.in_string = true;
                if at_top && self.top == Top::ExpectKey {
                    self.top = Top::InKey;
                    self.key.clear();
                } else {
                    self.keep(b, at_top);
                }
            }
            b'{' | b'[' => {
                self.keep(b, at_top);
                self.depth += 1;
            }
            b'}' | b']' => {
                if at_top {
                    self.end_value();
                    self.depth = 0;
                } else {
                    self.depth = self.depth.saturating_sub(1);
                    self.keep(b, self.depth == 1);
                }
            }
            b':' if at_top && self.top == Top::AfterKey => {
                self.top = Top::InValue;
                self.capturing = self.key == b"id";
                self.has_method |= self.key == b"method";
                self.id.clear();
            }
            b',' if at_top => {
                self.end_value();
                self.top = Top::ExpectKey;
            }
            _ => self.keep(b, at_top),
        }
    }

    /// Keep a byte of the key being read, or of the `id` value being captured.
    fn keep(&mut self, b: u8, at_top: bool) {
        if at_top && self.top == Top::InKey {
            if self.key.len() < KEEP {
                self.key.push(b);
            }
        } else if self.capturing && self.id.len() < KEEP {
            self.id.push(b);
        }
    }

    fn end_value(&mut self) {
        if self.capturing {
            self.capturing = false;
            self.found_id = Some(std::mem::take(&mut self.id));
        }
    }

    fn finish(self) -> Oversized {
        let id = self
            .found_id
            .and_then(|raw| serde_json::from_slice::<Value>(&raw).ok())
            .filter(|v| v.is_string() || v.is_number());
        Oversized {
            size: self.size,
            id,
            has_method: self.has_method,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn scan(text: &str) -> Oversized {
        let mut scan = Scan::default();
        // Fed in small pieces, as a pipe would deliver it.
        for piece in text.as_bytes().chunks(7) {
            scan.feed(piece);
        }
        scan.finish()
    }

    #[test]
    fn the_id_is_found_wherever_it_is() {
        let first = scan(r#"{"jsonrpc":"2.0","id":"a\"b","result":{"id":5,"x":[1,{"id":6}]}}"#);
        assert_eq!(first.id, Some(json!("a\"b")));
        assert!(!first.has_method);
        let last = scan(r#"{"result":{"content":[{"text":"}\"id\":9"}]},"jsonrpc":"2.0","id":42}"#);
        assert_eq!(last.id, Some(json!(42)));
        let request = scan(r#"{ "method" : "tools/call", "params":{"id":1}, "id" : -7 }"#);
        assert_eq!(request.id, Some(json!(-7)));
        assert!(request.has_method);
    }

    #[test]
    fn no_readable_id_is_none() {
        assert_eq!(scan(r#"{"method":"x","params":{"id":1}}"#).id, None);
        assert_eq!(scan(r#"{"id":null,"method":"x"}"#).id, None);
        assert_eq!(scan(r#"{"id":{"a":1}}"#).id, None);
        assert_eq!(scan("not json at all").id, None);
    }

    #[tokio::test]
    async fn lines_over_the_limit_are_measured_and_skipped() {
        let big = format!("{{\"id\":3,\"result\":\"{}\"}}", "x".repeat(100));
        let input = format!("{{\"a\":1}}\r\n\n{big}\n{{\"b\":2}}\n");
        let mut reader = LineReader::new(input.as_bytes(), 50);
        assert!(matches!(reader.next().await, Frame::Line));
        assert_eq!(reader.line(), br#"{"a":1}"#);
        match reader.next().await {
            Frame::Oversized(o) => {
                assert_eq!(o.size, big.len());
                assert_eq!(o.id, Some(json!(3)));
            }
            other => panic!("{other:?}"),
        }
        assert!(matches!(reader.next().await, Frame::Line));
        assert_eq!(reader.line(), br#"{"b":2}"#);
        assert!(matches!(reader.next().await, Frame::Eof));
    }

    #[tokio::test]
    async fn a_long_line_leaves_no_long_buffer_behind() {
        let long = format!("{{\"result\":\"{}\"}}", "x".repeat(4 * KEPT_LINE_BYTES));
        let input = format!("{long}\n{{\"b\":2}}\n");
        let mut reader = LineReader::new(input.as_bytes(), DEFAULT_MAX_MESSAGE_BYTES);
        assert!(matches!(reader.next().await, Frame::Line));
        assert_eq!(reader.line().len(), long.len());
        assert!(matches!(reader.next().await, Frame::Line));
        assert_eq!(reader.line(), br#"{"b":2}"#);
        assert!(reader.buf.capacity() <= KEPT_LINE_BYTES);
    }

    /// A small deterministic generator, so the property test needs no extra crate.
    struct Lcg(u64);

    impl Lcg {
        fn next(&mut self, below: u64) -> u64 {
            self.0 = self
                .0
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1);
            (self.0 >> 33) % below
        }

        fn value(&mut self, depth: u32) -> Value {
            match self.next(if depth > 3 { 4 } else { 6 }) {
                0 => Value::Null,
                1 => json!(self.next(1000) as i64 - 500),
                2 => json!(["a\"}", "{", "\\", "é", "id", ":"][self.next(6) as usize]),
                3 => json!(self.next(2) == 0),
                4 => Value::Array((0..self.next(4)).map(|_| self.value(depth + 1)).collect()),
                _ => Value::Object(
                    (0..self.next(4))
                        .map(|i| {
                            (
                                ["id", "method", "x"][i as usize % 3].to_owned(),
                                self.value(depth + 1),
                            )
                        })
                        .collect(),
                ),
            }
        }
    }

    /// Whatever the message looks like and however the pipe splits it, an oversized
    /// line's top-level id is found, and nested `id`s never fool the scan.
    #[tokio::test]
    async fn the_scan_agrees_with_a_parser_on_random_messages() {
        let mut rng = Lcg(7);
        for _ in 0..300 {
            let mut object = serde_json::Map::new();
            let id = if rng.next(2) == 0 {
                json!(rng.next(99))
            } else {
                json!("r\"q")
            };
            let at = rng.next(4);
            for i in 0..4 {
                if i == at {
                    object.insert("id".into(), id.clone());
                }
                object.insert(format!("k{i}"), rng.value(0));
            }
            let line = format!("{}\n", Value::Object(object));
            let mut reader = LineReader::new(line.as_bytes(), 8);
            match reader.next().await {
                Frame::Oversized(o) => {
                    assert_eq!(o.id, Some(id), "{line}");
                    assert_eq!(o.size, line.len() - 1);
                }
                other => panic!("{other:?} for {line}"),
            }
        }
        // Junk never panics and never yields an id it did not see.
        for _ in 0..300 {
            let junk: Vec<u8> = (0..rng.next(200)).map(|_| rng.next(256) as u8).collect();
            let _ = scan(&String::from_utf8_lossy(&junk));
        }
    }
}
