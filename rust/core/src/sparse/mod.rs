//! The sparse first layer: `x @ W[0]` and its update computed from the nonzero inputs alone.
//!
//!   forward   z[r, :]     = sum over j with x[r, j] != 0 of  x[r, j] * W[0][j, :]
//!   update    W[0][j, :] += -lr * sum over r of  x[r, j] * delta[1][r, :]
//!
//! MNIST's pixels are about 81% zeros, and the first layer's two products are nearly all of
//! an epoch's FLOPs. One file a part:
//! - `rows.rs`: the inputs compressed to their nonzeros (`SparseRows`); a batch as row indices;
//! - `csr.rs`: those rows built from a CSR matrix's arrays (scipy.sparse), checked;
//! - `plan.rs`: whether the sparse path pays off, and in groups of how many rows;
//! - `groups.rs`: a batch's rows regrouped over one range of inputs (`RowGroups`);
//! - `kernels.rs`: the two products on those groups, in explicit SIMD;
//! - `ranges.rs`: the step's ranges of inputs, one per thread: shares of the forward product;
//! - `update.rs`: the update of W[0] by those ranges;
//! - `inference.rs`: whether inference's first layer on dense rows takes the sparse product;
//! - `nonzero_rows.rs`: that product, from each dense row's nonzero inputs.
//!
//! How each part got its shape, with measurements: benchmarks/README.md ("Sparse inputs").

mod csr;
mod groups;
mod inference;
mod kernels;
mod nonzero_rows;
mod plan;
mod ranges;
mod rows;
mod update;

pub use csr::{check_csr, CsrArrays};
pub use groups::{RowGroups, GROUP_ROWS};
pub use inference::{
    count_non_finite, inference_takes_sparse_path, inference_time_ratio, sampled_density,
    INFERENCE_BASE_COST, INFERENCE_DENSITY_COST, INFERENCE_FIXED_COST, INFERENCE_TIME_LIMIT,
    INFERENCE_WIDE_COST,
};
pub use nonzero_rows::hidden_layer_forward;
pub use plan::{
    estimated_group_fill, plan_epoch, plan_sparse_path, preferred_input_path,
    sparse_work_crossover, InputPath, SparseParams, SparsePlan, Tuning, SPARSE_TIME_LIMIT,
};
pub(crate) use ranges::InputRange;
pub(crate) use ranges::InputRanges;
pub use rows::{SparseBatch, SparseRows};
pub(crate) use update::{update_first_layer, MatrixRows, RangeRows};
