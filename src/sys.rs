//! Process-level settings that need the C library directly: the allocator's mmap threshold
//! and parent-death signalling for backend processes. This is the crate's only module with
//! `unsafe` code; each block says why it is sound.
#![allow(unsafe_code)]

/// Largest allocation glibc serves from its heap; bigger ones get their own mapping.
const MMAP_THRESHOLD: i32 = 128 * 1024;

/// Keep idle memory low. The search index's writer allocates megabytes of buffers for
/// each update and frees them; glibc's *dynamic* mmap threshold then rises above their
/// size, so later buffers come from the heap and their pages stay resident after being
/// freed (about +10 MB RSS with a few backends). Pinning the threshold at its default
/// makes large buffers mappings again, returned to the OS when freed.
pub fn tune_allocator() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: mallopt only changes allocator parameters; it is called once, at startup,
    // before any other thread exists, with a documented option and an in-range value.
    unsafe {
        libc::mallopt(libc::M_MMAP_THRESHOLD, MMAP_THRESHOLD);
    }
}

/// Have a stdio backend killed when the gateway dies, even by SIGKILL, when nothing else
/// could clean up. (Linux only. It reaches the direct child; a grandchild such as node under
/// npx is left to notice its closed stdin.)
pub fn die_with_parent(command: &mut tokio::process::Command) {
    #[cfg(target_os = "linux")]
    {
        let parent = libc::pid_t::try_from(std::process::id()).unwrap_or(0);
        // SAFETY: the closure runs in the forked child before exec, so it may only call
        // async-signal-safe functions: prctl, getppid and _exit are. It captures a plain
        // integer and allocates nothing.
        unsafe {
            command.pre_exec(move || {
                if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL) != 0 {
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
    let _ = command;
}
