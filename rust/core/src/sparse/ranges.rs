//! The sparse first layer inside a step, by ranges of inputs: each thread owns a range of
//! W[0]'s rows, balanced by the inputs' nonzero counts (`SparseRows::balanced_input_ranges`).
//!
//! phase 0   share[t] = x[:, range t] @ W[0][range t, :]    each thread its range (`share_products`)
//! phase 1   z = sum over t of share[t]                      by blocks of rows (`sum_shares`)
//! phase 2   W[0][range t, :] += -lr * x[:, range t].T @ delta[1]   on the same thread (`update.rs`)
//!
//! A range of W[0] thus stays in one core's cache from the forward product to the update
//! (split by rows instead, each core read the half the other had just updated:
//! benchmarks/README.md).

use super::groups::RowGroups;
use super::rows::SparseBatch;
use crate::buffer;
use crate::error::{Error, Result};
use crate::real::Real;
use rayon::prelude::*;

/// One thread's range of the inputs: the batch's nonzeros in it, their share of the first
/// layer's product, and (in phase 2) the update of its rows of W[0].
#[derive(Debug, Clone, Default)]
pub(crate) struct InputRange<T> {
    pub(super) first: usize,
    pub(super) last: usize,
    pub(super) groups: RowGroups<T>,
    /// (capacity, fan_out): x[:, first..last] @ W[0][first..last, :].
    partial: Vec<T>,
}

impl<T: Real> InputRange<T> {
    /// Rows of W[0] (inputs) in this range.
    pub(crate) fn rows(&self) -> usize {
        self.last - self.first
    }

    /// `weight_rows[j, :] += scale * sum_r x[r, j] * delta[1][r, :]` over this range's rows
    /// (the first `rows()` rows of `weight_rows`): the SGD update with scale = -lr, or the
    /// range's gradient with scale = 1 on zeroed rows.
    pub(crate) fn add_product<'d>(
        &self,
        weight_rows: &mut [T],
        delta_row: impl Fn(usize) -> &'d [T],
        fan_out: usize,
        scale: T,
    ) where
        T: 'd,
    {
        let rows_of_range = &mut weight_rows[..self.rows() * fan_out];
        self.groups.update_range(
            rows_of_range,
            self.first,
            self.last,
            delta_row,
            fan_out,
            scale,
        );
    }
}

/// The ranges of inputs of the sparse path, one per thread (none on the dense path).
#[derive(Debug, Clone, Default)]
pub(crate) struct InputRanges<T> {
    ranges: Vec<InputRange<T>>,
}

impl<T: Real> InputRanges<T> {
    /// Ranges `boundaries[t]..boundaries[t + 1]` of `inputs` inputs, in groups of
    /// `group_rows` rows, with room for batches of `capacity` rows and first layers of
    /// `fan_out` outputs; grows (never shrinks) what is already there.
    pub(crate) fn fit(
        &mut self,
        (inputs, fan_out): (usize, usize),
        capacity: usize,
        boundaries: &[usize],
        group_rows: usize,
    ) -> Result<()> {
        self.ranges
            .resize_with(boundaries.len().saturating_sub(1), InputRange::default);
        for (range, bounds) in self.ranges.iter_mut().zip(boundaries.windows(2)) {
            (range.first, range.last) = (bounds[0], bounds[1]);
            let span = range.last - range.first;
            let groups = &range.groups;
            if groups.inputs() != inputs
                || groups.capacity() < capacity
                || groups.span() < span
                || groups.group_rows() != group_rows
            {
                range.groups = RowGroups::try_new(inputs, capacity, span, group_rows)?;
            }
            if range.partial.len() < capacity * fan_out {
                range.partial = buffer::zeros("a share of the first layer", capacity, fan_out)?;
            }
        }
        Ok(())
    }

    /// Phase 0: each range regroups `batch`'s nonzeros in its inputs and computes its share
    /// of `batch @ weight`, weight (inputs, fan_out); one range per task of the current pool.
    pub(crate) fn share_products(
        &mut self,
        batch: SparseBatch<'_, T>,
        weight: &[T],
        fan_out: usize,
    ) -> Result<()> {
        self.ranges
            .par_iter_mut()
            .try_for_each(|range| -> Result<()> {
                range.groups.build(batch, range.first, range.last)?;
                range.groups.forward(&mut range.partial, weight, fan_out);
                Ok(())
            })
    }

    /// Phase 1: `out` (rows, fan_out) = the sum of the ranges' shares of batch rows
    /// `start..start + rows`.
    pub(crate) fn sum_shares(
        &self,
        out: &mut [T],
        start: usize,
        rows: usize,
        fan_out: usize,
    ) -> Result<()> {
        let shares = start * fan_out..(start + rows) * fan_out;
        let (first_range, others) = self.ranges.split_first().ok_or_else(|| {
            Error::value(
                "input_path",
                "the sparse path's input ranges were not set up",
            )
        })?;
        out.copy_from_slice(&first_range.partial[shares.clone()]);
        for range in others {
            for (o, &p) in out.iter_mut().zip(&range.partial[shares.clone()]) {
                *o += p;
            }
        }
        Ok(())
    }

    pub(crate) fn as_slice(&self) -> &[InputRange<T>] {
        &self.ranges
    }
}
