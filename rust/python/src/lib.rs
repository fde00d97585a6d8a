//! `fastmlp._native`: fastmlp-core over NumPy arrays. Glue only; the math is in the core.

mod arrays;
mod errors;
mod kernels;
mod sparse_rows;

use pyo3::prelude::*;

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
    m.add_function(wrap_pyfunction!(kernels::train_epoch, m)?)?;
    m.add_function(wrap_pyfunction!(kernels::sparse_plan, m)?)?;
    m.add_function(wrap_pyfunction!(kernels::preferred_input_path, m)?)?;
    m.add_function(wrap_pyfunction!(kernels::sparse_work_crossover, m)?)?;
    m.add_function(wrap_pyfunction!(kernels::set_num_threads, m)?)?;
    m.add_function(wrap_pyfunction!(kernels::get_num_threads, m)?)?;
    m.add_function(wrap_pyfunction!(kernels::max_num_threads, m)?)?;
    m.add_class::<sparse_rows::PySparseRows>()?;
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    Ok(())
}
