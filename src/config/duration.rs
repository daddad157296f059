//! Durations as users write them: `30s`, `100ms`, `5m`, `1h`, `1m30s`, or a bare number of
//! seconds (`30`, `2.5`), the same forms the original mcp-gateway accepts.
//!
//! Parsing happens inside serde (see [`Dur`]) so a bad value is reported with serde_yaml_ng's
//! own line, column and key path, like any other wrongly typed value.

use std::fmt;
use std::time::Duration;

use serde::de::{self, Deserializer, Visitor};

/// Parses a duration string. Zero is refused: a zero timeout would fail every call, and "no
/// timeout" is not something this gateway offers (a hung backend must not hang a client).
///
/// # Errors
///
/// A message naming the text and what is wrong with it.
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let s = text.trim();
    if s.is_empty() {
        return Err("empty duration".into());
    }
    let total = if let Ok(secs) = s.parse::<f64>() {
        seconds(secs, text)?
    } else {
        parse_units(s, text)?
    };
    if total.is_zero() {
        return Err(format!("duration `{text}` must be greater than zero"));
    }
    Ok(total)
}

/// A duration as a user would write it in `gateway.yaml`: `10m`, `1h30m`, `45s`, `250ms`.
pub fn human_duration(d: Duration) -> String {
    let ms = d.as_millis();
    if !ms.is_multiple_of(1000) || ms == 0 {
        return format!("{ms}ms");
    }
    let secs = ms / 1000;
    let (h, m, s) = (secs / 3600, secs / 60 % 60, secs % 60);
    let mut out = String::new();
    for (n, unit) in [(h, "h"), (m, "m"), (s, "s")] {
        if n > 0 {
            out.push_str(&format!("{n}{unit}"));
        }
    }
    out
}

fn seconds(secs: f64, text: &str) -> Result<Duration, String> {
    Duration::try_from_secs_f64(secs).map_err(|_| format!("invalid duration `{text}`"))
}

/// `<number><unit>` repeated, e.g. `1h30m`, `1.5s`, `250ms`.
fn parse_units(s: &str, text: &str) -> Result<Duration, String> {
    let bad = |why: &str| {
        format!("invalid duration `{text}`: {why} (write e.g. `30s`, `100ms`, `5m`, `1h`)")
    };
    let mut rest = s;
    let mut total = Duration::ZERO;
    while !rest.is_empty() {
        let num_len = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .unwrap_or(rest.len());
        if num_len == 0 {
            return Err(bad("expected a number"));
        }
        let (num, after) = rest.split_at(num_len);
        let after = after.trim_start();
        let unit_len = after
            .find(|c: char| !c.is_ascii_alphabetic())
            .unwrap_or(after.len());
        let (unit, after) = after.split_at(unit_len);
        let scale = match unit {
            "ms" => 0.001,
            "s" | "sec" | "secs" => 1.0,
            "m" | "min" | "mins" => 60.0,
            "h" | "hr" | "hrs" => 3600.0,
            "" => return Err(bad("missing unit")),
            other => return Err(bad(&format!("unknown unit `{other}`"))),
        };
        let value: f64 = num.parse().map_err(|_| bad("expected a number"))?;
        total = total
            .checked_add(seconds(value * scale, text)?)
            .ok_or_else(|| bad("too large"))?;
        rest = after.trim_start();
    }
    Ok(total)
}

/// A `Duration` field in a raw config struct.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Dur(pub Duration);

impl<'de> de::Deserialize<'de> for Dur {
    fn deserialize<D: Deserializer<'de>>(de: D) -> Result<Self, D::Error> {
        de.deserialize_any(DurVisitor)
    }
}

struct DurVisitor;

impl DurVisitor {
    fn secs<E: de::Error>(secs: f64) -> Result<Dur, E> {
        parse_duration(&secs.to_string())
            .map(Dur)
            .map_err(E::custom)
    }
}

impl Visitor<'_> for DurVisitor {
    type Value = Dur;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a duration such as `30s`, `100ms`, `5m`, `1h`, or a number of seconds")
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<Dur, E> {
        parse_duration(v).map(Dur).map_err(E::custom)
    }

    // Precision loss above 2^53 seconds is irrelevant for timeouts.
    #[allow(clippy::cast_precision_loss)]
    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Dur, E> {
        Self::secs(v as f64)
    }

    #[allow(clippy::cast_precision_loss)]
    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Dur, E> {
        if v < 0 {
            return Err(E::custom(format!("duration `{v}` must not be negative")));
        }
        Self::secs(v as f64)
    }

    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Dur, E> {
        Self::secs(v)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(text: &str) -> u128 {
        match parse_duration(text) {
            Ok(d) => d.as_millis(),
            Err(e) => panic!("{text}: {e}"),
        }
    }

    #[test]
    fn human_durations_read_back_as_written() {
        for text in ["10m", "1h30m", "45s", "250ms", "1s"] {
            assert_eq!(human_duration(Duration::from_millis(ms(text) as u64)), text);
        }
    }

    #[test]
    fn accepts_the_usual_forms() {
        assert_eq!(ms("30s"), 30_000);
        assert_eq!(ms("100ms"), 100);
        assert_eq!(ms("5m"), 300_000);
        assert_eq!(ms("1h"), 3_600_000);
        assert_eq!(ms("1m30s"), 90_000);
        assert_eq!(ms("1.5s"), 1_500);
        assert_eq!(ms("45"), 45_000);
        assert_eq!(ms(" 2 m "), 120_000);
    }

    #[test]
    fn rejects_bad_forms() {
        for bad in [
            "",
            "abc",
            "30x",
            "s",
            "1.2.3s",
            "0",
            "0s",
            "-5",
            "5 parsecs",
        ] {
            assert!(parse_duration(bad).is_err(), "{bad:?} should fail");
        }
        let msg = parse_duration("30x").err().unwrap_or_default();
        assert!(msg.contains("unknown unit `x`"), "{msg}");
    }

    #[test]
    fn deserializes_numbers_and_strings() {
        let d: Dur = serde_yaml_ng::from_str("90").unwrap_or(Dur(Duration::ZERO));
        assert_eq!(d.0, Duration::from_secs(90));
        let d: Dur = serde_yaml_ng::from_str("0.25").unwrap_or(Dur(Duration::ZERO));
        assert_eq!(d.0, Duration::from_millis(250));
        let d: Dur = serde_yaml_ng::from_str("2m").unwrap_or(Dur(Duration::ZERO));
        assert_eq!(d.0, Duration::from_secs(120));
        assert!(serde_yaml_ng::from_str::<Dur>("[1]").is_err());
        assert!(serde_yaml_ng::from_str::<Dur>("-3").is_err());
    }
}
