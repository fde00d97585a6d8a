//! The output layer: row-wise softmax and the mean cross-entropy loss.
//!
//! softmax(z)_j = exp(z_j - max z) / sum_i exp(z_i - max z)   (stable for any finite z)
//! loss         = -(1/n) sum_rows sum_j y_j log(max(p_j, tiny))   (finite when p_j = 0)
//! d loss / d z = (p - y) / n                                   (softmax and loss together)

use crate::real::Real;

/// `z <- softmax(z)` for each row of a row-major (rows, classes) block.
pub fn softmax_rows<T: Real>(z: &mut [T], classes: usize) {
    if classes == 0 {
        return;
    }
    for row in z.chunks_exact_mut(classes) {
        softmax_row(row);
    }
}

#[inline]
fn softmax_row<T: Real>(row: &mut [T]) {
    let max = row.iter().copied().fold(T::neg_infinity(), T::max);
    let mut sum = T::zero();
    for v in row.iter_mut() {
        *v = (*v - max).exp();
        sum += *v;
    }
    let inv = T::one() / sum;
    row.iter_mut().for_each(|v| *v *= inv);
}

/// `-log(max(p, tiny))`: the loss of one probability, finite when it is 0. A NaN stays NaN
/// (unlike `Float::max`), so that a diverged network shows a non-finite loss.
#[inline(always)]
fn neg_log<T: Real>(p: T) -> T {
    let tiny = T::min_positive_value();
    -(if p < tiny { tiny } else { p }).ln()
}

/// Mean cross-entropy of probabilities `p` against targets `y` (both (rows, classes)).
pub fn cross_entropy<T: Real>(p: &[T], y: &[T], classes: usize) -> f64 {
    if classes == 0 || p.is_empty() {
        return 0.0;
    }
    let rows = p.len() / classes;
    let total: f64 = p
        .chunks_exact(classes)
        .zip(y.chunks_exact(classes))
        .map(|(p_row, y_row)| {
            p_row
                .iter()
                .zip(y_row)
                .filter(|(_, &y)| y != T::zero())
                .map(|(&p, &y)| y * neg_log(p))
                .sum::<T>()
                .to_f64()
        })
        .sum();
    total / rows as f64
}

/// What the fused output pass measured over a batch.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct BatchOutcome {
    /// Sum over the batch's rows of -log p[label] (not yet divided by the row count).
    pub loss_sum: f64,
    /// Rows whose largest probability is at the label.
    pub correct: usize,
}

/// The targets of a batch: class indices, or a (rows, classes) matrix (one-hot or soft).
#[derive(Debug, Clone, Copy)]
pub enum Targets<'a, T> {
    Labels(&'a [usize]),
    Matrix(&'a [T]),
}

impl<T: Real> Targets<'_, T> {
    pub fn rows(&self, classes: usize) -> usize {
        match self {
            Targets::Labels(labels) => labels.len(),
            Targets::Matrix(y) => y.len() / classes.max(1),
        }
    }
}

/// The training step's output layer in one pass over a block of logits (rows, classes):
/// add the bias, softmax each row (left in `logits`), add its loss, count it if right, and
/// write `delta = (p - y) / batch_rows` (the gradient of the batch's mean loss; the block may
/// be part of a larger batch).
///
/// Labels must be < `classes` (callers check them before the epoch).
pub fn softmax_loss_delta<T: Real>(
    logits: &mut [T],
    delta: &mut [T],
    bias: &[T],
    targets: Targets<'_, T>,
    classes: usize,
    batch_rows: usize,
) -> BatchOutcome {
    let rows = targets.rows(classes);
    let inv_rows = T::one() / T::from_f64(batch_rows.max(1) as f64);
    let mut outcome = BatchOutcome::default();
    let blocks = logits[..rows * classes]
        .chunks_exact_mut(classes)
        .zip(delta[..rows * classes].chunks_exact_mut(classes));
    for (r, (row, delta_row)) in blocks.enumerate() {
        row.iter_mut().zip(bias).for_each(|(z, &b)| *z += b);
        softmax_row(row);
        let predicted = argmax(row);
        delta_row
            .iter_mut()
            .zip(row.iter())
            .for_each(|(d, &p)| *d = p * inv_rows);
        match targets {
            Targets::Labels(labels) => {
                let label = labels[r];
                outcome.loss_sum += neg_log(row[label]).to_f64();
                outcome.correct += usize::from(predicted == label);
                delta_row[label] -= inv_rows;
            }
            Targets::Matrix(y) => {
                let y_row = &y[r * classes..(r + 1) * classes];
                let loss: T = row
                    .iter()
                    .zip(y_row)
                    .filter(|(_, &t)| t != T::zero())
                    .map(|(&p, &t)| t * neg_log(p))
                    .sum();
                outcome.loss_sum += loss.to_f64();
                outcome.correct += usize::from(predicted == argmax(y_row));
                delta_row
                    .iter_mut()
                    .zip(row.iter().zip(y_row))
                    .for_each(|(d, (&p, &t))| *d = (p - t) * inv_rows);
            }
        }
    }
    outcome
}

/// Index of the largest value (the first one on ties, as NumPy's argmax).
pub fn argmax<T: Real>(row: &[T]) -> usize {
    let mut best = 0;
    for (j, &v) in row.iter().enumerate() {
        if v > row[best] {
            best = j;
        }
    }
    best
}
