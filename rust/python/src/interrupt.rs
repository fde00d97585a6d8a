//! Ctrl-C during a long call into the core. Python's C-level handler only flags the signal,
//! and runs the Python handler on the main thread, so while the core works in the engine's
//! pool the main thread looks for the flag every 20 ms and, on Ctrl-C, asks the work to stop.

use crate::errors::core;
use fastmlp_core::{parallel, Error};
use pyo3::prelude::*;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

/// How often the main thread takes the GIL to look for Ctrl-C.
const SIGNAL_CHECK_INTERVAL: Duration = Duration::from_millis(20);

/// Whether this is Python's main thread, the one that runs signal handlers.
fn on_main_thread(py: Python<'_>) -> PyResult<bool> {
    let threading = py.import("threading")?;
    let main = threading.call_method0("main_thread")?;
    Ok(threading.call_method0("current_thread")?.is(&main))
}

/// Runs `work(stop)` with the GIL released. `work` looks at `stop` between its steps and
/// returns `Error::Interrupted` once it is set; on Python's main thread a Ctrl-C sets it, and
/// the `KeyboardInterrupt` is raised when `work` has stopped (or finished). There `work` runs
/// as a job of the engine's pool while this thread watches for the signal; elsewhere there is
/// no signal to watch for, and `work` runs on this thread.
pub fn run_interruptibly<R: Send>(
    py: Python<'_>,
    work: impl FnOnce(&AtomicBool) -> fastmlp_core::Result<R> + Send,
) -> PyResult<R> {
    let main_thread = on_main_thread(py)?;
    let stop = AtomicBool::new(false);
    let mut interrupt: Option<PyErr> = None;
    let outcome = py.detach(|| {
        let run = || work(&stop);
        if !main_thread {
            return run();
        }
        // A job of the pool, not a thread of its own that would hand the work to the pool.
        let watch = || {
            if interrupt.is_none() {
                if let Err(err) = Python::attach(|py| py.check_signals()) {
                    interrupt = Some(err);
                    stop.store(true, Ordering::Relaxed);
                }
            }
        };
        parallel::run_watched(run, SIGNAL_CHECK_INTERVAL, watch)?
    });
    match (outcome, interrupt) {
        // Also when the work finished before it saw the stop request: check_signals has
        // consumed the Ctrl-C, so dropping its KeyboardInterrupt would lose it.
        (Err(Error::Interrupted { .. }) | Ok(_), Some(err)) => Err(err),
        (outcome, _) => core(outcome),
    }
}

/// The stop check for `work`'s steps: `Error::Interrupted` after `batch` (0-based) once
/// `stop` is set.
pub fn stop_requested(stop: &AtomicBool, batch: usize) -> fastmlp_core::Result<()> {
    match stop.load(Ordering::Relaxed) {
        true => Err(Error::Interrupted { batches: batch + 1 }),
        false => Ok(()),
    }
}
