//! Process-level settings that need the C library directly: the allocator's mmap threshold
//! and returning free memory to the OS,
//! parent-death signalling for backend processes, and a backend supervisor ending by the
//! signal its command ended by. This is the crate's only module with
//! `unsafe` code; each block says why it is sound.
#![allow(unsafe_code)]

/// Largest allocation glibc serves from its heap until the embedding model is loaded.
const IDLE_MMAP_THRESHOLD: i32 = 128 * 1024;
/// …and after: above the matrix products' packing buffers (up to about 1.6 MiB).
const EMBEDDING_MMAP_THRESHOLD: i32 = 2 * 1024 * 1024;
/// Free memory at the top of the heap kept for reuse once the model is loaded (an explicit
/// threshold turns glibc's dynamic one off, whose default would trim after every embedding).
const EMBEDDING_TRIM_THRESHOLD: i32 = 16 * 1024 * 1024;

/// Keep idle memory low. The search index's writer allocates megabytes of buffers for
/// each update and frees them; glibc's *dynamic* mmap threshold then rises above their
/// size, so later buffers come from the heap and their pages stay resident after being
/// freed. Pinning the threshold at its default makes large buffers mappings again,
/// returned to the OS when freed. Called once, at startup.
pub fn tune_allocator() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: mallopt only changes an allocator parameter (glibc documents it MT-Safe), with
    // a documented option and an in-range value.
    unsafe {
        libc::mallopt(libc::M_MMAP_THRESHOLD, IDLE_MMAP_THRESHOLD);
    }
}

/// The embedding model is loaded: raise the threshold above the packing buffers each matrix
/// product of an embedding allocates and frees. Left as mappings, every one of them was
/// mapped, faulted in and unmapped again — a third of a search round trip through the
/// binary. The index's freed buffers are then returned by [`release_free_memory`].
pub fn allocator_for_embedding() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: as in `tune_allocator`.
    unsafe {
        libc::mallopt(libc::M_TRIM_THRESHOLD, EMBEDDING_TRIM_THRESHOLD);
        libc::mallopt(libc::M_MMAP_THRESHOLD, EMBEDDING_MMAP_THRESHOLD);
    }
}

/// Hand the allocator's free memory back to the OS: the search index calls this when it lets
/// its writer go, so the megabytes of indexing buffers it freed leave the process even when
/// they came from the heap.
pub fn release_free_memory() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: malloc_trim takes the allocator's own locks and only releases memory that is
    // free; no pointer held by any thread is affected.
    unsafe {
        libc::malloc_trim(0);
    }
}

/// Have a child process signalled with `signal` when its parent (this process) dies, even by
/// SIGKILL, when nothing else could clean up. (Linux only.) The gateway asks for a catchable
/// SIGTERM for its backend supervisors (`backend::shim`), which then take the whole tree down;
/// a supervisor asks for SIGKILL for the command it runs.
pub fn die_with_parent(command: &mut std::process::Command, signal: i32) {
    #[cfg(target_os = "linux")]
    {
        use std::os::unix::process::CommandExt;
        let parent = libc::pid_t::try_from(std::process::id()).unwrap_or(0);
        let signal = libc::c_ulong::try_from(signal).unwrap_or(libc::SIGKILL as libc::c_ulong);
        // SAFETY: the closure runs in the forked child before exec, so it may only call
        // async-signal-safe functions: prctl, getppid and _exit are. It captures plain
        // integers and allocates nothing.
        unsafe {
            command.pre_exec(move || {
                if libc::prctl(libc::PR_SET_PDEATHSIG, signal) != 0 {
                    return Err(std::io::Error::last_os_error());
                }
                // The parent may have died between fork and prctl: then no signal comes.
                if libc::getppid() != parent {
                    libc::_exit(1);
                }
                Ok(())
            });
        }
    }
    #[cfg(not(target_os = "linux"))]
    let _ = (command, signal);
}

/// End this process the way a child of it ended: by `signal`, so whoever waits for it sees
/// the same "killed by signal N" (a backend supervisor mirroring its command). No core file
/// is written for it: the command wrote its own, if any.
#[cfg(unix)]
pub fn die_by_signal(signal: i32) -> ! {
    // SAFETY: called once, by a backend shim about to exit (its only other thread, a
    // sleeping timer, touches nothing here). `setrlimit` and `signal` only change process
    // attributes; resetting the disposition to the default and
    // unblocking the signal makes `raise` end the process. `_exit` is the fallback for a
    // signal whose default action is not to terminate.
    unsafe {
        let none = libc::rlimit {
            rlim_cur: 0,
            rlim_max: 0,
        };
        libc::setrlimit(libc::RLIMIT_CORE, &none);
        libc::signal(signal, libc::SIG_DFL);
        let mut set: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&mut set);
        libc::sigaddset(&mut set, signal);
        libc::sigprocmask(libc::SIG_UNBLOCK, &set, std::ptr::null_mut());
        libc::raise(signal);
        libc::_exit(128 + signal)
    }
}
