//! `fastmlp._native.SparseRows`: a float matrix compressed to its nonzeros once, so that
//! the sparse input path of `train_epoch` does not scan the dense rows again every epoch.

use crate::arrays::{new_array, precision_of, readonly, shape2, slice, Precision};
use crate::errors::{core, no_panic, to_py_err};
use crate::float::{by_precision, Float};
use fastmlp_core::sparse::CsrArrays;
use fastmlp_core::{buffer, parallel, Real, SparseRows};
use numpy::{PyArrayDescrMethods, PyUntypedArray, PyUntypedArrayMethods};
use pyo3::exceptions::PyTypeError;
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

/// Compressed rows from a CSR matrix's arrays: `indptr` int64, `indices` int32 or int64,
/// `data` of `T`; checked and canonicalised by the core (`SparseRows::from_csr`).
fn from_csr_typed<T: Float>(
    py: Python<'_>,
    (indptr, indices, data): (&Bound<'_, PyAny>, &Bound<'_, PyAny>, &Bound<'_, PyAny>),
    (rows, inputs): (usize, usize),
) -> PyResult<AnySparseRows> {
    let indptr = readonly::<i64>("x.indptr", indptr, Some(1), "int64")?;
    let data = readonly::<T>("x.data", data, Some(1), T::NAME)?;
    let (indptr, data) = (slice(&indptr)?, slice(&data)?);
    let index_type = indices
        .cast::<PyUntypedArray>()
        .map(|array| array.dtype())
        .map_err(|_| {
            PyTypeError::new_err("x.indices: expected a numpy.ndarray of int32 or int64")
        })?;
    let rows = if index_type.is_equiv_to(&numpy::dtype::<i32>(py)) {
        let indices = readonly::<i32>("x.indices", indices, Some(1), "int32")?;
        from_csr_arrays(py, rows, inputs, indptr, slice(&indices)?, data)?
    } else {
        let indices = readonly::<i64>("x.indices", indices, Some(1), "int32 or int64")?;
        from_csr_arrays(py, rows, inputs, indptr, slice(&indices)?, data)?
    };
    Ok(T::wrap(rows))
}

/// `SparseRows::from_csr` on the engine's pool, without the GIL.
fn from_csr_arrays<T: Float, I: Copy + Into<i64> + Sync>(
    py: Python<'_>,
    rows: usize,
    inputs: usize,
    indptr: &[i64],
    indices: &[I],
    data: &[T],
) -> PyResult<SparseRows<T>> {
    let csr = CsrArrays {
        rows,
        inputs,
        indptr,
        indices,
        data,
    };
    let pool = core(parallel::pool())?;
    core(py.detach(|| pool.install(|| SparseRows::from_csr(csr))))
}

/// `rows @ w` for compressed rows (n, inputs) and `w` (inputs, fan_out) of the same dtype.
fn multiply_typed<'py, T: Float>(
    py: Python<'py>,
    rows: &PySparseRows,
    w: &Bound<'py, PyAny>,
) -> PyResult<Bound<'py, PyAny>> {
    let matrix = T::rows_of(&rows.rows).ok_or_else(|| {
        PyTypeError::new_err(format!(
            "x: expected dtype {} (the weights'), got {}",
            T::NAME,
            rows.dtype_name()
        ))
    })?;
    let w = readonly::<T>("weights[0]", w, Some(2), T::NAME)?;
    let (fan_in, fan_out) = shape2(&w);
    if fan_in != matrix.inputs() {
        return Err(to_py_err(fastmlp_core::Error::shape(
            "x",
            format!("{fan_in} columns (weights[0]'s fan_in)"),
            format!("{}", matrix.inputs()),
        )));
    }
    let ws = slice(&w)?;
    let mut out = core(buffer::zeros::<T>("product", matrix.rows(), fan_out))?;
    let pool = core(parallel::pool())?;
    core(py.detach(|| pool.install(|| matrix.multiply_into(ws, fan_out, &mut out))))?;
    new_array(py, out, &[matrix.rows(), fan_out])
}

/// `x @ w` for compressed rows `x` (n, inputs) and a float array `w` (inputs, fan_out) of
/// their dtype: (n, fan_out), the sparse first layer's product for inference.
#[pyfunction]
pub fn sparse_matmul<'py>(
    py: Python<'py>,
    x: &Bound<'py, PySparseRows>,
    w: &Bound<'py, PyAny>,
) -> PyResult<Bound<'py, PyAny>> {
    no_panic(|| {
        let rows = x.get();
        by_precision!(precision_of("weights[0]", w)?, multiply_typed(py, rows, w))
    })
}

#[pymethods]
impl PySparseRows {
    /// The rows of the CSR matrix of `shape` (rows, features) held in `indptr` (int64,
    /// rows + 1), `indices` (int32 or int64 column of each entry, in any order; repeats are
    /// summed) and `data` (float32/float64): never densified. A ValueError names `x` for an
    /// `indptr` that does not start at 0, decreases or overruns the entries, a column out of
    /// range, or a NaN or infinite value.
    #[staticmethod]
    fn from_csr(
        py: Python<'_>,
        indptr: &Bound<'_, PyAny>,
        indices: &Bound<'_, PyAny>,
        data: &Bound<'_, PyAny>,
        shape: (usize, usize),
    ) -> PyResult<Self> {
        no_panic(|| {
            let rows = by_precision!(
                precision_of("x.data", data)?,
                from_csr_typed(py, (indptr, indices, data), shape)
            )?;
            Ok(PySparseRows { rows })
        })
    }

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
