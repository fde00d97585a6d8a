//! `fastmlp._native`: fastmlp-core over NumPy arrays. Glue only; the math is in the core.

mod arrays;
mod errors;
mod kernels;
mod optimizer;
mod sparse_rows;

use fastmlp_core::{Activation, InputPath};
use pyo3::prelude::*;
use pyo3::types::PyTuple;

#[pymodule]
fn _native(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(kernels::matmul, m)?)?;
    m.add_function(wrap_pyfunction!(kernels::relu, m)?)?;
    m.add_function(wrap_pyfunction!(kernels::tanh, m)?)?;
    m.add_function(wrap_pyfunction!(kernels::sigmoid, m)?)?;
    m.add_function(wrap_pyfunction!(kernels::softmax, m)?)?;
    m.add_function(wrap_pyfunction!(kernels::cross_entropy, m)?)?;
    m.add_function(wrap_pyfunction!(kernels::forward, m)?)?;
    m.add_function(wrap_pyfunction!(kernels::backward, m)?)?;
    m.add_function(wrap_pyfunction!(kernels::sgd_step, m)?)?;
    m.add_function(wrap_pyfunction!(kernels::train_step, m)?)?;
    m.add_function(wrap_pyfunction!(kernels::train_epoch, m)?)?;
    m.add_function(wrap_pyfunction!(kernels::sparse_plan, m)?)?;
    m.add_function(wrap_pyfunction!(kernels::preferred_input_path, m)?)?;
    m.add_function(wrap_pyfunction!(kernels::sparse_work_crossover, m)?)?;
    m.add_function(wrap_pyfunction!(kernels::set_num_threads, m)?)?;
    m.add_function(wrap_pyfunction!(kernels::get_num_threads, m)?)?;
    m.add_function(wrap_pyfunction!(kernels::max_num_threads, m)?)?;
    m.add_class::<sparse_rows::PySparseRows>()?;
    // The names the core accepts, for the test that Python's lists (fastmlp.names) agree.
    m.add("ACTIVATIONS", PyTuple::new(m.py(), Activation::NAMES)?)?;
    m.add("INPUT_PATHS", PyTuple::new(m.py(), InputPath::NAMES)?)?;
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    Ok(())
}
