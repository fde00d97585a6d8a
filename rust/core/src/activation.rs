//! Hidden-layer activations. Each derivative is taken from the layer's *output* `a = f(z)`,
//! which is what the forward pass keeps:
//!
//! | f       | f(z)              | f'(z) written with a = f(z) |
//! |---------|-------------------|-----------------------------|
//! | relu    | max(z, 0)         | 1 if a > 0 else 0           |
//! | tanh    | tanh(z)           | 1 - a^2                     |
//! | sigmoid | 1 / (1 + e^-z)    | a (1 - a)                   |
//! | identity| z                 | 1                           |

use crate::error::{Error, Result};
use crate::real::Real;
use pulp::{Arch, Simd, WithSimd};
use std::str::FromStr;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Activation {
    Relu,
    Tanh,
    Sigmoid,
    /// No activation: the layer stays linear (scikit-learn's "identity").
    Identity,
}

impl Activation {
    pub const NAMES: [&'static str; 4] = ["relu", "tanh", "sigmoid", "identity"];

    pub fn name(self) -> &'static str {
        match self {
            Activation::Relu => "relu",
            Activation::Tanh => "tanh",
            Activation::Sigmoid => "sigmoid",
            Activation::Identity => "identity",
        }
    }

    /// f(z) for one value.
    #[inline(always)]
    pub fn apply<T: Real>(self, z: T) -> T {
        match self {
            Activation::Relu => relu(z),
            Activation::Tanh => z.tanh(),
            Activation::Sigmoid => sigmoid(z),
            Activation::Identity => z,
        }
    }

    /// f'(z) expressed through a = f(z).
    #[inline(always)]
    pub fn derivative_from_output<T: Real>(self, a: T) -> T {
        match self {
            Activation::Relu => {
                if a > T::zero() {
                    T::one()
                } else {
                    T::zero()
                }
            }
            Activation::Tanh => T::one() - a * a,
            Activation::Sigmoid => a * (T::one() - a),
            Activation::Identity => T::one(),
        }
    }

    /// `values <- f(values)` elementwise.
    pub fn apply_in_place<T: Real>(self, values: &mut [T]) {
        match self {
            Activation::Relu => values.iter_mut().for_each(|v| *v = relu(*v)),
            Activation::Tanh => values.iter_mut().for_each(|v| *v = v.tanh()),
            Activation::Sigmoid => values.iter_mut().for_each(|v| *v = sigmoid(*v)),
            Activation::Identity => {}
        }
    }

    /// Fused bias + activation over a row-major (rows, width) block:
    /// `z[r, j] <- f(z[r, j] + bias[j])`.
    pub fn add_bias_and_apply<T: Real>(self, z: &mut [T], bias: &[T]) {
        Arch::new().dispatch(Elementwise(|| self.add_bias_and_apply_here(z, bias)));
    }

    /// `delta <- delta * f'(z)`, with f'(z) taken from the layer output `a`; same shapes.
    /// Written as selects and products (no branches) so that the loops vectorise.
    pub fn scale_by_derivative<T: Real>(self, delta: &mut [T], a: &[T]) {
        Arch::new().dispatch(Elementwise(|| self.scale_by_derivative_here(delta, a)));
    }

    #[inline(always)]
    fn add_bias_and_apply_here<T: Real>(self, z: &mut [T], bias: &[T]) {
        let width = bias.len();
        if width == 0 {
            return;
        }
        for row in z.chunks_exact_mut(width) {
            match self {
                Activation::Relu => row
                    .iter_mut()
                    .zip(bias)
                    .for_each(|(v, &b)| *v = relu(*v + b)),
                Activation::Tanh => row
                    .iter_mut()
                    .zip(bias)
                    .for_each(|(v, &b)| *v = (*v + b).tanh()),
                Activation::Sigmoid => row
                    .iter_mut()
                    .zip(bias)
                    .for_each(|(v, &b)| *v = sigmoid(*v + b)),
                Activation::Identity => row.iter_mut().zip(bias).for_each(|(v, &b)| *v += b),
            }
        }
    }

    #[inline(always)]
    fn scale_by_derivative_here<T: Real>(self, delta: &mut [T], a: &[T]) {
        match self {
            Activation::Relu => delta
                .iter_mut()
                .zip(a)
                .for_each(|(d, &a)| *d = if a > T::zero() { *d } else { T::zero() }),
            Activation::Tanh => delta
                .iter_mut()
                .zip(a)
                .for_each(|(d, &a)| *d *= T::one() - a * a),
            Activation::Sigmoid => delta
                .iter_mut()
                .zip(a)
                .for_each(|(d, &a)| *d *= a * (T::one() - a)),
            Activation::Identity => {}
        }
    }
}

/// An elementwise loop run under `pulp`'s best instruction set (AVX-512, AVX2 or scalar): the
/// closure is inlined into the dispatched function, so LLVM vectorises it for that set. Each
/// value is computed alone (no sums, no FMA contraction): the same bits on every set.
pub(crate) struct Elementwise<F>(pub(crate) F);

impl<F: FnOnce()> WithSimd for Elementwise<F> {
    type Output = ();

    #[inline(always)]
    fn with_simd<S: Simd>(self, _simd: S) {
        (self.0)()
    }
}

impl FromStr for Activation {
    type Err = Error;

    fn from_str(name: &str) -> Result<Self> {
        match name {
            "relu" => Ok(Activation::Relu),
            "tanh" => Ok(Activation::Tanh),
            "sigmoid" => Ok(Activation::Sigmoid),
            "identity" => Ok(Activation::Identity),
            other => Err(Error::value(
                "activation",
                format!("expected one of {:?}, got {other:?}", Activation::NAMES),
            )),
        }
    }
}

/// max(z, 0), keeping NaN as NaN like NumPy's `maximum` (`Float::max` would turn it into 0).
#[inline(always)]
pub fn relu<T: Real>(z: T) -> T {
    if z < T::zero() {
        T::zero()
    } else {
        z
    }
}

/// The logistic function, written so that neither branch overflows: for z < 0 it uses
/// e^z / (1 + e^z), where e^z <= 1.
#[inline(always)]
pub fn sigmoid<T: Real>(z: T) -> T {
    if z >= T::zero() {
        T::one() / (T::one() + (-z).exp())
    } else {
        let e = z.exp();
        e / (T::one() + e)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::network::column_sums;

    /// Values that tell the loops' branches and selects apart: signs, zeros, NaN, infinities,
    /// large and tiny magnitudes, over a width that leaves a tail after every vector length.
    fn awkward_values<T: Real>(count: usize) -> Vec<T> {
        let specials = [
            0.0,
            -0.0,
            1.5,
            -2.25,
            f64::NAN,
            f64::INFINITY,
            f64::NEG_INFINITY,
            1e30,
            -1e-30,
            40.0,
            -40.0,
        ];
        (0..count)
            .map(|i| match i % 3 {
                0 => specials[i % specials.len()],
                _ => ((i * 7919) % 1000) as f64 / 100.0 - 5.0,
            })
            .map(T::from_f64)
            .collect()
    }

    fn same_bits<T: Real>(got: &[T], expected: &[T]) {
        for (i, (g, e)) in got.iter().zip(expected).enumerate() {
            let (g, e) = (Real::to_f64(*g), Real::to_f64(*e));
            assert!(
                g.to_bits() == e.to_bits() || (g.is_nan() && e.is_nan()),
                "{i}: {g} != {e}"
            );
        }
    }

    fn dispatched_loops_give_the_per_value_results<T: Real>() {
        let (rows, width) = (7, 37);
        let bias = awkward_values::<T>(width);
        let a = awkward_values::<T>(rows * width);
        for activation in [
            Activation::Relu,
            Activation::Tanh,
            Activation::Sigmoid,
            Activation::Identity,
        ] {
            let mut z = a.clone();
            activation.add_bias_and_apply(&mut z, &bias);
            let expected: Vec<T> = a
                .iter()
                .enumerate()
                .map(|(i, &v)| activation.apply(v + bias[i % width]))
                .collect();
            same_bits(&z, &expected);

            let outputs: Vec<T> = a.iter().map(|&v| activation.apply(v)).collect();
            let mut delta = awkward_values::<T>(rows * width);
            delta.reverse();
            let expected: Vec<T> = delta
                .iter()
                .zip(&outputs)
                .map(|(&d, &o)| match activation {
                    Activation::Relu if o > T::zero() => d,
                    Activation::Relu => T::zero(),
                    _ => d * activation.derivative_from_output(o),
                })
                .collect();
            activation.scale_by_derivative(&mut delta, &outputs);
            same_bits(&delta, &expected);
        }

        let mut sums = vec![T::one(); width];
        column_sums(&a, width, &mut sums);
        let expected: Vec<T> = (0..width)
            .map(|j| (0..rows).fold(T::zero(), |s, r| s + a[r * width + j]))
            .collect();
        same_bits(&sums, &expected);
    }

    #[test]
    fn dispatched_loops_give_the_per_value_results_in_f32_and_f64() {
        dispatched_loops_give_the_per_value_results::<f32>();
        dispatched_loops_give_the_per_value_results::<f64>();
    }
}
