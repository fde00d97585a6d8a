//! Mini-batch SGD: one step, and a whole epoch over a given order of rows. The step itself,
//! in its parallel phases, is in `step.rs`; the choice of the first layer's input path in
//! `sparse/plan.rs`.

use crate::activation::Activation;
use crate::architecture::Architecture;
use crate::batch::{BatchRows, BatchTargets, BatchWeights, DenseRows};
use crate::error::{Error, Result};
use crate::first_layer::EpochRows;
use crate::network::check_targets;
use crate::optimizer::Descent;
use crate::output::{check_sample_weight, Output};
use crate::parallel;
use crate::real::Real;
use crate::softmax::BatchOutcome;
use crate::sparse::{plan_epoch, InputPath, SparseParams, SparseRows};
use crate::step::{blocks_for, step, BatchLoss};
pub use crate::workspace::Workspace;
use std::sync::atomic::{AtomicBool, Ordering};

/// A network under training: its layer sizes, the hidden layers' activation, and its
/// parameters `W[l]` (fan_in, fan_out) and `b[l]` (fan_out,), row-major, which the training
/// functions update in place.
#[derive(Debug)]
pub struct Model<'a, W> {
    pub arch: &'a Architecture,
    pub activation: Activation,
    pub weights: &'a mut [W],
    pub biases: &'a mut [W],
}

/// What a network is trained to predict: its output layer and loss, and the data's row
/// weights. The default is softmax + cross-entropy, every row weighing 1.
#[derive(Debug, Clone, Copy, Default)]
pub struct Objective<'a, T> {
    pub output: Output,
    /// Per-row weights of the mean loss (finite, >= 0), one per row of the data; `None`: all 1.
    pub sample_weight: Option<&'a [T]>,
    /// For `train_epoch_objective`: the target rows, row-major (n, outputs), in place of the
    /// epoch's class labels (which are then not read). Outputs other than softmax need them.
    pub targets: Option<&'a [T]>,
}

/// The training inputs of an epoch: dense rows, or rows already compressed (built once by
/// the caller, e.g. per `fit`, so that no epoch scans the dense matrix).
#[derive(Debug, Clone, Copy)]
pub enum Inputs<'a, T> {
    /// Row-major (n, inputs).
    Dense(&'a [T]),
    Sparse(&'a SparseRows<T>),
}

/// Runs `work` on this pool thread while every other thread of the pool polls for the jobs it
/// hands out (`rayon::yield_now`) instead of going to sleep between them: waking a sleeping
/// worker costs more than a batch's parallel products save (benchmarks/README.md). The
/// pollers stop when `work` returns; one that lands on this thread (while it waits inside
/// `work` for a stolen job) returns at once. With more threads than cores the pollers would
/// take turns on the cores with the work itself: then they sleep as usual.
fn with_threads_awake<R: Send>(work: impl FnOnce() -> R + Send) -> R {
    if !parallel::may_spin(rayon::current_num_threads()) {
        return work();
    }
    let done = AtomicBool::new(false);
    let this_thread = rayon::current_thread_index();
    rayon::scope(|scope| {
        for _ in 1..rayon::current_num_threads() {
            let done = &done;
            scope.spawn(move |_| {
                if rayon::current_thread_index() == this_thread {
                    return;
                }
                while !done.load(Ordering::Acquire) {
                    if rayon::yield_now() != Some(rayon::Yield::Executed) {
                        std::hint::spin_loop();
                    }
                }
            });
        }
        let result = work();
        done.store(true, Ordering::Release);
        result
    })
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

/// One SGD step of `model` on `x` (rows, inputs) against targets `y` (rows, classes); updates
/// the parameters in place and returns the mean loss *before* the step.
pub fn sgd_step<T: Real, W: AsRef<[T]> + AsMut<[T]> + Send + Sync>(
    model: &mut Model<'_, W>,
    x: &[T],
    y: &[T],
    lr: T,
    workspace: &mut Workspace<T>,
) -> Result<f64> {
    train_step(model, x, y, lr.to_f64(), None, workspace)
}

/// One step of `descent`'s optimizer (plain SGD without one) of `model` on `x` (rows, inputs)
/// against targets `y` (rows, classes), learning rate `lr` (rounded to T for the updates;
/// Adam's lr_t is computed from it in f64); updates the parameters and the state in place
/// and returns the mean loss *before* the step, with the L2 term `alpha / (2 n) * sum(W^2)`.
pub fn train_step<T: Real, W: AsRef<[T]> + AsMut<[T]> + Send + Sync>(
    model: &mut Model<'_, W>,
    x: &[T],
    y: &[T],
    lr: f64,
    descent: Option<&mut Descent<'_, T>>,
    workspace: &mut Workspace<T>,
) -> Result<f64> {
    let objective = Objective::default();
    train_step_objective(model, x, y, lr, &objective, descent, workspace)
}

/// `train_step` towards `objective`: its output layer and loss, and its `sample_weight`
/// (rows,); `y` (rows, outputs) are the targets (`objective.targets` is not read). With row
/// weights the loss is their weighted mean and the L2 term's n their sum; weights summing to
/// 0 take no step.
pub fn train_step_objective<T: Real, W: AsRef<[T]> + AsMut<[T]> + Send + Sync>(
    model: &mut Model<'_, W>,
    x: &[T],
    y: &[T],
    lr: f64,
    objective: &Objective<'_, T>,
    mut descent: Option<&mut Descent<'_, T>>,
    workspace: &mut Workspace<T>,
) -> Result<f64> {
    let arch = model.arch;
    arch.check_params(model.weights, model.biases)?;
    let (lr, lr_exact) = (T::from_f64(lr), lr);
    check_learning_rate(lr)?;
    let rows = Architecture::rows_of("x", x, arch.inputs())?;
    if rows == 0 {
        return Err(Error::value("x", "expected at least one row, got 0"));
    }
    check_targets(y, rows, arch.classes())?;
    let weights = match objective.sample_weight {
        Some(weights) => {
            check_sample_weight(weights, rows)?;
            BatchWeights::Contiguous(weights)
        }
        None => BatchWeights::Unweighted,
    };
    if let Some(descent) = descent.as_deref_mut() {
        descent.set_lr(lr_exact);
        workspace.fit_gradients(arch)?;
    }
    let pool = parallel::pool()?;
    let has_descent = descent.is_some();
    let outcome = pool.install(|| {
        workspace.fit(arch, rows, blocks_for(rows))?;
        if has_descent {
            workspace.fit_block_gradients(arch)?;
        }
        let batch = BatchRows::Dense(DenseRows::Contiguous(x));
        let loss = BatchLoss {
            output: objective.output,
            targets: BatchTargets::Matrix(y),
            weights,
        };
        step(model, lr, batch, loss, workspace, descent)
    })?;
    Ok(outcome.loss_sum / rows as f64)
}

/// An epoch's data and how to go through it: batches `order[i .. i + batch_size]` of the rows
/// of `inputs` (n, width) with integer `labels` (n,), the last batch possibly short.
#[derive(Debug, Clone, Copy)]
pub struct Epoch<'a, T> {
    pub inputs: Inputs<'a, T>,
    pub labels: &'a [i64],
    pub order: &'a [i64],
    /// The learning rate as the caller gave it (rounded to T for the updates; Adam's lr_t is
    /// computed from it in f64).
    pub lr: f64,
    pub batch_size: usize,
    /// How the first layer reads `inputs`: `Dense` (GEMM), `Sparse` (nonzeros only; dense
    /// inputs are compressed once for the call) or `Auto` (the faster: `plan_epoch`).
    pub input_path: InputPath,
    /// What `Auto` and the sparse path's group size are decided by.
    pub sparse: SparseParams,
}

/// What an epoch measured.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct EpochOutcome {
    /// Mean per-sample loss, each batch's loss taken before its step.
    pub mean_loss: f64,
    /// Samples the network classified right before the step of their batch.
    pub correct: usize,
    pub samples: usize,
    /// The path the first layer took: `Dense` or `Sparse`.
    pub input_path: InputPath,
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

/// Train `model` one epoch over `epoch`: each batch a step of `descent`'s rule (momentum,
/// Nesterov, Adam, L2), its state updated in place and its step count advanced once per step
/// taken, or of plain SGD without `descent`. The mean loss includes each batch's L2 term.
///
/// `after_batch(b)` runs after each finished step b (0-based), on one of the engine's threads;
/// an error from it (the caller's stop flag, for Ctrl-C) stops the epoch with the parameters
/// (and state) of the last finished step. A non-finite loss stops it before that batch's step
/// with `Error::Diverged`.
pub fn train_epoch<T: Real, W: AsRef<[T]> + AsMut<[T]> + Send + Sync>(
    model: &mut Model<'_, W>,
    epoch: &Epoch<'_, T>,
    descent: Option<&mut Descent<'_, T>>,
    workspace: &mut Workspace<T>,
    after_batch: &mut (dyn FnMut(usize) -> Result<()> + Send),
) -> Result<EpochOutcome> {
    let objective = Objective::default();
    train_epoch_objective(model, epoch, &objective, descent, workspace, after_batch)
}

/// `train_epoch` towards `objective`: its output layer and loss; its target rows
/// `objective.targets` (n, outputs) in place of `epoch.labels` where given (outputs other than
/// softmax need them); its `sample_weight` (n,), each batch's loss then the weighted mean
/// over its rows (`correct` still counts rows: see `Output::is_right`).
pub fn train_epoch_objective<T: Real, W: AsRef<[T]> + AsMut<[T]> + Send + Sync>(
    model: &mut Model<'_, W>,
    epoch: &Epoch<'_, T>,
    objective: &Objective<'_, T>,
    mut descent: Option<&mut Descent<'_, T>>,
    workspace: &mut Workspace<T>,
    after_batch: &mut (dyn FnMut(usize) -> Result<()> + Send),
) -> Result<EpochOutcome> {
    let arch = model.arch;
    arch.check_params(model.weights, model.biases)?;
    let (lr, lr_exact) = (T::from_f64(epoch.lr), epoch.lr);
    check_learning_rate(lr)?;
    let Epoch {
        inputs,
        labels,
        order,
        batch_size,
        ..
    } = *epoch;
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
    match objective.targets {
        Some(y) => check_targets(y, rows, arch.classes())?,
        None if objective.output != Output::Softmax => {
            return Err(Error::value(
                "labels",
                format!(
                    "output {:?} needs the target rows (n, outputs), not class labels",
                    objective.output.name()
                ),
            ))
        }
        None if labels.len() != rows => {
            return Err(Error::shape(
                "labels",
                format!("shape ({rows},) (one per row of x)"),
                format!("shape ({},)", labels.len()),
            ))
        }
        None => {}
    }
    if let Some(weights) = objective.sample_weight {
        check_sample_weight(weights, rows)?;
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
    if objective.targets.is_none() {
        check_labels(labels, arch.classes())?;
    }
    check_order(order, rows)?;
    epoch.sparse.check()?;

    let pool = parallel::pool()?;
    let plan = plan_epoch(epoch, (width, arch.fan_out(0)), pool.current_num_threads());
    let sparse_groups = plan.map(|plan| plan.group_rows);
    let mut compressed = None;
    let epoch_rows =
        pool.install(|| EpochRows::new(inputs, sparse_groups, width, &mut compressed))?;
    let capacity = batch_size.min(order.len());
    if let Some(descent) = descent.as_deref_mut() {
        descent.set_lr(lr_exact);
        workspace.fit_gradients(arch)?;
    }

    let mut run_batches = || -> Result<BatchOutcome> {
        workspace.fit(arch, capacity, blocks_for(capacity))?;
        epoch_rows.fit(workspace, arch)?;
        let gathered = (
            objective.targets.is_some(),
            objective.sample_weight.is_some(),
        );
        workspace.fit_gathered(arch, gathered.0, gathered.1)?;
        if descent.is_some() {
            workspace.fit_block_gradients(arch)?;
        }
        let mut total = BatchOutcome::default();
        for (b, batch) in order.chunks(batch_size).enumerate() {
            let rows = epoch_rows.batch(batch);
            let loss = BatchLoss {
                output: objective.output,
                targets: match objective.targets {
                    Some(y) => BatchTargets::Rows { y, order: batch },
                    None => BatchTargets::Labels {
                        labels,
                        order: batch,
                    },
                },
                weights: match objective.sample_weight {
                    Some(weights) => BatchWeights::Gathered {
                        weights,
                        order: batch,
                    },
                    None => BatchWeights::Unweighted,
                },
            };
            let outcome = match step(model, lr, rows, loss, workspace, descent.as_deref_mut()) {
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
    };
    // One pool.install for the whole epoch, with the pool's other threads kept awake in it:
    // each batch hands them work twice, and waking a sleeping thread costs more than that work.
    let total = pool.install(|| with_threads_awake(&mut run_batches))?;
    Ok(EpochOutcome {
        mean_loss: total.loss_sum / order.len() as f64,
        correct: total.correct,
        samples: order.len(),
        input_path: match plan {
            Some(_) => InputPath::Sparse,
            None => InputPath::Dense,
        },
    })
}
