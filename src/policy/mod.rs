//! Per-tool policy: which backend tools a client may see and call, and which need the
//! user's confirmation first (`policy:` in `gateway.yaml`).
//!
//! - `raw`: the section as written; `glob`: server/tool name globs.
//! - this file: the validated [`Policy`] and its [`Decision`] for one tool.
//! - `confirm`: asking the user through the client (`elicitation/create`).
//!
//! **Rules are read top to bottom and the first one that matches decides** (like a
//! firewall). That keeps exceptions expressible — `allow: {server: fs, tool: read_file}`
//! above `deny: {server: fs}` — and makes every decision traceable to one rule, which the
//! refusal names. When no rule matches, a tool that *states* `destructiveHint: true` (and
//! not `readOnlyHint: true`) needs confirmation when called through `gateway_invoke`
//! (`confirm_destructive`, default on), and anything else gets `default` (`allow`, or
//! `deny` for allow-list mode).
//!
//! Annotation conditions match only what a tool states. MCP's defaults would make every
//! unannotated tool "destructive", and most tools carry no annotations at all: confirming
//! each of them would train users to click yes. Annotations are the backend's own claims,
//! so they can narrow what the user allowed but are no reason to trust a tool more; name
//! the server and tool in a rule for that.

mod confirm;
mod glob;
pub(crate) mod raw;

use std::collections::BTreeMap;
use std::fmt::Write as _;

use rmcp::model::Tool;

pub use confirm::{Confirmation, ask};
pub use glob::Pattern;

/// The annotation names a rule may test, as MCP spells them.
pub const ANNOTATIONS: [&str; 4] = [
    "readOnlyHint",
    "destructiveHint",
    "idempotentHint",
    "openWorldHint",
];

/// The validated `policy:` section. The default allows everything and confirms tools that
/// state they are destructive.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Policy {
    pub default: Action,
    pub confirm_destructive: bool,
    pub rules: Vec<Rule>,
}

impl Default for Policy {
    fn default() -> Self {
        Policy {
            default: Action::Allow,
            confirm_destructive: true,
            rules: Vec::new(),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    Allow,
    Deny,
    Confirm,
}

impl Action {
    fn as_str(self) -> &'static str {
        match self {
            Action::Allow => "allow",
            Action::Deny => "deny",
            Action::Confirm => "confirm",
        }
    }
}

/// One rule, with its position (1-based) for messages.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rule {
    pub number: usize,
    pub action: Action,
    pub server: Option<Pattern>,
    pub tool: Option<Pattern>,
    pub annotations: BTreeMap<String, bool>,
}

impl Rule {
    fn matches(&self, server: &str, tool: &Tool) -> bool {
        self.server.as_ref().is_none_or(|p| p.matches(server))
            && self.tool.as_ref().is_none_or(|p| p.matches(&tool.name))
            && self
                .annotations
                .iter()
                .all(|(name, want)| stated(tool, name) == Some(*want))
    }

    /// The rule as the user wrote it, for messages: `rule 2 (deny: { server: "fs" })`.
    pub fn describe(&self) -> String {
        let mut parts = Vec::new();
        if let Some(p) = &self.server {
            parts.push(format!("server: {:?}", p.as_str()));
        }
        if let Some(p) = &self.tool {
            parts.push(format!("tool: {:?}", p.as_str()));
        }
        if !self.annotations.is_empty() {
            let mut a = String::new();
            for (i, (k, v)) in self.annotations.iter().enumerate() {
                let _ = write!(a, "{}{k}: {v}", if i == 0 { "" } else { ", " });
            }
            parts.push(format!("annotations: {{ {a} }}"));
        }
        format!(
            "policy rule {} (`{}: {{ {} }}`)",
            self.number,
            self.action.as_str(),
            parts.join(", ")
        )
    }
}

/// What a tool states for one annotation. `destructiveHint` and `idempotentHint` mean
/// something only when `readOnlyHint` is not true (MCP), so they read as unstated then.
fn stated(tool: &Tool, name: &str) -> Option<bool> {
    let a = tool.annotations.as_ref()?;
    let read_only = a.read_only_hint == Some(true);
    match name {
        "readOnlyHint" => a.read_only_hint,
        "destructiveHint" if !read_only => a.destructive_hint,
        "idempotentHint" if !read_only => a.idempotent_hint,
        "openWorldHint" => a.open_world_hint,
        _ => None,
    }
}

/// What the policy says about one tool.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision {
    Allow,
    /// Hidden from lists and search, refused on call; the text says which rule.
    Deny(String),
    /// Ask the user before each call; the text says why.
    Confirm(String),
}

/// How a call reached the gateway, which decides whether the client's own approval
/// already covered this one tool.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Route {
    /// Through `gateway_invoke`: the client's approval of it covers every tool.
    Invoke,
    /// By the tool's own exposed name (flat mode, surfaced tools): the client approves it
    /// per tool, and sees its annotations.
    Direct,
}

impl Policy {
    /// The decision for `tool` of `server` reached by `route`.
    pub fn decide(&self, server: &str, tool: &Tool, route: Route) -> Decision {
        if let Some(rule) = self.rules.iter().find(|r| r.matches(server, tool)) {
            return match rule.action {
                Action::Allow => Decision::Allow,
                Action::Deny => Decision::Deny(format!("denied by {}", rule.describe())),
                Action::Confirm => Decision::Confirm(format!("{} asks for it", rule.describe())),
            };
        }
        if self.confirm_destructive
            && route == Route::Invoke
            && stated(tool, "destructiveHint") == Some(true)
        {
            return Decision::Confirm(
                "the tool says it is destructive (`destructiveHint: true`; \
                 `policy.confirm_destructive`)"
                    .into(),
            );
        }
        match self.default {
            Action::Deny => {
                Decision::Deny("denied by `policy.default: deny` (no policy rule allows it)".into())
            }
            Action::Allow | Action::Confirm => Decision::Allow,
        }
    }

    /// Whether no tool can be hidden (no deny rule, default allow): lists skip the check.
    pub fn hides_nothing(&self) -> bool {
        self.default != Action::Deny && self.rules.iter().all(|r| r.action != Action::Deny)
    }

    /// Whether lists and search show the tool: everything not denied. (A route does not
    /// change visibility: only confirmation depends on it.)
    pub fn visible(&self, server: &str, tool: &Tool) -> bool {
        !matches!(self.decide(server, tool, Route::Direct), Decision::Deny(_))
    }

    /// Builds the policy from its raw form.
    ///
    /// # Errors
    ///
    /// The key path under `policy` (e.g. `["rules", "2", "deny", "tool"]`) and what is wrong.
    pub(crate) fn from_raw(raw: raw::RawPolicy) -> Result<Policy, (Vec<String>, String)> {
        let mut policy = Policy {
            default: match raw.default {
                Some(raw::RawDefault::Deny) => Action::Deny,
                Some(raw::RawDefault::Allow) | None => Action::Allow,
            },
            confirm_destructive: raw.confirm_destructive.unwrap_or(true),
            rules: Vec::new(),
        };
        for (i, rule) in raw.rules.unwrap_or_default().into_iter().enumerate() {
            let at = |rest: &[&str]| {
                let mut path = vec!["rules".to_owned(), i.to_string()];
                path.extend(rest.iter().map(|s| (*s).to_owned()));
                path
            };
            let actions = [
                (Action::Allow, rule.allow),
                (Action::Deny, rule.deny),
                (Action::Confirm, rule.confirm),
            ];
            let mut given: Vec<(Action, raw::RawMatch)> = actions
                .into_iter()
                .filter_map(|(a, m)| m.map(|m| (a, m)))
                .collect();
            if given.len() != 1 {
                return Err((
                    at(&[]),
                    "each policy rule needs exactly one of `allow:`, `deny:` or `confirm:`".into(),
                ));
            }
            let Some((action, m)) = given.pop() else {
                continue;
            };
            let key = action.as_str();
            let pattern = |text: Option<String>, field: &str| {
                text.map(|t| Pattern::new(&t))
                    .transpose()
                    .map_err(|e| (at(&[key, field]), e))
            };
            let server = pattern(m.server, "server")?;
            let tool = pattern(m.tool, "tool")?;
            let annotations = m.annotations.unwrap_or_default();
            if let Some(bad) = annotations
                .keys()
                .find(|k| !ANNOTATIONS.contains(&k.as_str()))
            {
                return Err((
                    at(&[key, "annotations", bad]),
                    format!(
                        "unknown annotation `{bad}`; rules can test {}",
                        ANNOTATIONS.join(", ")
                    ),
                ));
            }
            policy.rules.push(Rule {
                number: i + 1,
                action,
                server,
                tool,
                annotations,
            });
        }
        Ok(policy)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use std::sync::Arc;

    use rmcp::model::ToolAnnotations;

    use super::*;

    fn tool(name: &str, annotations: Option<ToolAnnotations>) -> Tool {
        let mut t = Tool::new(name.to_owned(), "d", Arc::new(serde_json::Map::new()));
        t.annotations = annotations;
        t
    }

    fn policy(yaml: &str) -> Policy {
        Policy::from_raw(serde_yaml_ng::from_str(yaml).unwrap()).unwrap()
    }

    fn destructive() -> Option<ToolAnnotations> {
        Some(ToolAnnotations::new().destructive(true))
    }

    #[test]
    fn first_match_wins_and_is_named() {
        let p = policy(
            "rules:\n  - allow: { server: fs, tool: read_file }\n  - deny: { server: fs }\n",
        );
        let read = tool("read_file", None);
        let write = tool("write_file", None);
        assert_eq!(p.decide("fs", &read, Route::Invoke), Decision::Allow);
        let Decision::Deny(why) = p.decide("fs", &write, Route::Invoke) else {
            panic!("not denied")
        };
        assert!(
            why.contains("policy rule 2") && why.contains("server: \"fs\""),
            "{why}"
        );
        assert_eq!(p.decide("git", &write, Route::Invoke), Decision::Allow);
    }

    #[test]
    fn annotations_match_only_what_a_tool_states() {
        let p =
            policy("rules:\n  - deny: { server: gh, annotations: { destructiveHint: true } }\n");
        assert!(!p.visible("gh", &tool("delete_repo", destructive())));
        // Unannotated: MCP's default would call it destructive; the rule does not.
        assert!(p.visible("gh", &tool("mystery", None)));
        // destructiveHint means nothing on a read-only tool.
        let ro = Some(ToolAnnotations::new().read_only(true).destructive(true));
        assert!(p.visible("gh", &tool("list", ro)));
        assert!(p.visible("other", &tool("delete_repo", destructive())));
    }

    #[test]
    fn destructive_tools_are_confirmed_through_invoke_only() {
        let p = Policy::default();
        let t = tool("rm", destructive());
        assert!(matches!(
            p.decide("s", &t, Route::Invoke),
            Decision::Confirm(_)
        ));
        assert_eq!(p.decide("s", &t, Route::Direct), Decision::Allow);
        assert_eq!(
            p.decide("s", &tool("rm", None), Route::Invoke),
            Decision::Allow
        );
        // An explicit allow rule is how a user trusts one destructive tool.
        let p = policy("rules:\n  - allow: { tool: rm }\n");
        assert_eq!(p.decide("s", &t, Route::Invoke), Decision::Allow);
        let p = policy("confirm_destructive: false\n");
        assert_eq!(p.decide("s", &t, Route::Invoke), Decision::Allow);
        // A confirm rule applies on every route.
        let p = policy("rules:\n  - confirm: { server: s }\n");
        assert!(matches!(
            p.decide("s", &tool("x", None), Route::Direct),
            Decision::Confirm(_)
        ));
    }

    #[test]
    fn allow_list_mode() {
        let p = policy("default: deny\nrules:\n  - allow: { server: time }\n");
        assert!(p.visible("time", &tool("now", None)));
        let Decision::Deny(why) = p.decide("fs", &tool("read", None), Route::Invoke) else {
            panic!()
        };
        assert!(why.contains("policy.default: deny"), "{why}");
    }

    #[test]
    fn bad_rules_are_refused_with_their_path() {
        let raw = |y: &str| Policy::from_raw(serde_yaml_ng::from_str(y).unwrap()).unwrap_err();
        let (path, msg) = raw("rules:\n  - { allow: {}, deny: {} }\n");
        assert_eq!(path, ["rules", "0"]);
        assert!(msg.contains("exactly one"), "{msg}");
        let (path, _) = raw("rules:\n  - deny: { tool: \"a[\" }\n");
        assert_eq!(path, ["rules", "0", "deny", "tool"]);
        let (path, msg) = raw("rules:\n  - deny: { annotations: { destructive: true } }\n");
        assert_eq!(path, ["rules", "0", "deny", "annotations", "destructive"]);
        assert!(msg.contains("destructiveHint"), "{msg}");
    }
}
