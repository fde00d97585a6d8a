//! Whether the first layer reads its inputs densely or sparsely, and in groups of how many
//! rows: planned from a sample of the rows, by what the sparse products would cost.

use super::groups::GROUP_ROWS;
use crate::error::{Error, Result};
use crate::real::Real;
use crate::train::{Epoch, Inputs};
use std::str::FromStr;

/// How the first layer reads its input: a dense GEMM, or only the nonzero inputs (the
/// `sparse` module). `Auto` takes the faster of the two (`plan_epoch`).
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

/// A tuning value: the default measured on this project's benchmark machine (`Auto`), or the
/// caller's own (`Value`), e.g. one measured on another machine.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub enum Tuning {
    #[default]
    Auto,
    Value(f64),
}

impl Tuning {
    fn or(self, measured: f64) -> f64 {
        match self {
            Tuning::Auto => measured,
            Tuning::Value(value) => value,
        }
    }

    fn check(self, arg: &str) -> Result<()> {
        match self {
            Tuning::Value(value) if !(value.is_finite() && value >= 0.0) => Err(Error::value(
                arg,
                format!("expected a finite number >= 0, got {value}"),
            )),
            _ => Ok(()),
        }
    }
}

/// What decides the input path `Auto` takes, and the group size: measured constants with
/// defaults (`Tuning::Auto`, how `SparseParams::default()` leaves them) that a caller can
/// override. How they were measured: benchmarks/README.md ("Sparse inputs").
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct SparseParams {
    /// The planned work (`SparsePlan::work`) below which the sparse first layer is the faster:
    /// an epoch on it takes about work / crossover of the dense epoch's time. Auto:
    /// `sparse_work_crossover(threads)`.
    pub work_crossover: Tuning,
    /// What a nonzero taken alone (groups of 1 row) costs, in columns of a group of 8 rows:
    /// it reads a whole row of W for one row's multiply-adds. Auto: 2.7.
    pub single_row_cost: Tuning,
    /// Compressing a dense input value, in multiply-adds of a dense epoch's first layer: what
    /// `Auto` adds where an epoch call must compress dense inputs for the sparse path. Auto: 64.
    pub compress_cost: Tuning,
}

impl SparseParams {
    /// An error naming the first value that is not a finite number >= 0.
    pub fn check(&self) -> Result<()> {
        self.work_crossover.check("sparse_work_crossover")?;
        self.single_row_cost.check("single_row_cost")?;
        self.compress_cost.check("compress_cost")
    }

    /// The work crossover on `threads` threads.
    pub fn work_crossover(&self, threads: usize) -> f64 {
        self.work_crossover.or(sparse_work_crossover(threads))
    }

    pub fn single_row_cost(&self) -> f64 {
        self.single_row_cost.or(2.7)
    }

    /// The time to compress the dense (rows, width) inputs as a fraction of a dense epoch over
    /// `order_rows` of them into a first layer `fan_out` wide.
    pub fn compress_fraction(&self, rows: usize, order_rows: usize, fan_out: usize) -> f64 {
        self.compress_cost.or(64.0) * rows as f64 / (order_rows * fan_out).max(1) as f64
    }
}

/// The measured work crossover (`SparseParams::work_crossover`): 0.58 on one thread, 0.6 on
/// two or more (784-128-10, batch 128, float32; benchmarks/README.md). On two threads the
/// points it is read from imply 0.6-0.73: the lowest, MNIST-like rows', keeps the prediction
/// from promising the sparse path more than it delivers.
pub fn sparse_work_crossover(threads: usize) -> f64 {
    if threads <= 1 {
        0.58
    } else {
        0.6
    }
}

/// Rows sampled from the epoch's order to plan the sparse path.
const FILL_SAMPLE_ROWS: usize = 512;

/// How the sparse first layer would run on some rows, and what it would cost.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SparsePlan {
    /// Rows per group: `GROUP_ROWS` where rows share their nonzero inputs, else 1.
    pub group_rows: usize,
    /// The sparse products' work as a fraction of the dense ones' (see `plan_sparse_path`).
    pub work: f64,
}

/// The most of the dense epoch's time that the sparse path may be predicted to take (with any
/// compression the call needs) for `Auto` to take it: the prediction is off by up to 15%
/// (benchmarks/README.md), and a sparse path that saves less is not worth that risk.
pub const SPARSE_TIME_LIMIT: f64 = 0.75;

impl SparsePlan {
    /// The path `Auto` takes: sparse where its epoch, about work / crossover of the dense
    /// epoch's time, plus `compress_fraction` of it to compress dense inputs first (0 where
    /// they are compressed already, or once for many epochs), is at most `SPARSE_TIME_LIMIT`
    /// of the dense one.
    pub fn preferred_path(&self, crossover: f64, compress_fraction: f64) -> InputPath {
        if self.work <= crossover * (SPARSE_TIME_LIMIT - compress_fraction) {
            InputPath::Sparse
        } else {
            InputPath::Dense
        }
    }
}

/// The sparse first layer's plan for (up to) the first 512 rows of `order`: groups of 8 rows
/// doing `fill` of the dense work (`estimated_group_fill`), or rows one by one doing
/// `single_row_cost * density`, whichever is less. On MNIST-like rows (fill 0.46, density
/// 0.19) groups of 8 win; on random rows of density 0.05 (fill 0.34) single rows do.
/// `order` must hold row indices of `inputs` (`train_epoch` checks them first).
pub fn plan_sparse_path<T: Real>(
    inputs: Inputs<'_, T>,
    order: &[i64],
    width: usize,
    params: &SparseParams,
) -> SparsePlan {
    let (fill, density) = sampled_fill_and_density(inputs, order, width);
    let single = params.single_row_cost() * density;
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

/// The path `Auto` takes on `threads` threads for inputs compressed once for many epochs (as
/// `MLP.fit` does): sparse where the planned epoch is the faster.
pub fn preferred_input_path<T: Real>(
    inputs: Inputs<'_, T>,
    order: &[i64],
    width: usize,
    params: &SparseParams,
    threads: usize,
) -> InputPath {
    let plan = plan_sparse_path(inputs, order, width, params);
    plan.preferred_path(params.work_crossover(threads), 0.0)
}

/// The sparse plan an epoch runs, or None for the dense path: `Dense` plans nothing, `Sparse`
/// plans the group size on the order's first rows, and `Auto` also weighs the plan, plus
/// compressing dense inputs for this call, against the dense path. The one place `Auto` is
/// decided for an epoch call; `inputs` are (rows, width), the first layer `fan_out` wide.
pub fn plan_epoch<T: Real>(
    epoch: &Epoch<'_, T>,
    (width, fan_out): (usize, usize),
    threads: usize,
) -> Option<SparsePlan> {
    let params = &epoch.sparse;
    if epoch.input_path == InputPath::Dense {
        return None;
    }
    let plan = plan_sparse_path(epoch.inputs, epoch.order, width, params);
    if epoch.input_path == InputPath::Sparse {
        return Some(plan);
    }
    let compress_fraction = match epoch.inputs {
        Inputs::Dense(x) => {
            params.compress_fraction(x.len() / width.max(1), epoch.order.len(), fan_out)
        }
        Inputs::Sparse(_) => 0.0,
    };
    let path = plan.preferred_path(params.work_crossover(threads), compress_fraction);
    (path == InputPath::Sparse).then_some(plan)
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
