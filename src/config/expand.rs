//! `${VAR}` and `${VAR:-default}` expansion in backend strings.
//!
//! The grammar is deliberately small, so no config ever needs quoting rules:
//! - `${NAME}` is the variable's value. An unset variable expands to the empty string and is
//!   recorded, so the caller can warn (users often run with part of their environment) and
//!   `doctor` can report it later.
//! - `${NAME:-default}` is the value, or `default` when the variable is unset *or empty*
//!   (as in the shell). The default is literal text up to the first `}`; it cannot nest.
//! - `NAME` is `[A-Za-z_][A-Za-z0-9_]*`.
//! - Any other `$` is literal (`$HOME` without braces, `$$`, `a$b`): there is no escape
//!   syntax because nothing needs one. A `${` that does not form one of the two shapes above
//!   is an error, because silently passing it through would hide a typo.
//!
//! The variable source is a parameter so tests need not mutate the process environment
//! (`std::env::set_var` is `unsafe` in edition 2024, and the crate forbids `unsafe`).

use std::collections::BTreeSet;

/// How to read a variable. Production uses the process environment.
pub(crate) type Lookup<'a> = &'a dyn Fn(&str) -> Option<String>;

/// The process environment; a value that is not UTF-8 counts as unset.
pub(crate) fn process_env(name: &str) -> Option<String> {
    std::env::var(name).ok()
}

/// Names seen while expanding one backend.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub(crate) struct VarUse {
    /// Every variable referenced, with or without a default.
    pub referenced: BTreeSet<String>,
    /// Variables referenced without a default that were unset (they expanded to "").
    pub unset: BTreeSet<String>,
}

/// Expands every `${…}` in `input`. The error says what is wrong with the reference, never
/// what any variable contains.
pub(crate) fn expand(input: &str, env: Lookup<'_>, used: &mut VarUse) -> Result<String, String> {
    let mut out = String::with_capacity(input.len());
    let mut rest = input;
    while let Some(start) = rest.find("${") {
        out.push_str(&rest[..start]);
        let body_start = &rest[start + 2..];
        let Some(end) = body_start.find('}') else {
            return Err(format!(
                "`${{` at byte {} has no closing `}}`",
                input.len() - rest.len() + start
            ));
        };
        let body = &body_start[..end];
        let (name, default) = match body.split_once(":-") {
            Some((name, default)) => (name, Some(default)),
            None => (body, None),
        };
        check_name(name, body)?;
        used.referenced.insert(name.to_owned());
        let value = env(name).filter(|v| !(v.is_empty() && default.is_some()));
        match (value, default) {
            (Some(v), _) => out.push_str(&v),
            (None, Some(d)) => out.push_str(d),
            (None, None) => {
                used.unset.insert(name.to_owned());
            }
        }
        rest = &body_start[end + 1..];
    }
    out.push_str(rest);
    Ok(out)
}

fn check_name(name: &str, body: &str) -> Result<(), String> {
    let mut chars = name.chars();
    let ok = chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_');
    if ok {
        return Ok(());
    }
    if name.is_empty() {
        return Err(format!("`${{{body}}}` names no variable"));
    }
    Err(format!(
        "`${{{body}}}` is not a valid reference: write `${{NAME}}` or `${{NAME:-default}}`, \
         where NAME is letters, digits and `_` and does not start with a digit"
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(name: &str) -> Option<String> {
        match name {
            "HOME" => Some("/home/u".into()),
            "EMPTY" => Some(String::new()),
            "TOKEN" => Some("s3cret".into()),
            _ => None,
        }
    }

    fn run(input: &str) -> (Result<String, String>, VarUse) {
        let mut used = VarUse::default();
        let out = expand(input, &env, &mut used);
        (out, used)
    }

    #[test]
    fn expands_set_vars_and_defaults() {
        let (out, used) = run("${HOME}/src and ${NOPE:-fallback} ${EMPTY:-dflt}");
        assert_eq!(out.as_deref(), Ok("/home/u/src and fallback dflt"));
        assert!(used.unset.is_empty());
        let names: Vec<_> = used.referenced.iter().map(String::as_str).collect();
        assert_eq!(names, ["EMPTY", "HOME", "NOPE"]);
    }

    #[test]
    fn unset_without_default_is_empty_and_recorded() {
        let (out, used) = run("Bearer ${MISSING}");
        assert_eq!(out.as_deref(), Ok("Bearer "));
        assert!(used.unset.contains("MISSING"));
        // A set-but-empty variable without a default is not "unset".
        let (out, used) = run("[${EMPTY}]");
        assert_eq!(out.as_deref(), Ok("[]"));
        assert!(used.unset.is_empty());
    }

    #[test]
    fn other_dollars_are_literal() {
        let (out, used) = run("$HOME $$ a$b ${TOKEN}$");
        assert_eq!(out.as_deref(), Ok("$HOME $$ a$b s3cret$"));
        assert_eq!(used.referenced.len(), 1);
        let (out, _) = run("${NOPE:-a:-b}");
        assert_eq!(out.as_deref(), Ok("a:-b"));
    }

    #[test]
    fn bad_references_are_errors() {
        for bad in [
            "${HOME",
            "${}",
            "${1X}",
            "${A B}",
            "${VAR:default}",
            "${VAR-x}",
        ] {
            let (out, _) = run(bad);
            assert!(out.is_err(), "{bad} should fail");
        }
        let (out, _) = run("x ${HOME");
        assert!(out.err().unwrap_or_default().contains("no closing"));
    }
}
