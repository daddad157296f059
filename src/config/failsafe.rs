//! A backend's limits and circuit breaker as written (`max_concurrency`, `queue_timeout`,
//! `rate_limit`, `circuit_breaker`) → the validated [`FailsafeConfig`] that
//! `crate::failsafe` enforces.
//!
//! `rate_limit` is parsed inside serde (see [`Rate`]), so a malformed value is reported
//! with serde's own line, column and key path; the range checks that run after serde point
//! at the value through `locate`.
//!
//! ```yaml
//! backends:
//!   search:
//!     command: search-server
//!     max_concurrency: 4        # calls in flight at once; more wait in a queue
//!     queue_timeout: 10s        # how long a call may wait for a slot or a rate token
//!     rate_limit: 10/s          # <calls>/<period>: 10/s, 100/m, 5/10s
//!     circuit_breaker:          # or `circuit_breaker: off`
//!       failures: 5             # transport failures or timeouts in a row that open it
//!       cool_down: 30s          # how long it stays open before one probe call
//! ```

use std::fmt;
use std::time::Duration;

use serde::Deserialize;
use serde::de::{self, Deserializer, MapAccess, Visitor};

use super::ConfigError;
use super::duration::{Dur, parse_duration};
use super::locate::{Doc, Seg, Target};
use super::raw::{RawBackend, RawBreaker};

/// How long a call waits for a concurrency slot or a rate-limit token when the backend
/// sets no `queue_timeout`: long enough to ride out a burst, short against a client's own
/// timeout (often 60 s), so the model hears why rather than the client giving up.
pub const DEFAULT_QUEUE_TIMEOUT: Duration = Duration::from_secs(10);
/// Transport failures or timeouts in a row that open a backend's breaker.
pub const DEFAULT_BREAKER_FAILURES: u32 = 5;
/// How long an open breaker fails calls fast before it lets one probe through.
pub const DEFAULT_BREAKER_COOL_DOWN: Duration = Duration::from_secs(30);

/// One backend's limits, validated. The default is no concurrency or rate limit and a
/// breaker with the default thresholds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FailsafeConfig {
    /// Calls in flight at once; `None` is unlimited.
    pub max_concurrency: Option<u32>,
    /// How long a call waits for a slot and a rate token, in all.
    pub queue_timeout: Duration,
    pub rate_limit: Option<Rate>,
    /// `None` when `circuit_breaker: off`.
    pub breaker: Option<BreakerConfig>,
}

impl Default for FailsafeConfig {
    fn default() -> Self {
        FailsafeConfig {
            max_concurrency: None,
            queue_timeout: DEFAULT_QUEUE_TIMEOUT,
            rate_limit: None,
            breaker: Some(BreakerConfig::default()),
        }
    }
}

/// When a backend's breaker opens and how long it stays open.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BreakerConfig {
    pub failures: u32,
    pub cool_down: Duration,
}

impl Default for BreakerConfig {
    fn default() -> Self {
        BreakerConfig {
            failures: DEFAULT_BREAKER_FAILURES,
            cool_down: DEFAULT_BREAKER_COOL_DOWN,
        }
    }
}

/// `calls` per `per`: a token bucket holding `calls` tokens, refilled at that rate.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rate {
    pub calls: u32,
    pub per: Duration,
}

impl fmt::Display for Rate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} calls per {:?}", self.calls, self.per)
    }
}

/// Parses `<calls>/<period>`: `10/s`, `100/m`, `1/h`, `5/10s`, `20/500ms`.
///
/// # Errors
///
/// A message naming the text and the form expected.
pub fn parse_rate(text: &str) -> Result<Rate, String> {
    let bad = |why: &str| {
        format!(
            "invalid rate limit `{text}`: {why} (write `<calls>/<period>`, e.g. `10/s`, `100/m`, `5/10s`)"
        )
    };
    let (calls, period) = text.split_once('/').ok_or_else(|| bad("no `/`"))?;
    let calls: u32 = calls
        .trim()
        .parse()
        .map_err(|_| bad("the number of calls is not a whole number"))?;
    if calls == 0 {
        return Err(bad("the number of calls must be at least 1"));
    }
    let period = period.trim();
    // A bare unit means one of it: `10/s` is ten per second.
    let per = match period {
        "ms" | "s" | "sec" | "m" | "min" | "h" | "hr" => parse_duration(&format!("1{period}")),
        _ => parse_duration(period),
    }
    .map_err(|e| bad(&e))?;
    Ok(Rate { calls, per })
}

impl<'de> de::Deserialize<'de> for Rate {
    fn deserialize<D: Deserializer<'de>>(de: D) -> Result<Self, D::Error> {
        struct RateVisitor;
        impl Visitor<'_> for RateVisitor {
            type Value = Rate;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a rate limit such as `10/s`, `100/m` or `5/10s`")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Rate, E> {
                parse_rate(v).map_err(E::custom)
            }
        }
        de.deserialize_str(RateVisitor)
    }
}

/// `circuit_breaker:` as written: `off`, or its settings.
#[derive(Debug)]
pub(crate) enum BreakerSetting {
    Off,
    On(RawBreaker),
}

impl<'de> de::Deserialize<'de> for BreakerSetting {
    fn deserialize<D: Deserializer<'de>>(de: D) -> Result<Self, D::Error> {
        struct SettingVisitor;
        impl<'de> Visitor<'de> for SettingVisitor {
            type Value = BreakerSetting;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("`off`, or a mapping with `failures` and `cool_down`")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<BreakerSetting, E> {
                match v {
                    "off" => Ok(BreakerSetting::Off),
                    other => Err(E::custom(format!(
                        "`circuit_breaker: {other}` is not a setting: write `off`, or \
                         `{{ failures: 5, cool_down: 30s }}`"
                    ))),
                }
            }
            fn visit_bool<E: de::Error>(self, v: bool) -> Result<BreakerSetting, E> {
                if v {
                    Ok(BreakerSetting::On(RawBreaker::default()))
                } else {
                    Ok(BreakerSetting::Off)
                }
            }
            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<BreakerSetting, A::Error> {
                RawBreaker::deserialize(de::value::MapAccessDeserializer::new(map))
                    .map(BreakerSetting::On)
            }
        }
        de.deserialize_any(SettingVisitor)
    }
}

/// The validated limits of backend `name`; range errors point at the value.
pub(crate) fn build(
    name: &str,
    raw: &RawBackend,
    doc: Doc<'_>,
) -> Result<FailsafeConfig, ConfigError> {
    let at = |keys: &[&str]| {
        let mut path = vec![Seg::key("backends"), Seg::key(name)];
        path.extend(keys.iter().map(|k| Seg::key(k)));
        path
    };
    if raw.max_concurrency == Some(0) {
        return Err(doc.invalid(
            &at(&["max_concurrency"]),
            Target::Value,
            format!(
                "backend `{name}`: `max_concurrency` must be at least 1 (leave it out for no limit)"
            ),
        ));
    }
    let breaker = match &raw.circuit_breaker {
        None => Some(BreakerConfig::default()),
        Some(BreakerSetting::Off) => None,
        Some(BreakerSetting::On(b)) => {
            if b.failures == Some(0) {
                return Err(doc.invalid(
                    &at(&["circuit_breaker", "failures"]),
                    Target::Value,
                    format!(
                        "backend `{name}`: `circuit_breaker.failures` must be at least 1 \
                         (write `circuit_breaker: off` to turn it off)"
                    ),
                ));
            }
            Some(BreakerConfig {
                failures: b.failures.unwrap_or(DEFAULT_BREAKER_FAILURES),
                cool_down: b.cool_down.map_or(DEFAULT_BREAKER_COOL_DOWN, |d| d.0),
            })
        }
    };
    Ok(FailsafeConfig {
        max_concurrency: raw.max_concurrency,
        queue_timeout: raw
            .queue_timeout
            .map_or(DEFAULT_QUEUE_TIMEOUT, |d: Dur| d.0),
        rate_limit: raw.rate_limit,
        breaker,
    })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
    use super::*;

    #[test]
    fn rates_in_every_form() {
        let r = |t: &str| parse_rate(t).unwrap();
        assert_eq!(
            r("10/s"),
            Rate {
                calls: 10,
                per: Duration::from_secs(1)
            }
        );
        assert_eq!(
            r("100/m"),
            Rate {
                calls: 100,
                per: Duration::from_secs(60)
            }
        );
        assert_eq!(
            r("5/10s"),
            Rate {
                calls: 5,
                per: Duration::from_secs(10)
            }
        );
        assert_eq!(
            r(" 2 / 500ms "),
            Rate {
                calls: 2,
                per: Duration::from_millis(500)
            }
        );
        for bad in ["10", "0/s", "x/s", "10/", "10/0s", "-1/s", "10/fortnight"] {
            let e = parse_rate(bad).unwrap_err();
            assert!(e.contains(bad.trim()) && e.contains("10/s"), "{bad}: {e}");
        }
    }

    fn load(text: &str) -> Result<super::super::Config, String> {
        super::super::Config::from_yaml_with_env(
            text,
            std::path::Path::new("/cfg/gateway.yaml"),
            &|_| None,
        )
        .map_err(|e| e.to_string())
    }

    #[test]
    fn limits_load_with_defaults_and_live_settings() {
        let c = load(
            "backends:\n  a:\n    command: a\n    max_concurrency: 4\n    queue_timeout: 2s\n    \
             rate_limit: 10/s\n    circuit_breaker: { failures: 3, cool_down: 1m }\n  \
             b:\n    command: b\n    circuit_breaker: off\n  c:\n    command: c\n",
        )
        .unwrap();
        let a = &c.backends["a"].failsafe;
        assert_eq!(a.max_concurrency, Some(4));
        assert_eq!(a.queue_timeout, Duration::from_secs(2));
        assert_eq!(a.rate_limit, Some(parse_rate("10/s").unwrap()));
        assert_eq!(
            a.breaker,
            Some(BreakerConfig {
                failures: 3,
                cool_down: Duration::from_secs(60)
            })
        );
        assert_eq!(c.backends["b"].failsafe.breaker, None);
        assert_eq!(c.backends["c"].failsafe, FailsafeConfig::default());
    }

    #[test]
    fn bad_limits_point_at_the_value() {
        let e = load("backends:\n  a:\n    command: a\n    max_concurrency: 0\n").unwrap_err();
        assert!(
            e.starts_with(
                "/cfg/gateway.yaml:4:22: backend `a`: `max_concurrency` must be at least 1"
            ),
            "{e}"
        );
        let e = load("backends:\n  a:\n    command: a\n    rate_limit: fast\n").unwrap_err();
        assert!(
            e.starts_with("/cfg/gateway.yaml:4:") && e.contains("invalid rate limit `fast`"),
            "{e}"
        );
        let e = load("backends:\n  a:\n    command: a\n    circuit_breaker: { failures: 0 }\n")
            .unwrap_err();
        assert!(
            e.starts_with("/cfg/gateway.yaml:4:") && e.contains("`circuit_breaker: off`"),
            "{e}"
        );
        let e = load("backends:\n  a:\n    command: a\n    circuit_breaker: { failurs: 2 }\n")
            .unwrap_err();
        assert!(
            e.starts_with("/cfg/gateway.yaml:4:") && e.contains("failurs"),
            "{e}"
        );
        let e =
            load("backends:\n  a:\n    command: a\n    circuit_breaker: sometimes\n").unwrap_err();
        assert!(
            e.starts_with("/cfg/gateway.yaml:4:") && e.contains("`off`"),
            "{e}"
        );
    }
}
