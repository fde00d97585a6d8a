//! The sparse first layer's Python side, as in the core's `sparse` module: compressed rows
//! (`SparseRows`) and the input path's plan.

mod plan;
mod rows;

pub use plan::{preferred_input_path, sparse_plan, sparse_work_crossover};
pub use rows::{precision_of_inputs, sparse_matmul, AnySparseRows, PySparseRows};
