//! Whether the first layer reads its inputs densely or sparsely, and in groups of how many
//! rows: planned from a sample of the rows, by what the sparse products would cost.

use super::groups::GROUP_ROWS;
use crate::error::{Error, Result};
use crate::real::Real;
use crate::train::Inputs;
use std::str::FromStr;

/// How the first layer reads its input: a dense GEMM, or only the nonzero inputs (the
/// `sparse` module). `Auto` plans the sparse path on a sample of the epoch's rows at the
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
