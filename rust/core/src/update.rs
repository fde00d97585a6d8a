//! Phase 2 of a step: the parameter update, the one place where W[l] and b[l] change.
//!
//!   W[l] += -lr * sum over blocks of a_b[l].T @ delta_b[l+1]     by pieces of W[l]'s rows
//!   b[l] += -lr * sum over blocks of (column sums of delta_b[l+1])
//!
//! Plain SGD, fused into the products that compute the gradient (which is never stored):
//! `update_weight_rows` for a piece of a dense layer, `update_biases` for the biases, and the
//! sparse kernels' update (scale = -lr) for W[0] on the sparse path, which
//! `first_layer::update_weights` runs by ranges of inputs. A rule with state (momentum, Adam:
//! `optimizer::StepRule` on each range) takes the place of these three.

use crate::error::Result;
use crate::first_layer;
use crate::matmul::{matmul_serial_into, MatMut, MatRef, Update};
use crate::real::Real;
use crate::step::Step;
use crate::workspace::RowBlock;
use rayon::prelude::*;

/// Below this many multiply-adds a layer's update is one piece of work.
const MIN_PARALLEL_UPDATE: usize = 1 << 18;

/// W[l] (`weight`, dense products): split into one piece of rows per thread where it is big
/// enough to be worth it.
pub(crate) fn update_layer<T: Real>(
    step: &Step<'_, T>,
    l: usize,
    weight: &mut [T],
    blocks: &[RowBlock<T>],
) -> Result<()> {
    let (fan_in, fan_out) = (step.arch.fan_in(l), step.arch.fan_out(l));
    let rows_per_piece = if fan_in * fan_out * step.rows < MIN_PARALLEL_UPDATE {
        fan_in
    } else {
        fan_in.div_ceil(rayon::current_num_threads().max(1))
    };
    weight[..fan_in * fan_out]
        .par_chunks_mut(rows_per_piece.max(1) * fan_out)
        .enumerate()
        .try_for_each(|(piece, weight_rows)| {
            update_weight_rows(step, l, weight_rows, piece * rows_per_piece, blocks)
        })
}

/// Rows `first..last` of W[l] (`weight_rows`): add every block's
/// `-lr * a_b[l][:, first..last].T @ delta_b[l+1]`.
fn update_weight_rows<T: Real>(
    step: &Step<'_, T>,
    l: usize,
    weight_rows: &mut [T],
    first: usize,
    blocks: &[RowBlock<T>],
) -> Result<()> {
    let (fan_in, fan_out) = (step.arch.fan_in(l), step.arch.fan_out(l));
    let last = first + weight_rows.len() / fan_out;
    for (b, block) in blocks.iter().enumerate().filter(|(_, k)| k.rows > 0) {
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
            MatMut::row_major(weight_rows, last - first, fan_out)?,
            input.t().row_range(first, last),
            MatRef::row_major(delta, rows, fan_out)?,
            Update::AddScaled(-step.lr),
        )?;
    }
    Ok(())
}

/// Every b[l] (`biases`): add `-lr` times the blocks' column sums of their deltas.
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
