//! `matmul(a, b)` over NumPy arrays.

use crate::arrays::{new_array, precision_of, readonly, shape2, slice};
use crate::errors::no_panic;
use crate::float::{by_precision, Float};
use crate::parallel::compute;
use fastmlp_core::matmul::MatRef;
use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;

fn matmul_typed<'py, T: Float>(
    py: Python<'py>,
    a: &Bound<'py, PyAny>,
    b: &Bound<'py, PyAny>,
) -> PyResult<Bound<'py, PyAny>> {
    let a = readonly::<T>("a", a, Some(2), T::NAME)?;
    let b = readonly::<T>("b", b, Some(2), T::NAME)?;
    let ((m, k), (k_b, n)) = (shape2(&a), shape2(&b));
    if k != k_b {
        return Err(PyValueError::new_err(format!(
            "b: expected {k} rows to match a of shape ({m}, {k}), got shape ({k_b}, {n})"
        )));
    }
    let (a, b) = (slice(&a)?, slice(&b)?);
    let out = compute(py, || {
        fastmlp_core::matmul::matmul(MatRef::row_major(a, m, k)?, MatRef::row_major(b, k, n)?)
    })?;
    new_array(py, out, &[m, n])
}

/// a @ b for 2-D float arrays of one dtype.
#[pyfunction]
pub fn matmul<'py>(
    py: Python<'py>,
    a: &Bound<'py, PyAny>,
    b: &Bound<'py, PyAny>,
) -> PyResult<Bound<'py, PyAny>> {
    no_panic(|| by_precision!(precision_of("a", a)?, matmul_typed(py, a, b)))
}
