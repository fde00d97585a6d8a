//! The input path over NumPy arrays: how the sparse first layer would run on `x`
//! (`sparse_plan`), the path `input_path="auto"` takes, and the crossover it uses.

use super::rows::{precision_of_inputs, PySparseRows};
use crate::arrays::{readonly, shape2, slice};
use crate::errors::{core, no_panic};
use crate::float::{by_precision, Float};
use fastmlp_core::sparse::{self, SparseParams, SparsePlan, Tuning};
use fastmlp_core::{parallel, Inputs};
use numpy::{PyUntypedArray, PyUntypedArrayMethods};
use pyo3::exceptions::{PyTypeError, PyValueError};
use pyo3::prelude::*;

/// Rows of x that `sparse_plan` samples (as train_epoch samples the first rows of its order).
const SAMPLE_ROWS: usize = 512;

fn sparse_plan_typed<T: Float>(
    x: &Bound<'_, PyAny>,
    params: &SparseParams,
) -> PyResult<SparsePlan> {
    if let Ok(rows) = x.cast::<PySparseRows>() {
        let matrix = T::rows_of(&rows.get().rows).ok_or_else(|| {
            PyTypeError::new_err(format!("x: expected SparseRows of dtype {}", T::NAME))
        })?;
        let order: Vec<i64> = (0..matrix.rows().min(SAMPLE_ROWS) as i64).collect();
        return Ok(sparse::plan_sparse_path(
            Inputs::Sparse(matrix),
            &order,
            matrix.inputs(),
            params,
        ));
    }
    let array = readonly::<T>("x", x, Some(2), T::NAME)?;
    let (rows, width) = shape2(&array);
    let order: Vec<i64> = (0..rows.min(SAMPLE_ROWS) as i64).collect();
    Ok(sparse::plan_sparse_path(
        Inputs::Dense(slice(&array)?),
        &order,
        width,
        params,
    ))
}

fn plan_for(x: &Bound<'_, PyAny>, params: &SparseParams) -> PyResult<SparsePlan> {
    by_precision!(precision_of_inputs(x)?, sparse_plan_typed(x, params))
}

/// (work, group rows) of the sparse first layer on x's first 512 rows: its products' work
/// as a fraction of the dense ones', and the rows a group it would take (8 or 1).
#[pyfunction]
pub fn sparse_plan(x: &Bound<'_, PyAny>) -> PyResult<(f64, usize)> {
    no_panic(|| plan_for(x, &SparseParams::default()).map(|plan| (plan.work, plan.group_rows)))
}

/// The first layer `input_path="auto"` takes on the engine's current threads for x compressed
/// once for many epochs (as `MLP.fit` does): "sparse" when its planned epoch is at most
/// `SPARSE_TIME_LIMIT` of the dense one's, by the crossover `sparse_work_crossover` or the one
/// measured for that many threads. Given `epochs` and `fan_out` (the first layer's width), a
/// dense x also counts compressing it once for that many epochs.
#[pyfunction]
#[pyo3(signature = (x, sparse_work_crossover = None, epochs = None, fan_out = None))]
pub fn preferred_input_path(
    x: &Bound<'_, PyAny>,
    sparse_work_crossover: Option<f64>,
    epochs: Option<i64>,
    fan_out: Option<i64>,
) -> PyResult<&'static str> {
    no_panic(|| {
        let params = SparseParams {
            work_crossover: sparse_work_crossover.map_or(Tuning::Auto, Tuning::Value),
            ..SparseParams::default()
        };
        core(params.check())?;
        let epochs = positive("epochs", epochs)?;
        let fan_out = positive("fan_out", fan_out)?;
        let crossover = params.work_crossover(core(parallel::num_threads())?);
        let compress_fraction = match (epochs, fan_out, x.cast::<PySparseRows>()) {
            (Some(epochs), Some(fan_out), Err(_)) => {
                let rows = dense_rows(x)?;
                params.compress_fraction(rows, rows.saturating_mul(epochs), fan_out)
            }
            _ => 0.0,
        };
        Ok(plan_for(x, &params)?
            .preferred_path(crossover, compress_fraction)
            .name())
    })
}

/// An optional count that must be positive when given.
fn positive(arg: &str, value: Option<i64>) -> PyResult<Option<usize>> {
    value
        .map(|n| {
            usize::try_from(n).ok().filter(|&n| n > 0).ok_or_else(|| {
                PyValueError::new_err(format!("{arg}: expected a positive integer, got {n}"))
            })
        })
        .transpose()
}

/// The rows of a dense 2-D x (its dtype and shape checked as `sparse_plan` checks them).
fn dense_rows(x: &Bound<'_, PyAny>) -> PyResult<usize> {
    let array = x
        .cast::<PyUntypedArray>()
        .map_err(|_| PyTypeError::new_err("x: expected a numpy.ndarray or SparseRows"))?;
    Ok(array.shape().first().copied().unwrap_or(0))
}

/// The work below which the sparse first layer is the faster one on `threads` threads (the
/// engine's current count by default), as measured on this project's machine.
#[pyfunction]
#[pyo3(signature = (threads = None))]
pub fn sparse_work_crossover(threads: Option<i64>) -> PyResult<f64> {
    let threads = match threads {
        None => core(parallel::num_threads())?,
        Some(n) => usize::try_from(n).ok().filter(|&n| n > 0).ok_or_else(|| {
            PyValueError::new_err(format!("threads: expected a positive integer, got {n}"))
        })?,
    };
    Ok(sparse::sparse_work_crossover(threads))
}
