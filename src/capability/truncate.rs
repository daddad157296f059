//! Cutting a JSON response down to a byte budget while keeping it valid JSON.
//!
//! A REST response can be hundreds of kilobytes (a package's whole release history) where
//! the agent needs a few fields; cutting the text at a byte offset leaves invalid JSON that
//! the model cannot read reliably. Instead the value is trimmed structurally, top-down:
//! an object's budget is shared fairly among its members (small ones stay whole, large ones
//! share the rest), an array keeps its first items, a long string keeps its start. Each
//! cut is recorded, so the result can say what is missing.

use serde_json::{Map, Value};

/// A member or item given less room than this is dropped rather than shown as a stub.
const MIN_SHARE: usize = 24;
/// How many cuts the note lists by name.
const LISTED: usize = 6;

/// What was removed at one place in the value.
#[derive(Debug, Clone, PartialEq)]
pub(super) struct Cut {
    /// Dot path to the place (`releases`, `info.description`, `items.3`); empty for the root.
    pub path: String,
    pub what: String,
}

/// `value` trimmed so that its JSON text is at most `budget` bytes, and what was cut.
/// A value that fits comes back unchanged with no cuts.
pub(super) fn fit(value: &Value, budget: usize) -> (Value, Vec<Cut>) {
    let mut target = budget;
    // Estimates ignore some punctuation and escaping; shrink and retry on an overshoot.
    for _ in 0..8 {
        let mut cuts = Vec::new();
        let fitted = fit_value(value, target, "", &mut cuts);
        let size = json_len(&fitted);
        if size <= budget {
            return (fitted, cuts);
        }
        target = target.saturating_sub(size - budget + budget / 20 + 1);
    }
    (
        Value::Null,
        vec![Cut {
            path: String::new(),
            what: "everything".into(),
        }],
    )
}

/// A note naming the cuts, for the agent (and the person reading over its shoulder).
pub(super) fn note(cuts: &[Cut], budget: usize, original: usize) -> String {
    let mut listed: Vec<String> = cuts
        .iter()
        .take(LISTED)
        .map(|c| {
            if c.path.is_empty() {
                c.what.clone()
            } else {
                format!("`{}`: {}", c.path, c.what)
            }
        })
        .collect();
    if cuts.len() > LISTED {
        listed.push(format!("{} more", cuts.len() - LISTED));
    }
    format!(
        "[The response ({original} bytes of JSON) was cut to fit {budget} bytes; the JSON above \
         is valid but incomplete. Cut: {}. To see more, ask for a narrower part of the \
         response (a capability's `response_path`, e.g. one field) or raise \
         `capabilities.max_result_bytes` in gateway.yaml.]",
        listed.join("; ")
    )
}

/// Length of `value` as compact JSON text.
pub(super) fn json_len(value: &Value) -> usize {
    struct Count(usize);
    impl std::io::Write for Count {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0 += buf.len();
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }
    let mut count = Count(0);
    // Writing to a counter cannot fail, and a `Value` always serializes.
    let _ = serde_json::to_writer(&mut count, value);
    count.0
}

fn fit_value(value: &Value, budget: usize, path: &str, cuts: &mut Vec<Cut>) -> Value {
    let size = json_len(value);
    if size <= budget {
        return value.clone();
    }
    match value {
        Value::Object(map) => fit_object(map, budget, path, cuts),
        Value::Array(items) => fit_array(items, budget, path, cuts),
        Value::String(s) => fit_string(s, budget, path, cuts),
        // Numbers, booleans and null are a few bytes; there is nothing to cut.
        other => other.clone(),
    }
}

fn fit_object(map: &Map<String, Value>, budget: usize, path: &str, cuts: &mut Vec<Cut>) -> Value {
    // Each member costs its key, quotes, colon and comma on top of its value.
    let sizes: Vec<(usize, usize)> = map
        .iter()
        .map(|(k, v)| (k.len() + 4, json_len(v)))
        .collect();
    let mut order: Vec<usize> = (0..sizes.len()).collect();
    order.sort_by_key(|&i| sizes[i].0 + sizes[i].1);
    // Water-filling: the smallest members take what they need while that is no more
    // than an equal share of what is left; the rest split the remainder equally.
    let mut shares = vec![0usize; sizes.len()];
    let mut left = budget.saturating_sub(2);
    for (n, &i) in order.iter().enumerate() {
        let (overhead, value) = sizes[i];
        let fair = left / (order.len() - n);
        let share = (overhead + value).min(fair);
        shares[i] = share;
        left -= share;
    }
    // Members whose share is too small to show pool their shares, which then go to
    // them in document order, whole while they fit: a map of many similar entries (a
    // package's versions) keeps its first few entries rather than none.
    let starved = |i: usize| shares[i].saturating_sub(sizes[i].0) < sizes[i].1.min(MIN_SHARE);
    let mut pool: usize = (0..sizes.len())
        .filter(|&i| starved(i))
        .map(|i| shares[i])
        .sum();
    let mut out = Map::new();
    let mut dropped = 0;
    for (i, (key, v)) in map.iter().enumerate() {
        let (overhead, size) = sizes[i];
        let room = if starved(i) {
            let room = pool.min(overhead + size);
            pool -= room;
            room.saturating_sub(overhead)
        } else {
            shares[i].saturating_sub(overhead)
        };
        if room >= size {
            out.insert(key.clone(), v.clone());
        } else if room >= MIN_SHARE {
            out.insert(key.clone(), fit_value(v, room, &join(path, key), cuts));
        } else {
            dropped += 1;
        }
    }
    if dropped > 0 {
        cuts.push(Cut {
            path: path.to_owned(),
            what: format!("kept {} of {} members", out.len(), map.len()),
        });
    }
    Value::Object(out)
}

fn fit_array(items: &[Value], budget: usize, path: &str, cuts: &mut Vec<Cut>) -> Value {
    let mut left = budget.saturating_sub(2);
    let mut out = Vec::new();
    for (i, item) in items.iter().enumerate() {
        let size = json_len(item) + 1;
        if size <= left {
            out.push(item.clone());
            left -= size;
            continue;
        }
        // The first item that does not fit is trimmed into what is left, if that is
        // worth showing; the items after it are dropped.
        if left > MIN_SHARE {
            out.push(fit_value(item, left - 1, &join(path, &i.to_string()), cuts));
        }
        break;
    }
    cuts.push(Cut {
        path: path.to_owned(),
        what: format!("kept {} of {} items", out.len(), items.len()),
    });
    Value::Array(out)
}

fn fit_string(s: &str, budget: usize, path: &str, cuts: &mut Vec<Cut>) -> Value {
    // Room for the quotes and the ellipsis; escapes are caught by `fit`'s retry.
    let room = budget.saturating_sub(5);
    let mut end = room.min(s.len());
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    cuts.push(Cut {
        path: path.to_owned(),
        what: format!("text cut at {end} of {} bytes", s.len()),
    });
    Value::String(format!("{}…", &s[..end]))
}

fn join(path: &str, key: &str) -> String {
    if path.is_empty() {
        key.to_owned()
    } else {
        format!("{path}.{key}")
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use serde_json::json;

    #[test]
    fn a_value_that_fits_is_untouched() {
        let v = json!({"a": [1, 2, 3], "b": "text"});
        assert_eq!(fit(&v, 1000), (v, Vec::new()));
    }

    #[test]
    fn big_values_are_cut_to_valid_json_within_budget() {
        let releases: Map<String, Value> = (0..300)
            .map(|i| {
                (
                    format!("1.{i}.0"),
                    json!([{"url": format!("https://x/{i}"), "size": i}]),
                )
            })
            .collect();
        let v = json!({
            "info": {"name": "requests", "version": "2.32.3", "description": "d".repeat(50_000)},
            "last_serial": 123,
            "releases": releases,
        });
        for budget in [300, 2_000, 8_000] {
            let (fitted, cuts) = fit(&v, budget);
            let text = fitted.to_string();
            assert!(text.len() <= budget, "{} > {budget}", text.len());
            assert!(serde_json::from_str::<Value>(&text).is_ok());
            assert!(!cuts.is_empty());
            // Small members survive whole; the big ones share the rest.
            assert_eq!(fitted["last_serial"], 123, "{text}");
            assert_eq!(fitted["info"]["name"], "requests", "{text}");
        }
        let (_, cuts) = fit(&v, 8_000);
        let said = note(&cuts, 8_000, json_len(&v));
        assert!(said.contains("`info.description`: text cut at"), "{said}");
        assert!(said.contains("`releases`: kept"), "{said}");
    }

    #[test]
    fn arrays_keep_their_first_items() {
        let v = Value::Array((0..1000).map(|i| json!({"version": i})).collect());
        let (fitted, cuts) = fit(&v, 500);
        let items = fitted.as_array().unwrap();
        assert!(!items.is_empty() && items.len() < 1000);
        assert_eq!(items[0]["version"], 0);
        assert!(
            cuts[0]
                .what
                .starts_with(&format!("kept {} of 1000", items.len()))
        );
    }

    #[test]
    fn multibyte_and_escaped_text_stays_within_budget() {
        let v = json!({"s": "é\"\n".repeat(10_000)});
        let (fitted, _) = fit(&v, 1000);
        assert!(fitted.to_string().len() <= 1000);
    }
}
