//! Process-level settings that need the C library directly. This is the crate's only
//! module with `unsafe` code; each block says why it is sound.
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
