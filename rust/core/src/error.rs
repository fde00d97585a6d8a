//! The one error type of the core. The binding maps each variant to a Python exception in one
//! place (`rust/python/src/errors.rs`): `Shape`/`Value` -> `ValueError`, `Diverged` ->
//! `fastmlp.TrainingDivergedError` (a `FloatingPointError`), `OutOfMemory` -> `MemoryError`,
//! `Interrupted` -> the `KeyboardInterrupt` that asked training to stop.

use thiserror::Error;

#[derive(Debug, Clone, PartialEq, Error)]
pub enum Error {
    /// An argument has the wrong shape or length.
    #[error("{arg}: expected {expected}, got {actual}")]
    Shape {
        arg: String,
        expected: String,
        actual: String,
    },
    /// An argument has an invalid value (out-of-range label, non-positive batch size, ...).
    #[error("{arg}: {message}")]
    Value { arg: String, message: String },
    /// The loss became NaN or infinite; the weights are those before that batch's step.
    #[error(
        "training diverged: the loss of batch {batch} (0-based, within this epoch) is {loss}; \
         the weights are those before that batch; try a smaller learning rate"
    )]
    Diverged { batch: usize, loss: f64 },
    /// A buffer sized by the arguments' shapes could not be allocated (`bytes` may exceed
    /// the address space).
    #[error("cannot allocate {bytes} bytes for the {what}")]
    OutOfMemory { what: String, bytes: u128 },
    /// The caller asked to stop (Ctrl-C) after `batches` completed steps.
    #[error("interrupted after {batches} batches")]
    Interrupted { batches: usize },
}

pub type Result<T> = std::result::Result<T, Error>;

impl Error {
    pub fn shape(
        arg: impl Into<String>,
        expected: impl Into<String>,
        actual: impl Into<String>,
    ) -> Self {
        Error::Shape {
            arg: arg.into(),
            expected: expected.into(),
            actual: actual.into(),
        }
    }

    pub fn value(arg: impl Into<String>, message: impl Into<String>) -> Self {
        Error::Value {
            arg: arg.into(),
            message: message.into(),
        }
    }
}
