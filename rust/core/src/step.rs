//! One SGD step on a batch: network.rs's forward and backward with the update fused in, in two
//! parallel phases over the engine's threads.
//!
//!   forward    a[l+1] = f(a[l] @ W[l] + b[l]),   last layer softmax
//!   output     delta[L] = (p - y) / n             (softmax_loss_delta, n the batch's rows)
//!   backward   delta[l] = (delta[l+1] @ W[l].T) * f'(a[l])     for l = L-1 .. 1
//!   update     W[l] += -lr * a[l].T @ delta[l+1]
//!              b[l] -= lr * (sum over rows of delta[l+1])
//!
//! Phase 1, by rows: the batch is cut into one block of rows per thread, and each block goes
//! through the forward pass, the loss and the delta recursion on its own: all of that is row
//! by row, so the blocks never wait for each other. Each block also sums its deltas' columns
//! (its share of the bias gradients).
//! Phase 2, by weights: `W[l] += -lr * sum over blocks of a_b[l].T @ delta_b[l+1]`, each
//! thread owning a range of W[l]'s rows; then the biases from the blocks' column sums.
//!
//! Two points where the threads meet per batch, whatever the depth. All buffers live in a
//! `Workspace` sized once: nothing is allocated per batch.
//!
//! The sparse first layer adds a phase 0, by inputs: each thread owns a range of W[0]'s rows
//! (balanced by nonzeros), regroups the whole batch's nonzeros in its range and computes its
//! share of `x @ W[0]`; phase 1 sums the shares of its rows, and phase 2 updates each range of
//! W[0] on the thread that owns it. A range of W[0] thus stays in one core's cache: split by
//! rows instead, every forward product read the half of W[0] the other core had just
//! updated, and the update took it back (measured on MNIST-like rows, 2 threads: 0.109 s an
//! epoch split by rows, 0.088 s by ranges of inputs).

use crate::activation::Activation;
use crate::architecture::Architecture;
use crate::error::{Error, Result};
use crate::matmul::{matmul_serial_into, MatMut, MatRef, Update};
use crate::network::column_sums;
use crate::optimizer::Descent;
use crate::real::Real;
use crate::softmax::{softmax_loss_delta, BatchOutcome, Targets};
use crate::sparse::{
    update_first_layer, InputRange, InputRanges, MatrixRows, SparseBatch, SparseRows,
};
use crate::step_rule::update_by_rule;
use crate::workspace::{RowBlock, Workspace};
use rayon::prelude::*;

/// Each block gets at least this many rows: smaller ones cost more to hand out than they save.
const MIN_ROWS_PER_BLOCK: usize = 16;
/// Below this many multiply-adds a layer's update is one piece of work.
const MIN_PARALLEL_UPDATE: usize = 1 << 18;

/// The rows of a batch, as the caller holds them.
#[derive(Debug, Clone, Copy)]
pub(crate) enum BatchRows<'a, T> {
    /// Contiguous row-major (rows, inputs) values.
    Contiguous(&'a [T]),
    /// Rows `order` of a row-major (n, inputs) matrix; gathered into each block's buffer.
    Gathered { x: &'a [T], order: &'a [i64] },
    /// Rows `order` of compressed rows, read as they are by the sparse first layer.
    Sparse {
        matrix: &'a SparseRows<T>,
        order: &'a [i64],
    },
    /// Rows `order` of compressed rows, expanded into each block's buffer (dense path).
    Expanded {
        matrix: &'a SparseRows<T>,
        order: &'a [i64],
    },
}

impl<'a, T: Real> BatchRows<'a, T> {
    fn rows(&self, inputs: usize) -> usize {
        match self {
            BatchRows::Contiguous(x) => x.len() / inputs.max(1),
            BatchRows::Gathered { order, .. }
            | BatchRows::Sparse { order, .. }
            | BatchRows::Expanded { order, .. } => order.len(),
        }
    }

    /// Rows `start..end` of the batch.
    fn block(self, start: usize, end: usize, inputs: usize) -> Self {
        match self {
            BatchRows::Contiguous(x) => BatchRows::Contiguous(&x[start * inputs..end * inputs]),
            BatchRows::Gathered { x, order } => BatchRows::Gathered {
                x,
                order: &order[start..end],
            },
            BatchRows::Sparse { matrix, order } => BatchRows::Sparse {
                matrix,
                order: &order[start..end],
            },
            BatchRows::Expanded { matrix, order } => BatchRows::Expanded {
                matrix,
                order: &order[start..end],
            },
        }
    }

    /// Copy the rows into `buffer` where the first layer needs them dense and contiguous.
    fn fill(&self, buffer: &mut [T], inputs: usize) {
        match *self {
            BatchRows::Gathered { x, order } => {
                for (row, &index) in buffer.chunks_exact_mut(inputs).zip(order) {
                    // train_epoch checked every index against the rows of x.
                    let start = index as usize * inputs;
                    row.copy_from_slice(&x[start..start + inputs]);
                }
            }
            BatchRows::Expanded { matrix, order } => matrix.gather_dense(order, buffer),
            BatchRows::Contiguous(_) | BatchRows::Sparse { .. } => {}
        }
    }

    /// The first layer's input: the rows themselves, or `buffer` after `fill`.
    fn first_layer<'b>(&self, buffer: &'b [T], inputs: usize) -> Result<FirstLayer<'b, T>>
    where
        'a: 'b,
    {
        let rows = self.rows(inputs);
        Ok(match *self {
            BatchRows::Contiguous(x) => FirstLayer::Dense(MatRef::row_major(x, rows, inputs)?),
            BatchRows::Sparse { .. } => FirstLayer::Sparse,
            BatchRows::Gathered { .. } | BatchRows::Expanded { .. } => {
                FirstLayer::Dense(MatRef::row_major(&buffer[..rows * inputs], rows, inputs)?)
            }
        })
    }

    fn needs_buffer(&self) -> bool {
        matches!(
            self,
            BatchRows::Gathered { .. } | BatchRows::Expanded { .. }
        )
    }
}

/// The targets of a batch, as the caller holds them.
#[derive(Debug, Clone, Copy)]
pub(crate) enum BatchTargets<'a, T> {
    /// Class indices `labels[order[r]]` (checked < classes by the caller).
    Labels { labels: &'a [i64], order: &'a [i64] },
    /// A (rows, classes) matrix, row r for batch row r.
    Matrix(&'a [T]),
}

/// The batch as the first layer reads it.
#[derive(Debug, Clone, Copy)]
enum FirstLayer<'a, T> {
    /// (rows, inputs), row-major.
    Dense(MatRef<'a, T>),
    /// The same rows, nonzeros only: phase 0 took their product (`InputRange`).
    Sparse,
}

/// The number of row blocks for a batch of `rows` on the current pool.
pub(crate) fn blocks_for(rows: usize) -> usize {
    rayon::current_num_threads()
        .min(rows.div_ceil(MIN_ROWS_PER_BLOCK))
        .max(1)
}

/// One SGD step on `batch` with `targets`, or a step of `descent`'s optimizer (which counts
/// it); returns what the output layer measured *before* the step, with the L2 term. If the
/// loss is not finite the parameters (and the state) are left as they were and
/// `Error::Diverged { batch: 0, .. }` is returned. The workspace must have been fitted for
/// this batch (`Workspace::fit`, then `fit_inputs` where rows are gathered or `fit_sparse`
/// for compressed rows read as they are); call inside the engine's pool.
#[allow(clippy::too_many_arguments)]
pub(crate) fn step<T: Real, W: AsRef<[T]> + AsMut<[T]> + Send + Sync>(
    arch: &Architecture,
    weights: &mut [W],
    biases: &mut [W],
    batch: BatchRows<'_, T>,
    targets: BatchTargets<'_, T>,
    lr: T,
    activation: Activation,
    workspace: &mut Workspace<T>,
    descent: Option<&mut Descent<'_, T>>,
) -> Result<BatchOutcome> {
    let inputs = arch.inputs();
    let rows = batch.rows(inputs);
    let Workspace {
        blocks,
        ranges,
        gradients,
        ..
    } = workspace;
    let per_block = rows.div_ceil(blocks.len().max(1)).max(1);

    // Phase 0, by inputs (sparse path): each range's share of the first layer's product.
    if let BatchRows::Sparse { matrix, order } = batch {
        let sparse = SparseBatch { matrix, order };
        ranges.share_products(sparse, weights[0].as_ref(), arch.fan_out(0))?;
    }
    let ranges: &InputRanges<T> = ranges;

    // Phase 1, by rows: forward, loss and deltas of each block.
    let shared_weights: &[W] = weights;
    let shared_biases: &[W] = biases;
    let outcome = blocks
        .par_iter_mut()
        .enumerate()
        .map(|(b, block)| {
            let start = (b * per_block).min(rows);
            let end = ((b + 1) * per_block).min(rows);
            block.rows = end - start;
            if block.rows == 0 {
                return Ok(BatchOutcome::default());
            }
            let rows_of_block = batch.block(start, end, inputs);
            let targets_of_block = match targets {
                BatchTargets::Labels { labels, order } => {
                    block.labels.clear();
                    block.labels.extend(
                        order[start..end]
                            .iter()
                            .map(|&i| labels[i as usize] as usize),
                    );
                    None
                }
                BatchTargets::Matrix(y) => {
                    let classes = arch.classes();
                    Some(&y[start * classes..end * classes])
                }
            };
            if rows_of_block.needs_buffer() {
                rows_of_block.fill(&mut block.x, inputs);
            }
            block_forward_backward(
                arch,
                shared_weights,
                shared_biases,
                rows_of_block,
                targets_of_block,
                (start, rows),
                ranges,
                activation,
                block,
            )
        })
        .try_reduce(BatchOutcome::default, |a, b| {
            Ok(BatchOutcome {
                loss_sum: a.loss_sum + b.loss_sum,
                correct: a.correct + b.correct,
            })
        })?;
    if !outcome.loss_sum.is_finite() {
        return Err(Error::Diverged {
            batch: 0,
            loss: outcome.loss_sum / rows as f64,
        });
    }
    let mut outcome = outcome;

    // With an optimizer's rule (momentum, Adam, L2): phase 2 in step_rule.rs.
    if let Some(descent) = descent {
        let plan = descent.begin_step(rows, weights)?;
        outcome.loss_sum += plan.l2_loss * rows as f64;
        if let Some(rule) = plan.rule {
            let blocks: &[RowBlock<T>] = blocks;
            let weight_rows = |l: usize, gradient: &mut [T], first: usize, last: usize| {
                update_weight_rows(
                    arch,
                    l,
                    gradient,
                    first,
                    last,
                    batch,
                    blocks,
                    rows,
                    per_block,
                    Update::Overwrite,
                )
            };
            let bias = |l: usize, gradient: &mut [T]| {
                for (j, g) in gradient.iter_mut().enumerate() {
                    *g = blocks
                        .iter()
                        .filter(|k| k.rows > 0)
                        .map(|k| k.bias_sums[l][j])
                        .sum();
                }
            };
            let fan_out = arch.fan_out(0);
            let delta_row = |r: usize| {
                // r < rows: block r / per_block holds batch row r.
                let (block, local) = (r / per_block, r % per_block);
                &blocks[block].deltas[0][local * fan_out..(local + 1) * fan_out]
            };
            let sparse = matches!(batch, BatchRows::Sparse { .. })
                .then_some((ranges.as_slice(), &delta_row));
            update_by_rule(
                arch,
                weights,
                biases,
                &rule,
                descent.layers_mut(),
                gradients,
                &weight_rows,
                bias,
                sparse,
                &|l| rows_per_piece(arch, l, rows),
            )?;
            return Ok(outcome);
        }
    }

    // Phase 2, by weights: W[l] += -lr * sum over blocks of a_b[l].T @ delta_b[l+1].
    let minus_lr = -lr;
    let blocks: &[RowBlock<T>] = blocks;
    let update = |l: usize, weight: &mut W| -> Result<()> {
        update_layer(
            arch,
            l,
            weight.as_mut(),
            batch,
            blocks,
            rows,
            per_block,
            minus_lr,
        )
    };
    let updated = match batch {
        BatchRows::Sparse { .. } => {
            let (first_weight, deeper) = weights.split_at_mut(1);
            let update_deeper = || {
                deeper
                    .par_iter_mut()
                    .enumerate()
                    .try_for_each(|(i, weight)| update(i + 1, weight))
            };
            let fan_out = arch.fan_out(0);
            let delta_row = |r: usize| {
                // r < rows: block r / per_block holds batch row r.
                let (block, local) = (r / per_block, r % per_block);
                &blocks[block].deltas[0][local * fan_out..(local + 1) * fan_out]
            };
            let weight = MatrixRows {
                values: &mut first_weight[0].as_mut()[..arch.inputs() * fan_out],
                row_len: fan_out,
            };
            let update_range = |range: &InputRange<T>, rows: MatrixRows<'_, T>| {
                range.add_product(rows.values, delta_row, fan_out, minus_lr);
                Ok(())
            };
            update_first_layer(ranges.as_slice(), weight, &update_range, update_deeper)
        }
        _ => weights
            .par_iter_mut()
            .enumerate()
            .try_for_each(|(l, weight)| update(l, weight)),
    };
    updated?;
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
    Ok(outcome)
}

/// Phase 1 for one block of `block.rows` rows: forward, loss, deltas and bias sums.
#[allow(clippy::too_many_arguments)]
fn block_forward_backward<T: Real, W: AsRef<[T]>>(
    arch: &Architecture,
    weights: &[W],
    biases: &[W],
    batch: BatchRows<'_, T>,
    targets: Option<&[T]>,
    (start, batch_rows): (usize, usize),
    ranges: &InputRanges<T>,
    activation: Activation,
    block: &mut RowBlock<T>,
) -> Result<BatchOutcome> {
    let rows = block.rows;
    let layers = arch.layers();
    let RowBlock {
        x,
        labels,
        outputs,
        deltas,
        bias_sums,
        ..
    } = block;
    let first = batch.first_layer(x, arch.inputs())?;

    // Forward: outputs[l] = f(a[l] @ W[l] + b[l])   # (rows, fan_out)
    for l in 0..layers {
        let (fan_in, fan_out) = (arch.fan_in(l), arch.fan_out(l));
        let (done, rest) = outputs.split_at_mut(l);
        let out = &mut rest[0][..rows * fan_out];
        let weight = MatRef::row_major(weights[l].as_ref(), fan_in, fan_out)?;
        match (l, first) {
            // Phase 0 left each range's share of rows start..start + rows: sum them.
            (0, FirstLayer::Sparse) => ranges.sum_shares(out, start, rows, fan_out)?,
            (0, FirstLayer::Dense(a)) => matmul_serial_into(
                MatMut::row_major(out, rows, fan_out)?,
                a,
                weight,
                Update::Overwrite,
            )?,
            _ => {
                let a = MatRef::row_major(&done[l - 1], rows, fan_in)?;
                matmul_serial_into(
                    MatMut::row_major(out, rows, fan_out)?,
                    a,
                    weight,
                    Update::Overwrite,
                )?
            }
        }
        if l + 1 < layers {
            activation.add_bias_and_apply(out, biases[l].as_ref());
        }
    }

    // Output: p = softmax(logits + b), loss, and delta[L] = (p - y) / batch_rows.
    let classes = arch.classes();
    let targets = match targets {
        Some(y) => Targets::Matrix(y),
        None => Targets::Labels(labels),
    };
    let outcome = softmax_loss_delta(
        &mut outputs[layers - 1][..rows * classes],
        &mut deltas[layers - 1][..rows * classes],
        biases[layers - 1].as_ref(),
        targets,
        classes,
        batch_rows,
    );

    // Backward: delta[l] = (delta[l+1] @ W[l].T) * f'(a[l])   # (rows, fan_in)
    for l in (1..layers).rev() {
        let (fan_in, fan_out) = (arch.fan_in(l), arch.fan_out(l));
        let (below, from_here) = deltas.split_at_mut(l);
        let delta = MatRef::row_major(&from_here[0][..rows * fan_out], rows, fan_out)?;
        let weight = MatRef::row_major(weights[l].as_ref(), fan_in, fan_out)?;
        let previous = &mut below[l - 1][..rows * fan_in];
        matmul_serial_into(
            MatMut::row_major(previous, rows, fan_in)?,
            delta,
            weight.t(),
            Update::Overwrite,
        )?;
        activation.scale_by_derivative(previous, &outputs[l - 1][..rows * fan_in]);
    }
    // This block's share of the bias gradients.
    for (l, sums) in bias_sums.iter_mut().enumerate() {
        let fan_out = arch.fan_out(l);
        column_sums(&deltas[l][..rows * fan_out], fan_out, sums);
    }
    Ok(outcome)
}

/// Rows of W[l] one task of phase 2 updates: all of them where the layer is small.
fn rows_per_piece(arch: &Architecture, l: usize, batch_rows: usize) -> usize {
    let (fan_in, fan_out) = (arch.fan_in(l), arch.fan_out(l));
    let rows = if fan_in * fan_out * batch_rows < MIN_PARALLEL_UPDATE {
        fan_in
    } else {
        fan_in.div_ceil(rayon::current_num_threads().max(1))
    };
    rows.max(1)
}

/// Phase 2 for W[l] on the dense products: split into one range of rows per thread where it
/// is big enough to be worth it.
#[allow(clippy::too_many_arguments)]
fn update_layer<T: Real>(
    arch: &Architecture,
    l: usize,
    weight: &mut [T],
    batch: BatchRows<'_, T>,
    blocks: &[RowBlock<T>],
    batch_rows: usize,
    per_block: usize,
    minus_lr: T,
) -> Result<()> {
    let (fan_in, fan_out) = (arch.fan_in(l), arch.fan_out(l));
    let rows_per_piece = rows_per_piece(arch, l, batch_rows);
    weight[..fan_in * fan_out]
        .par_chunks_mut(rows_per_piece.max(1) * fan_out)
        .enumerate()
        .try_for_each(|(piece, weight_rows)| {
            let first = piece * rows_per_piece;
            let last = first + weight_rows.len() / fan_out;
            update_weight_rows(
                arch,
                l,
                weight_rows,
                first,
                last,
                batch,
                blocks,
                batch_rows,
                per_block,
                Update::AddScaled(minus_lr),
            )
        })
}

/// Phase 2 for rows `first..last` of W[l] (`weight_rows`): add every block's
/// `-lr * a_b[l][:, first..last].T @ delta_b[l+1]` (`first_update` AddScaled(-lr)), or
/// write their sum, those rows' gradient (`first_update` Overwrite).
#[allow(clippy::too_many_arguments)]
fn update_weight_rows<T: Real>(
    arch: &Architecture,
    l: usize,
    weight_rows: &mut [T],
    first: usize,
    last: usize,
    batch: BatchRows<'_, T>,
    blocks: &[RowBlock<T>],
    batch_rows: usize,
    per_block: usize,
    first_update: Update<T>,
) -> Result<()> {
    let (fan_in, fan_out) = (arch.fan_in(l), arch.fan_out(l));
    // The first block's product lands as `first_update` says, the others are added to it.
    let mut update = first_update;
    let scale = match first_update {
        Update::Overwrite => T::one(),
        Update::AddScaled(scale) => scale,
    };
    for (b, block) in blocks.iter().enumerate().filter(|(_, k)| k.rows > 0) {
        let rows = block.rows;
        let start = (b * per_block).min(batch_rows);
        let delta = &block.deltas[l][..rows * fan_out];
        let input = match l {
            0 => batch
                .block(start, start + rows, fan_in)
                .first_layer(&block.x, fan_in)?,
            _ => FirstLayer::Dense(MatRef::row_major(&block.outputs[l - 1], rows, fan_in)?),
        };
        match input {
            // The sparse first layer is updated by ranges of inputs (update_by_ranges).
            FirstLayer::Sparse => {
                return Err(Error::value(
                    "input_path",
                    "the sparse first layer is updated by ranges of inputs",
                ))
            }
            FirstLayer::Dense(a) => matmul_serial_into(
                MatMut::row_major(weight_rows, last - first, fan_out)?,
                a.t().row_range(first, last),
                MatRef::row_major(delta, rows, fan_out)?,
                update,
            )?,
        }
        update = Update::AddScaled(scale);
    }
    Ok(())
}
