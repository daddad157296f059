//! The shim's own life (Linux): start the command, reap what is reparented to it, and take
//! every descendant down when the command exits, the gateway dies or the gateway says so.
//!
//! Signals are blocked and taken synchronously with `sigwait`, so there are no handlers
//! and no async-signal-safety concerns; the command starts with an empty signal mask (the
//! standard library resets it in the child).

use std::ffi::OsString;
use std::io::Write;
use std::process::ExitCode;
use std::time::Duration;

use nix::sys::prctl;
use nix::sys::signal::{SigSet, Signal, kill};
use nix::sys::wait::WaitStatus;
use nix::unistd::{Pid, getpid, getppid};

use super::tree;

/// How long the command may take to exit after a SIGTERM before everything is killed.
/// Shorter than the gateway's own SIGTERM → SIGKILL step (700 ms), so the shim finishes
/// the job before the gateway would kill the process group itself.
const GRACE: Duration = Duration::from_millis(500);

pub(super) fn run(command: Vec<OsString>) -> ExitCode {
    let Some((program, args)) = command.split_first() else {
        eprintln!("mcp-gateway shim: no command given");
        return ExitCode::from(2);
    };
    // Before anything else: a signal arriving later must wait for `sigwait`.
    let mut signals = SigSet::empty();
    for signal in [
        Signal::SIGTERM,
        Signal::SIGINT,
        Signal::SIGHUP,
        Signal::SIGCHLD,
        Signal::SIGUSR1,
        Signal::SIGALRM,
    ] {
        signals.add(signal);
    }
    if let Err(e) = signals.thread_block() {
        eprintln!("mcp-gateway shim: cannot block signals: {e}");
    }
    let _ = prctl::set_name(c"mcp-gw-shim");
    // The gateway, while it lives: a later parent is init or a subreaper above us.
    let gateway = getppid();
    if let Err(e) = prctl::set_child_subreaper(true) {
        // Still better than nothing: the process-group kill reaches most of the tree.
        eprintln!("mcp-gateway shim: cannot become a subreaper: {e}");
    }

    let mut cmd = std::process::Command::new(program);
    cmd.args(args);
    // Should the shim itself be SIGKILLed, its command still goes.
    crate::sys::die_with_parent(&mut cmd, libc::SIGKILL);
    let main = match cmd.spawn() {
        // The Child is dropped without waiting: `waitpid` below reaps it.
        Ok(child) => Pid::from_raw(i32::try_from(child.id()).unwrap_or(0)),
        Err(e) => {
            let code = e.raw_os_error().unwrap_or(0);
            let _ = writeln!(std::io::stderr(), "{}{code}", super::SPAWN_FAILED);
            return ExitCode::from(super::SPAWN_FAILED_CODE as u8);
        }
    };

    let mut stopping = false;
    let ended = loop {
        match signals.wait() {
            Ok(Signal::SIGCHLD) => {
                if let Some(status) = tree::reap(main) {
                    // The command is gone: nothing it started may stay.
                    tree::kill_all(main);
                    break Some(status);
                }
            }
            Ok(Signal::SIGTERM | Signal::SIGINT | Signal::SIGHUP) if !stopping => {
                stopping = true;
                if getppid() != gateway {
                    // Parent-death signal: the gateway sent the command nothing, and its
                    // stdin is closed. Ask every process politely first.
                    tree::signal_all(Signal::SIGTERM);
                }
                std::thread::spawn(|| {
                    std::thread::sleep(GRACE);
                    let _ = kill(getpid(), Signal::SIGALRM);
                });
            }
            Ok(Signal::SIGUSR1 | Signal::SIGALRM) => break tree::kill_all(main),
            Ok(_) => {}
            Err(e) => {
                eprintln!("mcp-gateway shim: sigwait failed: {e}");
                break tree::kill_all(main);
            }
        }
    };
    mirror(ended)
}

/// Exit as the command did.
fn mirror(status: Option<WaitStatus>) -> ExitCode {
    match status {
        Some(WaitStatus::Exited(_, code)) => ExitCode::from(u8::try_from(code).unwrap_or(1)),
        Some(WaitStatus::Signaled(_, signal, _)) => crate::sys::die_by_signal(signal as i32),
        // Not seen (reaped by someone else, or still in a kernel wait): say "killed".
        _ => crate::sys::die_by_signal(libc::SIGKILL),
    }
}
