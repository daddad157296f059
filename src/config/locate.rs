//! Finds the line and column of a key or value in the YAML text.
//!
//! `serde_yaml_ng::Value` keeps no positions, and checks that run after parsing (unknown keys,
//! bad durations, bad URLs, backend names) still owe the user a `file:line:column`. Rather than
//! write a second YAML parser, this walks the text once more with a `DeserializeSeed` that
//! follows a path and fails on purpose when it reaches the target: serde_yaml_ng stamps every
//! error raised inside a scalar or collection visitor with that node's position, so the error's
//! `location()` is exactly the position we want. The walk is cheap (config files are small) and
//! only runs on the error path or when a warning needs no position at all.

use std::fmt;
use std::path::Path;

use serde::Deserializer;
use serde::de::{self, DeserializeSeed, IgnoredAny, MapAccess, SeqAccess, Visitor};

use super::error::{ConfigError, LineCol, Location};

/// One step into the document: a mapping key or a sequence index.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Seg {
    Key(String),
    Index(usize),
}

impl Seg {
    pub(crate) fn key(name: &str) -> Self {
        Seg::Key(name.to_owned())
    }
}

/// What to point at once the path has been followed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Target {
    /// The last segment's key (for "unknown key" and bad backend names).
    Key,
    /// The node the path leads to (for bad values).
    Value,
}

/// The text being loaded and its file name: enough to turn a path into a [`Location`].
#[derive(Clone, Copy)]
pub(crate) struct Doc<'a> {
    pub text: &'a str,
    pub file: &'a Path,
}

impl Doc<'_> {
    pub(crate) fn location(&self, path: &[Seg], target: Target) -> Location {
        Location::new(self.file, locate(self.text, path, target))
    }

    /// An [`ConfigError::Invalid`] pointing at `path`.
    pub(crate) fn invalid(&self, path: &[Seg], target: Target, message: String) -> ConfigError {
        ConfigError::Invalid {
            at: self.location(path, target),
            message,
        }
    }
}

/// The marker error message; any other error means the path could not be followed.
const FOUND: &str = "\u{0}mcp-gateway-locate-found";

/// Line and column of `path` in `text`, or `None` if the path is not in the document.
pub(crate) fn locate(text: &str, path: &[Seg], target: Target) -> Option<LineCol> {
    let de = serde_yaml_ng::Deserializer::from_str(text);
    match (Walk { path, target }).deserialize(de) {
        Err(err) if err.to_string().contains(FOUND) => err.location().map(|l| LineCol {
            line: l.line(),
            column: l.column(),
        }),
        _ => None,
    }
}

fn found<E: de::Error>() -> E {
    E::custom(FOUND)
}

/// Follows `path`; on an empty path it fails at the current node.
struct Walk<'p> {
    path: &'p [Seg],
    target: Target,
}

impl<'de> DeserializeSeed<'de> for Walk<'_> {
    type Value = ();

    fn deserialize<D: Deserializer<'de>>(self, de: D) -> Result<(), D::Error> {
        de.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Walk<'_> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any YAML node")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        let Some((Seg::Key(want), rest)) = self.path.split_first() else {
            return Err(found());
        };
        let stop_at_key = rest.is_empty() && self.target == Target::Key;
        while let Some(hit) = map.next_key_seed(KeyProbe {
            want,
            stop: stop_at_key,
        })? {
            if hit {
                return map.next_value_seed(Walk {
                    path: rest,
                    target: self.target,
                });
            }
            map.next_value::<IgnoredAny>()?;
        }
        Ok(())
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        let Some((Seg::Index(want), rest)) = self.path.split_first() else {
            return Err(found());
        };
        for _ in 0..*want {
            if seq.next_element::<Skip>()?.is_none() {
                return Ok(());
            }
        }
        seq.next_element_seed(Walk {
            path: rest,
            target: self.target,
        })
        .map(|_| ())
    }

    // Scalars: the path ends here, or cannot go further.
    fn visit_str<E: de::Error>(self, _: &str) -> Result<(), E> {
        self.at_leaf()
    }
    fn visit_bool<E: de::Error>(self, _: bool) -> Result<(), E> {
        self.at_leaf()
    }
    fn visit_i64<E: de::Error>(self, _: i64) -> Result<(), E> {
        self.at_leaf()
    }
    fn visit_u64<E: de::Error>(self, _: u64) -> Result<(), E> {
        self.at_leaf()
    }
    fn visit_f64<E: de::Error>(self, _: f64) -> Result<(), E> {
        self.at_leaf()
    }
    fn visit_unit<E: de::Error>(self) -> Result<(), E> {
        self.at_leaf()
    }
    fn visit_none<E: de::Error>(self) -> Result<(), E> {
        self.at_leaf()
    }
}

impl Walk<'_> {
    fn at_leaf<E: de::Error>(&self) -> Result<(), E> {
        if self.path.is_empty() {
            Err(found())
        } else {
            Ok(())
        }
    }
}

/// Never used as a value: stands in for sequence elements before the wanted index.
struct Skip;

impl<'de> de::Deserialize<'de> for Skip {
    fn deserialize<D: Deserializer<'de>>(de: D) -> Result<Self, D::Error> {
        IgnoredAny::deserialize(de).map(|_| Skip)
    }
}

/// Reads one mapping key; says whether it is the wanted one, or fails there when `stop`.
struct KeyProbe<'a> {
    want: &'a str,
    stop: bool,
}

impl<'de> DeserializeSeed<'de> for KeyProbe<'_> {
    type Value = bool;

    fn deserialize<D: Deserializer<'de>>(self, de: D) -> Result<bool, D::Error> {
        de.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for KeyProbe<'_> {
    type Value = bool;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a mapping key")
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<bool, E> {
        self.check(v)
    }
    // Keys written as numbers or booleans (`1:`, `yes:`) still compare as the text we saw in
    // `Value`, where serde_yaml_ng renders them the same way.
    fn visit_i64<E: de::Error>(self, v: i64) -> Result<bool, E> {
        self.check(&v.to_string())
    }
    fn visit_u64<E: de::Error>(self, v: u64) -> Result<bool, E> {
        self.check(&v.to_string())
    }
    fn visit_bool<E: de::Error>(self, v: bool) -> Result<bool, E> {
        self.check(&v.to_string())
    }
    fn visit_f64<E: de::Error>(self, v: f64) -> Result<bool, E> {
        self.check(&v.to_string())
    }
    fn visit_unit<E: de::Error>(self) -> Result<bool, E> {
        self.check("null")
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<bool, A::Error> {
        while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
        Ok(false)
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<bool, A::Error> {
        while seq.next_element::<IgnoredAny>()?.is_some() {}
        Ok(false)
    }
}

impl KeyProbe<'_> {
    fn check<E: de::Error>(&self, key: &str) -> Result<bool, E> {
        match (key == self.want, self.stop) {
            (true, true) => Err(found()),
            (hit, _) => Ok(hit),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const DOC: &str = "\
mode: meta
backends:
  fs:
    comand: npx
    args: [\"-y\", \"x\"]
    env:
      KEY: value
list:
  - a
  - { server: s, tol: t }
";

    fn at(path: &[Seg], target: Target) -> Option<(usize, usize)> {
        locate(DOC, path, target).map(|l| (l.line, l.column))
    }

    #[test]
    fn finds_keys_and_values() {
        let k = Seg::key;
        assert_eq!(at(&[k("mode")], Target::Key), Some((1, 1)));
        assert_eq!(at(&[k("mode")], Target::Value), Some((1, 7)));
        assert_eq!(at(&[k("backends"), k("fs")], Target::Key), Some((3, 3)));
        assert_eq!(
            at(&[k("backends"), k("fs"), k("comand")], Target::Key),
            Some((4, 5))
        );
        assert_eq!(
            at(
                &[k("backends"), k("fs"), k("args"), Seg::Index(1)],
                Target::Value
            ),
            Some((5, 18))
        );
        assert_eq!(
            at(&[k("backends"), k("fs"), k("env"), k("KEY")], Target::Value),
            Some((7, 12))
        );
        assert_eq!(
            at(&[k("list"), Seg::Index(1), k("tol")], Target::Key),
            Some((10, 18))
        );
    }

    #[test]
    fn missing_path_is_none() {
        assert_eq!(at(&[Seg::key("nope")], Target::Key), None);
        assert_eq!(at(&[Seg::key("list"), Seg::Index(9)], Target::Value), None);
        assert_eq!(at(&[Seg::key("mode"), Seg::key("x")], Target::Value), None);
    }
}
