//! A batch as the caller holds it: its rows (contiguous, picked by index from a matrix, or
//! compressed), its targets (labels or target rows picked by index, or a matrix) and its row
//! weights. A block of the batch's rows is a view of the same kind, so nothing is copied until
//! a block needs it.

use crate::error::Result;
use crate::matmul::MatRef;
use crate::real::Real;
use crate::sparse::SparseBatch;

/// The rows of a batch, by the first layer that reads them (`first_layer.rs`).
#[derive(Debug, Clone, Copy)]
pub(crate) enum BatchRows<'a, T> {
    /// Dense rows, for the dense first layer (a GEMM).
    Dense(DenseRows<'a, T>),
    /// Compressed rows, read as they are by the sparse first layer.
    Sparse(SparseBatch<'a, T>),
}

/// Dense rows of a batch: contiguous already, or copied into a block's buffer first.
#[derive(Debug, Clone, Copy)]
pub(crate) enum DenseRows<'a, T> {
    /// Row-major (rows, inputs) values.
    Contiguous(&'a [T]),
    /// Rows `order` of a row-major (n, inputs) matrix.
    Gathered { x: &'a [T], order: &'a [i64] },
    /// Rows of compressed rows, expanded.
    Expanded(SparseBatch<'a, T>),
}

impl<'a, T: Real> BatchRows<'a, T> {
    pub(crate) fn rows(&self, inputs: usize) -> usize {
        match self {
            BatchRows::Dense(rows) => rows.rows(inputs),
            BatchRows::Sparse(batch) => batch.rows(),
        }
    }

    /// Rows `start..end` of the batch.
    pub(crate) fn block(self, start: usize, end: usize, inputs: usize) -> Self {
        match self {
            BatchRows::Dense(rows) => BatchRows::Dense(rows.block(start, end, inputs)),
            BatchRows::Sparse(batch) => BatchRows::Sparse(sparse_block(batch, start, end)),
        }
    }
}

impl<'a, T: Real> DenseRows<'a, T> {
    fn rows(&self, inputs: usize) -> usize {
        match self {
            DenseRows::Contiguous(x) => x.len() / inputs.max(1),
            DenseRows::Gathered { order, .. } => order.len(),
            DenseRows::Expanded(batch) => batch.rows(),
        }
    }

    fn block(self, start: usize, end: usize, inputs: usize) -> Self {
        match self {
            DenseRows::Contiguous(x) => DenseRows::Contiguous(&x[start * inputs..end * inputs]),
            DenseRows::Gathered { x, order } => DenseRows::Gathered {
                x,
                order: &order[start..end],
            },
            DenseRows::Expanded(batch) => DenseRows::Expanded(sparse_block(batch, start, end)),
        }
    }

    /// Copy the rows into `buffer` (rows, inputs) where they are not contiguous already.
    pub(crate) fn fill(&self, buffer: &mut [T], inputs: usize) {
        match *self {
            DenseRows::Contiguous(_) => {}
            DenseRows::Gathered { x, order } => {
                for (row, &index) in buffer.chunks_exact_mut(inputs).zip(order) {
                    // train_epoch checked every index against the rows of x.
                    let start = index as usize * inputs;
                    row.copy_from_slice(&x[start..start + inputs]);
                }
            }
            DenseRows::Expanded(batch) => batch.matrix.gather_dense(batch.order, buffer),
        }
    }

    /// The rows as a (rows, inputs) matrix: themselves, or `buffer` after `fill`.
    pub(crate) fn matrix<'b>(&self, buffer: &'b [T], inputs: usize) -> Result<MatRef<'b, T>>
    where
        'a: 'b,
    {
        let rows = self.rows(inputs);
        match *self {
            DenseRows::Contiguous(x) => MatRef::row_major(x, rows, inputs),
            DenseRows::Gathered { .. } | DenseRows::Expanded(_) => {
                MatRef::row_major(&buffer[..rows * inputs], rows, inputs)
            }
        }
    }
}

fn sparse_block<T>(batch: SparseBatch<'_, T>, start: usize, end: usize) -> SparseBatch<'_, T> {
    SparseBatch {
        matrix: batch.matrix,
        order: &batch.order[start..end],
    }
}

/// The targets of a batch, as the caller holds them.
#[derive(Debug, Clone, Copy)]
pub(crate) enum BatchTargets<'a, T> {
    /// Class indices `labels[order[r]]` (checked < classes by the caller).
    Labels { labels: &'a [i64], order: &'a [i64] },
    /// A (rows, classes) matrix, row r for batch row r.
    Matrix(&'a [T]),
    /// Rows `order[r]` of an (n, classes) matrix of targets.
    Rows { y: &'a [T], order: &'a [i64] },
}

/// The row weights of a batch (`sample_weight`), as the caller holds them.
#[derive(Debug, Clone, Copy)]
pub(crate) enum BatchWeights<'a, T> {
    /// Every row weighs 1.
    Unweighted,
    /// (rows,), weight r for batch row r.
    Contiguous(&'a [T]),
    /// Weights `weights[order[r]]` of an (n,) array.
    Gathered { weights: &'a [T], order: &'a [i64] },
}

impl<'a, T: Real> BatchWeights<'a, T> {
    /// The sum of the batch's weights in f64, or `None` without weights.
    pub(crate) fn total(&self) -> Option<f64> {
        match *self {
            BatchWeights::Unweighted => None,
            BatchWeights::Contiguous(w) => Some(crate::output::weight_total(w.iter().copied())),
            BatchWeights::Gathered { weights, order } => Some(crate::output::weight_total(
                order.iter().map(|&i| weights[i as usize]),
            )),
        }
    }

    /// The weights of rows `start..end` (`None` without weights), copied into `buffer` where
    /// they are gathered.
    pub(crate) fn block<'b>(&self, start: usize, end: usize, buffer: &'b mut [T]) -> Option<&'b [T]>
    where
        'a: 'b,
    {
        match *self {
            BatchWeights::Unweighted => None,
            BatchWeights::Contiguous(w) => Some(&w[start..end]),
            BatchWeights::Gathered { weights, order } => {
                let out = &mut buffer[..end - start];
                for (value, &i) in out.iter_mut().zip(&order[start..end]) {
                    // train_epoch checked every index against the rows of x.
                    *value = weights[i as usize];
                }
                Some(out)
            }
        }
    }
}
