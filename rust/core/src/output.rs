//! The output layer and its loss, one pair per kind (the table of `fastmlp.reference_outputs`):
//!
//! | output   | out = act(z)            | loss of one row, summed over its outputs j     |
//! |----------|-------------------------|------------------------------------------------|
//! | softmax  | exp(z_j) / sum exp(z)   | -sum y_j log p_j                               |
//! | logistic | 1 / (1 + exp(-z_j))     | -sum y_j log p_j + (1 - y_j) log(1 - p_j)      |
//! | identity | z_j                     | sum (out_j - y_j)^2 / 2                        |
//! | exp      | exp(z_j)                | sum y_j log(y_j / out_j) - y_j + out_j         |
//!
//! Every pair is a canonical link: d loss / d z = out - y. With row weights s_i the batch's
//! loss and the delta the backward pass starts from are
//!
//!   J = sum_i s_i loss_i / sum_i s_i          delta_i = s_i (out_i - y_i) / sum_i s_i
//!
//! (0 and no step when every s_i is 0). Logarithms are of max(p, tiny), as the reference
//! takes them: a probability that underflowed to 0 (or 1 - p that rounded to 0) gives a large
//! finite loss. `exp` overflows to inf past z ~ 88 (f32) / 709 (f64): the loss is then not
//! finite and training stops with `Error::Diverged`, as the reference does.

use crate::activation::sigmoid;
use crate::error::{Error, Result};
use crate::real::Real;
use crate::softmax::{argmax, softmax_rows, BatchOutcome, Targets};
use std::str::FromStr;

/// The output layer and the loss it is trained with.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Output {
    /// Class probabilities, cross-entropy (one class per row).
    #[default]
    Softmax,
    /// Independent probabilities, binary cross-entropy (multi-label, binary).
    Logistic,
    /// The logits themselves, half squared error (regression).
    Identity,
    /// exp of the logits, Poisson deviance (counts).
    Exp,
}

impl Output {
    pub const NAMES: [&'static str; 4] = ["softmax", "logistic", "identity", "exp"];

    pub fn name(self) -> &'static str {
        Output::NAMES[self as usize]
    }

    /// `z <- act(z)` for each row of a row-major (rows, width) block of logits.
    pub fn activate_rows<T: Real>(self, z: &mut [T], width: usize) {
        match self {
            Output::Softmax => softmax_rows(z, width),
            Output::Logistic => z.iter_mut().for_each(|v| *v = sigmoid(*v)),
            Output::Identity => {}
            Output::Exp => z.iter_mut().for_each(|v| *v = v.exp()),
        }
    }

    /// The loss of one row: its values `out` (act(z)) against its targets `y`, both (width,).
    pub fn row_loss<T: Real>(self, out: &[T], y: &[T]) -> T {
        let pairs = out.iter().zip(y).map(|(&o, &t)| (o, t));
        match self {
            // Terms with y = 0 are left out: 0 * log(tiny) is 0 (and a NaN p stays NaN below).
            Output::Softmax => pairs
                .filter(|&(_, t)| t != T::zero())
                .map(|(p, t)| -t * log_clamped(p))
                .sum(),
            Output::Logistic => pairs
                .map(|(p, t)| -(t * log_clamped(p) + (T::one() - t) * log_clamped(T::one() - p)))
                .sum(),
            Output::Identity => {
                let half = T::from_f64(0.5);
                pairs.map(|(o, t)| (o - t) * (o - t)).sum::<T>() * half
            }
            Output::Exp => pairs
                .map(|(o, t)| {
                    // y log y, with 0 log 0 = 0: a perfect fit has loss 0.
                    let y_log_y = if t > T::zero() { t * t.ln() } else { T::zero() };
                    y_log_y - t * log_clamped(o) - t + o
                })
                .sum(),
        }
    }

    /// Whether a row counts as predicted right: the largest probability at the target's
    /// largest value (softmax), every output on the target's side of 0.5 (logistic); the
    /// regressions count none.
    pub fn is_right<T: Real>(self, out: &[T], y: &[T]) -> bool {
        match self {
            Output::Softmax => argmax(out) == argmax(y),
            Output::Logistic => {
                let half = T::from_f64(0.5);
                out.iter().zip(y).all(|(&o, &t)| (o > half) == (t > half))
            }
            Output::Identity | Output::Exp => false,
        }
    }
}

impl FromStr for Output {
    type Err = Error;

    fn from_str(name: &str) -> Result<Self> {
        match name {
            "softmax" => Ok(Output::Softmax),
            "logistic" => Ok(Output::Logistic),
            "identity" => Ok(Output::Identity),
            "exp" => Ok(Output::Exp),
            other => {
                let names: Vec<String> = Output::NAMES.iter().map(|n| format!("'{n}'")).collect();
                Err(Error::value(
                    "output",
                    format!("expected one of {}, got '{other}'", names.join(", ")),
                ))
            }
        }
    }
}

/// `log(max(p, tiny))`: finite where a probability underflowed to 0; NaN stays NaN.
#[inline(always)]
fn log_clamped<T: Real>(p: T) -> T {
    let tiny = T::min_positive_value();
    (if p < tiny { tiny } else { p }).ln()
}

/// Checks per-row weights: one per row, finite, non-negative (the reference's messages).
pub fn check_sample_weight<T: Real>(weights: &[T], rows: usize) -> Result<()> {
    if weights.len() != rows {
        return Err(Error::shape(
            "sample_weight",
            format!("{rows} real numbers (one per row)"),
            format!("{}", weights.len()),
        ));
    }
    if weights.iter().any(|w| !w.is_finite()) {
        return Err(Error::value(
            "sample_weight",
            "contains NaN or infinite values",
        ));
    }
    if let Some(&min) = weights.iter().find(|&&w| w < T::zero()) {
        let min = weights.iter().copied().fold(min, T::min);
        return Err(Error::value(
            "sample_weight",
            format!("expected weights >= 0, got {min}"),
        ));
    }
    Ok(())
}

/// The sum of a batch's weights, in f64 (the reference's `sum(dtype=float64)`).
pub fn weight_total<T: Real>(weights: impl Iterator<Item = T>) -> f64 {
    weights.map(Real::to_f64).sum()
}

/// The batch loss `sum_i s_i loss_i / sum_i s_i` of values `out` against targets `y` (both
/// (rows, width)) with row weights `weights` (all 1 when `None`); 0 when the weights sum to 0.
/// Softmax without weights is `softmax::cross_entropy`.
pub fn output_loss<T: Real>(
    output: Output,
    out: &[T],
    y: &[T],
    weights: Option<&[T]>,
    width: usize,
) -> f64 {
    if width == 0 || out.is_empty() {
        return 0.0;
    }
    if output == Output::Softmax && weights.is_none() {
        return crate::softmax::cross_entropy(out, y, width);
    }
    let rows = out.len() / width;
    let losses = out
        .chunks_exact(width)
        .zip(y.chunks_exact(width))
        .map(|(o, t)| output.row_loss(o, t));
    match weights {
        None => losses.map(Real::to_f64).sum::<f64>() / rows as f64,
        Some(weights) => {
            let total = weight_total(weights.iter().copied());
            if total == 0.0 {
                return 0.0; // no weight, no loss
            }
            let weighted: f64 = losses.zip(weights).map(|(l, &s)| (s * l).to_f64()).sum();
            weighted / T::from_f64(total).to_f64()
        }
    }
}

/// What `delta = s_i (out_i - y_i) / divisor` divides by: the batch's rows, or the sum of
/// its weights (`None`: every weight is 0, so every delta is 0).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct DeltaScale<T> {
    pub divisor: Option<T>,
}

impl<T: Real> DeltaScale<T> {
    /// For a batch of `rows` rows without weights, or of weights summing to `total`.
    pub fn new(rows: usize, total: Option<f64>) -> Self {
        let divisor = match total {
            None => Some(T::from_f64(rows.max(1) as f64)),
            Some(total) if total > 0.0 => Some(T::from_f64(total)),
            Some(_) => None,
        };
        DeltaScale { divisor }
    }
}

/// The training step's output layer in one pass over a block of logits (rows, width), for
/// any output kind and row weights: add the bias, apply the output's activation (left in
/// `logits`), add each row's weighted loss `s_i loss_i` (not yet divided by the weights'
/// sum), count the rows predicted right, and write `delta = s_i (out - y) / divisor`.
/// `weights` is the block's (rows,), `None` for all 1: weights of 1 give the unweighted
/// result bit for bit (softmax: `softmax_loss_delta`'s roundings). Labels must be < `width`.
#[expect(
    clippy::too_many_arguments,
    reason = "one fused pass over the block's buffers, as softmax_loss_delta"
)]
pub fn loss_delta<T: Real>(
    output: Output,
    logits: &mut [T],
    delta: &mut [T],
    bias: &[T],
    targets: Targets<'_, T>,
    weights: Option<&[T]>,
    width: usize,
    scale: DeltaScale<T>,
) -> BatchOutcome {
    let rows = targets.rows(width);
    let mut outcome = BatchOutcome::default();
    if width == 0 {
        return outcome;
    }
    let blocks = logits[..rows * width]
        .chunks_exact_mut(width)
        .zip(delta[..rows * width].chunks_exact_mut(width));
    for (r, (row, delta_row)) in blocks.enumerate() {
        row.iter_mut().zip(bias).for_each(|(z, &b)| *z += b);
        output.activate_rows(row, width);
        let weight = weights.map_or(T::one(), |w| w[r]);
        let (loss, right) = match targets {
            Targets::Labels(labels) => {
                // Softmax against a class index: the one-hot row's loss and delta.
                let label = labels[r];
                write_delta(output, delta_row, row, None, label, scale.divisor);
                (-log_clamped(row[label]), argmax(row) == label)
            }
            Targets::Matrix(y) => {
                let y_row = &y[r * width..(r + 1) * width];
                write_delta(output, delta_row, row, Some(y_row), 0, scale.divisor);
                (output.row_loss(row, y_row), output.is_right(row, y_row))
            }
        };
        outcome.loss_sum += (weight * loss).to_f64();
        outcome.correct += usize::from(right);
        if weights.is_some() {
            delta_row.iter_mut().for_each(|d| *d *= weight);
        }
    }
    outcome
}

/// One row's `(out - y) / divisor` (before its weight): the softmax as
/// `softmax_loss_delta` rounds it (`p / n - y / n`), the others as the reference
/// (`(out - y) / n`). `y`: the target row, or `None` for the one-hot row of `label`.
/// Without a divisor (the weights sum to 0) every delta is 0.
fn write_delta<T: Real>(
    output: Output,
    delta: &mut [T],
    out: &[T],
    y: Option<&[T]>,
    label: usize,
    divisor: Option<T>,
) {
    let Some(divisor) = divisor else {
        delta.iter_mut().for_each(|d| *d = T::zero());
        return;
    };
    match (output, y) {
        (_, None) => {
            let inv = T::one() / divisor;
            delta.iter_mut().zip(out).for_each(|(d, &p)| *d = p * inv);
            delta[label] -= inv;
        }
        (Output::Softmax, Some(y)) => {
            let inv = T::one() / divisor;
            delta
                .iter_mut()
                .zip(out.iter().zip(y))
                .for_each(|(d, (&p, &t))| *d = (p - t) * inv);
        }
        (_, Some(y)) => delta
            .iter_mut()
            .zip(out.iter().zip(y))
            .for_each(|(d, (&o, &t))| *d = (o - t) / divisor),
    }
}
