//! The engine's own thread pool, sized explicitly: `set_num_threads(n)`, else the
//! `FASTMLP_NUM_THREADS` variable, else every core. NumPy's OpenBLAS keeps its own threads;
//! the two never share a pool.

use crate::error::{Error, Result};
use rayon::{ThreadPool, ThreadPoolBuilder};
use std::sync::{Arc, Mutex, PoisonError};

static POOL: Mutex<Option<Arc<ThreadPool>>> = Mutex::new(None);

pub const THREADS_VARIABLE: &str = "FASTMLP_NUM_THREADS";

/// The thread count used when none was set: `FASTMLP_NUM_THREADS` if it is a positive
/// integer, else the number of cores.
pub fn default_num_threads() -> Result<usize> {
    match std::env::var(THREADS_VARIABLE) {
        Ok(text) => match text.trim().parse::<usize>() {
            Ok(n) if n >= 1 => Ok(n),
            _ => Err(Error::value(
                THREADS_VARIABLE,
                format!("expected a positive integer, got {text:?}"),
            )),
        },
        Err(_) => Ok(std::thread::available_parallelism().map_or(1, |n| n.get())),
    }
}

fn build(threads: usize) -> Result<Arc<ThreadPool>> {
    ThreadPoolBuilder::new()
        .num_threads(threads)
        .thread_name(|i| format!("fastmlp-{i}"))
        .build()
        .map(Arc::new)
        .map_err(|e| {
            Error::value(
                "num_threads",
                format!("cannot start {threads} threads: {e}"),
            )
        })
}

/// Use `threads` threads from now on (>= 1).
pub fn set_num_threads(threads: usize) -> Result<()> {
    if threads == 0 {
        return Err(Error::value(
            "num_threads",
            "expected a positive integer, got 0",
        ));
    }
    let pool = build(threads)?;
    *POOL.lock().unwrap_or_else(PoisonError::into_inner) = Some(pool);
    Ok(())
}

/// The pool the engine runs in (built on first use).
pub fn pool() -> Result<Arc<ThreadPool>> {
    let mut slot = POOL.lock().unwrap_or_else(PoisonError::into_inner);
    if let Some(pool) = slot.as_ref() {
        return Ok(Arc::clone(pool));
    }
    let pool = build(default_num_threads()?)?;
    *slot = Some(Arc::clone(&pool));
    Ok(pool)
}

/// The number of threads the engine uses.
pub fn num_threads() -> Result<usize> {
    Ok(pool()?.current_num_threads())
}
