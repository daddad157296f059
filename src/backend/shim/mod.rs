//! The backend supervisor ("shim"): on Linux every stdio backend runs under a small
//! process of its own, the gateway binary started again with a hidden first argument, so
//! that no process a backend starts outlives the gateway, even one killed with SIGKILL.
//!
//! Why a process in between: the kernel's parent-death signal reaches only a direct child,
//! and a process group is left by any grandchild that calls `setsid` (or is reparented to
//! init when its parent exits). The shim closes both gaps. It is a *child subreaper*, so
//! every orphaned descendant is reparented to it rather than to init; the gateway gives it
//! a catchable parent-death signal (SIGTERM); and on that signal, on its own SIGTERM, on
//! the gateway's "kill now" (SIGUSR1), or when the command exits, it kills every process
//! below it — found by walking `/proc` parent links, so a `setsid`'d grandchild that
//! ignores its closed stdin is found too — reaps them, and exits the way the command did
//! (same exit code, or the same signal). A PID namespace would do the same with one
//! syscall, but creating one needs privileges (or an unprivileged user namespace, which
//! many distributions and container runtimes turn off), and cgroups need a delegated
//! hierarchy; the subreaper works for any user on any Linux since 3.4.
//!
//! The shim leaves `main` before the runtime, logging or config exist: it costs a
//! process whose private memory is little more than the binary's relocated data (about
//! 0.6 MB in a release build; its code pages are shared with the gateway's). Stdio is
//! inherited, so the command's stdin, stdout and stderr are the gateway's pipes, unchanged.
//!
//! Gateway side ([`wrap`]): the command is spawned as `/proc/self/exe <HIDDEN_ARG> -- cmd
//! args…` only when the running binary is the gateway (its `main` called [`run_if_asked`]);
//! a library user (an in-process test) spawns commands directly, as other platforms do.

#[cfg(target_os = "linux")]
mod run;
#[cfg(target_os = "linux")]
mod tree;

use std::ffi::OsString;
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, Ordering};

/// The first argument that makes the binary a backend supervisor. Not a subcommand: the
/// command line is never parsed by clap in a shim.
const HIDDEN_ARG: &str = "__mcp-gateway-backend-shim";

/// Start of the stderr line a shim writes when it cannot start the command; the gateway
/// turns it back into a "cannot start" error (permanent: not retried on a timer).
pub(crate) const SPAWN_FAILED: &str = "mcp-gateway shim: cannot start: os error ";

/// The shim's exit code when the command could not be started.
pub(crate) const SPAWN_FAILED_CODE: i32 = 127;

/// Set when `main` ran [`run_if_asked`]: this binary can be re-executed as a shim.
static AVAILABLE: AtomicBool = AtomicBool::new(false);

/// Called first thing in `main`: when this process was started as a backend shim, run it
/// and return its exit code; otherwise note that backends may be run under shims and
/// return `None`.
pub fn run_if_asked() -> Option<ExitCode> {
    let mut args = std::env::args_os().skip(1);
    if args.next().as_deref() != Some(HIDDEN_ARG.as_ref()) {
        AVAILABLE.store(true, Ordering::Relaxed);
        return None;
    }
    let rest: Vec<OsString> = args.skip_while(|a| a != "--").skip(1).collect();
    Some(shim_main(rest))
}

#[cfg(target_os = "linux")]
fn shim_main(command: Vec<OsString>) -> ExitCode {
    run::run(command)
}

#[cfg(not(target_os = "linux"))]
fn shim_main(_command: Vec<OsString>) -> ExitCode {
    eprintln!("mcp-gateway: the backend shim runs on Linux only");
    ExitCode::from(2)
}

/// Whether backends are run under a shim in this process.
pub(crate) fn in_use() -> bool {
    cfg!(target_os = "linux") && AVAILABLE.load(Ordering::Relaxed)
}

/// The command that runs `program args…`: under a shim when [`in_use`], else itself. Either
/// way it is killed (the shim: told with SIGTERM) when the gateway dies.
pub(crate) fn wrap(program: &str, args: &[String]) -> tokio::process::Command {
    #[cfg(target_os = "linux")]
    if in_use() {
        // `/proc/self/exe` still starts this binary when its file was replaced on disk (an
        // upgrade while serving); the name shown by `ps` stays the gateway's.
        let mut cmd = tokio::process::Command::new("/proc/self/exe");
        cmd.arg0("mcp-gateway")
            .arg(HIDDEN_ARG)
            .arg("--")
            .arg(program)
            .args(args);
        crate::sys::die_with_parent(cmd.as_std_mut(), libc_signal::TERM);
        return cmd;
    }
    let mut cmd = tokio::process::Command::new(program);
    cmd.args(args);
    crate::sys::die_with_parent(cmd.as_std_mut(), libc_signal::KILL);
    cmd
}

/// Stop the backend whose shim (or, without one, process group) is `group` now: the shim
/// is asked (SIGUSR1) so that it kills the whole tree, escaped grandchildren included,
/// before it exits; a plain process group gets SIGKILL.
#[cfg(unix)]
pub(crate) fn kill_now(group: u32) {
    use nix::sys::signal::{Signal, kill, killpg};
    use nix::unistd::Pid;
    let Ok(pid) = i32::try_from(group) else {
        return;
    };
    // ESRCH (already gone) is the expected, happy outcome.
    if in_use() {
        let _ = kill(Pid::from_raw(pid), Signal::SIGUSR1);
    } else {
        let _ = killpg(Pid::from_raw(pid), Signal::SIGKILL);
    }
}

/// Signal numbers without a `libc` dependency on platforms that have none.
mod libc_signal {
    #[cfg(unix)]
    pub(super) const KILL: i32 = libc::SIGKILL;
    #[cfg(unix)]
    pub(super) const TERM: i32 = libc::SIGTERM;
    #[cfg(not(unix))]
    pub(super) const KILL: i32 = 9;
    #[cfg(not(unix))]
    pub(super) const TERM: i32 = 15;
}
