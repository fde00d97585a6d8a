//! The first layer on sparse inputs: MNIST's pixels are about 81% zeros (Fashion-MNIST's
//! about 50%), and the first layer's two products are nearly all of an epoch's FLOPs.
//!
//! forward   z[r, :]  = sum over j with x[r, j] != 0 of  x[r, j] * W[j, :]
//!           (the rows of W picked by each sample's nonzero inputs)
//! update    W[j, :] += scale * sum over r with x[r, j] != 0 of  x[r, j] * delta[r, :]
//!           (scale = -lr: the SGD step of `W -= lr * x.T @ delta`, scattered by input)
//!
//! The inputs are held as compressed rows (`SparseRows`, built once per epoch call, or once
//! per `fit` by the caller); a batch is a list of row indices into them, so nothing is copied
//! per batch. `step.rs` splits the forward product over the batch's rows and the update over
//! ranges of W's rows (each thread adds only the nonzeros of its range of inputs), so that no
//! two threads write the same memory.

use crate::error::{Error, Result};
use crate::real::Real;
use multiversion::multiversion;

/// A row-major (rows, inputs) matrix keeping only its nonzero values (CSR): row i's entries
/// are `starts[i] .. starts[i + 1]` of `columns` (ascending) and `values`.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct SparseRows<T> {
    inputs: usize,
    starts: Vec<usize>,
    columns: Vec<u32>,
    values: Vec<T>,
}

impl<T: Real> SparseRows<T> {
    /// The nonzeros of the row-major (n, inputs) matrix `x`, in one pass over `x` split over
    /// the current rayon pool.
    pub fn from_dense(x: &[T], inputs: usize) -> Result<Self> {
        if inputs == 0 || x.len() % inputs != 0 {
            return Err(Error::shape(
                "x",
                format!("a multiple of {inputs} values (rows of {inputs})"),
                format!("{} values", x.len()),
            ));
        }
        if u32::try_from(inputs).is_err() {
            return Err(Error::value(
                "x",
                format!("{inputs} columns do not fit 32-bit indices"),
            ));
        }
        let rows = x.len() / inputs;
        let rows_per_task = rows.div_ceil(rayon::current_num_threads().max(1)).max(1);
        let mut parts: Vec<CompactRows<T>> = Vec::new();
        parts.resize_with(rows.div_ceil(rows_per_task), CompactRows::default);
        rayon::scope(|scope| {
            for (part, block) in parts.iter_mut().zip(x.chunks(rows_per_task * inputs)) {
                scope.spawn(move |_| part.compact(block, inputs));
            }
        });
        let nonzeros = parts.iter().map(|p| p.values.len()).sum();
        let mut matrix = SparseRows {
            inputs,
            starts: Vec::with_capacity(rows + 1),
            columns: Vec::with_capacity(nonzeros),
            values: Vec::with_capacity(nonzeros),
        };
        matrix.starts.push(0);
        for part in parts {
            let base = matrix.values.len();
            matrix
                .starts
                .extend(part.ends.iter().map(|&end| base + end));
            matrix.columns.extend_from_slice(&part.columns);
            matrix.values.extend_from_slice(&part.values);
        }
        Ok(matrix)
    }

    pub fn rows(&self) -> usize {
        self.starts.len().saturating_sub(1)
    }

    pub fn inputs(&self) -> usize {
        self.inputs
    }

    /// The stored (nonzero) values.
    pub fn nonzeros(&self) -> usize {
        self.values.len()
    }

    /// The fraction of the matrix's values that are nonzero.
    pub fn density(&self) -> f64 {
        self.nonzeros() as f64 / (self.rows() * self.inputs).max(1) as f64
    }

    /// Row i's (columns, values); i < rows (the sparse path's rows come from an `order`
    /// that `train_epoch` checked).
    pub fn row(&self, i: usize) -> (&[u32], &[T]) {
        let range = self.starts[i]..self.starts[i + 1];
        (&self.columns[range.clone()], &self.values[range])
    }

    /// `dst[r] = row order[r]`, densely: the dense path's batch from compressed rows.
    pub fn gather_dense(&self, order: &[i64], dst: &mut [T]) {
        for (out, &i) in dst.chunks_exact_mut(self.inputs).zip(order) {
            out.iter_mut().for_each(|v| *v = T::zero());
            let (columns, values) = self.row(i as usize);
            for (&c, &v) in columns.iter().zip(values) {
                out[c as usize] = v;
            }
        }
    }
}

/// One task's rows of `SparseRows::from_dense`.
#[derive(Debug, Default)]
struct CompactRows<T> {
    /// Row r's entries end at `ends[r]`.
    ends: Vec<usize>,
    columns: Vec<u32>,
    values: Vec<T>,
}

impl<T: Real> CompactRows<T> {
    fn compact(&mut self, block: &[T], inputs: usize) {
        // Branch-free compaction: write every value, advance only past nonzeros (a branch per
        // value would mispredict on most nonzeros of unstructured data). Runs of 16 zeros,
        // common in images (MNIST's borders), are skipped with one vectorised test.
        const RUN: usize = 16;
        let mut stored = 0;
        for row in block.chunks_exact(inputs) {
            if self.values.len() < stored + inputs {
                let room = (stored + inputs).max(2 * self.values.len());
                self.columns.resize(room, 0);
                self.values.resize(room, T::zero());
            }
            let (columns, values) = (&mut self.columns[..], &mut self.values[..]);
            let mut j = 0;
            for run in row.chunks(RUN) {
                // Counting (not `all`, which stops early) lets the test vectorise.
                if run.iter().filter(|&&v| v != T::zero()).count() == 0 {
                    j += run.len();
                    continue;
                }
                for &v in run {
                    // j < inputs <= u32::MAX (from_dense checks it); `columns` has room for
                    // `stored + inputs` entries (resized above), and stored + j < that.
                    columns[stored] = j as u32;
                    values[stored] = v;
                    stored += usize::from(v != T::zero());
                    j += 1;
                }
            }
            self.ends.push(stored);
        }
        self.columns.truncate(stored);
        self.values.truncate(stored);
    }
}

/// A batch of the sparse path: rows `order` of `matrix`.
#[derive(Debug, Clone, Copy)]
pub struct SparseBatch<'a, T> {
    pub matrix: &'a SparseRows<T>,
    pub order: &'a [i64],
}

impl<T: Real> SparseBatch<'_, T> {
    pub fn rows(&self) -> usize {
        self.order.len()
    }
}

/// `out (rows, fan_out) = batch @ weight`, weight (inputs, fan_out) row-major, on the calling
/// thread (`step.rs` gives each thread its own rows).
pub fn sparse_matmul_serial<T: Real>(
    out: &mut [T],
    batch: SparseBatch<'_, T>,
    weight: &[T],
    fan_out: usize,
) {
    debug_assert_eq!(weight.len(), batch.matrix.inputs * fan_out);
    for (out_row, &i) in out.chunks_exact_mut(fan_out).zip(batch.order) {
        // train_epoch checked every index against the matrix's rows.
        let (columns, values) = batch.matrix.row(i as usize);
        gather_rows_sum(out_row, columns, values, weight, fan_out);
    }
}

/// `weight[j, :] += scale * x[r, j] * delta[r, :]` for every nonzero x[r, j] of the batch
/// with `first <= j < last` (`weight_rows` holds those rows of W): the SGD update of
/// `W -= lr * x.T @ delta` with scale = -lr, on the calling thread (`step.rs` gives each
/// thread its own range of W's rows).
pub fn sparse_update_range<T: Real>(
    weight_rows: &mut [T],
    first: usize,
    last: usize,
    batch: SparseBatch<'_, T>,
    delta: &[T],
    fan_out: usize,
    scale: T,
) {
    for (r, &i) in batch.order.iter().enumerate() {
        // train_epoch checked every index against the matrix's rows.
        let (columns, values) = batch.matrix.row(i as usize);
        // Columns are ascending: those in first..last are one run of them.
        let begin = columns.partition_point(|&c| (c as usize) < first);
        let end = columns.partition_point(|&c| (c as usize) < last);
        scatter_row(
            weight_rows,
            &columns[begin..end],
            &values[begin..end],
            first,
            &delta[r * fan_out..(r + 1) * fan_out],
            scale,
        );
    }
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
        // first <= c < first + rows of `weights`: sparse_update picked these columns by
        // partition_point on that range.
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
