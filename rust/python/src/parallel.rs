//! The engine's threads: `set_num_threads`, `get_num_threads`, and running core work in the
//! engine's pool with the GIL released.

use crate::errors::core;
use fastmlp_core::parallel;
use pyo3::exceptions::{PyOverflowError, PyValueError};
use pyo3::prelude::*;

/// Runs core work in the engine's thread pool with the GIL released.
pub fn compute<R: Send>(
    py: Python<'_>,
    work: impl FnOnce() -> fastmlp_core::Result<R> + Send,
) -> PyResult<R> {
    let pool = core(parallel::pool())?;
    core(py.detach(|| pool.install(work)))
}

/// Use `n` threads in the engine from now on.
#[pyfunction]
pub fn set_num_threads(n: &Bound<'_, PyAny>) -> PyResult<()> {
    // Any int: a negative count is a ValueError like 0, and so is one past 64 bits, not an
    // OverflowError from the conversion.
    let n = match n.extract::<i64>() {
        Ok(n) => n,
        Err(error) if error.is_instance_of::<PyOverflowError>(n.py()) => {
            let expected = if n.lt(0)? {
                "a positive integer".to_string()
            } else {
                parallel::thread_limit()
            };
            return Err(PyValueError::new_err(format!(
                "num_threads: expected {expected}, got {n}"
            )));
        }
        Err(error) => return Err(error),
    };
    let n = usize::try_from(n).map_err(|_| {
        PyValueError::new_err(format!("num_threads: expected a positive integer, got {n}"))
    })?;
    core(parallel::set_num_threads(n))
}

/// The number of threads the engine uses.
#[pyfunction]
pub fn get_num_threads() -> PyResult<usize> {
    core(parallel::num_threads())
}

/// The largest count `set_num_threads` accepts (a multiple of the available cores).
#[pyfunction]
pub fn max_num_threads() -> usize {
    parallel::max_num_threads()
}
