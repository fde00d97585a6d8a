//! An optimizer's state and L2 penalty for one training call (an epoch or a step): what the
//! engine's update phase needs from the caller besides the gradients.

use super::rule::{sum_of_squares, StepRule};
use super::state::{LayerSlots, NetworkState};
use crate::error::{Error, Result};
use crate::real::Real;

/// The caller's optimizer state (step count and slots) with the L2 penalty `alpha`, for the
/// steps of one call. Without one, a step is plain SGD and counts nothing.
#[derive(Debug)]
pub struct Descent<'a, T> {
    state: NetworkState<'a, T>,
    alpha: f64,
    /// The call's learning rate as the caller gave it (Adam's lr_t is computed from it in f64).
    lr: f64,
}

/// What one step does with its gradients, decided once its loss was found finite.
#[derive(Debug, Clone, Copy)]
pub(crate) struct StepPlan<T> {
    /// `None`: plain SGD without L2, fused into the products as before.
    pub(crate) rule: Option<StepRule<T>>,
    /// `alpha / (2 n) * sum(W^2)` over every weight matrix, taken before the step.
    pub(crate) l2_loss: f64,
}

impl<'a, T: Real> Descent<'a, T> {
    /// `state` for the network, `alpha` >= 0 the L2 penalty on the weights.
    pub fn new(state: NetworkState<'a, T>, alpha: f64) -> Result<Self> {
        if !(alpha.is_finite() && alpha >= 0.0) {
            return Err(Error::value(
                "alpha",
                format!("expected a finite number >= 0, got {alpha}"),
            ));
        }
        Ok(Descent {
            state,
            alpha,
            lr: f64::NAN,
        })
    }

    /// The learning rate of the call's steps (set by the training function).
    pub(crate) fn set_lr(&mut self, lr: f64) {
        self.lr = lr;
    }

    /// Whether its steps go through a rule (momentum, Adam or L2) rather than plain SGD fused
    /// into the products: then the gradients are written out.
    pub(crate) fn has_rule(&self) -> bool {
        !self.state.optimizer().is_plain() || self.alpha > 0.0
    }

    /// Steps taken so far.
    pub fn step(&self) -> i64 {
        self.state.step()
    }

    /// Count one more step on a batch of `batch_rows` rows (or of row weights summing to it:
    /// the L2 term's n) and say how to take it. Call once the step is certain to happen,
    /// before any weight changes (the L2 term reads `weights` as they are).
    pub(crate) fn begin_step<W: AsRef<[T]>>(
        &mut self,
        batch_rows: f64,
        weights: &[W],
    ) -> Result<StepPlan<T>> {
        let rule = self.state.begin_step(self.lr, self.alpha, batch_rows)?;
        let l2_loss = if self.alpha > 0.0 {
            let squares: f64 = weights.iter().map(|w| sum_of_squares(w.as_ref())).sum();
            self.alpha / (2.0 * batch_rows) * squares
        } else {
            0.0
        };
        let fused = rule.slots() == 0 && !rule.moves_untouched_rows();
        Ok(StepPlan {
            rule: (!fused).then_some(rule),
            l2_loss,
        })
    }

    /// Each layer's slots, in layer order.
    pub(crate) fn layers_mut(&mut self) -> &mut [LayerSlots<'a, T>] {
        self.state.layers_mut()
    }
}
