//! Taking a std mutex the one way the gateway does: a panic on another thread while it was
//! held ("poison") does not make the value unusable. Every value guarded here is whole
//! between statements, so the gateway keeps serving rather than failing every later request.

use std::sync::{Mutex, MutexGuard, PoisonError};

pub fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}
