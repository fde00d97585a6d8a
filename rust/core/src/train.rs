//! Mini-batch SGD: one step, and a whole epoch over a given order of rows; the choice of the
//! first layer's input path. The step itself, in its two parallel phases, is in `step.rs`.

use crate::activation::Activation;
use crate::architecture::Architecture;
use crate::error::{Error, Result};
use crate::network::check_targets;
use crate::optimizer::Descent;
use crate::parallel;
use crate::real::Real;
use crate::softmax::BatchOutcome;
use crate::sparse::{plan_sparse_path, InputPath, SparseRows};
use crate::step::{blocks_for, step, BatchRows, BatchTargets};
pub use crate::workspace::Workspace;
use std::sync::atomic::{AtomicBool, Ordering};

/// The training inputs of an epoch: dense rows, or rows already compressed (built once by
/// the caller, e.g. per `fit`, so that no epoch scans the dense matrix).
#[derive(Debug, Clone, Copy)]
pub enum Inputs<'a, T> {
    /// Row-major (n, inputs).
    Dense(&'a [T]),
    Sparse(&'a SparseRows<T>),
}

/// Runs `work` on this pool thread while every other thread of the pool polls for the jobs it
/// hands out (`rayon::yield_now`) instead of going to sleep between them. A rayon worker
/// sleeps after a few microseconds without work, and waking it (a futex call, slow in a VM)
/// took longer than a batch's parallel products save: 1 -> 2 threads gained ~1.1x with
/// sleeping workers. The pollers stop when `work` returns; one that lands on this thread
/// (while it waits inside `work` for a stolen job) returns at once.
/// With more threads than cores, pollers would take turns on the cores with the work itself
/// (1,000 threads on 2 cores made an epoch 500 times slower): then they sleep as usual.
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

/// One SGD step on `x` (rows, inputs) against targets `y` (rows, classes); updates the
/// parameters in place and returns the mean loss *before* the step.
#[allow(clippy::too_many_arguments)]
pub fn sgd_step<T: Real, W: AsRef<[T]> + AsMut<[T]> + Send + Sync>(
    arch: &Architecture,
    weights: &mut [W],
    biases: &mut [W],
    x: &[T],
    y: &[T],
    lr: T,
    activation: Activation,
    workspace: &mut Workspace<T>,
) -> Result<f64> {
    train_step(
        arch,
        weights,
        biases,
        x,
        y,
        lr.to_f64(),
        activation,
        None,
        workspace,
    )
}

/// One step of `descent`'s optimizer (plain SGD without one) on `x` (rows, inputs) against
/// targets `y` (rows, classes); updates the parameters and the state in place and returns
/// the mean loss *before* the step, with the L2 term `alpha / (2 n) * sum(W^2)`.
#[allow(clippy::too_many_arguments)]
pub fn train_step<T: Real, W: AsRef<[T]> + AsMut<[T]> + Send + Sync>(
    arch: &Architecture,
    weights: &mut [W],
    biases: &mut [W],
    x: &[T],
    y: &[T],
    lr: f64,
    activation: Activation,
    mut descent: Option<&mut Descent<'_, T>>,
    workspace: &mut Workspace<T>,
) -> Result<f64> {
    arch.check_params(weights, biases)?;
    let (lr, lr_exact) = (T::from_f64(lr), lr);
    check_learning_rate(lr)?;
    let rows = Architecture::rows_of("x", x, arch.inputs())?;
    if rows == 0 {
        return Err(Error::value("x", "expected at least one row, got 0"));
    }
    check_targets(y, rows, arch.classes())?;
    if let Some(descent) = descent.as_deref_mut() {
        descent.set_lr(lr_exact);
        workspace.fit_gradients(arch)?;
    }
    let pool = parallel::pool()?;
    let outcome = pool.install(|| {
        workspace.fit(arch, rows, blocks_for(rows))?;
        step(
            arch,
            weights,
            biases,
            BatchRows::Contiguous(x),
            BatchTargets::Matrix(y),
            lr,
            activation,
            workspace,
            descent,
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
pub fn train_epoch<T: Real, W: AsRef<[T]> + AsMut<[T]> + Send + Sync>(
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
    let epoch = Epoch {
        inputs,
        labels,
        order,
        lr: lr.to_f64(),
        batch_size,
        activation,
        input_path,
    };
    train_epoch_with(arch, weights, biases, epoch, None, workspace, after_batch)
}

/// What an epoch trains on and how: `train_epoch`'s arguments besides the parameters.
#[derive(Debug, Clone, Copy)]
pub struct Epoch<'a, T> {
    pub inputs: Inputs<'a, T>,
    pub labels: &'a [i64],
    pub order: &'a [i64],
    /// The learning rate as the caller gave it (rounded to T for the updates; Adam's
    /// lr_t is computed from it in f64).
    pub lr: f64,
    pub batch_size: usize,
    pub activation: Activation,
    pub input_path: InputPath,
}

/// `train_epoch` with an optimizer: each batch a step of `descent`'s rule (momentum,
/// Nesterov, Adam, L2), its state updated in place and its step count advanced once per
/// step taken; plain SGD without `descent`. The mean loss includes each batch's L2 term.
/// A diverged or interrupted epoch leaves the parameters and the state of the last
/// finished step.
pub fn train_epoch_with<T: Real, W: AsRef<[T]> + AsMut<[T]> + Send + Sync>(
    arch: &Architecture,
    weights: &mut [W],
    biases: &mut [W],
    epoch: Epoch<'_, T>,
    mut descent: Option<&mut Descent<'_, T>>,
    workspace: &mut Workspace<T>,
    after_batch: &mut (dyn FnMut(usize) -> Result<()> + Send),
) -> Result<EpochOutcome> {
    let Epoch {
        inputs,
        labels,
        order,
        lr,
        batch_size,
        activation,
        input_path,
    } = epoch;
    let (lr, lr_exact) = (T::from_f64(lr), lr);
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
    // How the sparse path would run (sampled once for the call), unless it cannot be taken.
    let plan = (input_path != InputPath::Dense).then(|| plan_sparse_path(inputs, order, width));
    let path = match (input_path, plan) {
        (InputPath::Auto, Some(plan)) => plan.preferred_path(pool.current_num_threads()),
        (chosen, _) => chosen,
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
    if let Some(descent) = descent.as_deref_mut() {
        descent.set_lr(lr_exact);
        workspace.fit_gradients(arch)?;
    }

    let mut run_batches = || -> Result<BatchOutcome> {
        workspace.fit(arch, capacity, blocks_for(capacity))?;
        match (sparse_rows, plan) {
            (Some(matrix), Some(plan)) => {
                let boundaries = matrix.balanced_input_ranges(rayon::current_num_threads());
                workspace.fit_sparse(arch, &boundaries, plan.group_rows)?;
            }
            _ => workspace.fit_inputs(width)?,
        }
        let mut total = BatchOutcome::default();
        for (b, batch) in order.chunks(batch_size).enumerate() {
            let rows = match (sparse_rows, inputs) {
                (Some(matrix), _) => BatchRows::Sparse {
                    matrix,
                    order: batch,
                },
                (None, Inputs::Dense(x)) => BatchRows::Gathered { x, order: batch },
                (None, Inputs::Sparse(matrix)) => BatchRows::Expanded {
                    matrix,
                    order: batch,
                },
            };
            let targets = BatchTargets::Labels {
                labels,
                order: batch,
            };
            let outcome = step(
                arch,
                weights,
                biases,
                rows,
                targets,
                lr,
                activation,
                workspace,
                descent.as_deref_mut(),
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
    };
    // One pool.install for the whole epoch, with the pool's other threads kept awake in it:
    // each batch hands them work twice, and waking a sleeping thread costs more than that work.
    let total = pool.install(|| with_threads_awake(&mut run_batches))?;
    Ok(EpochOutcome {
        mean_loss: total.loss_sum / order.len() as f64,
        correct: total.correct,
        samples: order.len(),
    })
}
