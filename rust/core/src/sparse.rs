//! The first layer on sparse inputs: MNIST's pixels are about 81% zeros (Fashion-MNIST's
//! about 50%), and the first layer's two products are nearly all of an epoch's FLOPs.
//!
//! forward   z[r, :]  = sum over j with x[r, j] != 0 of  x[r, j] * W[j, :]
//!           (the rows of W picked by each sample's nonzero inputs)
//! update    W[j, :] += scale * sum over r with x[r, j] != 0 of  x[r, j] * delta[r, :]
//!           (scale = -lr: the SGD step of `W -= lr * x.T @ delta`, scattered by input)
//!
//! A batch is gathered from `x` straight into compressed rows (one chunk per thread), then
//! transposed into compressed columns (one range of inputs per thread), so that both products
//! split over threads with no two threads writing the same memory.

use crate::real::Real;
use multiversion::multiversion;

/// Rows `first_row ..` of a batch, keeping only the nonzero inputs (CSR).
#[derive(Debug, Clone, Default)]
struct RowChunk<T> {
    first_row: usize,
    /// Row r's entries are `starts[r] .. starts[r + 1]` of `columns` and `values`.
    starts: Vec<usize>,
    columns: Vec<u32>,
    values: Vec<T>,
}

/// Inputs `first_column ..` of a batch: for each, the rows where it is nonzero (CSC).
#[derive(Debug, Clone, Default)]
struct ColumnChunk<T> {
    first_column: usize,
    /// Input j's entries are `starts[j] .. starts[j + 1]` of `rows` and `values`.
    starts: Vec<usize>,
    rows: Vec<u32>,
    values: Vec<T>,
    /// Scratch for the fill: where each column's next entry goes.
    next: Vec<usize>,
}

/// A batch of input rows in compressed form, by rows and by columns.
#[derive(Debug, Clone, Default)]
pub struct SparseBatch<T> {
    rows: usize,
    inputs: usize,
    by_rows: Vec<RowChunk<T>>,
    by_columns: Vec<ColumnChunk<T>>,
}

impl<T: Real> SparseBatch<T> {
    pub fn new() -> Self {
        SparseBatch {
            rows: 0,
            inputs: 0,
            by_rows: Vec::new(),
            by_columns: Vec::new(),
        }
    }

    pub fn rows(&self) -> usize {
        self.rows
    }

    /// The stored (nonzero) entries.
    pub fn nonzeros(&self) -> usize {
        self.by_rows.iter().map(|c| c.values.len()).sum()
    }

    /// Fill with the rows `x[order[r]]` of the row-major (n, inputs) matrix `x`, split over
    /// the current rayon pool. `order` must be in range (train_epoch checks it). Buffers are
    /// reused: after the first batches nothing is allocated.
    pub fn gather(&mut self, x: &[T], order: &[i64], inputs: usize) {
        let threads = rayon::current_num_threads().max(1);
        self.rows = order.len();
        self.inputs = inputs;
        self.by_rows.resize_with(threads, RowChunk::default);
        self.by_columns.resize_with(threads, ColumnChunk::default);
        let rows_per_chunk = order.len().div_ceil(threads).max(1);

        rayon::scope(|scope| {
            for (i, chunk) in self.by_rows.iter_mut().enumerate() {
                let first = (i * rows_per_chunk).min(order.len());
                let last = ((i + 1) * rows_per_chunk).min(order.len());
                let order = &order[first..last];
                scope.spawn(move |_| chunk.fill(x, order, inputs, first));
            }
        });

        let columns_per_chunk = inputs.div_ceil(threads).max(1);
        let by_rows = &self.by_rows;
        rayon::scope(|scope| {
            for (i, chunk) in self.by_columns.iter_mut().enumerate() {
                let first = (i * columns_per_chunk).min(inputs);
                let last = ((i + 1) * columns_per_chunk).min(inputs);
                scope.spawn(move |_| chunk.fill(by_rows, first, last));
            }
        });
    }
}

impl<T: Real> RowChunk<T> {
    fn fill(&mut self, x: &[T], order: &[i64], inputs: usize, first_row: usize) {
        self.first_row = first_row;
        self.starts.clear();
        self.columns.clear();
        self.values.clear();
        self.starts.push(0);
        for &index in order {
            let start = index as usize * inputs;
            for (j, &v) in x[start..start + inputs].iter().enumerate() {
                if v != T::zero() {
                    self.columns.push(j as u32);
                    self.values.push(v);
                }
            }
            self.starts.push(self.values.len());
        }
    }

    fn rows(&self) -> usize {
        self.starts.len().saturating_sub(1)
    }

    /// Row r's (columns, values), r relative to this chunk.
    fn row(&self, r: usize) -> (&[u32], &[T]) {
        let range = self.starts[r]..self.starts[r + 1];
        (&self.columns[range.clone()], &self.values[range])
    }
}

impl<T: Real> ColumnChunk<T> {
    /// The entries of columns `first..last` of the rows in `by_rows`, by column (a counting
    /// sort: count per column, prefix sums, then place).
    fn fill(&mut self, by_rows: &[RowChunk<T>], first: usize, last: usize) {
        let width = last - first;
        self.first_column = first;
        self.starts.clear();
        self.starts.resize(width + 1, 0);
        // Each row's columns are ascending: its entries in [first, last) are one run.
        let run = |columns: &[u32]| {
            let begin = columns.partition_point(|&c| (c as usize) < first);
            let end = columns.partition_point(|&c| (c as usize) < last);
            begin..end
        };
        for chunk in by_rows {
            for r in 0..chunk.rows() {
                let (columns, _) = chunk.row(r);
                for &c in &columns[run(columns)] {
                    self.starts[c as usize - first + 1] += 1;
                }
            }
        }
        for j in 0..width {
            self.starts[j + 1] += self.starts[j];
        }
        let total = self.starts[width];
        self.rows.clear();
        self.rows.resize(total, 0);
        self.values.clear();
        self.values.resize(total, T::zero());
        self.next.clear();
        self.next.extend_from_slice(&self.starts[..width]);
        for chunk in by_rows {
            for r in 0..chunk.rows() {
                let (columns, values) = chunk.row(r);
                let range = run(columns);
                for (&c, &v) in columns[range.clone()].iter().zip(&values[range]) {
                    let slot = &mut self.next[c as usize - first];
                    self.rows[*slot] = (chunk.first_row + r) as u32;
                    self.values[*slot] = v;
                    *slot += 1;
                }
            }
        }
    }
}

/// Accumulator width: a block of this many outputs stays in registers while the nonzeros of
/// a row (or column) stream past (4 AVX-512 registers of f32, 8 of f64).
const BLOCK: usize = 64;

/// `out (rows, fan_out) = batch @ weight`, weight (inputs, fan_out) row-major.
pub fn sparse_matmul_into<T: Real>(
    out: &mut [T],
    batch: &SparseBatch<T>,
    weight: &[T],
    fan_out: usize,
) {
    debug_assert_eq!(weight.len(), batch.inputs * fan_out);
    let mut rest = &mut out[..batch.rows * fan_out];
    rayon::scope(|scope| {
        for chunk in &batch.by_rows {
            let (mine, others) = rest.split_at_mut(chunk.rows() * fan_out);
            rest = others;
            scope.spawn(move |_| {
                for (r, out_row) in mine.chunks_exact_mut(fan_out).enumerate() {
                    let (columns, values) = chunk.row(r);
                    gather_rows_sum(out_row, columns, values, weight, fan_out);
                }
            });
        }
    });
}

/// `weight[j, :] += scale * sum_r x[r, j] * delta[r, :]` over the batch's nonzeros.
pub fn sparse_update<T: Real>(
    weight: &mut [T],
    batch: &SparseBatch<T>,
    delta: &[T],
    fan_out: usize,
    scale: T,
) {
    let mut rest = &mut weight[..batch.inputs * fan_out];
    rayon::scope(|scope| {
        for chunk in &batch.by_columns {
            let width = chunk.starts.len().saturating_sub(1);
            let (mine, others) = rest.split_at_mut(width * fan_out);
            rest = others;
            scope.spawn(move |_| {
                for (j, weight_row) in mine.chunks_exact_mut(fan_out).enumerate() {
                    let range = chunk.starts[j]..chunk.starts[j + 1];
                    if !range.is_empty() {
                        scatter_update_row(
                            weight_row,
                            &chunk.rows[range.clone()],
                            &chunk.values[range],
                            delta,
                            fan_out,
                            scale,
                        );
                    }
                }
            });
        }
    });
}

/// `out = sum_i values[i] * table[columns[i], :]` for one output row (fan_out wide).
#[multiversion(targets("x86_64+avx512f+avx512vl+fma", "x86_64+avx2+fma"))]
fn gather_rows_sum<T: Real>(
    out: &mut [T],
    columns: &[u32],
    values: &[T],
    table: &[T],
    fan_out: usize,
) {
    for block_start in (0..fan_out).step_by(BLOCK) {
        let width = BLOCK.min(fan_out - block_start);
        let mut acc = [T::zero(); BLOCK];
        let acc = &mut acc[..width];
        for (&c, &v) in columns.iter().zip(values) {
            let start = c as usize * fan_out + block_start;
            let row = &table[start..start + width];
            acc.iter_mut().zip(row).for_each(|(a, &w)| *a += v * w);
        }
        out[block_start..block_start + width].copy_from_slice(acc);
    }
}

/// `weight_row += scale * sum_i values[i] * delta[rows[i], :]` for one input j.
#[multiversion(targets("x86_64+avx512f+avx512vl+fma", "x86_64+avx2+fma"))]
fn scatter_update_row<T: Real>(
    weight_row: &mut [T],
    rows: &[u32],
    values: &[T],
    delta: &[T],
    fan_out: usize,
    scale: T,
) {
    for block_start in (0..fan_out).step_by(BLOCK) {
        let width = BLOCK.min(fan_out - block_start);
        let mut acc = [T::zero(); BLOCK];
        let acc = &mut acc[..width];
        for (&r, &v) in rows.iter().zip(values) {
            let start = r as usize * fan_out + block_start;
            let row = &delta[start..start + width];
            acc.iter_mut().zip(row).for_each(|(a, &d)| *a += v * d);
        }
        weight_row[block_start..block_start + width]
            .iter_mut()
            .zip(acc.iter())
            .for_each(|(w, &a)| *w += scale * a);
    }
}
