//! fastmlp-core: a multilayer perceptron trained by hand-written backprop and mini-batch SGD.
//!
//! Rows are samples. Weights `W[l]` are (fan_in, fan_out), biases `b[l]` (fan_out,), all
//! row-major slices that the caller owns and the training functions update in place. The
//! hidden layers share one activation; the output layer and its loss are softmax +
//! cross-entropy by default, or logistic, identity or exp (`output.rs`), with optional row weights.
//! No Python here: `fastmlp-python` binds this crate to NumPy.

pub mod activation;
pub mod architecture;
mod batch;
pub mod buffer;
pub mod error;
mod first_layer;
pub mod matmul;
pub mod network;
pub mod optimizer;
pub mod output;
pub mod parallel;
pub mod real;
pub mod simd;
pub mod softmax;
pub mod sparse;
mod step;
mod step_rule;
pub mod train;
mod update;
mod workspace;

pub use activation::Activation;
pub use architecture::Architecture;
pub use error::{Error, Result};
pub use output::Output;
pub use real::Real;
pub use sparse::{InputPath, SparseParams, SparseRows};
pub use train::{
    sgd_step, train_epoch, train_epoch_objective, train_step, train_step_objective, Epoch,
    EpochOutcome, Inputs, Model, Objective, Workspace,
};
