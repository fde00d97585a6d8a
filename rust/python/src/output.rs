//! The output layer over NumPy arrays: its name, the optional row weights, and `output_loss`.

use crate::arrays::{precision_of, readonly, shape_text, slice};
use crate::errors::{core, no_panic};
use crate::float::{by_precision, Float};
use fastmlp_core::output::{self, Output};
use numpy::{PyReadonlyArrayDyn, PyUntypedArrayMethods};
use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;

/// The output kind named `name` ("softmax", "logistic", "identity", "exp").
pub fn output_of(name: &str) -> PyResult<Output> {
    core(name.parse::<Output>())
}

/// `sample_weight` as a read-only (rows,) array of `T`, or `None`. Its values are checked by
/// the core (finite, >= 0).
pub fn sample_weight_of<'py, T: Float>(
    sample_weight: Option<&Bound<'py, PyAny>>,
    rows: usize,
) -> PyResult<Option<PyReadonlyArrayDyn<'py, T>>> {
    let Some(sample_weight) = sample_weight.filter(|w| !w.is_none()) else {
        return Ok(None);
    };
    let weights = readonly::<T>("sample_weight", sample_weight, Some(1), T::NAME)?;
    if weights.shape() != [rows] {
        return Err(PyValueError::new_err(format!(
            "sample_weight: expected {rows} real numbers (one per row), got shape {} of dtype {}",
            shape_text(weights.shape()),
            T::NAME
        )));
    }
    Ok(Some(weights))
}

/// The slice of optional weights.
pub fn weights_slice<'a, T: Float>(
    weights: &'a Option<PyReadonlyArrayDyn<'_, T>>,
) -> PyResult<Option<&'a [T]>> {
    weights.as_ref().map(slice).transpose()
}

fn output_loss_typed<T: Float>(
    py: Python<'_>,
    out: &Bound<'_, PyAny>,
    targets: &Bound<'_, PyAny>,
    kind: Output,
    sample_weight: Option<&Bound<'_, PyAny>>,
) -> PyResult<f64> {
    let out = readonly::<T>("out", out, Some(2), T::NAME)?;
    let targets = readonly::<T>("targets", targets, Some(2), T::NAME)?;
    if out.shape() != targets.shape() {
        return Err(PyValueError::new_err(format!(
            "targets: expected shape {} (the shape of out), got {}",
            shape_text(out.shape()),
            shape_text(targets.shape())
        )));
    }
    let (rows, width) = (out.shape()[0], out.shape()[1]);
    let weights = sample_weight_of::<T>(sample_weight, rows)?;
    let (out, targets, weights) = (slice(&out)?, slice(&targets)?, weights_slice(&weights)?);
    if let Some(weights) = weights {
        core(output::check_sample_weight(weights, rows))?;
    }
    Ok(py.detach(|| output::output_loss(kind, out, targets, weights, width)))
}

/// The batch loss sum(s * loss) / sum(s) of the output layer `output` (mean without weights).
#[pyfunction]
#[pyo3(signature = (out, targets, output = "softmax", sample_weight = None))]
pub fn output_loss(
    py: Python<'_>,
    out: &Bound<'_, PyAny>,
    targets: &Bound<'_, PyAny>,
    output: &str,
    sample_weight: Option<&Bound<'_, PyAny>>,
) -> PyResult<f64> {
    no_panic(|| {
        let kind = output_of(output)?;
        by_precision!(
            precision_of("out", out)?,
            output_loss_typed(py, out, targets, kind, sample_weight)
        )
    })
}
