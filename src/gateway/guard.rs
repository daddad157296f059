//! The policy on the client-facing side: what lists and search may show, and the one
//! check every tool call passes before it reaches a backend (deny, or ask the user).

use std::collections::HashSet;
use std::sync::Arc;

use rmcp::model::{JsonObject, Tool};

use super::live::Surface;
use super::{Gateway, lock};
use crate::backend::Caller;
use crate::policy::{self, Confirmation, Decision, Route};
use crate::registry::Snapshot;

/// The tools the policy hides in one snapshot under one surface. Deciding is a few glob
/// matches per tool, which adds up over thousands of tools on every list and search, so it
/// is done once per snapshot (or policy) change.
pub(super) struct Hidden {
    snapshot: Arc<Snapshot>,
    surface: Arc<Surface>,
    tools: HashSet<(String, String)>,
}

impl Hidden {
    pub(super) fn visible(&self, server: &str, tool: &str) -> bool {
        self.tools.is_empty() || !self.tools.contains(&(server.to_owned(), tool.to_owned()))
    }

    /// Hidden tools of `server`, or of every server.
    pub(super) fn count(&self, server: Option<&str>) -> usize {
        match server {
            None => self.tools.len(),
            Some(name) => self.tools.iter().filter(|(s, _)| s == name).count(),
        }
    }
}

/// How a call got past the policy (for the audit log).
pub(super) enum Admitted {
    Allowed,
    /// The user said yes when asked.
    Confirmed,
}

/// Why a call was not made, in words for the model.
pub(super) enum Refused {
    /// A rule denies the tool.
    Policy(String),
    /// It needs the user's yes, which did not come (declined, cancelled, or not askable).
    NotConfirmed(String),
}

impl Gateway {
    /// What the policy hides in `snap`, cached per snapshot and surface.
    pub(super) fn hidden(&self, snap: &Arc<Snapshot>) -> Arc<Hidden> {
        let surface = self.surface();
        let mut cache = lock(&self.inner.hidden);
        if let Some(h) = cache.as_ref()
            && Arc::ptr_eq(&h.snapshot, snap)
            && Arc::ptr_eq(&h.surface, &surface)
        {
            return Arc::clone(h);
        }
        let tools = if surface.policy.hides_nothing() {
            HashSet::new()
        } else {
            snap.tools()
                .filter(|(s, t)| !surface.policy.visible(s, t))
                .map(|(s, t)| (s.to_owned(), t.name.to_string()))
                .collect()
        };
        let hidden = Arc::new(Hidden {
            snapshot: Arc::clone(snap),
            surface,
            tools,
        });
        *cache = Some(Arc::clone(&hidden));
        hidden
    }

    /// The policy's word on one call: `Ok` to go ahead, or the refusal the model reads.
    /// Nothing reaches the backend unless this says `Ok`.
    pub(super) async fn admit(
        &self,
        server: &str,
        tool: &Tool,
        arguments: &JsonObject,
        caller: &Caller,
        route: Route,
    ) -> Result<Admitted, Refused> {
        let name = tool.name.as_ref();
        let decision = self.surface().policy.decide(server, tool, route);
        let reason = match decision {
            Decision::Allow => return Ok(Admitted::Allowed),
            Decision::Deny(why) => {
                return Err(Refused::Policy(format!(
                    "the call to `{name}` on `{server}` is refused: {why} in gateway.yaml"
                )));
            }
            Decision::Confirm(reason) => reason,
        };
        let asked = policy::ask(caller, server, name, arguments, &reason).await;
        match asked {
            Confirmation::Confirmed => Ok(Admitted::Confirmed),
            Confirmation::Declined(how) => Err(Refused::NotConfirmed(format!(
                "the call to `{name}` on `{server}` was not made: it needs the user's \
                 confirmation ({reason}) and {how}"
            ))),
            Confirmation::Unavailable(why) => Err(Refused::NotConfirmed(format!(
                "the call to `{name}` on `{server}` was not made: it needs the user's \
                 confirmation ({reason}), but {why}. To allow it without asking, add \
                 `- allow: {{ server: {server}, tool: {name} }}` to `policy.rules` in \
                 gateway.yaml (or set `policy.confirm_destructive: false`), or use \
                 `mode: flat`, where the client approves each tool itself"
            ))),
        }
    }
}
