//! Forward and backward through a stack of dense layers, written as the math.
//!
//! Shapes: `x` (n, sizes[0]); `W[l]` (fan_in, fan_out); `b[l]` (fan_out,); every array
//! row-major, rows = samples.
//!
//! forward:  a[0] = x
//!           a[l+1] = f(a[l] @ W[l] + b[l])          hidden layers, f = the activation
//!           a[L]   = out(a[L-1] @ W[L-1] + b[L-1])   out = softmax (or `output.rs`'s others)
//! backward: delta[L] = (a[L] - y) / n                d mean-loss / d logits (any output:
//!                                                    canonical links; with row weights s:
//!                                                    s * (a[L] - y) / sum(s))
//!           gW[l] = a[l].T @ delta[l+1]               (fan_in, fan_out)
//!           gb[l] = sum over rows of delta[l+1]       (fan_out,)
//!           delta[l] = (delta[l+1] @ W[l].T) * f'(a[l])   with f' read from the output a[l]
//!
//! `step.rs` runs the same steps with the SGD update fused in, for the training loop.

use crate::activation::{Activation, Elementwise};
use crate::architecture::Architecture;
use crate::error::Result;
use crate::matmul::{matmul_into, MatMut, MatRef, Update};
use crate::output::{check_sample_weight, weight_total, Output};
use crate::real::Real;
use crate::softmax::softmax_rows;
use crate::sparse::{self, InputPath};

/// `a[l+1] = act(a[l] @ W[l] + b[l])` (or softmax for the last layer) into `out` (n, fan_out).
pub fn dense_layer_forward<T: Real>(
    input: MatRef<'_, T>,
    weight: MatRef<'_, T>,
    bias: &[T],
    is_output: bool,
    activation: Activation,
    out: &mut [T],
) -> Result<()> {
    let (rows, fan_out) = (input.rows(), weight.cols());
    matmul_into(
        MatMut::row_major(out, rows, fan_out)?,
        input,
        weight,
        Update::Overwrite,
    )?;
    let out = &mut out[..rows * fan_out];
    if is_output {
        out.chunks_exact_mut(fan_out)
            .for_each(|row| row.iter_mut().zip(bias).for_each(|(z, &b)| *z += b));
        softmax_rows(out, fan_out);
    } else {
        activation.add_bias_and_apply(out, bias);
    }
    Ok(())
}

/// Every layer's output for `x` (n, inputs): `outputs[l]` is a[l+1], (n, sizes[l+1]);
/// the last is the class probabilities. A first hidden layer on mostly-zero rows goes
/// through the sparse kernels (`forward_on_path` with `InputPath::Auto`).
pub fn forward<T: Real, W: AsRef<[T]>>(
    arch: &Architecture,
    weights: &[W],
    biases: &[W],
    x: &[T],
    activation: Activation,
) -> Result<Vec<Vec<T>>> {
    forward_on_path(
        arch,
        weights,
        biases,
        x,
        activation,
        Output::Softmax,
        InputPath::Auto,
        false,
    )
}

/// `forward` with the output layer `output`: the last output is act(logits) for it.
pub fn forward_output<T: Real, W: AsRef<[T]>>(
    arch: &Architecture,
    weights: &[W],
    biases: &[W],
    x: &[T],
    activation: Activation,
    output: Output,
) -> Result<Vec<Vec<T>>> {
    forward_on_path(
        arch,
        weights,
        biases,
        x,
        activation,
        output,
        InputPath::Auto,
        false,
    )
}

/// `forward_output`, the first hidden layer's product on `input_path`
/// (`sparse::inference_takes_sparse_path`; a network without hidden layers always takes the
/// dense one). With `check_finite`, a NaN or infinite value in `x` is an error that counts
/// them (checked in the sparse path's own pass over `x`, or in one of its own on the dense
/// path).
#[expect(
    clippy::too_many_arguments,
    reason = "the network, its input, and how to read the input"
)]
pub fn forward_on_path<T: Real, W: AsRef<[T]>>(
    arch: &Architecture,
    weights: &[W],
    biases: &[W],
    x: &[T],
    activation: Activation,
    output: Output,
    input_path: InputPath,
    check_finite: bool,
) -> Result<Vec<Vec<T>>> {
    arch.check_params(weights, biases)?;
    let rows = Architecture::rows_of("x", x, arch.inputs())?;
    let first_layer_sparse = arch.layers() > 1
        && sparse::inference_takes_sparse_path(x, (arch.inputs(), arch.fan_out(0)), input_path);
    if check_finite && !first_layer_sparse {
        check_finite_inputs(x)?;
    }
    let mut outputs: Vec<Vec<T>> = Vec::with_capacity(arch.layers());
    for l in 0..arch.layers() {
        // (rows, fan_out): x (rows, 1) and W (1, fan_out) are small, their product need not be.
        let mut out = crate::buffer::zeros("layer output", rows, arch.fan_out(l))?;
        if l == 0 && first_layer_sparse {
            let params = (weights[0].as_ref(), biases[0].as_ref());
            let shape = (arch.inputs(), arch.fan_out(0));
            let finite = sparse::hidden_layer_forward(x, params, shape, activation, &mut out);
            if check_finite && !finite {
                check_finite_inputs(x)?;
            }
            outputs.push(out);
            continue;
        }
        let input = match l {
            0 => MatRef::row_major(x, rows, arch.inputs())?,
            _ => MatRef::row_major(&outputs[l - 1], rows, arch.fan_in(l))?,
        };
        let weight = MatRef::row_major(weights[l].as_ref(), arch.fan_in(l), arch.fan_out(l))?;
        let is_output = l + 1 == arch.layers();
        if is_output && output != Output::Softmax {
            // The logits (identity adds the bias), then the output's activation.
            dense_layer_forward(
                input,
                weight,
                biases[l].as_ref(),
                false,
                Activation::Identity,
                &mut out,
            )?;
            output.activate_rows(&mut out, arch.fan_out(l));
        } else {
            dense_layer_forward(
                input,
                weight,
                biases[l].as_ref(),
                is_output,
                activation,
                &mut out,
            )?;
        }
        outputs.push(out);
    }
    Ok(outputs)
}

/// An error counting the NaN and infinite values of `x`, if it has any.
fn check_finite_inputs<T: Real>(x: &[T]) -> Result<()> {
    match sparse::count_non_finite(x) {
        0 => Ok(()),
        bad => Err(crate::error::Error::value(
            "x",
            format!("contains {bad} NaN or infinite values; clean the data first"),
        )),
    }
}

/// `sum over rows of delta` (rows, width) into `out` (width,): each column summed row by row,
/// in the same order on every instruction set.
pub fn column_sums<T: Real>(delta: &[T], width: usize, out: &mut [T]) {
    pulp::Arch::new().dispatch(Elementwise(|| {
        out.iter_mut().for_each(|v| *v = T::zero());
        for row in delta.chunks_exact(width) {
            out.iter_mut().zip(row).for_each(|(s, &d)| *s += d);
        }
    }));
}

/// `(weight_grads, bias_grads)`, each shaped like the parameters they belong to.
pub type Gradients<T> = (Vec<Vec<T>>, Vec<Vec<T>>);

/// Gradients of the mean cross-entropy with respect to every weight and bias.
///
/// `outputs` are forward's (a[1]..a[L]), `y` the targets (n, classes), usually one-hot.
/// Returns `(weight_grads, bias_grads)` shaped like the parameters.
pub fn backward<T: Real, W: AsRef<[T]>, O: AsRef<[T]>>(
    arch: &Architecture,
    weights: &[W],
    x: &[T],
    outputs: &[O],
    y: &[T],
    activation: Activation,
) -> Result<Gradients<T>> {
    backward_weighted(arch, weights, x, outputs, y, activation, None)
}

/// `backward` for any output kind (each a canonical link: the same delta) with per-row
/// weights `sample_weight` (n,) of the mean loss: delta[L] = s * (a[L] - y) / sum(s), all 0
/// when the weights sum to 0.
pub fn backward_weighted<T: Real, W: AsRef<[T]>, O: AsRef<[T]>>(
    arch: &Architecture,
    weights: &[W],
    x: &[T],
    outputs: &[O],
    y: &[T],
    activation: Activation,
    sample_weight: Option<&[T]>,
) -> Result<Gradients<T>> {
    let rows = Architecture::rows_of("x", x, arch.inputs())?;
    check_outputs(arch, outputs, rows)?;
    check_targets(y, rows, arch.classes())?;
    if let Some(sample_weight) = sample_weight {
        check_sample_weight(sample_weight, rows)?;
    }
    let layers = arch.layers();
    // `weights[l]` below: one array per layer (their lengths are checked by MatRef::row_major).
    if weights.len() != layers {
        return Err(crate::error::Error::shape(
            "weights",
            format!("{layers} arrays (one per layer)"),
            format!("{}", weights.len()),
        ));
    }
    let inv_rows = T::one() / T::from_f64(rows.max(1) as f64);

    // delta[L] = (p - y) / n   # (n, classes)
    let mut delta: Vec<T> = outputs[layers - 1]
        .as_ref()
        .iter()
        .zip(y)
        .map(|(&p, &t)| (p - t) * inv_rows)
        .collect();
    if let Some(sample_weight) = sample_weight {
        // delta[L] = s * (p - y) / sum(s), as the reference rounds it
        let total = weight_total(sample_weight.iter().copied());
        let classes = arch.classes().max(1);
        let rows_of_delta = delta.chunks_exact_mut(classes).zip(sample_weight);
        let out_rows = outputs[layers - 1].as_ref().chunks_exact(classes);
        for ((d_row, &s), (p_row, y_row)) in
            rows_of_delta.zip(out_rows.zip(y.chunks_exact(classes)))
        {
            for (d, (&p, &t)) in d_row.iter_mut().zip(p_row.iter().zip(y_row)) {
                *d = if total > 0.0 {
                    (p - t) * s / T::from_f64(total)
                } else {
                    T::zero()
                };
            }
        }
    }

    let mut weight_grads = vec![Vec::new(); layers];
    let mut bias_grads = vec![Vec::new(); layers];
    for l in (0..layers).rev() {
        let (fan_in, fan_out) = (arch.fan_in(l), arch.fan_out(l));
        let a = match l {
            0 => x,
            _ => outputs[l - 1].as_ref(),
        };
        let a = MatRef::row_major(a, rows, fan_in)?; // (n, fan_in)
        let delta_view = MatRef::row_major(&delta, rows, fan_out)?; // (n, fan_out)

        // gW[l] = a[l].T @ delta   # (fan_in, fan_out)
        let mut grad_w = vec![T::zero(); fan_in * fan_out];
        matmul_into(
            MatMut::row_major(&mut grad_w, fan_in, fan_out)?,
            a.t(),
            delta_view,
            Update::Overwrite,
        )?;
        // gb[l] = column sums of delta   # (fan_out,)
        let mut grad_b = vec![T::zero(); fan_out];
        column_sums(&delta, fan_out, &mut grad_b);

        if l > 0 {
            // delta[l] = (delta @ W[l].T) * f'(a[l])   # (n, fan_in)
            let weight = MatRef::row_major(weights[l].as_ref(), fan_in, fan_out)?;
            let mut previous = vec![T::zero(); rows * fan_in];
            matmul_into(
                MatMut::row_major(&mut previous, rows, fan_in)?,
                delta_view,
                weight.t(),
                Update::Overwrite,
            )?;
            activation.scale_by_derivative(&mut previous, outputs[l - 1].as_ref());
            delta = previous;
        }
        weight_grads[l] = grad_w;
        bias_grads[l] = grad_b;
    }
    Ok((weight_grads, bias_grads))
}

fn check_outputs<T: Real, O: AsRef<[T]>>(
    arch: &Architecture,
    outputs: &[O],
    rows: usize,
) -> Result<()> {
    use crate::error::Error;
    if outputs.len() != arch.layers() {
        return Err(Error::shape(
            "outputs",
            format!("{} layer outputs", arch.layers()),
            format!("{}", outputs.len()),
        ));
    }
    for (l, out) in outputs.iter().enumerate() {
        let expected = rows * arch.fan_out(l);
        if out.as_ref().len() != expected {
            return Err(Error::shape(
                format!("outputs[{}]", l + 1),
                format!("shape ({rows}, {})", arch.fan_out(l)),
                format!("{} values", out.as_ref().len()),
            ));
        }
    }
    Ok(())
}

pub(crate) fn check_targets<T>(y: &[T], rows: usize, classes: usize) -> Result<()> {
    if y.len() != rows * classes {
        return Err(crate::error::Error::shape(
            "y_onehot",
            format!("shape ({rows}, {classes})"),
            format!("{} values", y.len()),
        ));
    }
    Ok(())
}
