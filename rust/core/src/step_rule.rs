//! Phase 2 of a step with an optimizer's rule (momentum, Nesterov, Adam, or L2): each piece
//! of a weight matrix gets its gradient in the workspace, then the rule updates the piece
//! and its slots in one pass (`optimizer::StepRule`). Plain SGD without L2 never comes here:
//! its update stays fused into the products (`update.rs`).
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
//! scheduling), so results are the same from run to run. Which pieces W[0] has, dense or by
//! ranges of inputs, is `first_layer::update_weights_by_rule`'s.

use crate::error::Result;
use crate::first_layer;
use crate::matmul::Update;
use crate::optimizer::{Gradient, LayerSlots, Rows, Slots, StepRule};
use crate::real::Real;
use crate::sparse::{InputRange, InputRanges, MatrixRows, RangeRows};
use crate::step::Step;
use crate::update::{bias_gradient, rows_per_piece, weight_rows_product};
use crate::workspace::{Gradients, RowBlock};
use rayon::prelude::*;

/// What phase 2 reads when a rule updates the parameters: the step, its rule, the blocks'
/// deltas and activations.
#[derive(Debug, Clone, Copy)]
pub(crate) struct RulePhase<'s, 'a, T> {
    pub(crate) step: &'s Step<'a, T>,
    pub(crate) rule: &'s StepRule<T>,
    pub(crate) blocks: &'s [RowBlock<T>],
}

/// Update every parameter of the network by the phase's rule, with each layer's `slots` and
/// the workspace's `gradients` as buffers (see the module's comment).
pub(crate) fn update_by_rule<T: Real, W: AsRef<[T]> + AsMut<[T]> + Send + Sync>(
    phase: &RulePhase<'_, '_, T>,
    (weights, biases): (&mut [W], &mut [W]),
    slots: &mut [LayerSlots<'_, T>],
    gradients: &mut Gradients<T>,
    ranges: &InputRanges<T>,
) -> Result<()> {
    first_layer::update_weights_by_rule(phase, weights, slots, &mut gradients.weights, ranges)?;
    for (l, (bias, slots)) in biases.iter_mut().zip(slots.iter_mut()).enumerate() {
        let fan_out = phase.step.arch.fan_out(l);
        let g = &mut gradients.biases[l][..fan_out];
        bias_gradient(phase.blocks, l, g);
        phase.rule.update_biases(
            &mut bias.as_mut()[..fan_out],
            Gradient::Values(g),
            slots.biases.reborrow(),
        )?;
    }
    Ok(())
}

/// A dense W[l] by the plain path's pieces: each piece's gradient into its part of
/// `gradient`, then the rule on the piece.
pub(crate) fn update_dense_layer<T: Real>(
    phase: &RulePhase<'_, '_, T>,
    l: usize,
    weight: &mut [T],
    slots: Slots<'_, T>,
    gradient: &mut [T],
) -> Result<()> {
    let (fan_out, rows_per_piece) = (phase.step.arch.fan_out(l), rows_per_piece(phase.step, l));
    Rows::new(weight, slots, fan_out)?
        .into_par_pieces(rows_per_piece)
        .zip(gradient.par_chunks_mut(rows_per_piece * fan_out))
        .try_for_each(|(mut piece, g)| {
            let (step, blocks) = (phase.step, phase.blocks);
            match step.gradients_in_blocks {
                true => sum_block_gradients(blocks, l, piece.first() * fan_out, g),
                false => weight_rows_product(step, l, g, piece.first(), blocks, Update::Overwrite)?,
            }
            let (w, slots) = piece.parts();
            phase.rule.update_weights(w, Gradient::Values(g), slots)
        })
}

/// `g` = the sum over the blocks, in block order, of their gradients of W[l] from element
/// `first` on (phase 1 computed them: `step::gradients_in_blocks`).
fn sum_block_gradients<T: Real>(blocks: &[RowBlock<T>], l: usize, first: usize, g: &mut [T]) {
    let mut with_rows = blocks.iter().filter(|b| b.rows > 0);
    match with_rows.next() {
        Some(block) => g.copy_from_slice(&block.weight_grads[l][first..first + g.len()]),
        None => g.fill(T::zero()),
    }
    for block in with_rows {
        let part = &block.weight_grads[l][first..first + g.len()];
        g.iter_mut().zip(part).for_each(|(g, &p)| *g += p);
    }
}

/// Rows of the sparse W[0] with their slots and their part of the gradient buffer.
pub(crate) struct RuleRows<'a, T> {
    pub(crate) params: Rows<'a, T>,
    pub(crate) gradient: MatrixRows<'a, T>,
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
/// row of it (and on any rows after the last range, as untouched). `delta_row(r)` is row r
/// of the batch's delta[1].
pub(crate) fn update_range_by_rule<'d, T: Real + 'd>(
    rule: &StepRule<T>,
    range: &InputRange<T>,
    rows: RuleRows<'_, T>,
    delta_row: &(impl Fn(usize) -> &'d [T] + Sync),
) -> Result<()> {
    let fan_out = rows.gradient.row_len;
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
