//! Which first-layer product inference takes on dense rows: the dense GEMM, or the products
//! of the rows' nonzero inputs alone (`nonzero_rows.rs`), where the rows are mostly zeros
//! (MNIST's pixels: 81%) and the layer wide enough for them to pay.

use super::plan::InputPath;
use crate::real::Real;
use rayon::prelude::*;

/// Rows sampled, evenly spread over `x`, to estimate its density.
const SAMPLED_ROWS: usize = 256;

/// What the nonzero rows' product costs over the dense GEMM's, per input value and output
/// column, fitted on 10,000 rows of densities 0.05 to 0.8 into 16 to 512 columns, at 1 and 2
/// threads (the slower ratio of the two; benchmarks/README.md, "Inference"):
/// `FIXED / fan_out + BASE + DENSITY * density + WIDE * density * fan_out / 128`. The fixed
/// part is marking each row's nonzeros; the last grows with the blocks of output columns that
/// each pass over the rows again.
pub const INFERENCE_FIXED_COST: f64 = 13.8;
pub const INFERENCE_BASE_COST: f64 = 0.09;
pub const INFERENCE_DENSITY_COST: f64 = 1.64;
pub const INFERENCE_WIDE_COST: f64 = 0.19;

/// The most of the dense product's predicted time the sparse one may take for `Auto` to
/// take it: the fit is off by up to 0.2 either way (0.16 on Fashion-MNIST into 128 columns).
pub const INFERENCE_TIME_LIMIT: f64 = 0.8;

/// The nonzero rows' product's time over the dense one's, predicted for rows of `density`
/// (the fraction of nonzero inputs) into a first layer `fan_out` wide.
pub fn inference_time_ratio(density: f64, fan_out: usize) -> f64 {
    let fan_out = fan_out.max(1) as f64;
    INFERENCE_FIXED_COST / fan_out
        + INFERENCE_BASE_COST
        + INFERENCE_DENSITY_COST * density
        + INFERENCE_WIDE_COST * density * fan_out / 128.0
}

/// The fraction of nonzero values in up to `SAMPLED_ROWS` rows of `x` (rows, inputs), spread
/// evenly over it (0 for no rows).
pub fn sampled_density<T: Real>(x: &[T], inputs: usize) -> f64 {
    let rows = x.len().checked_div(inputs).unwrap_or(0);
    if rows == 0 {
        return 0.0;
    }
    let sampled = rows.min(SAMPLED_ROWS);
    let nonzero: usize = (0..sampled)
        .map(|i| {
            let r = i * rows / sampled;
            let row = &x[r * inputs..(r + 1) * inputs];
            row.iter().filter(|&&v| v != T::zero()).count()
        })
        .sum();
    nonzero as f64 / (sampled * inputs) as f64
}

/// Whether inference's first layer on `x` (rows, inputs), `fan_out` wide, takes the nonzero
/// rows' product, as `path` asks: never for `Dense`, for no rows or no inputs; always for `Sparse`; for `Auto` where `inference_time_ratio` on
/// the sampled density is at most `INFERENCE_TIME_LIMIT`.
pub fn inference_takes_sparse_path<T: Real>(
    x: &[T],
    (inputs, fan_out): (usize, usize),
    path: InputPath,
) -> bool {
    if path == InputPath::Dense || inputs == 0 || x.len() < inputs {
        return false;
    }
    match path {
        InputPath::Sparse => true,
        _ => inference_time_ratio(sampled_density(x, inputs), fan_out) <= INFERENCE_TIME_LIMIT,
    }
}

/// How many values of `x` are NaN or infinite, counted over the current pool.
pub fn count_non_finite<T: Real>(x: &[T]) -> usize {
    x.par_chunks(1 << 16)
        .map(|chunk| chunk.iter().filter(|v| !v.is_finite()).count())
        .sum()
}
