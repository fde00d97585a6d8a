//! The one place where core errors and Rust panics become Python exceptions.

use fastmlp_core::Error;
use pyo3::exceptions::{PyFloatingPointError, PyRuntimeError, PyValueError};
use pyo3::prelude::*;
use std::panic::{catch_unwind, AssertUnwindSafe};

pyo3::create_exception!(
    _native,
    TrainingDivergedError,
    PyFloatingPointError,
    "The loss became NaN or infinite. `.batch` is the 0-based batch of the epoch; the weights \
     are those before that batch's step."
);

/// Core error -> Python exception. `Interrupted` carries no Python error of its own: callers
/// that install an interrupt check re-raise the `KeyboardInterrupt` they caught.
pub fn to_py_err(error: Error) -> PyErr {
    match error {
        Error::Shape { .. } | Error::Value { .. } => PyValueError::new_err(error.to_string()),
        Error::Diverged { batch, loss } => Python::attach(|py| {
            let err = TrainingDivergedError::new_err(error.to_string());
            let value = err.value(py);
            // Attribute setting on a fresh exception instance cannot fail in practice; if it
            // did, the message still carries the batch and the loss.
            let _ = value.setattr("batch", batch);
            let _ = value.setattr("loss", loss);
            err
        }),
        Error::Interrupted { .. } => PyRuntimeError::new_err(error.to_string()),
    }
}

/// Runs `work`, turning a Rust panic into a `RuntimeError` instead of PyO3's `PanicException`
/// (a `BaseException` that `except Exception` would not catch).
pub fn no_panic<R>(work: impl FnOnce() -> PyResult<R>) -> PyResult<R> {
    match catch_unwind(AssertUnwindSafe(work)) {
        Ok(result) => result,
        Err(payload) => {
            let message = payload
                .downcast_ref::<&str>()
                .map(|s| s.to_string())
                .or_else(|| payload.downcast_ref::<String>().cloned())
                .unwrap_or_else(|| "unknown panic".to_string());
            Err(PyRuntimeError::new_err(format!(
                "internal error in fastmlp's Rust engine (please report it): {message}"
            )))
        }
    }
}
