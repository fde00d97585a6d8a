//! Taking NumPy arrays apart for the core: dtype, dimensions, C order and borrow checks,
//! each failure a `TypeError`/`ValueError` that names the argument.

use numpy::{
    BorrowError, Element, PyArrayDescrMethods, PyArrayDyn, PyArrayMethods, PyReadonlyArrayDyn,
    PyReadwriteArrayDyn, PyUntypedArray, PyUntypedArrayMethods,
};
use pyo3::exceptions::{PyTypeError, PyValueError};
use pyo3::prelude::*;

/// The two float types the engine runs in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Precision {
    F32,
    F64,
}

fn untyped<'a, 'py>(
    arg: &str,
    obj: &'a Bound<'py, PyAny>,
) -> PyResult<&'a Bound<'py, PyUntypedArray>> {
    obj.cast::<PyUntypedArray>().map_err(|_| {
        let type_name = obj
            .get_type()
            .name()
            .map(|n| n.to_string())
            .unwrap_or_else(|_| "object".into());
        PyTypeError::new_err(format!(
            "{arg}: expected a numpy.ndarray of float32 or float64, got {type_name}"
        ))
    })
}

fn dtype_name(array: &Bound<'_, PyUntypedArray>) -> String {
    array.dtype().to_string()
}

/// The precision of `obj`, which must be a float32 or float64 array.
pub fn precision_of(arg: &str, obj: &Bound<'_, PyAny>) -> PyResult<Precision> {
    let array = untyped(arg, obj)?;
    let py = obj.py();
    let dtype = array.dtype();
    if dtype.is_equiv_to(&numpy::dtype::<f32>(py)) {
        Ok(Precision::F32)
    } else if dtype.is_equiv_to(&numpy::dtype::<f64>(py)) {
        Ok(Precision::F64)
    } else {
        Err(PyTypeError::new_err(format!(
            "{arg}: expected dtype float32 or float64, got {}",
            dtype_name(array)
        )))
    }
}

pub fn shape_text(shape: &[usize]) -> String {
    match shape {
        [n] => format!("({n},)"),
        _ => format!(
            "({})",
            shape
                .iter()
                .map(|d| d.to_string())
                .collect::<Vec<_>>()
                .join(", ")
        ),
    }
}

/// `obj` as an array of `T` with `ndim` dimensions (any if None), C-contiguous.
fn typed<'py, T: Element>(
    arg: &str,
    obj: &Bound<'py, PyAny>,
    ndim: Option<usize>,
    expected_dtype: &str,
) -> PyResult<Bound<'py, PyArrayDyn<T>>> {
    let array = untyped(arg, obj)?;
    if !array.dtype().is_equiv_to(&numpy::dtype::<T>(obj.py())) {
        return Err(PyTypeError::new_err(format!(
            "{arg}: expected dtype {expected_dtype}, got {}",
            dtype_name(array)
        )));
    }
    if let Some(ndim) = ndim {
        if array.ndim() != ndim {
            return Err(PyValueError::new_err(format!(
                "{arg}: expected a {ndim}-D array, got shape {}",
                shape_text(array.shape())
            )));
        }
    }
    if !array.is_c_contiguous() {
        return Err(PyValueError::new_err(format!(
            "{arg}: expected a C-contiguous array, got a Fortran-ordered or strided one of shape \
             {}; pass numpy.ascontiguousarray({arg})",
            shape_text(array.shape())
        )));
    }
    if !array.is_aligned() {
        return Err(PyValueError::new_err(format!(
            "{arg}: expected an aligned array, got a misaligned one of shape {}; pass {arg}.copy()",
            shape_text(array.shape())
        )));
    }
    // The dtype was checked above, so this cast cannot fail.
    Ok(obj.cast::<PyArrayDyn<T>>()?.clone())
}

fn borrow_error(arg: &str, error: BorrowError) -> PyErr {
    match error {
        BorrowError::NotWriteable => PyValueError::new_err(format!(
            "{arg}: the array is read-only, but it is updated in place; pass a writeable copy"
        )),
        _ => PyValueError::new_err(format!(
            "{arg}: the same array (or memory it shares) is also passed as another argument \
             that is updated in place, or another thread is updating it right now (one model \
             trained from two threads at once); pass distinct arrays, and train each model \
             from one thread at a time"
        )),
    }
}

/// A read-only borrow of a C-contiguous `T` array.
pub fn readonly<'py, T: Element>(
    arg: &str,
    obj: &Bound<'py, PyAny>,
    ndim: Option<usize>,
    expected_dtype: &str,
) -> PyResult<PyReadonlyArrayDyn<'py, T>> {
    typed::<T>(arg, obj, ndim, expected_dtype)?
        .try_readonly()
        .map_err(|e| borrow_error(arg, e))
}

/// An exclusive borrow of a C-contiguous, writeable `T` array.
pub fn readwrite<'py, T: Element>(
    arg: &str,
    obj: &Bound<'py, PyAny>,
    ndim: Option<usize>,
    expected_dtype: &str,
) -> PyResult<PyReadwriteArrayDyn<'py, T>> {
    typed::<T>(arg, obj, ndim, expected_dtype)?
        .try_readwrite()
        .map_err(|e| borrow_error(arg, e))
}

/// The items of a list or tuple of arrays called `arg`.
pub fn items<'py>(arg: &str, obj: &Bound<'py, PyAny>) -> PyResult<Vec<Bound<'py, PyAny>>> {
    if obj.cast::<pyo3::types::PyList>().is_err() && obj.cast::<pyo3::types::PyTuple>().is_err() {
        return Err(PyTypeError::new_err(format!(
            "{arg}: expected a list of numpy arrays, got {}",
            obj.get_type().name()?
        )));
    }
    obj.try_iter()?.collect()
}

/// The (rows, cols) of a 2-D array: every caller took it with `ndim = Some(2)`, which
/// `typed` checked, so both indices exist.
pub fn shape2(array: &PyReadonlyArrayDyn<'_, impl Element>) -> (usize, usize) {
    let shape = array.shape();
    (shape[0], shape[1])
}

/// A contiguous slice of a checked array (C order was checked when it was taken).
pub fn slice<'a, T: Element>(array: &'a PyReadonlyArrayDyn<'_, T>) -> PyResult<&'a [T]> {
    array
        .as_slice()
        .map_err(|e| PyValueError::new_err(format!("array is not contiguous: {e}")))
}
