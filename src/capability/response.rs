//! A REST response into a `CallToolResult`: the body read with a bound, `response_path`
//! applied, and the JSON cut to the result size (`capabilities.max_result_bytes`) at a
//! structure boundary, so what the agent reads is valid JSON plus a note saying what was
//! left out and how to get it.
//!
//! The JSON goes out twice, as text and as `structuredContent` (the spec asks for both when
//! a tool returns structured data); the cap applies to each.

use rmcp::model::{CallToolResult, ContentBlock};
use serde_json::Value;

use super::truncate;

/// The most of a body that is read: enough to parse and then cut any API response a
/// capability is likely to call; past this the body is cut as text.
pub const MAX_DOWNLOAD_BYTES: usize = 8 * 1024 * 1024;

/// The body (at most [`MAX_DOWNLOAD_BYTES`]), how many bytes were sent, and whether the
/// body was cut short.
pub(super) async fn read(mut response: reqwest::Response) -> (Vec<u8>, usize, bool) {
    let mut bytes = Vec::new();
    let mut total = 0;
    while let Ok(Some(chunk)) = response.chunk().await {
        total += chunk.len();
        let room = MAX_DOWNLOAD_BYTES.saturating_sub(bytes.len());
        bytes.extend_from_slice(&chunk[..chunk.len().min(room)]);
        if total > MAX_DOWNLOAD_BYTES {
            // Stop reading: the rest would be thrown away anyway.
            return (bytes, total, true);
        }
    }
    (bytes, total, false)
}

/// The result of a successful call: JSON (selected by `path`, cut to `limit`) or text.
pub(super) fn into_result(
    bytes: &[u8],
    total: usize,
    cut_short: bool,
    path: Option<&[String]>,
    limit: usize,
) -> CallToolResult {
    let json = if cut_short {
        None
    } else {
        serde_json::from_slice::<Value>(bytes).ok()
    };
    let Some(json) = json else {
        return text_result(bytes, total, cut_short, limit);
    };
    let value = match path {
        Some(path) => match select(&json, path) {
            Some(v) => v.clone(),
            None => {
                let (fitted, note) = fit(&json, limit);
                let mut content = vec![ContentBlock::text(format!(
                    "response has no `{}`; the whole response follows\n{fitted}",
                    path.join(".")
                ))];
                content.extend(note.map(ContentBlock::text));
                return CallToolResult::success(content);
            }
        },
        None => json,
    };
    let (value, note) = fit(&value, limit);
    let mut content = vec![ContentBlock::text(value.to_string())];
    content.extend(note.map(ContentBlock::text));
    // `structuredContent` must be an object; anything else is wrapped.
    let structured = match value {
        Value::Object(_) => value,
        other => serde_json::json!({ "result": other }),
    };
    let mut result = CallToolResult::success(content);
    result.structured_content = Some(structured);
    result
}

/// `value` cut to `limit` bytes, with the note to show beside it when anything was cut.
fn fit(value: &Value, limit: usize) -> (Value, Option<String>) {
    let size = truncate::json_len(value);
    if size <= limit {
        return (value.clone(), None);
    }
    let (fitted, cuts) = truncate::fit(value, limit);
    (fitted, Some(truncate::note(&cuts, limit, size)))
}

/// A body that is not JSON (or too big to parse): its text, cut at a character boundary.
fn text_result(bytes: &[u8], total: usize, cut_short: bool, limit: usize) -> CallToolResult {
    let text = String::from_utf8_lossy(bytes);
    if !cut_short && text.len() <= limit {
        return CallToolResult::success(vec![ContentBlock::text(text.into_owned())]);
    }
    let mut end = limit.min(text.len());
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    let sent = if cut_short {
        format!("more than {total}")
    } else {
        total.to_string()
    };
    let note = format!(
        "[The response ({sent} bytes) was cut to its first {end} bytes. To see more, ask for \
         a narrower part of it or raise `capabilities.max_result_bytes` in gateway.yaml.]"
    );
    CallToolResult::success(vec![
        ContentBlock::text(text[..end].to_owned()),
        ContentBlock::text(note),
    ])
}

/// Follows a dot path; numeric segments index arrays.
fn select<'a>(value: &'a Value, path: &[String]) -> Option<&'a Value> {
    path.iter().try_fold(value, |v, seg| match v {
        Value::Object(map) => map.get(seg),
        Value::Array(items) => seg.parse::<usize>().ok().and_then(|i| items.get(i)),
        _ => None,
    })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use serde_json::json;

    fn texts(r: &CallToolResult) -> Vec<String> {
        r.content
            .iter()
            .filter_map(|c| c.as_text().map(|t| t.text.clone()))
            .collect()
    }

    #[test]
    fn response_path_selects_and_wraps() {
        let body = br#"{"data": {"items": [{"id": 1}]}}"#;
        let path: Vec<String> = vec!["data".into(), "items".into()];
        let r = into_result(body, body.len(), false, Some(&path), 1000);
        assert_eq!(r.structured_content, Some(json!({"result": [{"id": 1}]})));
        let path: Vec<String> = vec!["data".into(), "items".into(), "0".into()];
        let r = into_result(body, body.len(), false, Some(&path), 1000);
        assert_eq!(r.structured_content, Some(json!({"id": 1})));
    }

    #[test]
    fn big_json_is_cut_to_valid_json_with_a_note() {
        let versions: Vec<Value> = (0..5000)
            .map(|i| json!({"version": format!("4.{i}.0")}))
            .collect();
        let body = serde_json::to_vec(&json!({"name": "express", "versions": versions})).unwrap();
        let r = into_result(&body, body.len(), false, None, 4096);
        let texts = texts(&r);
        assert_eq!(texts.len(), 2, "{texts:?}");
        assert!(texts[0].len() <= 4096);
        let parsed: Value = serde_json::from_str(&texts[0]).unwrap();
        assert_eq!(parsed["name"], "express");
        assert!(texts[1].contains("`versions`: kept"), "{}", texts[1]);
        assert!(texts[1].contains("max_result_bytes"), "{}", texts[1]);
        assert_eq!(r.structured_content, Some(parsed));
    }

    #[test]
    fn text_is_cut_at_a_character_boundary() {
        let body = "é".repeat(100);
        let r = into_result(body.as_bytes(), body.len(), false, None, 51);
        let texts = texts(&r);
        assert_eq!(texts[0], "é".repeat(25));
        assert!(texts[1].contains("200 bytes"), "{}", texts[1]);
    }
}
