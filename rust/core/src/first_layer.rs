//! The first layer, dense or sparse: the one place that tells the two input paths apart.
//!
//! Dense rows go through a GEMM like every other layer. Compressed rows go through the sparse
//! path (`sparse/`): in phase 0 each thread computes its range of inputs' share of `x @ W[0]`
//! (`share_products`), the row blocks sum the shares (`forward`), and in phase 2 each range of
//! W[0] is updated on the thread that read it, by plain SGD (`update_weights`) or by an
//! optimizer's rule (`update_weights_by_rule`).

use crate::architecture::Architecture;
use crate::batch::{BatchRows, DenseRows};
use crate::error::{Error, Result};
use crate::matmul::{matmul_serial_into, MatMut, MatRef, Update};
use crate::optimizer::{LayerSlots, Rows};
use crate::real::Real;
use crate::sparse::{self, InputRange, InputRanges, MatrixRows, SparseBatch, SparseRows};
use crate::step::Step;
use crate::step_rule::{update_dense_layer, update_range_by_rule, RulePhase, RuleRows};
use crate::train::Inputs;
use crate::update::update_layer;
use crate::workspace::{RowBlock, Workspace};
use rayon::prelude::*;

/// An epoch's rows as the first layer reads them, the path decided.
#[derive(Debug, Clone, Copy)]
pub(crate) enum EpochRows<'a, T> {
    /// A row-major (n, inputs) matrix, gathered batch by batch (dense path).
    Dense(&'a [T]),
    /// Compressed rows, expanded batch by batch (dense path).
    Expanded(&'a SparseRows<T>),
    /// Compressed rows read as they are, in groups of `group_rows` rows (sparse path).
    Sparse {
        matrix: &'a SparseRows<T>,
        group_rows: usize,
    },
}

impl<'a, T: Real> EpochRows<'a, T> {
    /// `inputs` (n, width) on the dense path, or on the sparse path in groups of
    /// `sparse_groups` rows; dense inputs for the sparse path are compressed into
    /// `compressed`, once for the epoch (in the current pool).
    pub(crate) fn new(
        inputs: Inputs<'a, T>,
        sparse_groups: Option<usize>,
        width: usize,
        compressed: &'a mut Option<SparseRows<T>>,
    ) -> Result<Self> {
        Ok(match (sparse_groups, inputs) {
            (None, Inputs::Dense(x)) => EpochRows::Dense(x),
            (None, Inputs::Sparse(matrix)) => EpochRows::Expanded(matrix),
            (Some(group_rows), Inputs::Sparse(matrix)) => EpochRows::Sparse { matrix, group_rows },
            (Some(group_rows), Inputs::Dense(x)) => EpochRows::Sparse {
                matrix: compressed.insert(SparseRows::from_dense(x, width)?),
                group_rows,
            },
        })
    }

    /// Size what the path needs beyond `Workspace::fit`: every block's buffer for gathered
    /// rows (dense), or one range of inputs per thread of the current pool (sparse).
    pub(crate) fn fit(&self, workspace: &mut Workspace<T>, arch: &Architecture) -> Result<()> {
        match *self {
            EpochRows::Dense(_) | EpochRows::Expanded(_) => workspace.fit_inputs(arch.inputs()),
            EpochRows::Sparse { matrix, group_rows } => {
                let boundaries = matrix.balanced_input_ranges(rayon::current_num_threads());
                workspace.fit_sparse(arch, &boundaries, group_rows)
            }
        }
    }

    /// The batch of rows `order`.
    pub(crate) fn batch(&self, order: &'a [i64]) -> BatchRows<'a, T> {
        match *self {
            EpochRows::Dense(x) => BatchRows::Dense(DenseRows::Gathered { x, order }),
            EpochRows::Expanded(matrix) => {
                BatchRows::Dense(DenseRows::Expanded(SparseBatch { matrix, order }))
            }
            EpochRows::Sparse { matrix, .. } => BatchRows::Sparse(SparseBatch { matrix, order }),
        }
    }
}

/// Phase 0: on the sparse path, each range of inputs' share of the batch's `x @ W[0]`
/// (`weight` (inputs, fan_out)); nothing on the dense path.
pub(crate) fn share_products<T: Real>(
    batch: BatchRows<'_, T>,
    weight: &[T],
    fan_out: usize,
    ranges: &mut InputRanges<T>,
) -> Result<()> {
    match batch {
        BatchRows::Dense(_) => Ok(()),
        BatchRows::Sparse(rows) => ranges.share_products(rows, weight, fan_out),
    }
}

/// Phase 1, layer 0 of one block, batch rows `start..start + rows` (`rows_of_block`):
/// `out (rows, fan_out) = x @ W[0]`, before the bias. Dense rows are first copied into `x`
/// (the block's buffer) where they are not contiguous.
pub(crate) fn forward<T: Real>(
    rows_of_block: BatchRows<'_, T>,
    x: &mut [T],
    weight: MatRef<'_, T>,
    ranges: &InputRanges<T>,
    start: usize,
    out: &mut [T],
) -> Result<()> {
    let (inputs, fan_out) = (weight.rows(), weight.cols());
    match rows_of_block {
        BatchRows::Dense(rows) => {
            rows.fill(x, inputs);
            let a = rows.matrix(x, inputs)?;
            let n = a.rows();
            matmul_serial_into(
                MatMut::row_major(out, n, fan_out)?,
                a,
                weight,
                Update::Overwrite,
            )
        }
        // Phase 0 left each range's share of these rows: sum them.
        BatchRows::Sparse(batch) => ranges.sum_shares(out, start, batch.rows(), fan_out),
    }
}

/// The dense input of layer 0 for one block (`rows_of_block`, gathered into `x` in phase 1),
/// as the dense update of W[0] reads it. The sparse first layer has none.
pub(crate) fn dense_input<'b, T: Real>(
    rows_of_block: BatchRows<'b, T>,
    x: &'b [T],
    inputs: usize,
) -> Result<MatRef<'b, T>> {
    match rows_of_block {
        BatchRows::Dense(rows) => rows.matrix(x, inputs),
        // The sparse first layer is updated by ranges of inputs (update_weights).
        BatchRows::Sparse(_) => Err(Error::value(
            "input_path",
            "the sparse first layer is updated by ranges of inputs",
        )),
    }
}

/// Row r of the batch's delta[1] (fan_out values), from the block that holds it.
fn delta_row<'b, T>(step: &Step<'_, T>, blocks: &'b [RowBlock<T>], r: usize) -> &'b [T] {
    let fan_out = step.arch.fan_out(0);
    // r < rows: block r / per_block holds batch row r.
    let (block, local) = (r / step.per_block, r % step.per_block);
    &blocks[block].deltas[0][local * fan_out..(local + 1) * fan_out]
}

/// Phase 2, the weights, by plain SGD: every W[l] by pieces of its rows (`update_layer`) on
/// the dense path; on the sparse path W[0] by ranges of inputs (`sparse::update_first_layer`),
/// each on the thread that read it in phase 0, the layers above alongside.
pub(crate) fn update_weights<T: Real, W: AsMut<[T]> + Send>(
    step: &Step<'_, T>,
    weights: &mut [W],
    blocks: &[RowBlock<T>],
    ranges: &InputRanges<T>,
) -> Result<()> {
    let update = |l: usize, weight: &mut W| update_layer(step, l, weight.as_mut(), blocks);
    match step.batch {
        BatchRows::Dense(_) => weights
            .par_iter_mut()
            .enumerate()
            .try_for_each(|(l, weight)| update(l, weight)),
        BatchRows::Sparse(_) => {
            let (first_weight, deeper) = weights.split_at_mut(1);
            let update_deeper = || {
                deeper
                    .par_iter_mut()
                    .enumerate()
                    .try_for_each(|(i, weight)| update(i + 1, weight))
            };
            let fan_out = step.arch.fan_out(0);
            let rows = MatrixRows {
                values: &mut first_weight[0].as_mut()[..step.arch.inputs() * fan_out],
                row_len: fan_out,
            };
            let minus_lr = -step.lr;
            let delta_row = |r: usize| delta_row(step, blocks, r);
            let update_range = |range: &InputRange<T>, rows: MatrixRows<'_, T>| {
                range.add_product(rows.values, delta_row, fan_out, minus_lr);
                Ok(())
            };
            sparse::update_first_layer(ranges.as_slice(), rows, &update_range, update_deeper)
        }
    }
}

/// Phase 2, the weights, by an optimizer's rule (`step_rule.rs`): the same pieces as
/// `update_weights`, each with its slots and its part of the `gradients` buffers. On the
/// sparse path every row of W[0] moves, the rows the batch did not touch with a zero
/// gradient.
pub(crate) fn update_weights_by_rule<T: Real, W: AsMut<[T]> + Send>(
    phase: &RulePhase<'_, '_, T>,
    weights: &mut [W],
    slots: &mut [LayerSlots<'_, T>],
    gradients: &mut [Vec<T>],
    ranges: &InputRanges<T>,
) -> Result<()> {
    let arch = phase.step.arch;
    let dense = |l: usize, weight: &mut W, slots: &mut LayerSlots<'_, T>, g: &mut Vec<T>| {
        let size = arch.fan_in(l) * arch.fan_out(l);
        let (weight, g) = (&mut weight.as_mut()[..size], &mut g[..size]);
        update_dense_layer(phase, l, weight, slots.weights.reborrow(), g)
    };
    match phase.step.batch {
        BatchRows::Dense(_) => weights
            .par_iter_mut()
            .zip(slots.par_iter_mut())
            .zip(gradients.par_iter_mut())
            .enumerate()
            .try_for_each(|(l, ((weight, slots), g))| dense(l, weight, slots, g)),
        BatchRows::Sparse(_) => {
            let (first_weight, deeper_weights) = weights.split_at_mut(1);
            let (first_slots, deeper_slots) = slots.split_at_mut(1);
            let (first_gradient, deeper_gradients) = gradients.split_at_mut(1);
            let fan_out = arch.fan_out(0);
            let size = arch.inputs() * fan_out;
            let rows = RuleRows {
                params: Rows::new(
                    &mut first_weight[0].as_mut()[..size],
                    first_slots[0].weights.reborrow(),
                    fan_out,
                )?,
                gradient: MatrixRows {
                    values: &mut first_gradient[0][..size],
                    row_len: fan_out,
                },
            };
            let (step, blocks) = (phase.step, phase.blocks);
            let delta_row = |r: usize| delta_row(step, blocks, r);
            let update_range = |range: &InputRange<T>, rows: RuleRows<'_, T>| {
                update_range_by_rule(phase.rule, range, rows, &delta_row)
            };
            let update_deeper = || {
                deeper_weights
                    .par_iter_mut()
                    .zip(deeper_slots.par_iter_mut())
                    .zip(deeper_gradients.par_iter_mut())
                    .enumerate()
                    .try_for_each(|(i, ((weight, slots), g))| dense(i + 1, weight, slots, g))
            };
            sparse::update_first_layer(ranges.as_slice(), rows, &update_range, update_deeper)
        }
    }
}
