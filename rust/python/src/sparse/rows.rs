//! `fastmlp._native.SparseRows`: a float matrix compressed to its nonzeros once, so that
//! the sparse input path of `train_epoch` does not scan the dense rows again every epoch.

use crate::arrays::{precision_of, readonly, shape2, slice, Precision};
use crate::errors::{core, no_panic};
use crate::float::{by_precision, Float};
use fastmlp_core::{parallel, Real, SparseRows};
use pyo3::prelude::*;

/// The compressed rows, in the precision of the array they came from.
#[derive(Debug)]
pub enum AnySparseRows {
    F32(SparseRows<f32>),
    F64(SparseRows<f64>),
}

impl PySparseRows {
    pub fn dtype_name(&self) -> &'static str {
        match &self.rows {
            AnySparseRows::F32(_) => f32::NAME,
            AnySparseRows::F64(_) => f64::NAME,
        }
    }
}

/// The nonzeros of a 2-D float32/float64 array (n, features), compressed by rows.
///
/// Pass it as ``x`` to ``fastmlp.kernels.train_epoch`` to train on it without scanning the
/// dense array each epoch. Immutable once built.
#[pyclass(frozen, module = "fastmlp._native", name = "SparseRows")]
pub struct PySparseRows {
    pub rows: AnySparseRows,
}

fn compress<T: Float>(py: Python<'_>, x: &Bound<'_, PyAny>) -> PyResult<AnySparseRows> {
    let array = readonly::<T>("x", x, Some(2), T::NAME)?;
    let (_, width) = shape2(&array);
    let values = slice(&array)?;
    let pool = core(parallel::pool())?;
    let rows = core(py.detach(|| pool.install(|| SparseRows::from_dense(values, width))))?;
    Ok(T::wrap(rows))
}

#[pymethods]
impl PySparseRows {
    #[new]
    fn new(py: Python<'_>, x: &Bound<'_, PyAny>) -> PyResult<Self> {
        no_panic(|| {
            let rows = by_precision!(precision_of("x", x)?, compress(py, x))?;
            Ok(PySparseRows { rows })
        })
    }

    /// (rows, features) of the dense matrix.
    #[getter]
    fn shape(&self) -> (usize, usize) {
        match &self.rows {
            AnySparseRows::F32(m) => (m.rows(), m.inputs()),
            AnySparseRows::F64(m) => (m.rows(), m.inputs()),
        }
    }

    /// The number of stored (nonzero) values.
    #[getter]
    fn nnz(&self) -> usize {
        match &self.rows {
            AnySparseRows::F32(m) => m.nonzeros(),
            AnySparseRows::F64(m) => m.nonzeros(),
        }
    }

    /// The fraction of nonzero values.
    #[getter]
    fn density(&self) -> f64 {
        match &self.rows {
            AnySparseRows::F32(m) => m.density(),
            AnySparseRows::F64(m) => m.density(),
        }
    }

    /// "float32" or "float64".
    #[getter]
    fn dtype(&self) -> &'static str {
        self.dtype_name()
    }

    fn __repr__(&self) -> String {
        let (rows, features) = self.shape();
        format!(
            "SparseRows(shape=({rows}, {features}), dtype={}, nnz={}, density={:.3})",
            self.dtype(),
            self.nnz(),
            self.density()
        )
    }
}

/// The float type of training inputs: a dense array's dtype, or that of compressed rows.
pub fn precision_of_inputs(x: &Bound<'_, PyAny>) -> PyResult<Precision> {
    match x.cast::<PySparseRows>() {
        Ok(rows) => Ok(match rows.get().rows {
            AnySparseRows::F32(_) => Precision::F32,
            AnySparseRows::F64(_) => Precision::F64,
        }),
        Err(_) => precision_of("x", x),
    }
}
