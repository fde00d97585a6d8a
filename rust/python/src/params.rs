//! Weights and biases taken from Python lists of arrays: each item checked under its name
//! (`weights[1]`), the architecture their shapes form, and their memory borrowed for the core.

use crate::arrays::{items, readonly, readwrite, shape2, slice};
use crate::errors::core;
use crate::float::Float;
use fastmlp_core::Architecture;
use numpy::{Element, PyReadonlyArrayDyn, PyReadwriteArrayDyn, PyUntypedArrayMethods};
use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;

/// `weights` (2-D each) and `biases` (1-D each) read-only, with the architecture they form.
pub type ReadonlyParams<'py, T> = (
    Architecture,
    Vec<PyReadonlyArrayDyn<'py, T>>,
    Vec<PyReadonlyArrayDyn<'py, T>>,
);
/// The same, borrowed for update in place.
pub type ReadwriteParams<'py, T> = (
    Architecture,
    Vec<PyReadwriteArrayDyn<'py, T>>,
    Vec<PyReadwriteArrayDyn<'py, T>>,
);

/// The architecture the weight shapes form; a ValueError naming both shapes where they
/// do not chain.
pub fn architecture_of(shapes: &[(usize, usize)]) -> PyResult<Architecture> {
    for (l, pair) in shapes.windows(2).enumerate() {
        let ((rows, cols), (next_rows, next_cols)) = (pair[0], pair[1]);
        if cols != next_rows {
            return Err(PyValueError::new_err(format!(
                "weights[{}]: expected shape ({cols}, n) to follow weights[{l}] of shape \
                 ({rows}, {cols}), got ({next_rows}, {next_cols})",
                l + 1
            )));
        }
    }
    core(Architecture::from_weight_shapes(shapes))
}

pub fn weight_shapes<T: Float>(arrays: &[PyReadonlyArrayDyn<'_, T>]) -> Vec<(usize, usize)> {
    arrays.iter().map(shape2).collect()
}

/// Each array of the list `arg`, taken by `take` under its name `arg[i]`.
pub fn each_array<'py, A>(
    arg: &str,
    list: &Bound<'py, PyAny>,
    take: impl Fn(&str, &Bound<'py, PyAny>) -> PyResult<A>,
) -> PyResult<Vec<A>> {
    items(arg, list)?
        .iter()
        .enumerate()
        .map(|(i, array)| take(&format!("{arg}[{i}]"), array))
        .collect()
}

pub fn params_readonly<'py, T: Float>(
    weights: &Bound<'py, PyAny>,
    biases: &Bound<'py, PyAny>,
) -> PyResult<ReadonlyParams<'py, T>> {
    let w = each_array("weights", weights, |name, a| {
        readonly::<T>(name, a, Some(2), T::NAME)
    })?;
    let b = each_array("biases", biases, |name, a| {
        readonly::<T>(name, a, Some(1), T::NAME)
    })?;
    let arch = architecture_of(&weight_shapes(&w))?;
    let (ws, bs) = (slices(&w)?, slices(&b)?);
    core(arch.check_params(&ws, &bs))?;
    Ok((arch, w, b))
}

/// Weights and biases borrowed for update in place; their sizes are checked by the core.
pub fn params_readwrite<'py, T: Float>(
    weights: &Bound<'py, PyAny>,
    biases: &Bound<'py, PyAny>,
) -> PyResult<ReadwriteParams<'py, T>> {
    let w = each_array("weights", weights, |name, a| {
        readwrite::<T>(name, a, Some(2), T::NAME)
    })?;
    let b = each_array("biases", biases, |name, a| {
        readwrite::<T>(name, a, Some(1), T::NAME)
    })?;
    // Each taken with ndim Some(2): shape()[1] exists.
    let shapes: Vec<(usize, usize)> = w.iter().map(|a| (a.shape()[0], a.shape()[1])).collect();
    let arch = architecture_of(&shapes)?;
    Ok((arch, w, b))
}

pub fn slices<'a, T: Float>(arrays: &'a [PyReadonlyArrayDyn<'_, T>]) -> PyResult<Vec<&'a [T]>> {
    arrays.iter().map(slice).collect()
}

pub fn slices_mut<'a, T: Float>(
    arrays: &'a mut [PyReadwriteArrayDyn<'_, T>],
) -> PyResult<Vec<&'a mut [T]>> {
    arrays
        .iter_mut()
        .map(|a| {
            a.as_slice_mut()
                .map_err(|e| PyValueError::new_err(format!("array is not contiguous: {e}")))
        })
        .collect()
}

/// The rows of the 2-D input `arg`, whose width must be the fan_in of weights[0].
pub fn rows_matching(
    arg: &str,
    array: &PyReadonlyArrayDyn<'_, impl Element>,
    arch: &Architecture,
) -> PyResult<usize> {
    let (rows, cols) = shape2(array);
    let (width, fan_out) = (arch.inputs(), arch.fan_out(0));
    if cols != width {
        return Err(PyValueError::new_err(format!(
            "{arg}: expected shape (n, {width}) to match weights[0] of shape ({width}, {fan_out}), \
             got ({rows}, {cols})"
        )));
    }
    Ok(rows)
}
