//! The inputs compressed to their nonzeros (`SparseRows`, CSR), built once per epoch call or
//! once per `fit` by the caller; a batch is a list of row indices into them (`SparseBatch`), so
//! nothing is copied per batch but what the products need.

use crate::error::{Error, Result};
use crate::real::Real;
use rayon::prelude::*;

/// A row-major (rows, inputs) matrix keeping only its nonzero values (CSR): row i's entries
/// are `starts[i] .. starts[i + 1]` of `columns` (ascending) and `values`.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct SparseRows<T> {
    inputs: usize,
    /// column_counts[j]: the rows with a nonzero input j.
    column_counts: Vec<usize>,
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
                scope.spawn(move |_| {
                    part.compact(block, inputs);
                    part.count_columns(inputs);
                });
            }
        });
        let nonzeros = parts.iter().map(|p| p.values.len()).sum();
        let mut matrix = SparseRows {
            inputs,
            column_counts: vec![0; inputs],
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
            for (total, count) in matrix.column_counts.iter_mut().zip(&part.counts) {
                *total += count;
            }
        }
        Ok(matrix)
    }

    /// Rows already in this form: row i's entries are `starts[i] .. starts[i + 1]` of
    /// `columns` (ascending, each < inputs <= u32::MAX) and `values` (nonzero).
    pub(super) fn from_parts(
        inputs: usize,
        starts: Vec<usize>,
        columns: Vec<u32>,
        values: Vec<T>,
    ) -> Self {
        let mut column_counts = vec![0; inputs];
        for &c in &columns {
            column_counts[c as usize] += 1;
        }
        SparseRows {
            inputs,
            column_counts,
            starts,
            columns,
            values,
        }
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

    /// Boundaries `0 = b[0] <= b[1] <= .. <= b[parts] = inputs` that split the inputs into
    /// `parts` ranges holding about as many of the matrix's nonzeros each: the ranges of W's
    /// rows that the sparse first layer's threads own. Even ranges for an all-zero matrix.
    /// A function of the matrix alone, so that an epoch's sums do not depend on its order.
    pub fn balanced_input_ranges(&self, parts: usize) -> Vec<usize> {
        let parts = parts.max(1);
        let total: usize = self.column_counts.iter().sum();
        if total == 0 {
            return (0..=parts).map(|p| p * self.inputs / parts).collect();
        }
        let mut boundaries = vec![0];
        let mut seen = 0;
        for (j, &count) in self.column_counts.iter().enumerate() {
            // Close range p once it holds its share, p / parts of the nonzeros.
            while boundaries.len() < parts && seen * parts >= total * boundaries.len() {
                boundaries.push(j);
            }
            seen += count;
        }
        boundaries.resize(parts + 1, self.inputs);
        boundaries
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

impl<T: Real> SparseRows<T> {
    /// `out (rows, fan_out) = self @ w` for `w` (inputs, fan_out), row-major: each row the sum
    /// of its nonzeros times their rows of `w`, in ascending column order. Rows are split over
    /// the current rayon pool.
    pub fn multiply_into(&self, w: &[T], fan_out: usize, out: &mut [T]) -> Result<()> {
        if w.len() != self.inputs * fan_out {
            return Err(Error::shape(
                "weights[0]",
                format!("{} rows (x's columns) of {fan_out} values", self.inputs),
                format!("{} values", w.len()),
            ));
        }
        if out.len() != self.rows() * fan_out {
            return Err(Error::shape(
                "out",
                format!("{} values", self.rows() * fan_out),
                format!("{}", out.len()),
            ));
        }
        if fan_out == 0 {
            return Ok(());
        }
        out.par_chunks_mut(fan_out)
            .enumerate()
            .for_each(|(i, out_row)| {
                out_row.iter_mut().for_each(|v| *v = T::zero());
                let (columns, values) = self.row(i);
                for (&c, &x) in columns.iter().zip(values) {
                    let w_row = &w[c as usize * fan_out..(c as usize + 1) * fan_out];
                    for (o, &w) in out_row.iter_mut().zip(w_row) {
                        *o += x * w;
                    }
                }
            });
        Ok(())
    }
}

/// One task's rows of `SparseRows::from_dense`.
#[derive(Debug, Default)]
struct CompactRows<T> {
    /// Row r's entries end at `ends[r]`.
    ends: Vec<usize>,
    /// counts[j]: the rows with a nonzero input j.
    counts: Vec<usize>,
    columns: Vec<u32>,
    values: Vec<T>,
}

impl<T: Real> CompactRows<T> {
    fn count_columns(&mut self, inputs: usize) {
        self.counts = vec![0; inputs];
        for &c in &self.columns {
            // c < inputs: compact stores column indices of rows `inputs` wide.
            self.counts[c as usize] += 1;
        }
    }

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
