//! Lazy start and idle stop (`start: lazy`, `idle_timeout:`): the clock of a backend's
//! calls that tells its actor when it has been idle long enough to stop (activity.rs), and
//! the on-disk cache of its last `tools/list` that keeps a backend that is not running
//! searchable (cache.rs).

mod activity;
mod cache;

pub(crate) use activity::Activity;
pub(crate) use cache::ToolCache;
