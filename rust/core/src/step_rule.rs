//! Phase 2 of a step with an optimizer's rule (momentum, Nesterov, Adam, or L2): each piece
//! of a weight matrix gets its gradient in the workspace, then the rule updates the piece
//! and its slots in one pass (`optimizer::StepRule`). Plain SGD without L2 never comes here:
//! its update stays fused into the products (`step.rs`).
//!
//!   dense layer l   rows first..last:  g = a[l][:, first..last].T @ delta[l+1]   (the pieces
//!                   plain SGD adds to W directly, written to a buffer), then W, v (or m, v)
//!                   from g, while the piece is still in cache
//!   sparse W[0]     range t:  g = x[:, range t].T @ delta[1] over a zeroed buffer, then the
//!                   rule over every row of the range: with momentum, Adam or L2 the rows
//!                   the batch did not touch move too
//!   biases          g = the blocks' column sums of delta[l+1]
//!
//! The pieces are the plain path's (fixed by the shapes and thread count, not by
//! scheduling), so results are the same from run to run.

use crate::architecture::Architecture;
use crate::error::Result;
use crate::optimizer::{Gradient, LayerSlots, Rows, Slots, StepRule};
use crate::real::Real;
use crate::sparse::{update_first_layer, InputRange, MatrixRows, RangeRows};
use crate::workspace::Gradients;
use rayon::prelude::*;

/// Update every parameter of the network by `rule` (see the module's comment).
///
/// `weight_rows(l, buffer, first, last)` writes rows first..last of W[l]'s gradient into
/// `buffer` (dense layers); `bias_gradient(l, buffer)` writes b[l]'s gradient; `sparse` holds
/// the sparse first layer's ranges and `delta_row(r)`, row r of delta[1] (None on the dense
/// paths); `rows_per_piece(l)` is how many rows of W[l] one task updates.
#[allow(clippy::too_many_arguments)]
pub(crate) fn update_by_rule<'d, T, W, WeightRows, BiasOf, DeltaRow>(
    arch: &Architecture,
    weights: &mut [W],
    biases: &mut [W],
    rule: &StepRule<T>,
    slots: &mut [LayerSlots<'_, T>],
    gradients: &mut Gradients<T>,
    weight_rows: &WeightRows,
    mut bias_gradient: BiasOf,
    sparse: Option<(&[InputRange<T>], &DeltaRow)>,
    rows_per_piece: &(impl Fn(usize) -> usize + Sync),
) -> Result<()>
where
    T: Real + 'd,
    W: AsRef<[T]> + AsMut<[T]> + Send + Sync,
    WeightRows: Fn(usize, &mut [T], usize, usize) -> Result<()> + Sync,
    BiasOf: FnMut(usize, &mut [T]),
    DeltaRow: Fn(usize) -> &'d [T] + Sync,
{
    let dense = |l: usize, weight: &mut W, slots: &mut LayerSlots<'_, T>, g: &mut Vec<T>| {
        let size = arch.fan_in(l) * arch.fan_out(l);
        update_dense_layer(
            rule,
            l,
            &mut weight.as_mut()[..size],
            slots.weights.reborrow(),
            &mut g[..size],
            arch.fan_out(l),
            rows_per_piece(l),
            weight_rows,
        )
    };
    let gradient_buffers = &mut gradients.weights[..];
    match sparse {
        None => weights
            .par_iter_mut()
            .zip(slots.par_iter_mut())
            .zip(gradient_buffers.par_iter_mut())
            .enumerate()
            .try_for_each(|(l, ((weight, slots), g))| dense(l, weight, slots, g))?,
        Some((ranges, delta_row)) => {
            let (first_weight, deeper_weights) = weights.split_at_mut(1);
            let (first_slots, deeper_slots) = slots.split_at_mut(1);
            let (first_gradient, deeper_gradients) = gradient_buffers.split_at_mut(1);
            let fan_out = arch.fan_out(0);
            let size = arch.inputs() * fan_out;
            let rows = RuleRows {
                params: Rows::new(
                    &mut first_weight[0].as_mut()[..size],
                    first_slots[0].weights.reborrow(),
                    fan_out,
                )?,
                gradient: MatrixRows {
                    values: &mut first_gradient[0][..size],
                    row_len: fan_out,
                },
            };
            let update_range = |range: &InputRange<T>, rows: RuleRows<'_, T>| {
                update_range_by_rule(rule, range, rows, delta_row, fan_out)
            };
            let update_deeper = || {
                deeper_weights
                    .par_iter_mut()
                    .zip(deeper_slots.par_iter_mut())
                    .zip(deeper_gradients.par_iter_mut())
                    .enumerate()
                    .try_for_each(|(i, ((weight, slots), g))| dense(i + 1, weight, slots, g))
            };
            update_first_layer(ranges, rows, &update_range, update_deeper)?;
        }
    }
    for (l, (bias, slots)) in biases.iter_mut().zip(slots.iter_mut()).enumerate() {
        let fan_out = arch.fan_out(l);
        let g = &mut gradients.biases[l][..fan_out];
        bias_gradient(l, g);
        rule.update_biases(
            &mut bias.as_mut()[..fan_out],
            Gradient::Values(g),
            slots.biases.reborrow(),
        )?;
    }
    Ok(())
}

/// A dense W[l] by pieces of `rows_per_piece` rows, as the plain path splits it: each
/// piece's gradient into its part of `gradient`, then the rule on the piece.
#[allow(clippy::too_many_arguments)]
fn update_dense_layer<T: Real>(
    rule: &StepRule<T>,
    l: usize,
    weight: &mut [T],
    slots: Slots<'_, T>,
    gradient: &mut [T],
    fan_out: usize,
    rows_per_piece: usize,
    weight_rows: &(impl Fn(usize, &mut [T], usize, usize) -> Result<()> + Sync),
) -> Result<()> {
    let rows_per_piece = rows_per_piece.max(1);
    Rows::new(weight, slots, fan_out)?
        .into_par_pieces(rows_per_piece)
        .zip(gradient.par_chunks_mut(rows_per_piece * fan_out))
        .try_for_each(|(mut piece, g)| {
            let first = piece.first();
            weight_rows(l, g, first, first + piece.rows())?;
            let (w, slots) = piece.parts();
            rule.update_weights(w, Gradient::Values(g), slots)
        })
}

/// Rows of the sparse W[0] with their slots and their part of the gradient buffer.
struct RuleRows<'a, T> {
    params: Rows<'a, T>,
    gradient: MatrixRows<'a, T>,
}

impl<T: Real> RangeRows for RuleRows<'_, T> {
    fn split_at_row(self, row: usize) -> Result<(Self, Self)> {
        let (low_params, high_params) = self.params.split_at_row(row)?;
        let (low_gradient, high_gradient) = self.gradient.split_at_row(row)?;
        Ok((
            RuleRows {
                params: low_params,
                gradient: low_gradient,
            },
            RuleRows {
                params: high_params,
                gradient: high_gradient,
            },
        ))
    }
}

/// One range of the sparse W[0]: its gradient over a zeroed buffer, then the rule on every
/// row of it (and on any rows after the last range, as untouched).
fn update_range_by_rule<'d, T: Real + 'd>(
    rule: &StepRule<T>,
    range: &InputRange<T>,
    rows: RuleRows<'_, T>,
    delta_row: &(impl Fn(usize) -> &'d [T] + Sync),
    fan_out: usize,
) -> Result<()> {
    let (mut own, mut rest) = rows.split_at_row(range.rows())?;
    let g = &mut *own.gradient.values;
    g.fill(T::zero());
    range.add_product(g, delta_row, fan_out, T::one());
    let (w, slots) = own.params.parts();
    rule.update_weights(w, Gradient::Values(g), slots)?;
    if rest.params.rows() > 0 {
        let (w, slots) = rest.params.parts();
        rule.update_weights(w, Gradient::Zero, slots)?;
    }
    Ok(())
}
