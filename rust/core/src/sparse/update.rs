//! Phase 2 of a step on the sparse path: the update of W[0] by ranges of inputs,
//!
//!   W[0][range t, :] += -lr * x[:, range t].T @ delta[1]
//!
//! each range on the thread that computed its share of the forward product in phase 0, while
//! the layers above are updated alongside. With an optimizer's rule, each range instead
//! computes its rows' gradient and applies the rule to every one of its rows
//! (`step_rule.rs`): what a range does is the caller's `update_range`.

use super::ranges::InputRange;
use crate::error::Result;

/// Rows of W[0] (and whatever goes with them: an optimizer's slots, a gradient buffer) that
/// can be cut at a row, as `slice::split_at_mut`.
pub(crate) trait RangeRows: Send + Sized {
    /// `(rows ..row, rows row..)`, `row` counted from the first of these rows.
    fn split_at_row(self, row: usize) -> Result<(Self, Self)>;
}

/// Rows of a row-major matrix, `row_len` values each.
#[derive(Debug)]
pub(crate) struct MatrixRows<'a, T> {
    pub(crate) values: &'a mut [T],
    pub(crate) row_len: usize,
}

impl<T: Send> RangeRows for MatrixRows<'_, T> {
    fn split_at_row(self, row: usize) -> Result<(Self, Self)> {
        let mid = (row * self.row_len).min(self.values.len());
        let (low, high) = self.values.split_at_mut(mid);
        let row_len = self.row_len;
        Ok((
            MatrixRows {
                values: low,
                row_len,
            },
            MatrixRows {
                values: high,
                row_len,
            },
        ))
    }
}

/// W[0] by ranges (`update_by_ranges`) and, alongside, `update_deeper` for the layers above.
/// `rows` holds rows `ranges[0].first..` of W[0]; `update_range(range, rows)` updates the
/// range's rows (`rows` starts at `range.first`, and may run past `range.last` for the last).
///
/// Each range of W[0] must be updated on the thread that read it in phase 0, where
/// `par_iter_mut` gave this thread the first half of the ranges and a thief the rest.
/// rayon::join runs its first closure here and leaves the second to a thief, who takes the
/// oldest job: so the second half of the ranges is offered first, then the deeper layers,
/// which this thread takes back after its own ranges.
pub(crate) fn update_first_layer<T: Sync, P: RangeRows>(
    ranges: &[InputRange<T>],
    rows: P,
    update_range: &(impl Fn(&InputRange<T>, P) -> Result<()> + Sync),
    update_deeper: impl FnOnce() -> Result<()> + Send,
) -> Result<()> {
    let (low, high) = ranges.split_at(ranges.len() / 2);
    let (low_rows, high_rows) = match (high.first(), ranges.first()) {
        (Some(range), Some(first)) => {
            let (low_rows, high_rows) = rows.split_at_row(range.first - first.first)?;
            (low_rows, Some(high_rows))
        }
        _ => (rows, None),
    };
    let ((low_done, deeper_done), high_done) = rayon::join(
        || {
            rayon::join(
                || update_by_ranges(low, low_rows, update_range),
                update_deeper,
            )
        },
        || match high_rows {
            Some(rows) => update_by_ranges(high, rows, update_range),
            None => Ok(()),
        },
    );
    low_done.and(deeper_done).and(high_done)
}

/// Each range of `ranges` updates its rows (`rows` holds rows ranges[0].first.. of W[0]),
/// one range per task.
fn update_by_ranges<T: Sync, P: RangeRows>(
    ranges: &[InputRange<T>],
    rows: P,
    update_range: &(impl Fn(&InputRange<T>, P) -> Result<()> + Sync),
) -> Result<()> {
    match ranges {
        [] => Ok(()),
        [range] => update_range(range, rows),
        _ => {
            let (low, high) = ranges.split_at(ranges.len() / 2);
            let (low_rows, high_rows) = rows.split_at_row(high[0].first - low[0].first)?;
            let (low_done, high_done) = rayon::join(
                || update_by_ranges(low, low_rows, update_range),
                || update_by_ranges(high, high_rows, update_range),
            );
            low_done.and(high_done)
        }
    }
}
