//! The one place where core errors and Rust panics become Python exceptions.

use fastmlp_core::Error;
use pyo3::exceptions::{PyFloatingPointError, PyMemoryError, PyRuntimeError, PyValueError};
use pyo3::prelude::*;
use std::panic::{catch_unwind, AssertUnwindSafe};

/// A core result as a Python one.
pub fn core<R>(result: fastmlp_core::Result<R>) -> PyResult<R> {
    result.map_err(to_py_err)
}

/// Core error -> Python exception. `Interrupted` carries no Python error of its own: callers
/// that install an interrupt check re-raise the `KeyboardInterrupt` they caught.
pub fn to_py_err(error: Error) -> PyErr {
    match error {
        Error::Shape { .. } | Error::Value { .. } => PyValueError::new_err(error.to_string()),
        Error::Diverged { batch, loss } => Python::attach(|py| {
            // The pure-Python class, so that both engines raise the same exception.
            let message = error.to_string();
            match py
                .import("fastmlp.errors")
                .and_then(|module| module.getattr("TrainingDivergedError"))
                .and_then(|class| class.call1((message.clone(), batch, loss)))
            {
                Ok(instance) => PyErr::from_value(instance),
                Err(_) => PyFloatingPointError::new_err(message),
            }
        }),
        Error::OutOfMemory { .. } => PyMemoryError::new_err(error.to_string()),
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
