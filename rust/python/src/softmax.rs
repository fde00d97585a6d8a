//! The output layer over NumPy arrays: `softmax` and `cross_entropy`.

use crate::arrays::{new_array, precision_of, readonly, shape2, shape_text, slice};
use crate::errors::no_panic;
use crate::float::{by_precision, Float};
use fastmlp_core::softmax as output_layer;
use numpy::PyUntypedArrayMethods;
use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;

fn softmax_typed<'py, T: Float>(
    py: Python<'py>,
    z: &Bound<'py, PyAny>,
) -> PyResult<Bound<'py, PyAny>> {
    let z = readonly::<T>("z", z, Some(2), T::NAME)?;
    let (rows, classes) = shape2(&z);
    let mut values = slice(&z)?.to_vec();
    py.detach(|| output_layer::softmax_rows(&mut values, classes));
    new_array(py, values, &[rows, classes])
}

/// Row-wise softmax of a 2-D (n, classes) array.
#[pyfunction]
pub fn softmax<'py>(py: Python<'py>, z: &Bound<'py, PyAny>) -> PyResult<Bound<'py, PyAny>> {
    no_panic(|| by_precision!(precision_of("z", z)?, softmax_typed(py, z)))
}

fn cross_entropy_typed<T: Float>(
    py: Python<'_>,
    p: &Bound<'_, PyAny>,
    y: &Bound<'_, PyAny>,
) -> PyResult<f64> {
    let p = readonly::<T>("p", p, Some(2), T::NAME)?;
    let y = readonly::<T>("y_onehot", y, Some(2), T::NAME)?;
    if p.shape() != y.shape() {
        return Err(PyValueError::new_err(format!(
            "y_onehot: expected shape {} (the shape of p), got {}",
            shape_text(p.shape()),
            shape_text(y.shape())
        )));
    }
    let classes = p.shape()[1];
    let (p, y) = (slice(&p)?, slice(&y)?);
    Ok(py.detach(|| output_layer::cross_entropy(p, y, classes)))
}

/// Mean over rows of -sum(y * log(max(p, tiny))).
#[pyfunction]
pub fn cross_entropy(
    py: Python<'_>,
    p: &Bound<'_, PyAny>,
    y_onehot: &Bound<'_, PyAny>,
) -> PyResult<f64> {
    no_panic(|| by_precision!(precision_of("p", p)?, cross_entropy_typed(py, p, y_onehot)))
}
