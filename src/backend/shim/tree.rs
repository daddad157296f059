//! The shim's descendants, found by their parent links in `/proc`: signalled, killed and
//! reaped. As a child subreaper the shim inherits every orphan below it, so "no child
//! left to wait for" means "no descendant left".

use std::collections::HashMap;
use std::time::{Duration, Instant};

use nix::errno::Errno;
use nix::sys::signal::{Signal, kill};
use nix::sys::wait::{WaitPidFlag, WaitStatus, waitpid};
use nix::unistd::{Pid, getpid};

/// How long [`kill_all`] keeps at it: a process in uninterruptible sleep dies only when
/// its I/O ends. Past this the shim exits anyway and init inherits the remains.
const KILL_LIMIT: Duration = Duration::from_secs(5);

/// Reap every child that has exited; the command's status if it was among them.
pub(super) fn reap(main: Pid) -> Option<WaitStatus> {
    let mut found = None;
    loop {
        match waitpid(None, Some(WaitPidFlag::WNOHANG)) {
            Ok(WaitStatus::StillAlive) | Err(_) => return found,
            Ok(status) if status.pid() == Some(main) => found = Some(status),
            Ok(_) => {}
        }
    }
}

/// Send `signal` to every descendant.
pub(super) fn signal_all(signal: Signal) {
    for pid in descendants(getpid()) {
        let _ = kill(pid, signal);
    }
}

/// SIGKILL every descendant and reap them all, until none is left; the command's status,
/// if it was reaped here.
pub(super) fn kill_all(main: Pid) -> Option<WaitStatus> {
    let deadline = Instant::now() + KILL_LIMIT;
    let mut status = None;
    loop {
        // A process forked between the walk and the kill is reparented to us when its
        // parent dies, and found by the next walk.
        for pid in descendants(getpid()) {
            let _ = kill(pid, Signal::SIGKILL);
        }
        loop {
            match waitpid(None, Some(WaitPidFlag::WNOHANG)) {
                Ok(WaitStatus::StillAlive) => break,
                Ok(reaped) => {
                    if reaped.pid() == Some(main) {
                        status = Some(reaped);
                    }
                }
                Err(Errno::EINTR) => {}
                Err(_) => return status, // ECHILD: nothing left below us
            }
        }
        if Instant::now() >= deadline {
            return status;
        }
        std::thread::sleep(Duration::from_millis(2));
    }
}

/// Every process below `root`, from each process's parent id in `/proc/<pid>/stat`.
fn descendants(root: Pid) -> Vec<Pid> {
    let mut children: HashMap<i32, Vec<i32>> = HashMap::new();
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    for entry in entries.flatten() {
        let Some(pid) = entry
            .file_name()
            .to_str()
            .and_then(|n| n.parse::<i32>().ok())
        else {
            continue;
        };
        if let Some(ppid) = parent_of(pid) {
            children.entry(ppid).or_default().push(pid);
        }
    }
    let mut found = Vec::new();
    let mut queue = vec![root.as_raw()];
    while let Some(pid) = queue.pop() {
        for &child in children.get(&pid).map_or(&[][..], Vec::as_slice) {
            found.push(Pid::from_raw(child));
            queue.push(child);
        }
    }
    found
}

/// The parent id in `/proc/<pid>/stat`: the field after the state, which follows the
/// command name in parentheses (a name may itself hold spaces and parentheses).
fn parent_of(pid: i32) -> Option<i32> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let after_name = &stat[stat.rfind(')')? + 1..];
    after_name.split_whitespace().nth(1)?.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_child_is_a_descendant_and_its_parent_link_parses() {
        let mut child = std::process::Command::new("sleep")
            .arg("5")
            .spawn()
            .unwrap_or_else(|e| panic!("cannot run sleep: {e}"));
        let pid = Pid::from_raw(i32::try_from(child.id()).unwrap_or(0));
        assert_eq!(parent_of(pid.as_raw()), Some(getpid().as_raw()));
        assert!(descendants(getpid()).contains(&pid));
        let _ = child.kill();
        let _ = child.wait();
    }
}
