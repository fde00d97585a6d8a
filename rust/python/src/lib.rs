//! `fastmlp._native`: fastmlp-core over NumPy arrays. Glue only; the math is in the core.
//!
//! One module per module of the core (matmul, activation, softmax, output, network, train, optimizer,
//! sparse, parallel), plus the glue they share: argument checks (`arrays`, `params`), the float type
//! (`float`), errors (`errors`) and Ctrl-C (`interrupt`).

mod activation;
mod arrays;
mod errors;
mod float;
mod interrupt;
mod matmul;
mod network;
mod optimizer;
mod output;
mod parallel;
mod params;
mod softmax;
mod sparse;
mod train;

use fastmlp_core::{Activation, InputPath, Output};
use pyo3::prelude::*;
use pyo3::types::PyTuple;

#[pymodule]
fn _native(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(matmul::matmul, m)?)?;
    m.add_function(wrap_pyfunction!(activation::relu, m)?)?;
    m.add_function(wrap_pyfunction!(activation::tanh, m)?)?;
    m.add_function(wrap_pyfunction!(activation::sigmoid, m)?)?;
    m.add_function(wrap_pyfunction!(softmax::softmax, m)?)?;
    m.add_function(wrap_pyfunction!(softmax::cross_entropy, m)?)?;
    m.add_function(wrap_pyfunction!(output::output_loss, m)?)?;
    m.add_function(wrap_pyfunction!(network::forward, m)?)?;
    m.add_function(wrap_pyfunction!(network::backward, m)?)?;
    m.add_function(wrap_pyfunction!(train::sgd_step, m)?)?;
    m.add_function(wrap_pyfunction!(train::train_step, m)?)?;
    m.add_function(wrap_pyfunction!(train::train_epoch_stats, m)?)?;
    m.add_function(wrap_pyfunction!(sparse::sparse_plan, m)?)?;
    m.add_function(wrap_pyfunction!(sparse::sparse_matmul, m)?)?;
    m.add_function(wrap_pyfunction!(sparse::preferred_input_path, m)?)?;
    m.add_function(wrap_pyfunction!(sparse::sparse_work_crossover, m)?)?;
    m.add_function(wrap_pyfunction!(parallel::set_num_threads, m)?)?;
    m.add_function(wrap_pyfunction!(parallel::get_num_threads, m)?)?;
    m.add_function(wrap_pyfunction!(parallel::max_num_threads, m)?)?;
    m.add_class::<sparse::PySparseRows>()?;
    // The names the core accepts, for the test that Python's lists (fastmlp.names) agree.
    m.add("ACTIVATIONS", PyTuple::new(m.py(), Activation::NAMES)?)?;
    m.add("INPUT_PATHS", PyTuple::new(m.py(), InputPath::NAMES)?)?;
    m.add("OUTPUTS", PyTuple::new(m.py(), Output::NAMES)?)?;
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    Ok(())
}
