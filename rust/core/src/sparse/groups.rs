//! A batch's compressed rows regrouped for the sparse products, over one range of inputs.
//!
//! A group of `GROUP_ROWS` rows keeps, for each input nonzero in one of its rows (the group's
//! *columns*), the rows' values side by side (zero where a row has none): a dense
//! (columns, GROUP_ROWS) tile. The kernels then read each row of W once per group and do its
//! GROUP_ROWS multiply-adds from registers; the price is the tile's zeros (on MNIST a tile is
//! 41% full). Rows that share few inputs go one by one (groups of 1 row), as they are.

use super::kernels::{Forward, Update};
use super::rows::SparseBatch;
use crate::error::{Error, Result};
use crate::real::Real;
use pulp::Arch;

/// Rows per group where rows share their nonzero inputs (images): 8 rows' accumulators of a
/// 32-float block fill 16 of AVX-512's 32 registers (4 and 16 rows measured slower:
/// benchmarks/README.md). Rows that share few inputs go one by one instead (`group_rows` 1).
pub const GROUP_ROWS: usize = 8;

/// A batch of compressed rows regrouped for the first layer's products, `group_rows()` (1 or
/// `GROUP_ROWS`) rows a group: group g's columns are `columns[starts[g] .. starts[g + 1]]`
/// (ascending), and column i's values for the group's rows are
/// `values[i * group_rows .. (i + 1) * group_rows]`.
#[derive(Debug, Clone, Default)]
pub struct RowGroups<T> {
    inputs: usize,
    /// The most rows, and the widest range of inputs, `build` takes without allocating.
    capacity: usize,
    span: usize,
    pub(super) group_rows: usize,
    pub(super) rows: usize,
    /// The inputs of the last `build`.
    pub(super) built: std::ops::Range<usize>,
    pub(super) starts: Vec<usize>,
    columns: Vec<u32>,
    values: Vec<T>,
    /// (inputs, GROUP_ROWS), all zero between groups: one group's values, scattered.
    scratch: Vec<T>,
    /// (inputs,), all zero between groups: 1 where one of the group's rows is nonzero.
    touched: Vec<u8>,
}

impl<T: Real> RowGroups<T> {
    /// Room for batches of up to `rows` rows of `inputs` inputs, regrouped over ranges of
    /// up to `span` of the inputs, or `Error::OutOfMemory`. `build` allocates nothing for
    /// such batches. `group_rows` is 1 or `GROUP_ROWS`.
    pub fn try_new(inputs: usize, rows: usize, span: usize, group_rows: usize) -> Result<Self> {
        if group_rows != 1 && group_rows != GROUP_ROWS {
            return Err(Error::value(
                "group_rows",
                format!("expected 1 or {GROUP_ROWS}, got {group_rows}"),
            ));
        }
        let groups = rows.div_ceil(group_rows);
        let span = span.min(inputs);
        let mut grouped = RowGroups {
            inputs,
            capacity: groups * group_rows,
            span,
            group_rows,
            ..RowGroups::default()
        };
        let out_of_memory = |what: &str, count: usize, size: usize| Error::OutOfMemory {
            what: format!("{what} of a sparse batch of {rows} rows"),
            bytes: count as u128 * size as u128,
        };
        // At most every input of the range is a column of every group.
        let most_columns = groups.saturating_mul(span);
        let most_values = most_columns.saturating_mul(group_rows);
        grouped
            .starts
            .try_reserve_exact(groups + 1)
            .map_err(|_| out_of_memory("group starts", groups + 1, 8))?;
        grouped
            .columns
            .try_reserve_exact(most_columns)
            .map_err(|_| out_of_memory("group columns", most_columns, 4))?;
        grouped
            .values
            .try_reserve_exact(most_values)
            .map_err(|_| out_of_memory("group values", most_values, size_of::<T>()))?;
        grouped.scratch = crate::buffer::zeros("a row group's values", inputs, group_rows)?;
        grouped
            .touched
            .try_reserve_exact(inputs)
            .map_err(|_| out_of_memory("a row group's columns", inputs, 1))?;
        grouped.touched.resize(inputs, 0);
        Ok(grouped)
    }

    /// The rows this holds room for.
    pub fn capacity(&self) -> usize {
        self.capacity
    }

    /// The widest range of inputs this holds room for.
    pub fn span(&self) -> usize {
        self.span
    }

    pub fn inputs(&self) -> usize {
        self.inputs
    }

    /// Rows per group: 1 or `GROUP_ROWS`.
    pub fn group_rows(&self) -> usize {
        self.group_rows
    }

    /// The rows of the last `build`.
    pub fn rows(&self) -> usize {
        self.rows
    }

    /// Regroup `batch`'s rows, in order, keeping only their inputs `first..last` (the
    /// range of W's rows one thread owns); the matrix must have `inputs()` inputs.
    pub fn build(&mut self, batch: SparseBatch<'_, T>, first: usize, last: usize) -> Result<()> {
        if batch.matrix.inputs() != self.inputs {
            return Err(Error::shape(
                "x",
                format!("{} columns", self.inputs),
                format!("{}", batch.matrix.inputs()),
            ));
        }
        let (first, last) = (first.min(self.inputs), last.min(self.inputs).max(first));
        if batch.rows() > self.capacity || last - first > self.span {
            let rows = batch.rows().max(self.capacity);
            let span = (last - first).max(self.span);
            *self = RowGroups::try_new(self.inputs, rows, span, self.group_rows)?;
        }
        self.rows = batch.rows();
        self.built = first..last;
        self.starts.clear();
        self.columns.clear();
        self.values.clear();
        self.starts.push(0);
        // The group size as a constant, so that each column's values move as one block.
        match self.group_rows {
            GROUP_ROWS => self.build_groups::<GROUP_ROWS>(batch, first, last),
            _ => self.build_groups::<1>(batch, first, last),
        }
        Ok(())
    }

    /// `build` for groups of G rows (`self.group_rows`).
    fn build_groups<const G: usize>(
        &mut self,
        batch: SparseBatch<'_, T>,
        first: usize,
        last: usize,
    ) {
        // The batch's rows are scattered over the whole matrix (far out of cache): ask for the
        // group after next while one is scattered. Measured: 20% off an epoch.
        let prefetch_group = |index: usize| {
            for &i in batch.order.chunks(G).nth(index).unwrap_or_default() {
                let (columns, values) = batch.matrix.row(i as usize);
                prefetch(columns);
                prefetch(values);
            }
        };
        prefetch_group(0);
        prefetch_group(1);
        for (index, group) in batch.order.chunks(G).enumerate() {
            prefetch_group(index + 2);
            for (r, &i) in group.iter().enumerate() {
                // train_epoch checked every index against the matrix's rows.
                let (columns, values) = batch.matrix.row(i as usize);
                // Columns are ascending: those in first..last are one run of them.
                let begin = columns.partition_point(|&c| (c as usize) < first);
                let end = columns.partition_point(|&c| (c as usize) < last);
                if G == 1 {
                    // A group of one row is the row's run of nonzeros as it is. These
                    // extends stay within the room try_new reserved (span inputs a group).
                    self.columns.extend_from_slice(&columns[begin..end]);
                    self.values.extend_from_slice(&values[begin..end]);
                    continue;
                }
                for (&c, &v) in columns[begin..end].iter().zip(&values[begin..end]) {
                    // c < inputs (a column of the matrix, checked equal above), r < G.
                    self.scratch[c as usize * G + r] = v;
                    self.touched[c as usize] = 1;
                }
            }
            if G > 1 {
                self.collect_group::<G>(first, last);
            }
            self.starts.push(self.columns.len());
        }
    }

    /// Move the scattered group (inputs first..last) into `columns` and `values`, leaving
    /// `scratch` and `touched` all zero. The columns are found 16 at a time: a mask of the
    /// touched ones, then one step per set bit, so untouched inputs (MNIST's borders) cost one
    /// test per 16.
    fn collect_group<const G: usize>(&mut self, first: usize, last: usize) {
        const SPAN: usize = 16;
        let touched = &mut self.touched[first..last];
        for (span, flags) in touched.chunks_mut(SPAN).enumerate() {
            let mut mask = flags
                .iter()
                .enumerate()
                .fold(0u32, |mask, (i, &flag)| mask | (u32::from(flag != 0) << i));
            if mask == 0 {
                continue;
            }
            flags.fill(0);
            while mask != 0 {
                let j = first + span * SPAN + mask.trailing_zeros() as usize;
                mask &= mask - 1;
                // j < inputs <= u32::MAX (SparseRows keeps its columns in u32). `columns`
                // and `values` hold room for every input of the range in every group
                // (try_new, with a span of at least last - first: build checked), so
                // these pushes never allocate.
                self.columns.push(j as u32);
                let cell = &mut self.scratch[j * G..(j + 1) * G];
                self.values.extend_from_slice(cell);
                cell.fill(T::zero());
            }
        }
    }

    /// Group g's (columns, values), values (columns, group_rows).
    pub(super) fn group(&self, g: usize) -> (&[u32], &[T]) {
        let (start, end) = (self.starts[g], self.starts[g + 1]);
        let rows = self.group_rows;
        (
            &self.columns[start..end],
            &self.values[start * rows..end * rows],
        )
    }

    /// `out (rows, fan_out) = x @ weight` for the built rows, weight (inputs, fan_out)
    /// row-major.
    pub fn forward(&self, out: &mut [T], weight: &[T], fan_out: usize) {
        debug_assert_eq!(weight.len(), self.inputs * fan_out);
        Arch::new().dispatch(Forward {
            groups: self,
            out: &mut out[..self.rows * fan_out],
            weight,
            fan_out,
        });
    }

    /// `weight[j, :] += scale * sum_r x[r, j] * delta[r, :]` for `first <= j < last`, where
    /// `weight_rows` holds rows first..last of W: rows first..last of the SGD update
    /// `W -= lr * x.T @ delta` with scale = -lr. `delta_row(r)` is row r of delta
    /// (fan_out values), for r < rows.
    pub fn update_range<'d>(
        &self,
        weight_rows: &mut [T],
        first: usize,
        last: usize,
        delta_row: impl Fn(usize) -> &'d [T],
        fan_out: usize,
        scale: T,
    ) where
        T: 'd,
    {
        Arch::new().dispatch(Update {
            groups: self,
            weight_rows,
            first,
            last,
            delta_row,
            fan_out,
            scale,
        });
    }
}

/// Ask for the cache lines of `values` ahead of their use: a hint that changes no result.
#[inline(always)]
fn prefetch<T>(values: &[T]) {
    #[cfg(target_arch = "x86_64")]
    {
        use std::arch::x86_64::{_mm_prefetch, _MM_HINT_T0};
        let start = values.as_ptr().cast::<i8>();
        for offset in (0..size_of_val(values)).step_by(64) {
            // SAFETY: `_mm_prefetch` needs SSE, which every x86_64 CPU has (it is in the
            // target's baseline features). A prefetch never faults and neither reads nor
            // writes memory as far as the program can observe, whatever the address; this
            // one is inside `values` anyway (wrapping_add keeps even the arithmetic defined).
            unsafe { _mm_prefetch::<_MM_HINT_T0>(start.wrapping_add(offset)) }
        }
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = values;
}
