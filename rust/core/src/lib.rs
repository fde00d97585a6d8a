//! fastmlp-core: a multilayer perceptron trained by hand-written backprop and mini-batch SGD.
//!
//! Rows are samples. Weights `W[l]` are (fan_in, fan_out), biases `b[l]` (fan_out,), all
//! row-major slices that the caller owns and the training functions update in place. The
//! hidden layers share one activation; the output layer is softmax with cross-entropy loss.
//! No Python here: `fastmlp-python` binds this crate to NumPy.

pub mod activation;
pub mod architecture;
pub mod buffer;
pub mod error;
pub mod matmul;
pub mod network;
pub mod optimizer;
pub mod parallel;
pub mod real;
pub mod simd;
pub mod softmax;
pub mod sparse;
mod step;
mod step_rule;
pub mod train;
mod workspace;

pub use activation::Activation;
pub use architecture::Architecture;
pub use error::{Error, Result};
pub use real::Real;
pub use sparse::{InputPath, SparseRows};
pub use train::{
    sgd_step, train_epoch, train_epoch_with, train_step, Epoch, EpochOutcome, Inputs, Workspace,
};
