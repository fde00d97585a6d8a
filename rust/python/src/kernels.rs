//! The engine contract over NumPy arrays: each function checks its arguments, borrows the
//! arrays' memory without copying, releases the GIL while the core computes, and returns
//! new arrays (or updates the caller's weights and biases in place).

use crate::arrays::{
    items, precision_of, readonly, readwrite, shape2, shape_text, slice, Precision,
};
use crate::errors::{no_panic, to_py_err};
use crate::optimizer::{optimizer_of, BorrowedState};
use crate::sparse_rows::{AnySparseRows, PySparseRows, SparseFloat};
use fastmlp_core::matmul::MatRef;
use fastmlp_core::optimizer::Optimizer;
use fastmlp_core::softmax as output_layer;
use fastmlp_core::sparse::{self, SparsePlan};
use fastmlp_core::{network, parallel, train, Activation, Architecture, Error, InputPath, Inputs};
use numpy::{
    Element, PyArray1, PyArrayMethods, PyReadonlyArrayDyn, PyReadwriteArrayDyn,
    PyUntypedArrayMethods,
};
use pyo3::exceptions::{PyTypeError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::{PyList, PyTuple};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

/// A float type the bindings can hand to the core.
pub trait Float: SparseFloat {}
impl Float for f32 {}
impl Float for f64 {}

fn core<R>(result: fastmlp_core::Result<R>) -> PyResult<R> {
    result.map_err(to_py_err)
}

fn activation_of(name: &str) -> PyResult<Activation> {
    core(name.parse::<Activation>())
}

/// Runs core work in the engine's thread pool with the GIL released.
fn compute<R: Send>(
    py: Python<'_>,
    work: impl FnOnce() -> fastmlp_core::Result<R> + Send,
) -> PyResult<R> {
    let pool = core(parallel::pool())?;
    core(py.detach(|| pool.install(work)))
}

/// A new C-ordered array of `shape` holding `values`.
fn new_array<'py, T: Float>(
    py: Python<'py>,
    values: Vec<T>,
    shape: &[usize],
) -> PyResult<Bound<'py, PyAny>> {
    Ok(PyArray1::from_vec(py, values)
        .reshape(shape.to_vec())?
        .into_any())
}

/// `weights` (2-D each) and `biases` (1-D each) read-only, with the architecture they form.
type ReadonlyParams<'py, T> = (
    Architecture,
    Vec<PyReadonlyArrayDyn<'py, T>>,
    Vec<PyReadonlyArrayDyn<'py, T>>,
);
type ReadwriteParams<'py, T> = (
    Architecture,
    Vec<PyReadwriteArrayDyn<'py, T>>,
    Vec<PyReadwriteArrayDyn<'py, T>>,
);

/// The architecture the weight shapes form; a ValueError naming both shapes where they
/// do not chain.
fn architecture_of(shapes: &[(usize, usize)]) -> PyResult<Architecture> {
    for (l, pair) in shapes.windows(2).enumerate() {
        let ((rows, cols), (next_rows, next_cols)) = (pair[0], pair[1]);
        if cols != next_rows {
            return Err(PyValueError::new_err(format!(
                "weights[{}]: expected shape ({cols}, n) to follow weights[{l}] of shape \
                 ({rows}, {cols}), got ({next_rows}, {next_cols})",
                l + 1
            )));
        }
    }
    core(Architecture::from_weight_shapes(shapes))
}

fn weight_shapes<'py, T: Float>(arrays: &[PyReadonlyArrayDyn<'py, T>]) -> Vec<(usize, usize)> {
    arrays.iter().map(shape2).collect()
}

/// Each array of the list `arg`, taken by `take` under its name `arg[i]`.
fn each_array<'py, A>(
    arg: &str,
    list: &Bound<'py, PyAny>,
    take: impl Fn(&str, &Bound<'py, PyAny>) -> PyResult<A>,
) -> PyResult<Vec<A>> {
    items(arg, list)?
        .iter()
        .enumerate()
        .map(|(i, array)| take(&format!("{arg}[{i}]"), array))
        .collect()
}

fn params_readonly<'py, T: Float>(
    weights: &Bound<'py, PyAny>,
    biases: &Bound<'py, PyAny>,
) -> PyResult<ReadonlyParams<'py, T>> {
    let w = each_array("weights", weights, |name, a| {
        readonly::<T>(name, a, Some(2), T::NAME)
    })?;
    let b = each_array("biases", biases, |name, a| {
        readonly::<T>(name, a, Some(1), T::NAME)
    })?;
    let arch = architecture_of(&weight_shapes(&w))?;
    let (ws, bs) = (slices(&w)?, slices(&b)?);
    core(arch.check_params(&ws, &bs))?;
    Ok((arch, w, b))
}

/// Weights and biases borrowed for update in place; their sizes are checked by the core.
fn params_readwrite<'py, T: Float>(
    weights: &Bound<'py, PyAny>,
    biases: &Bound<'py, PyAny>,
) -> PyResult<ReadwriteParams<'py, T>> {
    let w = each_array("weights", weights, |name, a| {
        readwrite::<T>(name, a, Some(2), T::NAME)
    })?;
    let b = each_array("biases", biases, |name, a| {
        readwrite::<T>(name, a, Some(1), T::NAME)
    })?;
    // Each taken with ndim Some(2): shape()[1] exists.
    let shapes: Vec<(usize, usize)> = w.iter().map(|a| (a.shape()[0], a.shape()[1])).collect();
    let arch = architecture_of(&shapes)?;
    Ok((arch, w, b))
}

fn slices<'a, T: Float>(arrays: &'a [PyReadonlyArrayDyn<'_, T>]) -> PyResult<Vec<&'a [T]>> {
    arrays.iter().map(slice).collect()
}

fn slices_mut<'a, T: Float>(
    arrays: &'a mut [PyReadwriteArrayDyn<'_, T>],
) -> PyResult<Vec<&'a mut [T]>> {
    arrays
        .iter_mut()
        .map(|a| {
            a.as_slice_mut()
                .map_err(|e| PyValueError::new_err(format!("array is not contiguous: {e}")))
        })
        .collect()
}

/// The rows of the 2-D input `arg`, whose width must be the fan_in of weights[0].
fn rows_matching(
    arg: &str,
    array: &PyReadonlyArrayDyn<'_, impl Element>,
    arch: &Architecture,
) -> PyResult<usize> {
    let (rows, cols) = shape2(array);
    let (width, fan_out) = (arch.inputs(), arch.fan_out(0));
    if cols != width {
        return Err(PyValueError::new_err(format!(
            "{arg}: expected shape (n, {width}) to match weights[0] of shape ({width}, {fan_out}), \
             got ({rows}, {cols})"
        )));
    }
    Ok(rows)
}

// ---- matmul -------------------------------------------------------------------------------

fn matmul_typed<'py, T: Float>(
    py: Python<'py>,
    a: &Bound<'py, PyAny>,
    b: &Bound<'py, PyAny>,
) -> PyResult<Bound<'py, PyAny>> {
    let a = readonly::<T>("a", a, Some(2), T::NAME)?;
    let b = readonly::<T>("b", b, Some(2), T::NAME)?;
    let ((m, k), (k_b, n)) = (shape2(&a), shape2(&b));
    if k != k_b {
        return Err(PyValueError::new_err(format!(
            "b: expected {k} rows to match a of shape ({m}, {k}), got shape ({k_b}, {n})"
        )));
    }
    let (a, b) = (slice(&a)?, slice(&b)?);
    let out = compute(py, || {
        fastmlp_core::matmul::matmul(MatRef::row_major(a, m, k)?, MatRef::row_major(b, k, n)?)
    })?;
    new_array(py, out, &[m, n])
}

/// a @ b for 2-D float arrays of one dtype.
#[pyfunction]
pub fn matmul<'py>(
    py: Python<'py>,
    a: &Bound<'py, PyAny>,
    b: &Bound<'py, PyAny>,
) -> PyResult<Bound<'py, PyAny>> {
    no_panic(|| match precision_of("a", a)? {
        Precision::F32 => matmul_typed::<f32>(py, a, b),
        Precision::F64 => matmul_typed::<f64>(py, a, b),
    })
}

// ---- elementwise activations -----------------------------------------------------------------

fn activate_typed<'py, T: Float>(
    py: Python<'py>,
    z: &Bound<'py, PyAny>,
    activation: Activation,
) -> PyResult<Bound<'py, PyAny>> {
    let z = readonly::<T>("z", z, None, T::NAME)?;
    let shape = z.shape().to_vec();
    let mut values = slice(&z)?.to_vec();
    py.detach(|| activation.apply_in_place(&mut values));
    new_array(py, values, &shape)
}

fn activate<'py>(
    py: Python<'py>,
    z: &Bound<'py, PyAny>,
    activation: Activation,
) -> PyResult<Bound<'py, PyAny>> {
    no_panic(|| match precision_of("z", z)? {
        Precision::F32 => activate_typed::<f32>(py, z, activation),
        Precision::F64 => activate_typed::<f64>(py, z, activation),
    })
}

/// max(z, 0) elementwise, any shape.
#[pyfunction]
pub fn relu<'py>(py: Python<'py>, z: &Bound<'py, PyAny>) -> PyResult<Bound<'py, PyAny>> {
    activate(py, z, Activation::Relu)
}

/// tanh(z) elementwise, any shape.
#[pyfunction]
pub fn tanh<'py>(py: Python<'py>, z: &Bound<'py, PyAny>) -> PyResult<Bound<'py, PyAny>> {
    activate(py, z, Activation::Tanh)
}

/// 1 / (1 + exp(-z)) elementwise, any shape, without overflow.
#[pyfunction]
pub fn sigmoid<'py>(py: Python<'py>, z: &Bound<'py, PyAny>) -> PyResult<Bound<'py, PyAny>> {
    activate(py, z, Activation::Sigmoid)
}

// ---- softmax and loss ---------------------------------------------------------------------

fn softmax_typed<'py, T: Float>(
    py: Python<'py>,
    z: &Bound<'py, PyAny>,
) -> PyResult<Bound<'py, PyAny>> {
    let z = readonly::<T>("z", z, Some(2), T::NAME)?;
    let (rows, classes) = shape2(&z);
    let mut values = slice(&z)?.to_vec();
    py.detach(|| output_layer::softmax_rows(&mut values, classes));
    new_array(py, values, &[rows, classes])
}

/// Row-wise softmax of a 2-D (n, classes) array.
#[pyfunction]
pub fn softmax<'py>(py: Python<'py>, z: &Bound<'py, PyAny>) -> PyResult<Bound<'py, PyAny>> {
    no_panic(|| match precision_of("z", z)? {
        Precision::F32 => softmax_typed::<f32>(py, z),
        Precision::F64 => softmax_typed::<f64>(py, z),
    })
}

fn cross_entropy_typed<T: Float>(
    py: Python<'_>,
    p: &Bound<'_, PyAny>,
    y: &Bound<'_, PyAny>,
) -> PyResult<f64> {
    let p = readonly::<T>("p", p, Some(2), T::NAME)?;
    let y = readonly::<T>("y_onehot", y, Some(2), T::NAME)?;
    if p.shape() != y.shape() {
        return Err(PyValueError::new_err(format!(
            "y_onehot: expected shape {} (the shape of p), got {}",
            shape_text(p.shape()),
            shape_text(y.shape())
        )));
    }
    let classes = p.shape()[1];
    let (p, y) = (slice(&p)?, slice(&y)?);
    Ok(py.detach(|| output_layer::cross_entropy(p, y, classes)))
}

/// Mean over rows of -sum(y * log(max(p, tiny))).
#[pyfunction]
pub fn cross_entropy(
    py: Python<'_>,
    p: &Bound<'_, PyAny>,
    y_onehot: &Bound<'_, PyAny>,
) -> PyResult<f64> {
    no_panic(|| match precision_of("p", p)? {
        Precision::F32 => cross_entropy_typed::<f32>(py, p, y_onehot),
        Precision::F64 => cross_entropy_typed::<f64>(py, p, y_onehot),
    })
}

// ---- forward and backward -----------------------------------------------------------------

fn forward_typed<'py, T: Float>(
    py: Python<'py>,
    weights: &Bound<'py, PyAny>,
    biases: &Bound<'py, PyAny>,
    x: &Bound<'py, PyAny>,
    activation: Activation,
) -> PyResult<Bound<'py, PyList>> {
    let (arch, w, b) = params_readonly::<T>(weights, biases)?;
    let x_array = readonly::<T>("x", x, Some(2), T::NAME)?;
    let rows = rows_matching("x", &x_array, &arch)?;
    let (ws, bs, xs) = (slices(&w)?, slices(&b)?, slice(&x_array)?);
    let outputs = compute(py, || network::forward(&arch, &ws, &bs, xs, activation))?;
    let list = PyList::new(py, [x.clone()])?;
    for (l, values) in outputs.into_iter().enumerate() {
        list.append(new_array(py, values, &[rows, arch.fan_out(l)])?)?;
    }
    Ok(list)
}

/// [x, a1, ..., aL]: every layer's output, the last the class probabilities.
#[pyfunction]
pub fn forward<'py>(
    py: Python<'py>,
    weights: &Bound<'py, PyAny>,
    biases: &Bound<'py, PyAny>,
    x: &Bound<'py, PyAny>,
    activation: &str,
) -> PyResult<Bound<'py, PyList>> {
    no_panic(|| {
        let activation = activation_of(activation)?;
        match precision_of("x", x)? {
            Precision::F32 => forward_typed::<f32>(py, weights, biases, x, activation),
            Precision::F64 => forward_typed::<f64>(py, weights, biases, x, activation),
        }
    })
}

fn backward_typed<'py, T: Float>(
    py: Python<'py>,
    weights: &Bound<'py, PyAny>,
    outputs: &[Bound<'py, PyAny>],
    y: &Bound<'py, PyAny>,
    activation: Activation,
) -> PyResult<Bound<'py, PyTuple>> {
    let w = each_array("weights", weights, |name, a| {
        readonly::<T>(name, a, Some(2), T::NAME)
    })?;
    let arch = architecture_of(&weight_shapes(&w))?;
    if outputs.len() != arch.layers() + 1 {
        return Err(PyValueError::new_err(format!(
            "outputs: expected {} arrays [x, a1, ..., a{}] as forward returns them, got {}",
            arch.layers() + 1,
            arch.layers(),
            outputs.len()
        )));
    }
    let outs = outputs
        .iter()
        .enumerate()
        .map(|(l, a)| readonly::<T>(&format!("outputs[{l}]"), a, Some(2), T::NAME))
        .collect::<PyResult<Vec<_>>>()?;
    let x = &outs[0]; // outputs.len() == layers + 1 >= 2, checked above
    let rows = rows_matching("outputs[0]", x, &arch)?;
    for (l, out) in outs.iter().enumerate().skip(1) {
        let expected = [rows, arch.fan_out(l - 1)];
        if out.shape() != expected {
            return Err(PyValueError::new_err(format!(
                "outputs[{l}]: expected shape {} (rows of outputs[0], fan_out of weights[{}]), \
                 got {}",
                shape_text(&expected),
                l - 1,
                shape_text(out.shape())
            )));
        }
    }
    let y_array = readonly::<T>("y_onehot", y, Some(2), T::NAME)?;
    let expected = [rows, arch.classes()];
    if y_array.shape() != expected {
        return Err(PyValueError::new_err(format!(
            "y_onehot: expected shape {} (rows of outputs[0], classes), got {}",
            shape_text(&expected),
            shape_text(y_array.shape())
        )));
    }
    let (ws, xs, ys) = (slices(&w)?, slice(x)?, slice(&y_array)?);
    let layer_outputs = slices(&outs[1..])?;
    let (gw, gb) = compute(py, || {
        network::backward(&arch, &ws, xs, &layer_outputs, ys, activation)
    })?;
    let weight_grads = PyList::empty(py);
    let bias_grads = PyList::empty(py);
    for (l, (gw, gb)) in gw.into_iter().zip(gb).enumerate() {
        weight_grads.append(new_array(py, gw, &[arch.fan_in(l), arch.fan_out(l)])?)?;
        bias_grads.append(new_array(py, gb, &[arch.fan_out(l)])?)?;
    }
    PyTuple::new(py, [weight_grads, bias_grads])
}

/// (weight_grads, bias_grads) of the mean cross-entropy; `outputs` as forward returns them.
#[pyfunction]
pub fn backward<'py>(
    py: Python<'py>,
    weights: &Bound<'py, PyAny>,
    outputs: &Bound<'py, PyAny>,
    y_onehot: &Bound<'py, PyAny>,
    activation: &str,
) -> PyResult<Bound<'py, PyTuple>> {
    no_panic(|| {
        let activation = activation_of(activation)?;
        let outputs = items("outputs", outputs)?;
        let first = outputs.first().ok_or_else(|| {
            PyValueError::new_err("outputs: expected [x, a1, ..., aL], got an empty list")
        })?;
        match precision_of("outputs[0]", first)? {
            Precision::F32 => backward_typed::<f32>(py, weights, &outputs, y_onehot, activation),
            Precision::F64 => backward_typed::<f64>(py, weights, &outputs, y_onehot, activation),
        }
    })
}

// ---- training -----------------------------------------------------------------------------

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

#[allow(clippy::too_many_arguments)]
fn train_step_typed<T: Float>(
    py: Python<'_>,
    weights: &Bound<'_, PyAny>,
    biases: &Bound<'_, PyAny>,
    x: &Bound<'_, PyAny>,
    y: &Bound<'_, PyAny>,
    lr: f64,
    activation: Activation,
    optimizer: &OptimizerArgs<'_, '_>,
) -> PyResult<f64> {
    let x_array = readonly::<T>("x", x, Some(2), T::NAME)?;
    let y_array = readonly::<T>("y_onehot", y, Some(2), T::NAME)?;
    let (arch, mut w, mut b) = params_readwrite::<T>(weights, biases)?;
    let rows = rows_matching("x", &x_array, &arch)?;
    let (y_rows, classes) = shape2(&y_array);
    if (y_rows, classes) != (rows, arch.classes()) {
        return Err(PyValueError::new_err(format!(
            "y_onehot: expected shape ({rows}, {}) (rows of x, classes), got ({y_rows}, {classes})",
            arch.classes()
        )));
    }
    let mut state = optimizer.borrow::<T>()?;
    let (xs, ys) = (slice(&x_array)?, slice(&y_array)?);
    let (mut ws, mut bs) = (slices_mut(&mut w)?, slices_mut(&mut b)?);
    let mut descent = state.descent(&arch)?;
    core(py.detach(|| {
        // Empty: train_step sizes it, with a MemoryError rather than an abort if it cannot.
        let mut workspace = train::Workspace::new(&arch, 0);
        train::train_step(
            &arch,
            &mut ws,
            &mut bs,
            xs,
            ys,
            lr,
            activation,
            descent.as_mut(),
            &mut workspace,
        )
    }))
}

/// One SGD step on (x, y_onehot); updates weights and biases in place; the loss before it.
#[pyfunction]
pub fn sgd_step(
    py: Python<'_>,
    weights: &Bound<'_, PyAny>,
    biases: &Bound<'_, PyAny>,
    x: &Bound<'_, PyAny>,
    y_onehot: &Bound<'_, PyAny>,
    lr: f64,
    activation: &str,
) -> PyResult<f64> {
    train_step(
        py, weights, biases, x, y_onehot, lr, activation, None, None, None, 0.0,
    )
}

/// One step of the optimizer (plain SGD by default) on (x, y_onehot); updates the
/// parameters and the state in place; the loss before it, with the L2 term.
#[pyfunction]
#[pyo3(signature = (weights, biases, x, y_onehot, lr, activation, optimizer = None, step = None, slots = None, alpha = 0.0))]
#[allow(clippy::too_many_arguments)]
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
) -> PyResult<f64> {
    no_panic(|| {
        let activation = activation_of(activation)?;
        let optimizer = OptimizerArgs::new(optimizer, step, slots, alpha)?;
        match precision_of("x", x)? {
            Precision::F32 => train_step_typed::<f32>(
                py, weights, biases, x, y_onehot, lr, activation, &optimizer,
            ),
            Precision::F64 => train_step_typed::<f64>(
                py, weights, biases, x, y_onehot, lr, activation, &optimizer,
            ),
        }
    })
}

/// How often a training loop on the main thread takes the GIL to look for Ctrl-C.
const SIGNAL_CHECK_INTERVAL: Duration = Duration::from_millis(20);

/// Whether this is Python's main thread, the one that runs signal handlers.
fn on_main_thread(py: Python<'_>) -> PyResult<bool> {
    let threading = py.import("threading")?;
    let main = threading.call_method0("main_thread")?;
    Ok(threading.call_method0("current_thread")?.is(&main))
}

#[allow(clippy::too_many_arguments)]
fn train_epoch_typed<T: Float>(
    py: Python<'_>,
    weights: &Bound<'_, PyAny>,
    biases: &Bound<'_, PyAny>,
    x: &Bound<'_, PyAny>,
    labels: &Bound<'_, PyAny>,
    order: &Bound<'_, PyAny>,
    lr: f64,
    batch_size: usize,
    activation: Activation,
    input_path: InputPath,
    optimizer: &OptimizerArgs<'_, '_>,
) -> PyResult<(f64, usize)> {
    // x is a dense array, or rows compressed beforehand (SparseRows).
    let compressed = x.cast::<PySparseRows>().ok();
    let x_array = match compressed {
        Some(_) => None,
        None => Some(readonly::<T>("x", x, Some(2), T::NAME)?),
    };
    let labels = readonly::<i64>("labels", labels, Some(1), "int64")?;
    let order = readonly::<i64>("order", order, Some(1), "int64")?;
    let (arch, mut w, mut b) = params_readwrite::<T>(weights, biases)?;
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
    let mut state = optimizer.borrow::<T>()?;
    let (labels, order) = (slice(&labels)?, slice(&order)?);
    let (mut ws, mut bs) = (slices_mut(&mut w)?, slices_mut(&mut b)?);
    let mut descent = state.descent(&arch)?;
    let mut interrupt: Option<PyErr> = None;
    let main_thread = on_main_thread(py)?;
    let stop = AtomicBool::new(false);
    let outcome = py.detach(|| {
        let mut run = || {
            // Empty: train_epoch sizes it, with a MemoryError rather than an abort if it cannot.
            let mut workspace = train::Workspace::new(&arch, 0);
            let mut stop_requested = |batch: usize| match stop.load(Ordering::Relaxed) {
                true => Err(Error::Interrupted { batches: batch + 1 }),
                false => Ok(()),
            };
            let epoch = train::Epoch {
                inputs,
                labels,
                order,
                lr,
                batch_size,
                activation,
                input_path,
            };
            train::train_epoch_with(
                &arch,
                &mut ws,
                &mut bs,
                epoch,
                descent.as_mut(),
                &mut workspace,
                &mut stop_requested,
            )
        };
        if !main_thread {
            // Python runs signal handlers on the main thread only: nothing to watch for.
            return run();
        }
        // Ctrl-C: Python's C-level handler only flags the signal. The epoch runs on a helper
        // thread while this (main) thread checks the flag every SIGNAL_CHECK_INTERVAL and,
        // on Ctrl-C, asks the epoch to stop after its current batch. The helper unparks this
        // thread when it is done, so no time is lost waiting for the next check.
        std::thread::scope(|scope| {
            let caller = std::thread::current();
            let epoch = scope.spawn(move || {
                let outcome = run();
                caller.unpark();
                outcome
            });
            while !epoch.is_finished() {
                std::thread::park_timeout(SIGNAL_CHECK_INTERVAL);
                if epoch.is_finished() || interrupt.is_some() {
                    continue;
                }
                if let Err(err) = Python::attach(|py| py.check_signals()) {
                    interrupt = Some(err);
                    stop.store(true, Ordering::Relaxed);
                }
            }
            epoch
                .join()
                .unwrap_or_else(|payload| std::panic::resume_unwind(payload))
        })
    });
    match (outcome, interrupt) {
        // Also when the epoch finished before it saw the stop request: check_signals has
        // consumed the Ctrl-C, so dropping its KeyboardInterrupt would lose it.
        (Err(Error::Interrupted { .. }) | Ok(_), Some(err)) => Err(err),
        (outcome, _) => core(outcome).map(|o| (o.mean_loss, o.correct)),
    }
}

/// The float type of training inputs: a dense array's dtype, or that of compressed rows.
fn precision_of_inputs(x: &Bound<'_, PyAny>) -> PyResult<Precision> {
    match x.cast::<PySparseRows>() {
        Ok(rows) => Ok(match rows.get().rows {
            AnySparseRows::F32(_) => Precision::F32,
            AnySparseRows::F64(_) => Precision::F64,
        }),
        Err(_) => precision_of("x", x),
    }
}

/// One epoch of SGD over x[order] in batches; updates in place.
/// Returns (mean per-sample loss before each step, number of rows predicted right).
/// `input_path`: "auto" (by the input's group fill), "dense" or "sparse" first layer.
#[pyfunction]
/// `optimizer`, `step`, `slots`, `alpha`: the optimizer's settings and state (optimizer.rs).
#[pyo3(name = "train_epoch_stats", signature = (weights, biases, x, labels, order, lr, batch_size, activation, input_path = "auto", optimizer = None, step = None, slots = None, alpha = 0.0))]
#[allow(clippy::too_many_arguments)]
pub fn train_epoch(
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
) -> PyResult<(f64, usize)> {
    no_panic(|| {
        let optimizer = OptimizerArgs::new(optimizer, step, slots, alpha)?;
        let activation = activation_of(activation)?;
        let input_path = core(input_path.parse::<InputPath>())?;
        let batch_size = usize::try_from(batch_size)
            .ok()
            .filter(|&size| size > 0)
            .ok_or_else(|| {
                PyValueError::new_err(format!(
                    "batch_size: expected a positive integer, got {batch_size}"
                ))
            })?;
        match precision_of_inputs(x)? {
            Precision::F32 => train_epoch_typed::<f32>(
                py, weights, biases, x, labels, order, lr, batch_size, activation, input_path,
                &optimizer,
            ),
            Precision::F64 => train_epoch_typed::<f64>(
                py, weights, biases, x, labels, order, lr, batch_size, activation, input_path,
                &optimizer,
            ),
        }
    })
}

// ---- input paths --------------------------------------------------------------------------

/// Rows of x that `sparse_plan` samples (as train_epoch samples the first rows of its order).
const SAMPLE_ROWS: usize = 512;

fn sparse_plan_typed<T: SparseFloat>(x: &Bound<'_, PyAny>) -> PyResult<SparsePlan> {
    if let Ok(rows) = x.cast::<PySparseRows>() {
        let matrix = T::rows_of(&rows.get().rows).ok_or_else(|| {
            PyTypeError::new_err(format!("x: expected SparseRows of dtype {}", T::NAME))
        })?;
        let order: Vec<i64> = (0..matrix.rows().min(SAMPLE_ROWS) as i64).collect();
        return Ok(sparse::plan_sparse_path(
            Inputs::Sparse(matrix),
            &order,
            matrix.inputs(),
        ));
    }
    let array = readonly::<T>("x", x, Some(2), T::NAME)?;
    let (rows, width) = shape2(&array);
    let order: Vec<i64> = (0..rows.min(SAMPLE_ROWS) as i64).collect();
    Ok(sparse::plan_sparse_path(
        Inputs::Dense(slice(&array)?),
        &order,
        width,
    ))
}

fn plan_for(x: &Bound<'_, PyAny>) -> PyResult<SparsePlan> {
    match precision_of_inputs(x)? {
        Precision::F32 => sparse_plan_typed::<f32>(x),
        Precision::F64 => sparse_plan_typed::<f64>(x),
    }
}

/// (work, group rows) of the sparse first layer on x's first 512 rows: its products' work
/// as a fraction of the dense ones', and the rows a group it would take (8 or 1).
#[pyfunction]
pub fn sparse_plan(x: &Bound<'_, PyAny>) -> PyResult<(f64, usize)> {
    no_panic(|| plan_for(x).map(|plan| (plan.work, plan.group_rows)))
}

/// The first layer `input_path="auto"` takes for x on the engine's current threads:
/// "sparse" when its work is below the crossover measured for that many threads.
#[pyfunction]
pub fn preferred_input_path(x: &Bound<'_, PyAny>) -> PyResult<&'static str> {
    no_panic(|| {
        let threads = core(parallel::num_threads())?;
        Ok(plan_for(x)?.preferred_path(threads).name())
    })
}

/// The work below which the sparse first layer is the faster one on `threads` threads (the
/// engine's current count by default), as measured on this project's machine.
#[pyfunction]
#[pyo3(signature = (threads = None))]
pub fn sparse_work_crossover(threads: Option<i64>) -> PyResult<f64> {
    let threads = match threads {
        None => core(parallel::num_threads())?,
        Some(n) => usize::try_from(n).ok().filter(|&n| n > 0).ok_or_else(|| {
            PyValueError::new_err(format!("threads: expected a positive integer, got {n}"))
        })?,
    };
    Ok(sparse::sparse_work_crossover(threads))
}

// ---- threads ------------------------------------------------------------------------------

/// Use `n` threads in the engine from now on.
#[pyfunction]
pub fn set_num_threads(n: i64) -> PyResult<()> {
    // A negative count is a ValueError like 0, not an OverflowError from the conversion.
    let n = usize::try_from(n).map_err(|_| {
        PyValueError::new_err(format!("num_threads: expected a positive integer, got {n}"))
    })?;
    core(parallel::set_num_threads(n))
}

/// The number of threads the engine uses.
#[pyfunction]
pub fn get_num_threads() -> PyResult<usize> {
    core(parallel::num_threads())
}

/// The largest count `set_num_threads` accepts (a multiple of the available cores).
#[pyfunction]
pub fn max_num_threads() -> usize {
    parallel::max_num_threads()
}
