//! The network over NumPy arrays: `forward` (every layer's output) and `backward` (the
//! gradients of the mean loss).

use crate::activation::activation_of;
use crate::arrays::{items, new_array, precision_of, readonly, shape_text, slice};
use crate::errors::{core, no_panic};
use crate::float::{by_precision, Float};
use crate::output::{output_of, sample_weight_of, weights_slice};
use crate::parallel::compute;
use crate::params::{
    architecture_of, each_array, params_readonly, rows_matching, slices, weight_shapes,
};
use fastmlp_core::{network, output, Activation, InputPath, Output};
use numpy::PyUntypedArrayMethods;
use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;
use pyo3::types::{PyList, PyTuple};

fn forward_typed<'py, T: Float>(
    py: Python<'py>,
    weights: &Bound<'py, PyAny>,
    biases: &Bound<'py, PyAny>,
    x: &Bound<'py, PyAny>,
    (activation, output): (Activation, Output),
    (input_path, check_finite): (InputPath, bool),
) -> PyResult<Bound<'py, PyList>> {
    let (arch, w, b) = params_readonly::<T>(weights, biases)?;
    let x_array = readonly::<T>("x", x, Some(2), T::NAME)?;
    let rows = rows_matching("x", &x_array, &arch)?;
    let (ws, bs, xs) = (slices(&w)?, slices(&b)?, slice(&x_array)?);
    let outputs = compute(py, || {
        network::forward_on_path(
            &arch,
            &ws,
            &bs,
            xs,
            activation,
            output,
            input_path,
            check_finite,
        )
    })?;
    let list = PyList::new(py, [x.clone()])?;
    for (l, values) in outputs.into_iter().enumerate() {
        list.append(new_array(py, values, &[rows, arch.fan_out(l)])?)?;
    }
    Ok(list)
}

/// [x, a1, ..., aL]: every layer's output, the last the output layer's (`output`); the first
/// hidden layer's product on `input_path` ("auto": sparse kernels on mostly-zero rows); with
/// `check_finite`, NaN or infinite values in `x` are a ValueError that counts them.
#[pyfunction]
#[pyo3(signature = (weights, biases, x, activation, output = "softmax", input_path = "auto", check_finite = false))]
#[expect(
    clippy::too_many_arguments,
    reason = "the Python signature of the engine contract's forward"
)]
pub fn forward<'py>(
    py: Python<'py>,
    weights: &Bound<'py, PyAny>,
    biases: &Bound<'py, PyAny>,
    x: &Bound<'py, PyAny>,
    activation: &str,
    output: &str,
    input_path: &str,
    check_finite: bool,
) -> PyResult<Bound<'py, PyList>> {
    no_panic(|| {
        let kinds = (activation_of(activation)?, output_of(output)?);
        let input_path = core(input_path.parse::<InputPath>())?;
        by_precision!(
            precision_of("x", x)?,
            forward_typed(py, weights, biases, x, kinds, (input_path, check_finite))
        )
    })
}

fn backward_typed<'py, T: Float>(
    py: Python<'py>,
    weights: &Bound<'py, PyAny>,
    outputs: &[Bound<'py, PyAny>],
    y: &Bound<'py, PyAny>,
    activation: Activation,
    sample_weight: Option<&Bound<'py, PyAny>>,
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
    let row_weights = sample_weight_of::<T>(sample_weight, rows)?;
    let (ws, xs, ys) = (slices(&w)?, slice(x)?, slice(&y_array)?);
    let row_weights = weights_slice(&row_weights)?;
    if let Some(row_weights) = row_weights {
        core(output::check_sample_weight(row_weights, rows))?;
    }
    let layer_outputs = slices(&outs[1..])?;
    let (gw, gb) = compute(py, || {
        network::backward_weighted(&arch, &ws, xs, &layer_outputs, ys, activation, row_weights)
    })?;
    let weight_grads = PyList::empty(py);
    let bias_grads = PyList::empty(py);
    for (l, (gw, gb)) in gw.into_iter().zip(gb).enumerate() {
        weight_grads.append(new_array(py, gw, &[arch.fan_in(l), arch.fan_out(l)])?)?;
        bias_grads.append(new_array(py, gb, &[arch.fan_out(l)])?)?;
    }
    PyTuple::new(py, [weight_grads, bias_grads])
}

/// (weight_grads, bias_grads) of the (weighted) mean loss of `output`; `outputs` as forward
/// returns them. Every output kind is a canonical link: `output` is checked, the delta is the
/// same.
#[pyfunction]
#[pyo3(signature = (weights, outputs, y_onehot, activation, output = "softmax", sample_weight = None))]
pub fn backward<'py>(
    py: Python<'py>,
    weights: &Bound<'py, PyAny>,
    outputs: &Bound<'py, PyAny>,
    y_onehot: &Bound<'py, PyAny>,
    activation: &str,
    output: &str,
    sample_weight: Option<&Bound<'py, PyAny>>,
) -> PyResult<Bound<'py, PyTuple>> {
    no_panic(|| {
        let activation = activation_of(activation)?;
        output_of(output)?;
        let outputs = items("outputs", outputs)?;
        let first = outputs.first().ok_or_else(|| {
            PyValueError::new_err("outputs: expected [x, a1, ..., aL], got an empty list")
        })?;
        by_precision!(
            precision_of("outputs[0]", first)?,
            backward_typed(py, weights, &outputs, y_onehot, activation, sample_weight)
        )
    })
}
