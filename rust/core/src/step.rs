//! One SGD step on a batch: network.rs's forward and backward with the update fused in, in
//! parallel phases over the engine's threads.
//!
//!   forward    a[l+1] = f(a[l] @ W[l] + b[l]),   last layer the output's (softmax, ...)
//!   output     delta[L] = s * (out - y) / sum(s)  (output.rs; without row weights s: / n)
//!   backward   delta[l] = (delta[l+1] @ W[l].T) * f'(a[l])     for l = L-1 .. 1
//!   update     W[l] += -lr * a[l].T @ delta[l+1]
//!              b[l] -= lr * (sum over rows of delta[l+1])
//!
//! Phase 0, by inputs (the sparse first layer only, `first_layer.rs`): each thread's range of
//! inputs' share of `x @ W[0]`.
//! Phase 1, by rows: the batch is cut into one block of rows per thread, and each block goes
//! through the forward pass, the loss and the delta recursion on its own: all of that is row
//! by row, so the blocks never wait for each other. Each block also sums its deltas' columns
//! (its share of the bias gradients).
//! Phase 2, by weights (`update.rs`): each thread updates a piece of every W[l]'s rows from
//! all the blocks; then the biases from the blocks' column sums. With an optimizer's rule
//! (momentum, Adam, L2) the pieces' gradients are written out first (`step_rule.rs`).
//!
//! A small network under a rule (`gradients_in_blocks`) moves the weight gradients' products
//! into phase 1: each block also computes its own `a_b[l].T @ delta_b[l+1]`, so phase 2 only
//! sums the blocks' gradients and applies the rule (its products were too small to split
//! evenly, and the threads waited for each other there).
//!
//! Two or three points where the threads meet per batch, whatever the depth. All buffers live
//! in a `Workspace` sized once: nothing is allocated per batch.

use crate::activation::Activation;
use crate::architecture::Architecture;
use crate::batch::{BatchRows, BatchTargets, BatchWeights};
use crate::error::{Error, Result};
use crate::first_layer;
use crate::matmul::{matmul_serial_into, MatMut, MatRef, Update};
use crate::network::column_sums;
use crate::optimizer::Descent;
use crate::output::{loss_delta, DeltaScale, Output};
use crate::real::Real;
use crate::softmax::{softmax_loss_delta, BatchOutcome, Targets};
use crate::sparse::InputRanges;
use crate::step_rule::{update_by_rule, RulePhase};
use crate::train::Model;
use crate::update::{block_rows_product, rows_per_piece, update_biases};
use crate::workspace::{RowBlock, Workspace};
use rayon::prelude::*;

/// Each block gets at least this many rows: smaller ones cost more to hand out than they save.
const MIN_ROWS_PER_BLOCK: usize = 16;

/// Networks with at most this many weights (times the blocks) compute their weight gradients
/// block by block in phase 1 when a rule updates them. Measured at 2 threads, Adam, batch
/// 200: faster for 10-64-64-1, 100-100-10 and 64-128-128-10 (51.7k), no different for 20-100-3
/// and 784-128-10, slower for 784-32-10 (50.8k); the limit keeps the first two.
const MAX_BLOCK_GRADIENT_WEIGHTS: usize = 1 << 15;

/// Whether the `blocks` blocks of a step on `arch` compute their own weight gradients (under
/// a rule, on the dense path; see the module's comment).
pub(crate) fn gradients_in_blocks(arch: &Architecture, blocks: usize) -> bool {
    let weights: usize = (0..arch.layers())
        .map(|l| arch.fan_in(l) * arch.fan_out(l))
        .sum();
    blocks > 1 && weights.saturating_mul(blocks) <= MAX_BLOCK_GRADIENT_WEIGHTS
}

/// The number of row blocks for a batch of `rows` on the current pool.
pub(crate) fn blocks_for(rows: usize) -> usize {
    rayon::current_num_threads()
        .min(rows.div_ceil(MIN_ROWS_PER_BLOCK))
        .max(1)
}

/// What every phase of one step reads: the network's shape and settings, the batch, and how
/// the batch is cut into blocks of rows.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Step<'a, T> {
    pub(crate) arch: &'a Architecture,
    pub(crate) activation: Activation,
    pub(crate) lr: T,
    pub(crate) batch: BatchRows<'a, T>,
    pub(crate) targets: BatchTargets<'a, T>,
    pub(crate) output: Output,
    pub(crate) weights: BatchWeights<'a, T>,
    /// What the output deltas divide by: the batch's rows or the sum of its weights.
    pub(crate) scale: DeltaScale<T>,
    /// The batch's rows; block b holds rows `block_rows(b)` of them.
    pub(crate) rows: usize,
    pub(crate) per_block: usize,
    /// Each block computes its weight gradients in phase 1 (`gradients_in_blocks`).
    pub(crate) gradients_in_blocks: bool,
}

impl<T> Step<'_, T> {
    /// Rows `start..end` of the batch that block `b` holds (empty past the last row).
    pub(crate) fn block_rows(&self, b: usize) -> (usize, usize) {
        let start = (b * self.per_block).min(self.rows);
        let end = ((b + 1) * self.per_block).min(self.rows);
        (start, end)
    }
}

/// What a batch is trained against: the output layer and its loss, the targets and the row
/// weights.
#[derive(Debug, Clone, Copy)]
pub(crate) struct BatchLoss<'a, T> {
    pub(crate) output: Output,
    pub(crate) targets: BatchTargets<'a, T>,
    pub(crate) weights: BatchWeights<'a, T>,
}

/// One SGD step of `model` on `batch` against `loss`, or a step of `descent`'s optimizer
/// (which counts it); returns what the output layer measured *before* the step, with the L2
/// term: `loss_sum` is the batch's (weighted) mean loss times its rows. A batch whose weights
/// sum to 0 has loss 0 and takes no step (nor counts one). If the loss is not finite the
/// parameters (and the state) are left as they were and `Error::Diverged { batch: 0, .. }` is
/// returned. The workspace must have been fitted for
/// this batch (`Workspace::fit`, then `EpochRows::fit` or `fit_inputs`, and `fit_gradients`
/// for a rule); call inside the engine's pool.
pub(crate) fn step<T: Real, W: AsRef<[T]> + AsMut<[T]> + Send + Sync>(
    model: &mut Model<'_, W>,
    lr: T,
    batch: BatchRows<'_, T>,
    loss: BatchLoss<'_, T>,
    workspace: &mut Workspace<T>,
    descent: Option<&mut Descent<'_, T>>,
) -> Result<BatchOutcome> {
    let arch = model.arch;
    let rows = batch.rows(arch.inputs());
    let Workspace {
        blocks,
        ranges,
        gradients,
        ..
    } = workspace;
    let total = loss.weights.total();
    let step = Step {
        arch,
        activation: model.activation,
        lr,
        batch,
        targets: loss.targets,
        output: loss.output,
        weights: loss.weights,
        scale: DeltaScale::new(rows, total),
        rows,
        per_block: rows.div_ceil(blocks.len().max(1)).max(1),
        gradients_in_blocks: descent.as_ref().is_some_and(|d| d.has_rule())
            && matches!(batch, BatchRows::Dense(_))
            && blocks.first().is_some_and(|b| !b.weight_grads.is_empty()),
    };

    // Phase 0, by inputs (sparse path): each range's share of the first layer's product.
    first_layer::share_products(batch, model.weights[0].as_ref(), arch.fan_out(0), ranges)?;
    let ranges: &InputRanges<T> = ranges;

    // Phase 1, by rows: forward, loss and deltas of each block.
    let (weights, biases): (&[W], &[W]) = (model.weights, model.biases);
    let outcome = blocks
        .par_iter_mut()
        .enumerate()
        .map(|(b, block)| block_forward_backward(&step, (weights, biases), ranges, b, block))
        .try_reduce(BatchOutcome::default, |a, b| {
            Ok(BatchOutcome {
                loss_sum: a.loss_sum + b.loss_sum,
                correct: a.correct + b.correct,
            })
        })?;
    let mut outcome = outcome;
    if let Some(total) = total {
        // sum_i s_i loss_i / sum_i s_i, counted for each of the batch's rows.
        // (rows / sum(s) is exactly 1 for weights of 1: the unweighted sum, bit for bit.)
        outcome.loss_sum = match step.scale.divisor {
            Some(divisor) => outcome.loss_sum * (rows as f64 / divisor.to_f64()),
            None => 0.0,
        };
        if total == 0.0 {
            return Ok(outcome); // no weight: no data, no step
        }
    }
    if !outcome.loss_sum.is_finite() {
        return Err(Error::Diverged {
            batch: 0,
            loss: outcome.loss_sum / rows as f64,
        });
    }

    // Phase 2, by weights: W[l] += -lr * sum over blocks of a_b[l].T @ delta_b[l+1], or the
    // optimizer's rule on those gradients.
    let blocks: &[RowBlock<T>] = blocks;
    if let Some(descent) = descent {
        // The L2 term's n: the batch's rows, or the sum of its weights (scikit-learn's).
        let plan = descent.begin_step(total.unwrap_or(rows as f64), model.weights)?;
        outcome.loss_sum += plan.l2_loss * rows as f64;
        if let Some(rule) = plan.rule {
            let phase = RulePhase {
                step: &step,
                rule: &rule,
                blocks,
            };
            let params = (&mut *model.weights, &mut *model.biases);
            update_by_rule(&phase, params, descent.layers_mut(), gradients, ranges)?;
            return Ok(outcome);
        }
    }
    first_layer::update_weights(&step, model.weights, blocks, ranges)?;
    update_biases(&step, model.biases, blocks);
    Ok(outcome)
}

/// Phase 1 for block `b`: forward, loss, deltas and bias sums of its rows.
fn block_forward_backward<T: Real, W: AsRef<[T]>>(
    step: &Step<'_, T>,
    (weights, biases): (&[W], &[W]),
    ranges: &InputRanges<T>,
    b: usize,
    block: &mut RowBlock<T>,
) -> Result<BatchOutcome> {
    let (arch, activation) = (step.arch, step.activation);
    let (start, end) = step.block_rows(b);
    block.rows = end - start;
    if block.rows == 0 {
        return Ok(BatchOutcome::default());
    }
    let rows = block.rows;
    let layers = arch.layers();
    let RowBlock {
        x,
        labels,
        targets: target_rows,
        row_weights,
        outputs,
        deltas,
        bias_sums,
        ..
    } = block;
    let classes = arch.classes();
    let targets = match step.targets {
        BatchTargets::Labels { labels: all, order } => {
            labels.clear();
            labels.extend(order[start..end].iter().map(|&i| all[i as usize] as usize));
            Targets::Labels(labels)
        }
        BatchTargets::Matrix(y) => Targets::Matrix(&y[start * classes..end * classes]),
        BatchTargets::Rows { y, order } => {
            let gathered = &mut target_rows[..rows * classes];
            for (row, &index) in gathered.chunks_exact_mut(classes).zip(&order[start..end]) {
                // train_epoch checked every index against the rows of the targets.
                let first = index as usize * classes;
                row.copy_from_slice(&y[first..first + classes]);
            }
            Targets::Matrix(gathered)
        }
    };
    let sample_weights = step.weights.block(start, end, row_weights);

    // Forward: outputs[l] = f(a[l] @ W[l] + b[l])   # (rows, fan_out)
    for l in 0..layers {
        let (fan_in, fan_out) = (arch.fan_in(l), arch.fan_out(l));
        let (done, rest) = outputs.split_at_mut(l);
        let out = &mut rest[0][..rows * fan_out];
        let weight = MatRef::row_major(weights[l].as_ref(), fan_in, fan_out)?;
        if l == 0 {
            let rows_of_block = step.batch.block(start, end, fan_in);
            first_layer::forward(rows_of_block, x, weight, ranges, start, out)?;
        } else {
            let a = MatRef::row_major(&done[l - 1], rows, fan_in)?;
            matmul_serial_into(
                MatMut::row_major(out, rows, fan_out)?,
                a,
                weight,
                Update::Overwrite,
            )?;
        }
        if l + 1 < layers {
            activation.add_bias_and_apply(out, biases[l].as_ref());
        }
    }

    // Output: out = act(logits + b), loss, and delta[L] = s * (out - y) / sum(s).
    let (logits, delta) = (
        &mut outputs[layers - 1][..rows * classes],
        &mut deltas[layers - 1][..rows * classes],
    );
    let bias = biases[layers - 1].as_ref();
    let outcome = match (step.output, sample_weights) {
        // Softmax without weights: (p - y) / n, as it always was (bit for bit).
        (Output::Softmax, None) => {
            softmax_loss_delta(logits, delta, bias, targets, classes, step.rows)
        }
        (output, weights) => loss_delta(
            output, logits, delta, bias, targets, weights, classes, step.scale,
        ),
    };

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
    // A small network's weight gradients: this block's a[l].T @ delta[l+1]   # (fan_in, fan_out)
    // by the same pieces of W[l]'s rows as phase 2 would take, so that every GEMM call keeps
    // the shape it has there (the GEMM's speed depends on the shape).
    if step.gradients_in_blocks {
        let mut gradients = std::mem::take(&mut block.weight_grads);
        let computed = block_gradients(step, (b, block), &mut gradients);
        block.weight_grads = gradients;
        computed?;
    }
    Ok(outcome)
}

/// Block `b`'s gradient of every W[l] into `gradients[l]`, piece by piece of W[l]'s rows.
fn block_gradients<T: Real>(
    step: &Step<'_, T>,
    (b, block): (usize, &RowBlock<T>),
    gradients: &mut [Vec<T>],
) -> Result<()> {
    for (l, gradient) in gradients.iter_mut().enumerate() {
        let (fan_in, fan_out) = (step.arch.fan_in(l), step.arch.fan_out(l));
        let piece_rows = rows_per_piece(step, l);
        for (piece, out_rows) in gradient[..fan_in * fan_out]
            .chunks_mut(piece_rows * fan_out)
            .enumerate()
        {
            let first = piece * piece_rows;
            block_rows_product(step, l, (b, block), out_rows, first, Update::Overwrite)?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_small_networks_split_over_blocks_compute_gradients_in_them() {
        let regressor = Architecture::new(vec![10, 64, 64, 1]).unwrap();
        let mnist = Architecture::new(vec![784, 128, 10]).unwrap();
        assert!(gradients_in_blocks(&regressor, 2));
        assert!(!gradients_in_blocks(&regressor, 1)); // one block: nothing to balance
        assert!(!gradients_in_blocks(&mnist, 2)); // its gradients are W-sized per block
        assert!(!gradients_in_blocks(&regressor, usize::MAX)); // no overflow
    }
}
