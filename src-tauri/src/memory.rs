//! Giving freed memory back to the system. glibc's allocator keeps what a large scan freed (the
//! database's page cache, the rows read) inside its heap for later use; an app that then sits on
//! one screen for hours should not hold it.

/// Returns the free pages of the allocator's heaps to the system (glibc `malloc_trim`); does
/// nothing where the C library has no such call.
#[allow(unsafe_code)]
pub fn give_back_freed() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: malloc_trim takes no pointer and only releases memory no allocation owns.
    unsafe {
        libc::malloc_trim(0);
    }
}
