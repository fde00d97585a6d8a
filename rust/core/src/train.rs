//! Mini-batch SGD: one step, and a whole epoch over a given order of rows.
//!
//! A step is network.rs's forward and backward with the update fused in:
//!   forward    a[l+1] = f(a[l] @ W[l] + b[l]),   last layer softmax
//!   output     delta[L] = (p - y) / n             (softmax_loss_delta, in the logits' buffer)
//!   backward   for l = L-1 .. 0:
//!                delta[l] = (delta[l+1] @ W[l].T) * f'(a[l])   (before W[l] changes)
//!                W[l] += -lr * a[l].T @ delta[l+1]              (one GEMM, no gradient buffer)
//!                b[l] -= lr * sum over rows of delta[l+1]
//! All buffers live in a `Workspace` sized once for the largest batch: nothing is allocated
//! per batch.

use crate::activation::Activation;
use crate::architecture::Architecture;
use crate::error::{Error, Result};
use crate::matmul::{matmul_into, MatMut, MatRef, Update};
use crate::network::{check_targets, column_sums};
use crate::parallel;
use crate::real::Real;
use crate::softmax::{softmax_loss_delta, BatchOutcome, Targets};
use crate::sparse::{sparse_matmul_into, sparse_update, SparseBatch, SparseRows};
use rayon::prelude::*;
use std::str::FromStr;

/// How the first layer reads its input: a dense GEMM, or only the nonzero inputs
/// (`sparse.rs`). `Auto` measures the input's density at the start of each epoch call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InputPath {
    Auto,
    Dense,
    Sparse,
}

impl InputPath {
    pub const NAMES: [&'static str; 3] = ["auto", "dense", "sparse"];
}

impl FromStr for InputPath {
    type Err = Error;

    fn from_str(name: &str) -> Result<Self> {
        match name {
            "auto" => Ok(InputPath::Auto),
            "dense" => Ok(InputPath::Dense),
            "sparse" => Ok(InputPath::Sparse),
            other => Err(Error::value(
                "input_path",
                format!("expected one of {:?}, got {other:?}", InputPath::NAMES),
            )),
        }
    }
}

/// Below this fraction of nonzero inputs the sparse first layer is faster than the dense
/// GEMM on this machine (2-core AVX-512 Xeon; `benchmarks/epoch.py --input-paths` measures
/// the crossover; see the README's table).
pub const SPARSE_DENSITY_CROSSOVER: f64 = 0.30;

/// Rows sampled from the epoch's order to estimate the input density.
const DENSITY_SAMPLE_ROWS: usize = 512;

/// The training inputs of an epoch: dense rows, or rows already compressed (built once by
/// the caller, e.g. per `fit`, so that no epoch scans the dense matrix).
#[derive(Debug, Clone, Copy)]
pub enum Inputs<'a, T> {
    /// Row-major (n, inputs).
    Dense(&'a [T]),
    Sparse(&'a SparseRows<T>),
}

/// The path `Auto` takes for these inputs: sparse below the measured density crossover.
pub fn preferred_input_path<T: Real>(
    inputs: Inputs<'_, T>,
    order: &[i64],
    width: usize,
) -> InputPath {
    let density = match inputs {
        Inputs::Dense(x) => estimated_density(x, order, width),
        Inputs::Sparse(matrix) => matrix.density(),
    };
    if density < SPARSE_DENSITY_CROSSOVER {
        InputPath::Sparse
    } else {
        InputPath::Dense
    }
}

/// The fraction of nonzero values in (up to) the first rows of `order`, which must be row
/// indices into `x` (`train_epoch` checks them before it calls this; `i as usize` and the
/// slice below rely on it).
pub fn estimated_density<T: Real>(x: &[T], order: &[i64], inputs: usize) -> f64 {
    let sample = &order[..order.len().min(DENSITY_SAMPLE_ROWS)];
    let nonzero: usize = sample
        .iter()
        .map(|&i| {
            let start = i as usize * inputs;
            x[start..start + inputs]
                .iter()
                .filter(|&&v| v != T::zero())
                .count()
        })
        .sum();
    nonzero as f64 / (sample.len() * inputs).max(1) as f64
}

/// The batch as the first layer reads it.
#[derive(Debug, Clone, Copy)]
enum BatchInput<'a, T> {
    /// (rows, inputs), row-major.
    Dense(MatRef<'a, T>),
    /// The same rows, nonzeros only.
    Sparse(SparseBatch<'a, T>),
}

impl<T: Real> BatchInput<'_, T> {
    fn rows(&self) -> usize {
        match self {
            BatchInput::Dense(a) => a.rows(),
            BatchInput::Sparse(batch) => batch.rows(),
        }
    }
}

/// Reusable buffers for batches of up to `capacity` rows of one architecture.
#[derive(Debug, Clone)]
pub struct Workspace<T> {
    sizes: Vec<usize>,
    capacity: usize,
    /// The current batch's input rows, gathered from `x` by `order`: (capacity, inputs).
    batch_x: Vec<T>,
    batch_labels: Vec<usize>,
    /// outputs[l] = a[l+1]: (capacity, sizes[l+1]).
    outputs: Vec<Vec<T>>,
    /// deltas[l] = delta[l+1] = d loss / d (a[l] @ W[l] + b[l]): (capacity, sizes[l+1]).
    deltas: Vec<Vec<T>>,
    /// The bias gradient of the layer being updated: (max fan_out,).
    bias_grad: Vec<T>,
}

impl<T: Real> Workspace<T> {
    /// Buffers for batches of up to `capacity` rows; aborts if they cannot be allocated, as
    /// `vec!` does. `sgd_step` and `train_epoch` grow a workspace with `try_new` (sizes from
    /// the caller's shapes), so `new(arch, 0)` is a fine start.
    pub fn new(arch: &Architecture, capacity: usize) -> Self {
        let per_layer = || {
            arch.sizes()[1..]
                .iter()
                .map(|&width| vec![T::zero(); capacity * width])
                .collect::<Vec<_>>()
        };
        Workspace {
            sizes: arch.sizes().to_vec(),
            capacity,
            batch_x: Vec::new(),
            batch_labels: Vec::with_capacity(capacity),
            outputs: per_layer(),
            deltas: per_layer(),
            bias_grad: vec![T::zero(); arch.sizes()[1..].iter().copied().max().unwrap_or(0)],
        }
    }

    /// `new`, with `Error::OutOfMemory` instead of an abort when the buffers do not fit.
    pub fn try_new(arch: &Architecture, capacity: usize) -> Result<Self> {
        let per_layer = |what: &str| {
            arch.sizes()[1..]
                .iter()
                .map(|&width| crate::buffer::zeros(what, capacity, width))
                .collect::<Result<Vec<_>>>()
        };
        let mut batch_labels = Vec::new();
        batch_labels
            .try_reserve_exact(capacity)
            .map_err(|_| Error::OutOfMemory {
                what: format!("labels of a batch of {capacity}"),
                bytes: capacity as u128 * std::mem::size_of::<usize>() as u128,
            })?;
        let widest = arch.sizes()[1..].iter().copied().max().unwrap_or(0);
        Ok(Workspace {
            sizes: arch.sizes().to_vec(),
            capacity,
            batch_x: Vec::new(),
            batch_labels,
            outputs: per_layer("layer outputs of a batch")?,
            deltas: per_layer("layer deltas of a batch")?,
            bias_grad: crate::buffer::zeros("bias gradient", 1, widest)?,
        })
    }

    /// Grow (never shrink) so that batches of `rows` rows fit; a no-op once sized.
    fn fit(&mut self, arch: &Architecture, rows: usize) -> Result<()> {
        if self.sizes != arch.sizes() || self.capacity < rows {
            *self = Workspace::try_new(arch, rows.max(self.capacity))?;
        }
        Ok(())
    }
}

/// One SGD step on the batch `input` (rows, inputs) with `targets`; returns what the output
/// layer measured *before* the step. If the loss is not finite the parameters are left as
/// they were and `Error::Diverged { batch: 0, .. }` is returned.
#[allow(clippy::too_many_arguments)]
fn step<T: Real, W: AsRef<[T]> + AsMut<[T]>>(
    arch: &Architecture,
    weights: &mut [W],
    biases: &mut [W],
    input: BatchInput<'_, T>,
    targets: Targets<'_, T>,
    lr: T,
    activation: Activation,
    outputs: &mut [Vec<T>],
    deltas: &mut [Vec<T>],
    bias_grad: &mut [T],
) -> Result<BatchOutcome> {
    let rows = input.rows();
    let layers = arch.layers();

    // Forward: outputs[l] = f(a[l] @ W[l] + b[l])   # (rows, fan_out)
    for l in 0..layers {
        let (fan_in, fan_out) = (arch.fan_in(l), arch.fan_out(l));
        let (done, rest) = outputs.split_at_mut(l);
        let weight = MatRef::row_major(weights[l].as_ref(), fan_in, fan_out)?;
        match (l, input) {
            (0, BatchInput::Sparse(batch)) => {
                sparse_matmul_into(&mut rest[0], batch, weights[0].as_ref(), fan_out)
            }
            (0, BatchInput::Dense(x)) => matmul_into(
                MatMut::row_major(&mut rest[0], rows, fan_out)?,
                x,
                weight,
                Update::Overwrite,
            )?,
            _ => {
                let a = MatRef::row_major(&done[l - 1], rows, fan_in)?;
                matmul_into(
                    MatMut::row_major(&mut rest[0], rows, fan_out)?,
                    a,
                    weight,
                    Update::Overwrite,
                )?
            }
        }
        if l + 1 < layers {
            activation.add_bias_and_apply(&mut rest[0][..rows * fan_out], biases[l].as_ref());
        }
    }

    // Output: p = softmax(logits + b), loss, and delta[L] = (p - y) / rows in place.
    let classes = arch.classes();
    let outcome = softmax_loss_delta(
        &mut outputs[layers - 1],
        biases[layers - 1].as_ref(),
        targets,
        classes,
    );
    if !outcome.loss_sum.is_finite() {
        return Err(Error::Diverged {
            batch: 0,
            loss: outcome.loss_sum / rows as f64,
        });
    }
    std::mem::swap(&mut outputs[layers - 1], &mut deltas[layers - 1]);

    // Backward with the update fused in, from the last layer down.
    let minus_lr = -lr;
    for l in (0..layers).rev() {
        let (fan_in, fan_out) = (arch.fan_in(l), arch.fan_out(l));
        let (below, from_here) = deltas.split_at_mut(l);
        let delta = MatRef::row_major(&from_here[0], rows, fan_out)?; // (rows, fan_out)
        if l > 0 {
            // delta[l] = (delta[l+1] @ W[l].T) * f'(a[l])   # (rows, fan_in), W[l] not yet updated
            let weight = MatRef::row_major(weights[l].as_ref(), fan_in, fan_out)?;
            let previous = MatMut::row_major(&mut below[l - 1], rows, fan_in)?;
            matmul_into(previous, delta, weight.t(), Update::Overwrite)?;
            activation.scale_by_derivative(
                &mut below[l - 1][..rows * fan_in],
                &outputs[l - 1][..rows * fan_in],
            );
        }
        // W[l] += -lr * a[l].T @ delta[l+1]   # (fan_in, fan_out)
        match (l, input) {
            (0, BatchInput::Sparse(batch)) => sparse_update(
                weights[0].as_mut(),
                batch,
                &from_here[0][..rows * fan_out],
                fan_out,
                minus_lr,
            ),
            (0, BatchInput::Dense(x)) => {
                let weight = MatMut::row_major(weights[0].as_mut(), fan_in, fan_out)?;
                matmul_into(weight, x.t(), delta, Update::AddScaled(minus_lr))?
            }
            _ => {
                let a = MatRef::row_major(&outputs[l - 1], rows, fan_in)?; // (rows, fan_in)
                let weight = MatMut::row_major(weights[l].as_mut(), fan_in, fan_out)?;
                matmul_into(weight, a.t(), delta, Update::AddScaled(minus_lr))?
            }
        }
        // b[l] -= lr * column sums of delta[l+1]   # (fan_out,)
        let grad_b = &mut bias_grad[..fan_out];
        column_sums(&from_here[0][..rows * fan_out], fan_out, grad_b);
        biases[l]
            .as_mut()
            .iter_mut()
            .zip(grad_b.iter())
            .for_each(|(b, &g)| *b += minus_lr * g);
    }
    // Hand the logits buffer back so that outputs[L-1] is a buffer of the right size again.
    std::mem::swap(&mut outputs[layers - 1], &mut deltas[layers - 1]);
    Ok(outcome)
}

/// `dst[r] = x[order[r]]` for rows of width `inputs`: the batch's inputs, contiguous.
/// Reading `x` is memory-bound (it is far larger than the caches), so the rows are split
/// over the pool's threads. `order` was checked to be in range.
fn gather_rows<T: Real>(dst: &mut [T], x: &[T], order: &[i64], inputs: usize) {
    const MIN_ROWS_PER_TASK: usize = 32;
    let rows_per_task = order
        .len()
        .div_ceil(rayon::current_num_threads())
        .max(MIN_ROWS_PER_TASK);
    dst.par_chunks_mut(rows_per_task * inputs)
        .zip(order.par_chunks(rows_per_task))
        .for_each(|(dst, order)| {
            for (row, &index) in dst.chunks_exact_mut(inputs).zip(order) {
                let start = index as usize * inputs;
                row.copy_from_slice(&x[start..start + inputs]);
            }
        });
}

fn check_learning_rate<T: Real>(lr: T) -> Result<()> {
    if !(lr.is_finite() && lr > T::zero()) {
        return Err(Error::value(
            "lr",
            format!("expected a finite number > 0, got {lr}"),
        ));
    }
    Ok(())
}

/// One SGD step on `x` (rows, inputs) against targets `y` (rows, classes); updates the
/// parameters in place and returns the mean loss *before* the step.
#[allow(clippy::too_many_arguments)]
pub fn sgd_step<T: Real, W: AsRef<[T]> + AsMut<[T]> + Send>(
    arch: &Architecture,
    weights: &mut [W],
    biases: &mut [W],
    x: &[T],
    y: &[T],
    lr: T,
    activation: Activation,
    workspace: &mut Workspace<T>,
) -> Result<f64> {
    arch.check_params(weights, biases)?;
    check_learning_rate(lr)?;
    let rows = Architecture::rows_of("x", x, arch.inputs())?;
    if rows == 0 {
        return Err(Error::value("x", "expected at least one row, got 0"));
    }
    check_targets(y, rows, arch.classes())?;
    workspace.fit(arch, rows)?;
    let input = BatchInput::Dense(MatRef::row_major(x, rows, arch.inputs())?);
    let Workspace {
        outputs,
        deltas,
        bias_grad,
        ..
    } = workspace;
    let outcome = parallel::pool()?.install(|| {
        step(
            arch,
            weights,
            biases,
            input,
            Targets::Matrix(y),
            lr,
            activation,
            outputs,
            deltas,
            bias_grad,
        )
    })?;
    Ok(outcome.loss_sum / rows as f64)
}

/// What an epoch measured.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct EpochOutcome {
    /// Mean per-sample loss, each batch's loss taken before its step.
    pub mean_loss: f64,
    /// Samples the network classified right before the step of their batch.
    pub correct: usize,
    pub samples: usize,
}

/// The class indices as `usize`, each checked to be < `classes`.
fn check_labels(labels: &[i64], classes: usize) -> Result<()> {
    if let Some((i, &bad)) = labels
        .iter()
        .enumerate()
        // `label as u64` only runs for label >= 0 (the `||` stops first), so it is exact.
        .find(|(_, &label)| label < 0 || label as u64 >= classes as u64)
    {
        return Err(Error::value(
            "labels",
            format!("expected class indices in [0, {classes}), got {bad} at position {i}"),
        ));
    }
    Ok(())
}

fn check_order(order: &[i64], rows: usize) -> Result<()> {
    if let Some((i, &bad)) = order
        .iter()
        .enumerate()
        // As in check_labels: the cast only sees index >= 0.
        .find(|(_, &index)| index < 0 || index as u64 >= rows as u64)
    {
        return Err(Error::value(
            "order",
            format!("expected row indices in [0, {rows}), got {bad} at position {i}"),
        ));
    }
    Ok(())
}

/// Train one epoch: batches `order[i .. i + batch_size]` of the rows of `inputs` (n, width)
/// with integer `labels` (n,), one SGD step each, the last batch possibly short.
///
/// `input_path` picks the first layer's product: `Dense` (GEMM), `Sparse` (nonzeros only;
/// dense inputs are compressed once for the call) or `Auto` (by density). `after_batch(b)`
/// runs after each finished step b (0-based), on one of the engine's threads; an error from
/// it (the caller's stop flag, for Ctrl-C) stops the epoch with the parameters of the last
/// finished step. A non-finite loss stops it
/// before that batch's step with `Error::Diverged`.
#[allow(clippy::too_many_arguments)]
pub fn train_epoch<T: Real, W: AsRef<[T]> + AsMut<[T]> + Send>(
    arch: &Architecture,
    weights: &mut [W],
    biases: &mut [W],
    inputs: Inputs<'_, T>,
    labels: &[i64],
    order: &[i64],
    lr: T,
    batch_size: usize,
    activation: Activation,
    input_path: InputPath,
    workspace: &mut Workspace<T>,
    after_batch: &mut (dyn FnMut(usize) -> Result<()> + Send),
) -> Result<EpochOutcome> {
    arch.check_params(weights, biases)?;
    check_learning_rate(lr)?;
    let width = arch.inputs();
    let rows = match inputs {
        Inputs::Dense(x) => Architecture::rows_of("x", x, width)?,
        Inputs::Sparse(matrix) if matrix.inputs() == width => matrix.rows(),
        Inputs::Sparse(matrix) => {
            return Err(Error::shape(
                "x",
                format!("{width} columns (weights[0]'s fan_in)"),
                format!("{}", matrix.inputs()),
            ))
        }
    };
    if labels.len() != rows {
        return Err(Error::shape(
            "labels",
            format!("shape ({rows},) (one per row of x)"),
            format!("shape ({},)", labels.len()),
        ));
    }
    if batch_size == 0 {
        return Err(Error::value(
            "batch_size",
            "expected a positive integer, got 0",
        ));
    }
    if order.is_empty() {
        return Err(Error::value(
            "order",
            "expected at least one row index, got none",
        ));
    }
    check_labels(labels, arch.classes())?;
    check_order(order, rows)?;

    let pool = parallel::pool()?;
    let path = match input_path {
        InputPath::Auto => preferred_input_path(inputs, order, width),
        chosen => chosen,
    };
    // The sparse path reads compressed rows: compress dense inputs once for the whole call.
    let compressed;
    let sparse_rows = match (path, inputs) {
        (InputPath::Sparse, Inputs::Sparse(matrix)) => Some(matrix),
        (InputPath::Sparse, Inputs::Dense(x)) => {
            compressed = pool.install(|| SparseRows::from_dense(x, width))?;
            Some(&compressed)
        }
        _ => None,
    };
    let capacity = batch_size.min(order.len());
    workspace.fit(arch, capacity)?;
    if sparse_rows.is_none() && workspace.batch_x.len() < capacity * width {
        workspace.batch_x = crate::buffer::zeros("batch of inputs", capacity, width)?;
    }
    let Workspace {
        batch_x,
        batch_labels,
        outputs,
        deltas,
        bias_grad,
        ..
    } = workspace;

    // One pool.install for the whole epoch: the pool's threads stay awake between batches
    // (entering the pool once per batch woke them, and the caller, ~8 times per batch).
    let total = pool.install(|| -> Result<BatchOutcome> {
        let mut total = BatchOutcome::default();
        for (b, batch) in order.chunks(batch_size).enumerate() {
            let batch_rows = batch.len();
            batch_labels.clear();
            batch_labels.extend(batch.iter().map(|&index| labels[index as usize] as usize));
            let input = match (sparse_rows, inputs) {
                (Some(matrix), _) => BatchInput::Sparse(SparseBatch {
                    matrix,
                    order: batch,
                }),
                (None, inputs) => {
                    let dense = &mut batch_x[..batch_rows * width];
                    match inputs {
                        Inputs::Dense(x) => gather_rows(dense, x, batch, width),
                        Inputs::Sparse(matrix) => matrix.gather_dense(batch, dense),
                    }
                    BatchInput::Dense(MatRef::row_major(dense, batch_rows, width)?)
                }
            };
            let outcome = step(
                arch,
                weights,
                biases,
                input,
                Targets::Labels(batch_labels),
                lr,
                activation,
                outputs,
                deltas,
                bias_grad,
            );
            let outcome = match outcome {
                Err(Error::Diverged { loss, .. }) => {
                    return Err(Error::Diverged { batch: b, loss })
                }
                other => other?,
            };
            total.loss_sum += outcome.loss_sum;
            total.correct += outcome.correct;
            after_batch(b)?;
        }
        Ok(total)
    })?;
    Ok(EpochOutcome {
        mean_loss: total.loss_sum / order.len() as f64,
        correct: total.correct,
        samples: order.len(),
    })
}
