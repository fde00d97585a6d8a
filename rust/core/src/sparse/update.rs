//! Phase 2 of a step on the sparse path: the update of W[0] by ranges of inputs,
//!
//!   W[0][range t, :] += -lr * x[:, range t].T @ delta[1]
//!
//! each range on the thread that computed its share of the forward product in phase 0, while
//! the layers above are updated alongside.

use super::ranges::InputRange;
use crate::error::Result;
use crate::real::Real;

/// W[0] by ranges (`update_by_ranges`) and, alongside, `update_deeper` for the layers above.
/// `weight` holds rows `ranges[0].first..` of W[0]; `delta_row(r)` is row r of the batch's
/// delta[1] (fan_out values).
///
/// Each range of W[0] must be updated on the thread that read it in phase 0, where
/// `par_iter_mut` gave this thread the first half of the ranges and a thief the rest.
/// rayon::join runs its first closure here and leaves the second to a thief, who takes the
/// oldest job: so the second half of the ranges is offered first, then the deeper layers,
/// which this thread takes back after its own ranges.
pub(crate) fn update_first_layer<'d, T: Real + 'd>(
    ranges: &[InputRange<T>],
    weight: &mut [T],
    delta_row: &(impl Fn(usize) -> &'d [T] + Sync),
    fan_out: usize,
    minus_lr: T,
    update_deeper: impl FnOnce() -> Result<()> + Send,
) -> Result<()> {
    let (low, high) = ranges.split_at(ranges.len() / 2);
    let (low_rows, high_rows) = match high.first() {
        Some(range) => weight.split_at_mut((range.first - ranges[0].first) * fan_out),
        None => (weight, &mut [][..]),
    };
    let (((), deeper_done), ()) = rayon::join(
        || {
            rayon::join(
                || update_by_ranges(low, low_rows, delta_row, fan_out, minus_lr),
                update_deeper,
            )
        },
        || update_by_ranges(high, high_rows, delta_row, fan_out, minus_lr),
    );
    deeper_done
}

/// Each range of `ranges` adds its groups' update to its rows of W[0] (`weight` holds rows
/// ranges[0].first.. of W[0]), one range per task.
fn update_by_ranges<'d, T: Real + 'd>(
    ranges: &[InputRange<T>],
    weight: &mut [T],
    delta_row: &(impl Fn(usize) -> &'d [T] + Sync),
    fan_out: usize,
    minus_lr: T,
) {
    match ranges {
        [] => {}
        [range] => {
            let rows_of_range = &mut weight[..(range.last - range.first) * fan_out];
            range.groups.update_range(
                rows_of_range,
                range.first,
                range.last,
                delta_row,
                fan_out,
                minus_lr,
            )
        }
        _ => {
            let (low, high) = ranges.split_at(ranges.len() / 2);
            let (low_rows, high_rows) =
                weight.split_at_mut((high[0].first - low[0].first) * fan_out);
            rayon::join(
                || update_by_ranges(low, low_rows, delta_row, fan_out, minus_lr),
                || update_by_ranges(high, high_rows, delta_row, fan_out, minus_lr),
            );
        }
    }
}
