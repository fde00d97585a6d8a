//! Phase 2 of a step: the parameter update, the one place where W[l] and b[l] change.
//!
//!   W[l] += -lr * sum over blocks of a_b[l].T @ delta_b[l+1]     by pieces of W[l]'s rows
//!   b[l] += -lr * sum over blocks of (column sums of delta_b[l+1])
//!
//! Plain SGD is fused into the products that compute the gradient (which is never stored):
//! `update_layer` for a dense layer, `update_biases` for the biases, and the sparse kernels'
//! update (scale = -lr) for W[0] on the sparse path, by ranges of inputs
//! (`first_layer::update_weights`). An optimizer's rule (momentum, Adam, L2) takes the same
//! pieces, their gradient written out by `weight_rows_product` and `bias_gradient`, then
//! `optimizer::StepRule` on each (`step_rule.rs`).

use crate::error::Result;
use crate::first_layer;
use crate::matmul::{matmul_serial_into, MatMut, MatRef, Update};
use crate::real::Real;
use crate::step::Step;
use crate::workspace::RowBlock;
use rayon::prelude::*;

/// Below this many multiply-adds a layer's update is one piece of work.
const MIN_PARALLEL_UPDATE: usize = 1 << 18;

/// Rows of W[l] one task of phase 2 updates: all of them where the layer is small, else one
/// piece per thread. Fixed by the shapes and thread count, so sums are the same run to run.
pub(crate) fn rows_per_piece<T>(step: &Step<'_, T>, l: usize) -> usize {
    let (fan_in, fan_out) = (step.arch.fan_in(l), step.arch.fan_out(l));
    let rows = if fan_in * fan_out * step.rows < MIN_PARALLEL_UPDATE {
        fan_in
    } else {
        fan_in.div_ceil(rayon::current_num_threads().max(1))
    };
    rows.max(1)
}

/// W[l] (`weight`, dense products) by plain SGD, one piece of rows per task.
pub(crate) fn update_layer<T: Real>(
    step: &Step<'_, T>,
    l: usize,
    weight: &mut [T],
    blocks: &[RowBlock<T>],
) -> Result<()> {
    let (fan_in, fan_out) = (step.arch.fan_in(l), step.arch.fan_out(l));
    let rows_per_piece = rows_per_piece(step, l);
    let minus_lr = Update::AddScaled(-step.lr);
    weight[..fan_in * fan_out]
        .par_chunks_mut(rows_per_piece * fan_out)
        .enumerate()
        .try_for_each(|(piece, weight_rows)| {
            weight_rows_product(
                step,
                l,
                weight_rows,
                piece * rows_per_piece,
                blocks,
                minus_lr,
            )
        })
}

/// Rows `first..last` of W[l]'s products, into `out_rows` (last - first, fan_out): every
/// block's `a_b[l][:, first..last].T @ delta_b[l+1]`, the first landing as `first_update`
/// says and the others added at its scale. `AddScaled(-lr)` on W's rows is the plain SGD
/// update; `Overwrite` writes those rows' gradient.
pub(crate) fn weight_rows_product<T: Real>(
    step: &Step<'_, T>,
    l: usize,
    out_rows: &mut [T],
    first: usize,
    blocks: &[RowBlock<T>],
    first_update: Update<T>,
) -> Result<()> {
    let scale = match first_update {
        Update::Overwrite => T::one(),
        Update::AddScaled(scale) => scale,
    };
    let mut update = first_update;
    for (b, block) in blocks.iter().enumerate().filter(|(_, k)| k.rows > 0) {
        block_rows_product(step, l, (b, block), out_rows, first, update)?;
        update = Update::AddScaled(scale);
    }
    Ok(())
}

/// Block `b`'s `a_b[l][:, first..last].T @ delta_b[l+1]` into `out_rows` (last - first,
/// fan_out), as `update` says: its share of rows `first..last` of W[l]'s gradient.
pub(crate) fn block_rows_product<T: Real>(
    step: &Step<'_, T>,
    l: usize,
    (b, block): (usize, &RowBlock<T>),
    out_rows: &mut [T],
    first: usize,
    update: Update<T>,
) -> Result<()> {
    let (fan_in, fan_out) = (step.arch.fan_in(l), step.arch.fan_out(l));
    let last = first + out_rows.len() / fan_out;
    let rows = block.rows;
    let delta = &block.deltas[l][..rows * fan_out];
    let input = match l {
        0 => {
            let (start, _) = step.block_rows(b);
            let rows_of_block = step.batch.block(start, start + rows, fan_in);
            first_layer::dense_input(rows_of_block, &block.x, fan_in)?
        }
        _ => MatRef::row_major(&block.outputs[l - 1], rows, fan_in)?,
    };
    matmul_serial_into(
        MatMut::row_major(out_rows, last - first, fan_out)?,
        input.t().row_range(first, last),
        MatRef::row_major(delta, rows, fan_out)?,
        update,
    )
}

/// b[l]'s gradient into `gradient` (fan_out,): the blocks' column sums of their deltas.
pub(crate) fn bias_gradient<T: Real>(blocks: &[RowBlock<T>], l: usize, gradient: &mut [T]) {
    for (j, g) in gradient.iter_mut().enumerate() {
        *g = blocks
            .iter()
            .filter(|k| k.rows > 0)
            .map(|k| k.bias_sums[l][j])
            .sum();
    }
}

/// Every b[l] (`biases`) by plain SGD: add `-lr` times the blocks' column sums.
pub(crate) fn update_biases<T: Real, W: AsMut<[T]>>(
    step: &Step<'_, T>,
    biases: &mut [W],
    blocks: &[RowBlock<T>],
) {
    let minus_lr = -step.lr;
    for (l, bias) in biases.iter_mut().enumerate() {
        for (j, b) in bias.as_mut().iter_mut().enumerate() {
            let total: T = blocks
                .iter()
                .filter(|k| k.rows > 0)
                .map(|k| k.bias_sums[l][j])
                .sum();
            *b += minus_lr * total;
        }
    }
}
