//! Training over NumPy arrays: `sgd_step`, `train_step` and `train_epoch_stats`, which update
//! the caller's weights and biases (and an optimizer's state) in place.

use crate::activation::activation_of;
use crate::arrays::{precision_of, readonly, shape2, slice};
use crate::errors::{core, no_panic};
use crate::float::{by_precision, Float};
use crate::interrupt::{run_interruptibly, stop_requested};
use crate::optimizer::{optimizer_of, BorrowedState};
use crate::output::{output_of, sample_weight_of, weights_slice};
use crate::params::{params_readwrite, rows_matching, slices_mut};
use crate::sparse::{precision_of_inputs, PySparseRows};
use fastmlp_core::optimizer::Optimizer;
use fastmlp_core::{
    train, Activation, Epoch, InputPath, Inputs, Model, Objective, Output, SparseParams,
};
use pyo3::exceptions::{PyTypeError, PyValueError};
use pyo3::prelude::*;

/// The optimizer arguments as Python passed them, checked but not yet borrowed.
pub struct OptimizerArgs<'a, 'py> {
    optimizer: Optimizer,
    step: Option<&'a Bound<'py, PyAny>>,
    slots: Option<&'a Bound<'py, PyAny>>,
    alpha: f64,
}

impl<'a, 'py> OptimizerArgs<'a, 'py> {
    fn new(
        optimizer: Option<&'a Bound<'py, PyAny>>,
        step: Option<&'a Bound<'py, PyAny>>,
        slots: Option<&'a Bound<'py, PyAny>>,
        alpha: f64,
    ) -> PyResult<Self> {
        if !(alpha.is_finite() && alpha >= 0.0) {
            return Err(PyValueError::new_err(format!(
                "alpha: expected a finite number >= 0, got {alpha}"
            )));
        }
        Ok(OptimizerArgs {
            optimizer: optimizer_of(optimizer)?,
            step,
            slots,
            alpha,
        })
    }

    fn borrow<T: Float>(&self) -> PyResult<BorrowedState<'py, T>> {
        BorrowedState::borrow(self.optimizer, self.alpha, self.step, self.slots)
    }
}

/// The arrays of a `train_step` call, as Python passed them.
struct StepArrays<'a, 'py> {
    weights: &'a Bound<'py, PyAny>,
    biases: &'a Bound<'py, PyAny>,
    x: &'a Bound<'py, PyAny>,
    y: &'a Bound<'py, PyAny>,
    sample_weight: Option<&'a Bound<'py, PyAny>>,
}

fn train_step_typed<T: Float>(
    py: Python<'_>,
    arrays: &StepArrays<'_, '_>,
    (lr, activation, output): (f64, Activation, Output),
    optimizer: &OptimizerArgs<'_, '_>,
) -> PyResult<f64> {
    let x_array = readonly::<T>("x", arrays.x, Some(2), T::NAME)?;
    let y_array = readonly::<T>("y_onehot", arrays.y, Some(2), T::NAME)?;
    let (arch, mut w, mut b) = params_readwrite::<T>(arrays.weights, arrays.biases)?;
    let rows = rows_matching("x", &x_array, &arch)?;
    let (y_rows, classes) = shape2(&y_array);
    if (y_rows, classes) != (rows, arch.classes()) {
        return Err(PyValueError::new_err(format!(
            "y_onehot: expected shape ({rows}, {}) (rows of x, classes), got ({y_rows}, {classes})",
            arch.classes()
        )));
    }
    let row_weights = sample_weight_of::<T>(arrays.sample_weight, rows)?;
    let mut state = optimizer.borrow::<T>()?;
    let (xs, ys) = (slice(&x_array)?, slice(&y_array)?);
    let objective = Objective {
        output,
        sample_weight: weights_slice(&row_weights)?,
        targets: None,
    };
    let (mut ws, mut bs) = (slices_mut(&mut w)?, slices_mut(&mut b)?);
    let mut descent = state.descent(&arch)?;
    core(py.detach(|| {
        // Empty: train_step sizes it, with a MemoryError rather than an abort if it cannot.
        let mut workspace = train::Workspace::new(&arch, 0);
        let mut model = Model {
            arch: &arch,
            activation,
            weights: &mut ws,
            biases: &mut bs,
        };
        let descent = descent.as_mut();
        train::train_step_objective(&mut model, xs, ys, lr, &objective, descent, &mut workspace)
    }))
}

/// One SGD step on (x, y_onehot); updates weights and biases in place; the loss before it.
#[pyfunction]
#[pyo3(signature = (weights, biases, x, y_onehot, lr, activation, output = "softmax", sample_weight = None))]
#[expect(
    clippy::too_many_arguments,
    reason = "the Python signature of the engine contract's sgd_step"
)]
pub fn sgd_step(
    py: Python<'_>,
    weights: &Bound<'_, PyAny>,
    biases: &Bound<'_, PyAny>,
    x: &Bound<'_, PyAny>,
    y_onehot: &Bound<'_, PyAny>,
    lr: f64,
    activation: &str,
    output: &str,
    sample_weight: Option<&Bound<'_, PyAny>>,
) -> PyResult<f64> {
    train_step(
        py,
        weights,
        biases,
        x,
        y_onehot,
        lr,
        activation,
        None,
        None,
        None,
        0.0,
        output,
        sample_weight,
    )
}

/// One step of the optimizer (plain SGD by default) on (x, y_onehot); updates the
/// parameters and the state in place; the loss before it, with the L2 term.
/// `optimizer`, `step`, `slots`, `alpha`: the optimizer's settings and state (optimizer.rs);
/// `output` the output layer and its loss, `sample_weight` (rows,) the rows' weights or None.
#[pyfunction]
#[pyo3(signature = (weights, biases, x, y_onehot, lr, activation, optimizer = None, step = None, slots = None, alpha = 0.0, output = "softmax", sample_weight = None))]
#[expect(
    clippy::too_many_arguments,
    reason = "the Python signature of the engine contract's train_step"
)]
pub fn train_step(
    py: Python<'_>,
    weights: &Bound<'_, PyAny>,
    biases: &Bound<'_, PyAny>,
    x: &Bound<'_, PyAny>,
    y_onehot: &Bound<'_, PyAny>,
    lr: f64,
    activation: &str,
    optimizer: Option<&Bound<'_, PyAny>>,
    step: Option<&Bound<'_, PyAny>>,
    slots: Option<&Bound<'_, PyAny>>,
    alpha: f64,
    output: &str,
    sample_weight: Option<&Bound<'_, PyAny>>,
) -> PyResult<f64> {
    no_panic(|| {
        let activation = activation_of(activation)?;
        let output = output_of(output)?;
        let optimizer = OptimizerArgs::new(optimizer, step, slots, alpha)?;
        let arrays = StepArrays {
            weights,
            biases,
            x,
            y: y_onehot,
            sample_weight,
        };
        by_precision!(
            precision_of("x", x)?,
            train_step_typed(py, &arrays, (lr, activation, output), &optimizer)
        )
    })
}

/// The arrays of a `train_epoch_stats` call, as Python passed them.
struct EpochArrays<'a, 'py> {
    weights: &'a Bound<'py, PyAny>,
    biases: &'a Bound<'py, PyAny>,
    x: &'a Bound<'py, PyAny>,
    /// Class indices (softmax) or the target rows (the other outputs).
    labels: &'a Bound<'py, PyAny>,
    order: &'a Bound<'py, PyAny>,
    sample_weight: Option<&'a Bound<'py, PyAny>>,
}

/// The other arguments of a `train_epoch_stats` call, checked.
struct EpochSettings {
    lr: f64,
    batch_size: usize,
    activation: Activation,
    output: Output,
    input_path: InputPath,
}

fn train_epoch_typed<T: Float>(
    py: Python<'_>,
    arrays: &EpochArrays<'_, '_>,
    settings: &EpochSettings,
    optimizer: &OptimizerArgs<'_, '_>,
) -> PyResult<(f64, usize)> {
    // x is a dense array, or rows compressed beforehand (SparseRows).
    let compressed = arrays.x.cast::<PySparseRows>().ok();
    let x_array = match compressed {
        Some(_) => None,
        None => Some(readonly::<T>("x", arrays.x, Some(2), T::NAME)?),
    };
    // Softmax trains on class indices; the other outputs on target rows (n, outputs).
    let (labels, targets) = match settings.output {
        Output::Softmax => (
            Some(readonly::<i64>("labels", arrays.labels, Some(1), "int64")?),
            None,
        ),
        _ => (
            None,
            Some(readonly::<T>("labels", arrays.labels, Some(2), T::NAME)?),
        ),
    };
    let order = readonly::<i64>("order", arrays.order, Some(1), "int64")?;
    let (arch, mut w, mut b) = params_readwrite::<T>(arrays.weights, arrays.biases)?;
    let inputs = match (&x_array, compressed) {
        (Some(array), _) => {
            rows_matching("x", array, &arch)?;
            Inputs::Dense(slice(array)?)
        }
        (None, Some(rows)) => Inputs::Sparse(T::rows_of(&rows.get().rows).ok_or_else(|| {
            PyTypeError::new_err(format!(
                "x: expected SparseRows of dtype {} (the weights'), got {}",
                T::NAME,
                rows.get().dtype_name()
            ))
        })?),
        (None, None) => {
            return Err(PyTypeError::new_err(
                "x: expected a numpy.ndarray or fastmlp.kernels.SparseRows",
            ))
        }
    };
    let rows = match inputs {
        Inputs::Dense(x) => x.len() / arch.inputs().max(1),
        Inputs::Sparse(matrix) => matrix.rows(),
    };
    let row_weights = sample_weight_of::<T>(arrays.sample_weight, rows)?;
    let objective = Objective {
        output: settings.output,
        sample_weight: weights_slice(&row_weights)?,
        targets: targets.as_ref().map(slice).transpose()?,
    };
    let mut state = optimizer.borrow::<T>()?;
    let epoch = Epoch {
        inputs,
        labels: labels.as_ref().map(slice).transpose()?.unwrap_or(&[]),
        order: slice(&order)?,
        lr: settings.lr,
        batch_size: settings.batch_size,
        input_path: settings.input_path,
        sparse: SparseParams::default(),
    };
    let (mut ws, mut bs) = (slices_mut(&mut w)?, slices_mut(&mut b)?);
    let mut descent = state.descent(&arch)?;
    let outcome = run_interruptibly(py, |stop| {
        // Empty: train_epoch sizes it, with a MemoryError rather than an abort if it cannot.
        let mut workspace = train::Workspace::new(&arch, 0);
        let mut model = Model {
            arch: &arch,
            activation: settings.activation,
            weights: &mut ws,
            biases: &mut bs,
        };
        let mut after_batch = |batch: usize| stop_requested(stop, batch);
        let descent = descent.as_mut();
        train::train_epoch_objective(
            &mut model,
            &epoch,
            &objective,
            descent,
            &mut workspace,
            &mut after_batch,
        )
    })?;
    Ok((outcome.mean_loss, outcome.correct))
}

/// One epoch of SGD over x[order] in batches; updates in place.
/// Returns (mean per-sample loss before each step, number of rows predicted right).
/// `input_path`: "auto" (by the input's group fill), "dense" or "sparse" first layer.
/// `optimizer`, `step`, `slots`, `alpha`: the optimizer's settings and state (optimizer.rs).
/// `output`: the output layer and its loss; `labels` are then the target rows (n, outputs) in
/// x's dtype, for any output but softmax. `sample_weight`: (n,) row weights, or None.
#[pyfunction]
#[pyo3(signature = (weights, biases, x, labels, order, lr, batch_size, activation, input_path = "auto", optimizer = None, step = None, slots = None, alpha = 0.0, output = "softmax", sample_weight = None))]
#[expect(
    clippy::too_many_arguments,
    reason = "the Python signature of the engine contract's train_epoch_stats"
)]
pub fn train_epoch_stats(
    py: Python<'_>,
    weights: &Bound<'_, PyAny>,
    biases: &Bound<'_, PyAny>,
    x: &Bound<'_, PyAny>,
    labels: &Bound<'_, PyAny>,
    order: &Bound<'_, PyAny>,
    lr: f64,
    batch_size: i64,
    activation: &str,
    input_path: &str,
    optimizer: Option<&Bound<'_, PyAny>>,
    step: Option<&Bound<'_, PyAny>>,
    slots: Option<&Bound<'_, PyAny>>,
    alpha: f64,
    output: &str,
    sample_weight: Option<&Bound<'_, PyAny>>,
) -> PyResult<(f64, usize)> {
    no_panic(|| {
        let optimizer = OptimizerArgs::new(optimizer, step, slots, alpha)?;
        let activation = activation_of(activation)?;
        let output = output_of(output)?;
        let input_path = core(input_path.parse::<InputPath>())?;
        let batch_size = usize::try_from(batch_size)
            .ok()
            .filter(|&size| size > 0)
            .ok_or_else(|| {
                PyValueError::new_err(format!(
                    "batch_size: expected a positive integer, got {batch_size}"
                ))
            })?;
        let settings = EpochSettings {
            lr,
            batch_size,
            activation,
            output,
            input_path,
        };
        let arrays = EpochArrays {
            weights,
            biases,
            x,
            labels,
            order,
            sample_weight,
        };
        by_precision!(
            precision_of_inputs(x)?,
            train_epoch_typed(py, &arrays, &settings, &optimizer)
        )
    })
}
