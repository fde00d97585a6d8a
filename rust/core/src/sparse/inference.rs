//! Inference's first hidden layer on dense rows through the sparse kernels, where the rows are
//! mostly zeros (MNIST's pixels: 81%): `a[1] = f(x @ W[0] + b[0])`, row block by row block.
//!
//! Each block of `BLOCK_ROWS` rows is regrouped straight from its dense rows
//! (`RowGroups::build_dense`: no compressed copy of `x`), multiplied by the groups' kernel
//! and given its bias and activation while it is still in cache; the blocks go to the
//! current pool's threads. The path is chosen like training's (`plan_sparse_path` on the
//! first rows), weighed by inference's own cost model (`inference_time_ratio`).

use super::groups::{RowGroups, GROUP_ROWS};
use super::plan::{plan_sparse_path, InputPath, SparseParams, SparsePlan};
use crate::activation::Activation;
use crate::error::Result;
use crate::real::Real;
use crate::train::Inputs;
use rayon::prelude::*;

/// Rows a task regroups and multiplies: its groups' tiles (about 330 KB on MNIST) and W[0]
/// stay in a core's L2 cache while the output columns go block by block.
const BLOCK_ROWS: usize = 256;

/// Rows sampled to plan the path (`plan_sparse_path` reads at most this many).
const PLAN_ROWS: usize = 512;

/// What regrouping a dense input value costs on the sparse path, in multiply-adds of the
/// dense first layer's (whose cost per input value is `fan_out` of them).
pub const INFERENCE_REGROUP_COST: f64 = 44.0;

/// What the groups' kernel costs per multiply-add it does, in the dense product's: it does
/// `work * fan_out` of them per input value.
pub const INFERENCE_KERNEL_COST: f64 = 1.21;

/// The sparse first layer's time over the dense one's in inference, for a plan of `work`
/// (groups of 8 rows) and a first layer `fan_out` wide: the regrouping is a cost per input
/// value whatever the width, so narrow layers stay dense. Fitted on 10,000 MNIST-like rows
/// (benchmarks/README.md, "Inference"): 1.23 at fan_out 64, 0.87 at 128, 0.75 at 256.
pub fn inference_time_ratio(work: f64, fan_out: usize) -> f64 {
    let fan_out = fan_out.max(1) as f64;
    (INFERENCE_REGROUP_COST + INFERENCE_KERNEL_COST * work * fan_out) / fan_out
}

/// The sparse plan for inference on `x` (rows, inputs) into a first layer `fan_out` wide,
/// as `path` asks: None for the dense product (`Dense`; no rows or no inputs; more inputs
/// than the groups' u32 columns hold; `Auto` unless the plan takes groups of 8 rows and
/// `inference_time_ratio` is below 1: rows one by one scan every input of every row, which
/// costs about as much as the dense product here).
pub fn plan_inference<T: Real>(
    x: &[T],
    (inputs, fan_out): (usize, usize),
    path: InputPath,
    params: &SparseParams,
) -> Option<SparsePlan> {
    if path == InputPath::Dense || inputs == 0 || u32::try_from(inputs).is_err() {
        return None;
    }
    let rows = x.len() / inputs;
    if rows == 0 {
        return None;
    }
    let order: Vec<i64> = (0..rows.min(PLAN_ROWS) as i64).collect();
    let plan = plan_sparse_path(Inputs::Dense(x), &order, inputs, params);
    match path {
        InputPath::Auto
            if plan.group_rows != GROUP_ROWS || inference_time_ratio(plan.work, fan_out) >= 1.0 =>
        {
            None
        }
        _ => Some(plan),
    }
}

/// `out (rows, fan_out) = f(x @ weight + bias)` for the dense row-major `x` (rows, inputs)
/// and `weight` (inputs, fan_out), on the sparse path with `plan`'s group size, block by
/// block of rows over the current pool. `out` must hold rows * fan_out values. Returns
/// whether every value of `x` is finite as far as the regrouping saw (true for certain;
/// false where one may not be: `count_non_finite` tells).
pub fn hidden_layer_forward<T: Real>(
    x: &[T],
    (weight, bias): (&[T], &[T]),
    (inputs, fan_out): (usize, usize),
    activation: Activation,
    plan: SparsePlan,
    out: &mut [T],
) -> Result<bool> {
    if inputs == 0 || fan_out == 0 {
        return Ok(true);
    }
    let rows = x.len() / inputs;
    let out = &mut out[..rows * fan_out];
    let x = &x[..rows * inputs];
    let block_rows = BLOCK_ROWS.min(rows.max(1));
    out.par_chunks_mut(block_rows * fan_out)
        .zip(x.par_chunks(block_rows * inputs))
        .map_init(
            || RowGroups::try_new(inputs, block_rows, inputs, plan.group_rows),
            |groups, (out_rows, x_rows)| {
                let groups = groups.as_mut().map_err(|e| e.clone())?;
                groups.build_dense(x_rows)?;
                groups.forward(out_rows, weight, fan_out);
                activation.add_bias_and_apply(out_rows, bias);
                Ok(groups.dense_rows_finite())
            },
        )
        .try_reduce(|| true, |a, b| Ok(a && b))
}

/// How many values of `x` are NaN or infinite, counted over the current pool.
pub fn count_non_finite<T: Real>(x: &[T]) -> usize {
    x.par_chunks(1 << 16)
        .map(|chunk| chunk.iter().filter(|v| !v.is_finite()).count())
        .sum()
}
