//! Byte sizes as users write them: a bare number of bytes (`65536`) or a number with a
//! unit, `KB`/`MB`/`GB` (powers of 1000) or `KiB`/`MiB`/`GiB` (powers of 1024), case
//! insensitive, with or without a space: `64KiB`, `16 MiB`, `1.5MB`.
//!
//! Parsed inside serde (see [`Size`]) so a bad value is reported with its line and key.

use std::fmt;

use serde::de::{self, Deserializer, Visitor};

/// Parses a byte size; zero is refused (a zero limit would refuse everything).
///
/// # Errors
///
/// A message naming the text and what is wrong with it.
pub fn parse_size(text: &str) -> Result<usize, String> {
    let s = text.trim();
    let split = s
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(s.len());
    let (number, unit) = s.split_at(split);
    let bad = || format!("invalid size `{text}` (write e.g. `65536`, `64KiB`, `16MiB`)");
    let number: f64 = number.parse().map_err(|_| bad())?;
    let scale: f64 = match unit.trim().to_ascii_lowercase().as_str() {
        "" | "b" => 1.0,
        "kb" | "k" => 1e3,
        "mb" | "m" => 1e6,
        "gb" | "g" => 1e9,
        "kib" => 1024.0,
        "mib" => 1024.0 * 1024.0,
        "gib" => 1024.0 * 1024.0 * 1024.0,
        _ => return Err(bad()),
    };
    let bytes = (number * scale).round();
    if !(1.0..=1e15).contains(&bytes) {
        return Err(format!(
            "size `{text}` must be at least one byte and at most 1 PB"
        ));
    }
    // In range by the check above.
    #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
    Ok(bytes as usize)
}

/// A size in bytes, from a number or a string with a unit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Size(pub usize);

impl<'de> de::Deserialize<'de> for Size {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(SizeVisitor)
    }
}

struct SizeVisitor;

impl Visitor<'_> for SizeVisitor {
    type Value = Size;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a size in bytes, such as `65536` or `64KiB`")
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<Size, E> {
        parse_size(v).map(Size).map_err(E::custom)
    }

    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Size, E> {
        parse_size(&v.to_string()).map(Size).map_err(E::custom)
    }

    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Size, E> {
        parse_size(&v.to_string()).map(Size).map_err(E::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn units_and_bare_numbers() {
        assert_eq!(parse_size("65536"), Ok(65536));
        assert_eq!(parse_size("64KiB"), Ok(65536));
        assert_eq!(parse_size("16 MiB"), Ok(16 * 1024 * 1024));
        assert_eq!(parse_size("1.5mb"), Ok(1_500_000));
        assert_eq!(parse_size("2KB"), Ok(2000));
        for bad in ["", "0", "-1", "5 parsecs", "MiB", "1.2.3KB"] {
            assert!(parse_size(bad).is_err(), "{bad:?} should fail");
        }
    }

    #[test]
    fn deserializes_numbers_and_strings() {
        let n: Size = serde_yaml_ng::from_str("1024").unwrap_or(Size(0));
        assert_eq!(n, Size(1024));
        let s: Size = serde_yaml_ng::from_str("\"32 KiB\"").unwrap_or(Size(0));
        assert_eq!(s, Size(32 * 1024));
        assert!(serde_yaml_ng::from_str::<Size>("[1]").is_err());
    }

    #[test]
    fn the_limits_and_the_capability_cap_load_from_gateway_yaml() {
        use crate::config::Config;
        let yaml = "limits:\n  max_message_bytes: 1MiB\ncapabilities:\n  max_result_bytes: 8000\n";
        let config = Config::from_yaml(yaml, std::path::Path::new("/tmp/g.yaml"));
        let config = config.unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(config.limits.max_message_bytes, 1024 * 1024);
        assert_eq!(config.capabilities.max_result_bytes, 8000);
        let bad = Config::from_yaml(
            "limits:\n  max_message_bytes: lots\n",
            std::path::Path::new("/tmp/g.yaml"),
        );
        let message = bad.err().map(|e| e.to_string()).unwrap_or_default();
        assert!(message.contains("invalid size `lots`"), "{message}");
        let unknown = Config::from_yaml(
            "limits:\n  max_mesage_bytes: 1\n",
            std::path::Path::new("/tmp/g.yaml"),
        );
        assert!(unknown.is_err());
    }
}
