//! The first layer on sparse inputs: MNIST's pixels are about 81% zeros (Fashion-MNIST's
//! about 50%), and the first layer's two products are nearly all of an epoch's FLOPs.
//!
//! forward   z[r, :]  = sum over j with x[r, j] != 0 of  x[r, j] * W[j, :]
//!           (the rows of W picked by each sample's nonzero inputs)
//! update    W[j, :] += scale * sum over r with x[r, j] != 0 of  x[r, j] * delta[r, :]
//!           (scale = -lr: the SGD step of `W -= lr * x.T @ delta`, scattered by input)
//!
//! A batch is gathered from `x` straight into compressed rows, one chunk of rows per thread.
//! The forward product splits over those chunks; the update splits over ranges of W's rows
//! (each thread adds only the nonzeros of its range of inputs), so that no two threads write
//! the same memory.

use crate::real::Real;
use multiversion::multiversion;

/// Rows `first_row ..` of a batch, keeping only the nonzero inputs (CSR).
#[derive(Debug, Clone, Default)]
struct RowChunk<T> {
    first_row: usize,
    /// Row r's entries are `starts[r] .. starts[r + 1]` of `columns` and `values` (which
    /// are longer: buffers kept at their largest size).
    starts: Vec<usize>,
    columns: Vec<u32>,
    values: Vec<T>,
}

/// A batch of input rows in compressed form.
#[derive(Debug, Clone, Default)]
pub struct SparseBatch<T> {
    rows: usize,
    inputs: usize,
    by_rows: Vec<RowChunk<T>>,
}

impl<T: Real> SparseBatch<T> {
    pub fn new() -> Self {
        SparseBatch {
            rows: 0,
            inputs: 0,
            by_rows: Vec::new(),
        }
    }

    pub fn rows(&self) -> usize {
        self.rows
    }

    /// The stored (nonzero) entries.
    pub fn nonzeros(&self) -> usize {
        self.by_rows
            .iter()
            .map(|c| c.starts.last().copied().unwrap_or(0))
            .sum()
    }

    /// Fill with the rows `x[order[r]]` of the row-major (n, inputs) matrix `x`, split over
    /// the current rayon pool. `order` must be in range (train_epoch checks it). Buffers are
    /// reused: after the first batches nothing is allocated.
    pub fn gather(&mut self, x: &[T], order: &[i64], inputs: usize) {
        let threads = rayon::current_num_threads().max(1);
        self.rows = order.len();
        self.inputs = inputs;
        self.by_rows.resize_with(threads, RowChunk::default);
        let rows_per_chunk = order.len().div_ceil(threads).max(1);

        rayon::scope(|scope| {
            for (i, chunk) in self.by_rows.iter_mut().enumerate() {
                let first = (i * rows_per_chunk).min(order.len());
                let last = ((i + 1) * rows_per_chunk).min(order.len());
                let order = &order[first..last];
                scope.spawn(move |_| chunk.fill(x, order, inputs, first));
            }
        });
    }
}

impl<T: Real> RowChunk<T> {
    fn fill(&mut self, x: &[T], order: &[i64], inputs: usize, first_row: usize) {
        self.first_row = first_row;
        self.starts.clear();
        self.starts.push(0);
        // Room for every value; `resize` only allocates while the buffers grow.
        let room = order.len() * inputs;
        if self.columns.len() < room {
            self.columns.resize(room, 0);
            self.values.resize(room, T::zero());
        }
        // Branch-free compaction: write every value, advance only past nonzeros (a branch per
        // value would mispredict on most nonzeros of unstructured data). Runs of 16 zeros,
        // common in images (MNIST's borders), are skipped with one vectorised test.
        const RUN: usize = 16;
        let (columns, values) = (&mut self.columns[..], &mut self.values[..]);
        let mut stored = 0;
        for &index in order {
            let start = index as usize * inputs;
            let row = &x[start..start + inputs];
            let mut j = 0;
            for run in row.chunks(RUN) {
                // Counting (not `all`, which stops early) lets the test vectorise.
                if run.iter().filter(|&&v| v != T::zero()).count() == 0 {
                    j += run.len();
                    continue;
                }
                for &v in run {
                    columns[stored] = j as u32;
                    values[stored] = v;
                    stored += usize::from(v != T::zero());
                    j += 1;
                }
            }
            self.starts.push(stored);
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

/// `weight[j, :] += scale * x[r, j] * delta[r, :]` for every nonzero x[r, j] of the batch:
/// the SGD update of `W -= lr * x.T @ delta` with scale = -lr. Each thread owns a range of
/// W's rows (inputs j) and adds the nonzeros that fall in it, row by row.
pub fn sparse_update<T: Real>(
    weight: &mut [T],
    batch: &SparseBatch<T>,
    delta: &[T],
    fan_out: usize,
    scale: T,
) {
    let inputs = batch.inputs;
    let inputs_per_task = inputs.div_ceil(rayon::current_num_threads().max(1)).max(1);
    rayon::scope(|scope| {
        for (task, mine) in weight[..inputs * fan_out]
            .chunks_mut(inputs_per_task * fan_out)
            .enumerate()
        {
            let first = task * inputs_per_task;
            let last = first + mine.len() / fan_out;
            scope.spawn(move |_| {
                for chunk in &batch.by_rows {
                    for r in 0..chunk.rows() {
                        let (columns, values) = chunk.row(r);
                        // Columns are ascending: this task's are one run of them.
                        let begin = columns.partition_point(|&c| (c as usize) < first);
                        let end = columns.partition_point(|&c| (c as usize) < last);
                        let row = chunk.first_row + r;
                        scatter_row(
                            mine,
                            &columns[begin..end],
                            &values[begin..end],
                            first,
                            &delta[row * fan_out..(row + 1) * fan_out],
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
    let fused = multiversion::target::target_cfg_f!(target_feature = "fma");
    weighted_rows_sum(out, columns, values, table, fan_out, fused);
}

/// `weights[c - first, :] += (scale * v) * delta_row` for each (c, v) of one batch row.
#[multiversion(targets("x86_64+avx512f+avx512vl+fma", "x86_64+avx2+fma"))]
fn scatter_row<T: Real>(
    weights: &mut [T],
    columns: &[u32],
    values: &[T],
    first: usize,
    delta_row: &[T],
    scale: T,
) {
    let fused = multiversion::target::target_cfg_f!(target_feature = "fma");
    let fan_out = delta_row.len();
    for (&c, &v) in columns.iter().zip(values) {
        let start = (c as usize - first) * fan_out;
        let step = scale * v;
        let weight_row = &mut weights[start..start + fan_out];
        for (w, &d) in weight_row.iter_mut().zip(delta_row) {
            *w = multiply_add(step, d, *w, fused);
        }
    }
}

/// `a * b + c`, as one fused instruction where the build has FMA (`fused`, a constant in
/// each multiversioned build), else as a product and a sum; `mul_add` without hardware FMA
/// would be a slow library call.
#[inline(always)]
fn multiply_add<T: Real>(a: T, b: T, c: T, fused: bool) -> T {
    if fused {
        a.mul_add(b, c)
    } else {
        a * b + c
    }
}

/// `dst = sum_i values[i] * table[indices[i], :]`, a row of `fan_out` values.
///
/// The sum runs over column blocks of fixed widths (128, 32, 8, 1) so that each block's
/// accumulator is a fixed-size array the compiler keeps in vector registers while the
/// indexed rows stream past; a slice of runtime length would be spilled to the stack on
/// every term.
#[inline(always)]
fn weighted_rows_sum<T: Real>(
    dst: &mut [T],
    indices: &[u32],
    values: &[T],
    table: &[T],
    fan_out: usize,
    fused: bool,
) {
    let mut offset = 0;
    while offset < fan_out {
        let left = fan_out - offset;
        offset += if left >= 128 {
            block_sum::<T, 128>(dst, indices, values, table, fan_out, offset, fused)
        } else if left >= 32 {
            block_sum::<T, 32>(dst, indices, values, table, fan_out, offset, fused)
        } else if left >= 8 {
            block_sum::<T, 8>(dst, indices, values, table, fan_out, offset, fused)
        } else {
            block_sum::<T, 1>(dst, indices, values, table, fan_out, offset, fused)
        };
    }
}

/// Columns `offset .. offset + N` of `weighted_rows_sum`; returns N.
#[inline(always)]
fn block_sum<T: Real, const N: usize>(
    dst: &mut [T],
    indices: &[u32],
    values: &[T],
    table: &[T],
    fan_out: usize,
    offset: usize,
    fused: bool,
) -> usize {
    let mut acc = [T::zero(); N];
    for (&index, &value) in indices.iter().zip(values) {
        let start = index as usize * fan_out + offset;
        let row = &table[start..start + N];
        for k in 0..N {
            acc[k] = multiply_add(value, row[k], acc[k], fused);
        }
    }
    dst[offset..offset + N].copy_from_slice(&acc);
    N
}
