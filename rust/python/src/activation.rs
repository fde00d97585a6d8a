//! The elementwise activations `relu`, `tanh`, `sigmoid` over NumPy arrays of any shape.

use crate::arrays::{new_array, precision_of, readonly, slice};
use crate::errors::{core, no_panic};
use crate::float::{by_precision, Float};
use fastmlp_core::Activation;
use numpy::PyUntypedArrayMethods;
use pyo3::prelude::*;

/// The activation named `name` ("relu", "tanh", "sigmoid", "identity").
pub fn activation_of(name: &str) -> PyResult<Activation> {
    core(name.parse::<Activation>())
}

fn activate_typed<'py, T: Float>(
    py: Python<'py>,
    z: &Bound<'py, PyAny>,
    activation: Activation,
) -> PyResult<Bound<'py, PyAny>> {
    let z = readonly::<T>("z", z, None, T::NAME)?;
    let shape = z.shape().to_vec();
    let mut values = slice(&z)?.to_vec();
    py.detach(|| activation.apply_in_place(&mut values));
    new_array(py, values, &shape)
}

fn activate<'py>(
    py: Python<'py>,
    z: &Bound<'py, PyAny>,
    activation: Activation,
) -> PyResult<Bound<'py, PyAny>> {
    no_panic(|| by_precision!(precision_of("z", z)?, activate_typed(py, z, activation)))
}

/// max(z, 0) elementwise, any shape.
#[pyfunction]
pub fn relu<'py>(py: Python<'py>, z: &Bound<'py, PyAny>) -> PyResult<Bound<'py, PyAny>> {
    activate(py, z, Activation::Relu)
}

/// tanh(z) elementwise, any shape.
#[pyfunction]
pub fn tanh<'py>(py: Python<'py>, z: &Bound<'py, PyAny>) -> PyResult<Bound<'py, PyAny>> {
    activate(py, z, Activation::Tanh)
}

/// 1 / (1 + exp(-z)) elementwise, any shape, without overflow.
#[pyfunction]
pub fn sigmoid<'py>(py: Python<'py>, z: &Bound<'py, PyAny>) -> PyResult<Bound<'py, PyAny>> {
    activate(py, z, Activation::Sigmoid)
}
