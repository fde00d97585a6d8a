//! Optimizer rules in scikit-learn's conventions (`sklearn/neural_network/_stochastic_optimizers.py`),
//! applied to a range of a parameter array in one pass, with no allocation.
//!
//! `g` is a parameter's gradient of the batch's mean loss, `n` the batch's rows:
//!
//!   L2 (weights only)  g' = g + (alpha / n) * W            biases: g' = g
//!   plain SGD          W -= lr * g'
//!   momentum mu        v = mu * v - lr * g';  W += v
//!   Nesterov           v = mu * v - lr * g';  W += mu * v - lr * g'    (the new v)
//!   Adam               t += 1   (once per step, for the whole network)
//!                      m = beta1 * m + (1 - beta1) * g'
//!                      v = beta2 * v + (1 - beta2) * g' * g'
//!                      W += (-lr_t * m) / (sqrt(v) + epsilon),
//!                      lr_t = lr * sqrt(1 - beta2^t) / (1 - beta1^t)   (in f64, then rounded to T)
//!
//! The same operations in the same order as the NumPy reference (`fastmlp.optimizers.rules`),
//! never fused into FMAs: fed the same gradients, the two agree bit for bit. The loss gains
//! `alpha / (2 n) * sum(W^2)` over every weight matrix, before the step ([`sum_of_squares`]).
//!
//! The caller owns the state (one array per parameter and slot: SGD's velocity, Adam's m and
//! v; and the step count t), as NumPy arrays updated in place ([`NetworkState`] views them).
//! A step takes the rule's constants once ([`NetworkState::begin_step`] or [`StepRule::new`]),
//! then applies [`StepRule::update_weights`] / [`StepRule::update_biases`] to any split of the
//! parameters into ranges ([`Rows`] cuts a weight matrix and its slots into row ranges for the
//! pool). With momentum, Adam or L2 a weight whose gradient is zero still moves
//! ([`StepRule::moves_untouched_rows`]): a sparse first layer must then pass every row of
//! W[0], the rows its batch did not touch as [`Gradient::Zero`].

mod descent;
mod rule;
mod settings;
mod state;

pub use descent::Descent;
pub use rule::{sum_of_squares, Gradient, StepRule};
pub use settings::Optimizer;
pub use state::{LayerSlots, NetworkState, RowPieces, RowPiecesIter, Rows, SlotArrays, Slots};
