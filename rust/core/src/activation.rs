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

    /// `delta <- delta * f'(z)`, with f'(z) taken from the layer output `a`; same shapes.
    /// Written as selects and products (no branches) so that the loops vectorise.
    pub fn scale_by_derivative<T: Real>(self, delta: &mut [T], a: &[T]) {
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
