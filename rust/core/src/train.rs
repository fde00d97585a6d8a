//! Mini-batch SGD: one step, and a whole epoch over a given order of rows; the choice of the
//! first layer's input path. The step itself, in its two parallel phases, is in `step.rs`.

use crate::activation::Activation;
use crate::architecture::Architecture;
use crate::error::{Error, Result};
use crate::network::check_targets;
use crate::parallel;
use crate::real::Real;
use crate::softmax::BatchOutcome;
use crate::sparse::SparseRows;
use crate::sparse_groups::GROUP_ROWS;
pub use crate::step::Workspace;
use crate::step::{blocks_for, step, BatchRows, BatchTargets};
use std::str::FromStr;
use std::sync::atomic::{AtomicBool, Ordering};

/// How the first layer reads its input: a dense GEMM, or only the nonzero inputs
/// (`sparse_groups.rs`). `Auto` plans the sparse path on a sample of the epoch's rows at the
/// start of each epoch call (`plan_sparse_path`) and takes the faster one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InputPath {
    Auto,
    Dense,
    Sparse,
}

impl InputPath {
    pub const NAMES: [&'static str; 3] = ["auto", "dense", "sparse"];

    /// The name `from_str` reads.
    pub fn name(self) -> &'static str {
        match self {
            InputPath::Auto => "auto",
            InputPath::Dense => "dense",
            InputPath::Sparse => "sparse",
        }
    }
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

/// Below this work (`plan_sparse_path`: the sparse products' work as a fraction of the
/// dense ones') the sparse first layer is faster than the dense GEMM on `threads` threads on
/// this project's machine (2-core AVX-512 Xeon). Measured by `fastmlp bench --input-paths`
/// on 784-128-10, batch 128, float32, as sparse / dense epoch time:
///
/// | data (work, rows a group) | 1 thread | 2 threads |
/// |---|---|---|
/// | random, density 0.1 (0.27, 1) | 0.49 | 0.44 |
/// | MNIST-like (0.46, 8) | 0.78 | 0.77 |
/// | random, density 0.2 (0.54, 1) | 0.94 | 0.75 |
/// | random, density 0.3 (0.81, 1) | 1.29 | 1.15 |
/// | Fashion-MNIST (0.87, 8) | 1.37 | 1.19 |
///
/// Ratio 1 falls near work 0.58 on one thread and 0.71 on two (two threads share the dense
/// path's small products less well than the sparse path's ranges).
pub fn sparse_work_crossover(threads: usize) -> f64 {
    if threads <= 1 {
        0.58
    } else {
        0.7
    }
}

/// Rows sampled from the epoch's order to plan the sparse path.
const FILL_SAMPLE_ROWS: usize = 512;

/// The training inputs of an epoch: dense rows, or rows already compressed (built once by
/// the caller, e.g. per `fit`, so that no epoch scans the dense matrix).
#[derive(Debug, Clone, Copy)]
pub enum Inputs<'a, T> {
    /// Row-major (n, inputs).
    Dense(&'a [T]),
    Sparse(&'a SparseRows<T>),
}

/// How the sparse first layer would run on some rows, and what it would cost.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SparsePlan {
    /// Rows per group: `GROUP_ROWS` where rows share their nonzero inputs, else 1.
    pub group_rows: usize,
    /// The sparse products' work as a fraction of the dense ones' (see `plan_sparse_path`).
    pub work: f64,
}

impl SparsePlan {
    /// The path `Auto` takes on `threads` threads: sparse where the work is below the
    /// crossover measured for that many threads.
    pub fn preferred_path(&self, threads: usize) -> InputPath {
        if self.work < sparse_work_crossover(threads) {
            InputPath::Sparse
        } else {
            InputPath::Dense
        }
    }
}

/// What a nonzero taken alone (groups of 1 row) costs, in columns of a group of 8 rows: it
/// reads a whole row of W from L2 for one row's multiply-adds, where a group's column does
/// 8 rows' multiply-adds on a slice of W kept in L1. Measured by epoch times with either
/// group size forced (784-128-10, batch 128, float32): single rows won on random rows where
/// fill / density was 4.2 or more (density 0.2: 0.114 s against 0.136 s on 2 threads) and
/// tied at 3.1 (density 0.3); groups of 8 won on Fashion-MNIST at 1.7 (0.160 s against
/// 0.250 s) and on MNIST at 2.4 (0.169 s against 0.183 s on 1 thread, even on 2).
const SINGLE_ROW_COST: f64 = 2.7;

/// The sparse first layer's plan for (up to) the first 512 rows of `order`: groups of 8 rows
/// doing `fill` of the dense work (`estimated_group_fill`), or rows one by one doing
/// `SINGLE_ROW_COST * density`, whichever is less. On MNIST-like rows (fill 0.46, density
/// 0.19) groups of 8 win; on random rows of density 0.05 (fill 0.34) single rows do.
/// `order` must hold row indices of `inputs` (`train_epoch` checks them first).
pub fn plan_sparse_path<T: Real>(inputs: Inputs<'_, T>, order: &[i64], width: usize) -> SparsePlan {
    let (fill, density) = sampled_fill_and_density(inputs, order, width);
    let single = SINGLE_ROW_COST * density;
    if fill <= single {
        SparsePlan {
            group_rows: GROUP_ROWS,
            work: fill,
        }
    } else {
        SparsePlan {
            group_rows: 1,
            work: single,
        }
    }
}

/// The path `Auto` takes for these inputs on `threads` threads: sparse where its planned
/// work is below the crossover measured for that many threads.
pub fn preferred_input_path<T: Real>(
    inputs: Inputs<'_, T>,
    order: &[i64],
    width: usize,
    threads: usize,
) -> InputPath {
    plan_sparse_path(inputs, order, width).preferred_path(threads)
}

/// The mean fraction of the `width` inputs that are nonzero in at least one row of a group
/// of `GROUP_ROWS` consecutive rows of `order`, over (up to) its first 512 rows: the share
/// of the dense product's work that the sparse first layer does in groups of 8.
pub fn estimated_group_fill<T: Real>(inputs: Inputs<'_, T>, order: &[i64], width: usize) -> f64 {
    sampled_fill_and_density(inputs, order, width).0
}

/// (group fill, density) of (up to) the first 512 rows of `order`, which must be row
/// indices of `inputs` (the slices below rely on it).
fn sampled_fill_and_density<T: Real>(
    inputs: Inputs<'_, T>,
    order: &[i64],
    width: usize,
) -> (f64, f64) {
    let sample = &order[..order.len().min(FILL_SAMPLE_ROWS)];
    let mut touched = vec![false; width];
    let (mut filled, mut nonzeros) = (0, 0);
    for group in sample.chunks(GROUP_ROWS) {
        touched.fill(false);
        for &i in group {
            match inputs {
                Inputs::Dense(x) => {
                    let row = &x[i as usize * width..(i as usize + 1) * width];
                    for (t, &v) in touched.iter_mut().zip(row) {
                        *t |= v != T::zero();
                        nonzeros += usize::from(v != T::zero());
                    }
                }
                Inputs::Sparse(matrix) => {
                    let columns = matrix.row(i as usize).0;
                    nonzeros += columns.len();
                    for &c in columns {
                        touched[c as usize] = true;
                    }
                }
            }
        }
        filled += touched.iter().filter(|&&t| t).count();
    }
    let fill = filled as f64 / (sample.len().div_ceil(GROUP_ROWS) * width).max(1) as f64;
    let density = nonzeros as f64 / (sample.len() * width).max(1) as f64;
    (fill, density)
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
    arch.check_params(weights, biases)?;
    check_learning_rate(lr)?;
    let rows = Architecture::rows_of("x", x, arch.inputs())?;
    if rows == 0 {
        return Err(Error::value("x", "expected at least one row, got 0"));
    }
    check_targets(y, rows, arch.classes())?;
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
                arch, weights, biases, rows, targets, lr, activation, workspace,
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
