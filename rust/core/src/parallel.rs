//! The engine's own thread pool, sized explicitly: `set_num_threads(n)`, else the
//! `FASTMLP_NUM_THREADS` variable, else every core; at most `THREADS_PER_CORE` per core. NumPy's OpenBLAS keeps its own threads;
//! the two never share a pool.

use crate::error::{Error, Result};
use rayon::{ThreadPool, ThreadPoolBuilder};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, OnceLock, PoisonError};
use std::thread::Thread;
use std::time::Duration;

static POOL: Mutex<Option<Arc<ThreadPool>>> = Mutex::new(None);
static CORES: OnceLock<usize> = OnceLock::new();

pub const THREADS_VARIABLE: &str = "FASTMLP_NUM_THREADS";

/// The most threads accepted per available core. Threads beyond the cores only take turns on
/// them; far beyond, starting and scheduling them costs more than they do.
pub const THREADS_PER_CORE: usize = 4;

/// The cores this process may use (its CPU affinity and cgroup quota included), read once.
pub fn available_cores() -> usize {
    *CORES.get_or_init(|| std::thread::available_parallelism().map_or(1, |n| n.get()))
}

/// The largest thread count `set_num_threads` and `FASTMLP_NUM_THREADS` accept.
pub fn max_num_threads() -> usize {
    THREADS_PER_CORE * available_cores()
}

/// Whether `threads` threads each have a core of their own, so that idle ones may spin
/// waiting for work instead of sleeping (spinning on a shared core steals it from the work).
pub fn may_spin(threads: usize) -> bool {
    threads <= available_cores()
}

/// `threads` if it is between 1 and `max_num_threads()`, else an error naming `arg`.
fn check_count(arg: &str, threads: usize) -> Result<usize> {
    if threads == 0 {
        return Err(Error::value(arg, "expected a positive integer, got 0"));
    }
    if threads > max_num_threads() {
        return Err(Error::value(
            arg,
            format!("expected {}, got {threads}", thread_limit()),
        ));
    }
    Ok(threads)
}

/// The limit on thread counts, as error messages state it.
pub fn thread_limit() -> String {
    format!(
        "at most {} ({THREADS_PER_CORE} x the {} cores available)",
        max_num_threads(),
        available_cores()
    )
}

/// The thread count used when none was set: `FASTMLP_NUM_THREADS` if it is a positive
/// integer (at most `max_num_threads()`), else the number of cores.
pub fn default_num_threads() -> Result<usize> {
    match std::env::var(THREADS_VARIABLE) {
        Ok(text) => match text.trim().parse::<u128>() {
            Ok(n) if n >= 1 => {
                check_count(THREADS_VARIABLE, usize::try_from(n).unwrap_or(usize::MAX))
            }
            _ => Err(Error::value(
                THREADS_VARIABLE,
                format!("expected a positive integer, got {text:?}"),
            )),
        },
        Err(_) => Ok(available_cores()),
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

/// Use `threads` threads from now on (1 to `max_num_threads()`).
pub fn set_num_threads(threads: usize) -> Result<()> {
    let pool = build(check_count("num_threads", threads)?)?;
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

/// Runs `work` as a job of the engine's pool while the calling thread (which is not one of
/// the pool's) calls `watch` every `interval` until the job has finished, and returns what
/// `work` returned (re-raising its panic, if it panicked). For the binding's Ctrl-C watch: the
/// job is handed to a pool thread directly, with no thread started per call.
pub fn run_watched<R: Send>(
    work: impl FnOnce() -> R + Send,
    interval: Duration,
    mut watch: impl FnMut(),
) -> Result<R> {
    let finished = AtomicBool::new(false);
    let mut outcome = None;
    pool()?.in_place_scope(|scope| {
        let done = Finished {
            flag: &finished,
            caller: std::thread::current(),
        };
        let outcome = &mut outcome;
        scope.spawn(move |_| {
            let _done = done; // dropped at the end of the job, or as its panic unwinds
            *outcome = Some(work());
        });
        while !finished.load(Ordering::Acquire) {
            std::thread::park_timeout(interval);
            if !finished.load(Ordering::Acquire) {
                watch();
            }
        }
    });
    // in_place_scope returns once its job has finished and re-raises the job's panic, so
    // here the job has run to its end.
    Ok(outcome.unwrap_or_else(|| unreachable!("the pool's job ran")))
}

/// Marks the pool's job finished and wakes the waiting thread when dropped.
struct Finished<'a> {
    flag: &'a AtomicBool,
    caller: Thread,
}

impl Drop for Finished<'_> {
    fn drop(&mut self) {
        self.flag.store(true, Ordering::Release);
        self.caller.unpark();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_beyond_the_limit_are_refused_and_name_the_cores() {
        let max = max_num_threads();
        assert_eq!(max, THREADS_PER_CORE * available_cores());
        assert_eq!(check_count("n", max), Ok(max));
        let error = check_count("n", max + 1).unwrap_err().to_string();
        assert!(
            error.starts_with(&format!("n: expected at most {max} (")),
            "{error}"
        );
        assert!(
            error.contains(&format!("{} cores", available_cores())),
            "{error}"
        );
        assert!(check_count("n", 0).is_err());
    }

    #[test]
    fn only_threads_with_a_core_each_may_spin() {
        assert!(may_spin(1));
        assert!(may_spin(available_cores()));
        assert!(!may_spin(available_cores() + 1));
    }

    #[test]
    fn a_watched_job_returns_its_value_and_is_watched_while_it_runs() {
        let stop = AtomicBool::new(false);
        let mut watched = 0;
        let steps = run_watched(
            || {
                // Runs until the watch asks it to stop, as training does on Ctrl-C.
                let mut steps = 0;
                while !stop.load(Ordering::Relaxed) {
                    std::thread::sleep(Duration::from_millis(1));
                    steps += 1;
                }
                (steps, rayon::current_thread_index().is_some())
            },
            Duration::from_millis(2),
            || {
                watched += 1;
                if watched == 3 {
                    stop.store(true, Ordering::Relaxed);
                }
            },
        )
        .unwrap();
        assert!(watched >= 3, "{watched}");
        assert!(steps.0 >= 1 && steps.1, "{steps:?}: ran in the pool");
    }

    #[test]
    fn a_watched_job_that_panics_re_raises_the_panic_without_hanging() {
        let caught = std::panic::catch_unwind(|| {
            run_watched(|| panic!("in the job"), Duration::from_secs(60), || {})
        });
        let payload = caught.expect_err("the panic reaches the caller");
        assert_eq!(payload.downcast_ref::<&str>(), Some(&"in the job"));
    }
}
