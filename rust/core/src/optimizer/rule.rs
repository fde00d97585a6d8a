//! One step's rule applied to a range of a parameter: the whole update of each element (L2
//! term, state, weight) in one pass, in the reference's order of operations.

use super::settings::Optimizer;
use super::state::Slots;
use crate::error::{Error, Result};
use crate::real::Real;
use pulp::{Arch, Simd, WithSimd};

/// A range's gradient of the batch's mean loss, without the L2 term (the rule adds it).
#[derive(Debug, Clone, Copy)]
pub enum Gradient<'a, T> {
    /// Element for element, as long as the range.
    Values(&'a [T]),
    /// All zero: rows of a sparse first layer that the batch's inputs did not touch.
    Zero,
}

/// One step's constants, in the parameters' type: built once per step, applied to every
/// range of every parameter.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct StepRule<T> {
    lr: T,
    /// alpha / n: the L2 term's factor for the weights.
    l2: T,
    kind: Kind<T>,
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Kind<T> {
    Plain,
    Momentum {
        momentum: T,
        nesterov: bool,
    },
    Adam {
        beta1: T,
        one_minus_beta1: T,
        beta2: T,
        one_minus_beta2: T,
        epsilon: T,
        /// -lr * sqrt(1 - beta2^t) / (1 - beta1^t)
        minus_lr_t: T,
    },
}

impl<T: Real> StepRule<T> {
    /// The rule of step number `step` (counting from 1: Adam's t after `t += 1`) on a batch
    /// of `batch_rows` rows (or row weights summing to it: the L2 term's n, > 0), learning
    /// rate `lr` (> 0) and L2 penalty `alpha` (>= 0).
    pub fn new(
        optimizer: &Optimizer,
        lr: f64,
        alpha: f64,
        batch_rows: f64,
        step: i64,
    ) -> Result<Self> {
        optimizer.check()?;
        if !(lr.is_finite() && lr > 0.0) {
            return Err(Error::value(
                "lr",
                format!("expected a finite number > 0, got {lr}"),
            ));
        }
        if !(alpha.is_finite() && alpha >= 0.0) {
            return Err(Error::value(
                "alpha",
                format!("expected a finite number >= 0, got {alpha}"),
            ));
        }
        if !(batch_rows.is_finite() && batch_rows > 0.0) {
            return Err(Error::value(
                "batch_rows",
                format!("expected at least one row (a weight sum > 0), got {batch_rows}"),
            ));
        }
        if step < 1 {
            return Err(Error::value(
                "step",
                format!("expected the step's number, counting from 1, got {step}"),
            ));
        }
        let kind = match *optimizer {
            Optimizer::Sgd { momentum: 0.0, .. } => Kind::Plain,
            Optimizer::Sgd { momentum, nesterov } => Kind::Momentum {
                momentum: T::from_f64(momentum),
                nesterov,
            },
            Optimizer::Adam {
                beta1,
                beta2,
                epsilon,
            } => {
                // As scikit-learn (and the reference) compute it: in f64, pow as libm's.
                let t = step as f64;
                let lr_t = lr * (1.0 - beta2.powf(t)).sqrt() / (1.0 - beta1.powf(t));
                Kind::Adam {
                    beta1: T::from_f64(beta1),
                    one_minus_beta1: T::from_f64(1.0 - beta1),
                    beta2: T::from_f64(beta2),
                    one_minus_beta2: T::from_f64(1.0 - beta2),
                    epsilon: T::from_f64(epsilon),
                    minus_lr_t: T::from_f64(-lr_t),
                }
            }
        };
        Ok(StepRule {
            lr: T::from_f64(lr),
            l2: T::from_f64(alpha / batch_rows),
            kind,
        })
    }

    /// State arrays each parameter needs: 0 (plain SGD), 1 (velocity), 2 (m, v).
    pub fn slots(&self) -> usize {
        match self.kind {
            Kind::Plain => 0,
            Kind::Momentum { .. } => 1,
            Kind::Adam { .. } => 2,
        }
    }

    /// Whether a weight whose gradient is zero still changes (momentum, Adam or L2): then a
    /// sparse first layer must update every row of W[0], not only the rows its batch touched.
    pub fn moves_untouched_rows(&self) -> bool {
        self.kind != Kind::Plain || self.l2 != T::zero()
    }

    /// Update a range of a weight matrix (any whole or partial rows) from its gradient, with
    /// the L2 term, and its slots (the same range of the state's arrays).
    pub fn update_weights(
        &self,
        weights: &mut [T],
        gradient: Gradient<'_, T>,
        slots: Slots<'_, T>,
    ) -> Result<()> {
        self.update("weights", weights, gradient, slots, self.l2)
    }

    /// Update a range of a bias: the same rule without the L2 term.
    pub fn update_biases(
        &self,
        biases: &mut [T],
        gradient: Gradient<'_, T>,
        slots: Slots<'_, T>,
    ) -> Result<()> {
        self.update("biases", biases, gradient, slots, T::zero())
    }

    fn update(
        &self,
        what: &str,
        params: &mut [T],
        gradient: Gradient<'_, T>,
        slots: Slots<'_, T>,
        l2: T,
    ) -> Result<()> {
        let len = params.len();
        if let Gradient::Values(g) = gradient {
            if g.len() != len {
                return Err(Error::shape(
                    "gradient",
                    format!("{len} values, as many as the {what}"),
                    format!("{}", g.len()),
                ));
            }
        }
        if slots.count() != self.slots() {
            return Err(Error::value(
                "state",
                format!(
                    "expected {} state array(s) per parameter for this optimizer, got {}",
                    self.slots(),
                    slots.count()
                ),
            ));
        }
        let lengths_match = match &slots {
            Slots::None => true,
            Slots::Velocity(v) => v.len() == len,
            Slots::Moments { m, v } => m.len() == len && v.len() == len,
        };
        if !lengths_match {
            return Err(Error::shape(
                "state",
                format!("{len} values per array, as many as the {what}"),
                format!("{:?}", slots.elements()),
            ));
        }
        if self.kind == Kind::Plain && l2 == T::zero() && matches!(gradient, Gradient::Zero) {
            return Ok(()); // W -= lr * 0
        }
        Arch::new().dispatch(Update {
            kind: self.kind,
            lr: self.lr,
            l2,
            params,
            gradient,
            slots,
        });
        Ok(())
    }
}

/// `sum(values^2)` in f64, in a fixed order (16 running sums): the L2 term of the loss is
/// `alpha / (2 n) * sum_of_squares(W)` over every weight matrix, taken before the step.
pub fn sum_of_squares<T: Real>(values: &[T]) -> f64 {
    Arch::new().dispatch(SumOfSquares(values))
}

const LANES: usize = 16;

struct SumOfSquares<'a, T>(&'a [T]);

impl<T: Real> WithSimd for SumOfSquares<'_, T> {
    type Output = f64;

    #[inline(always)]
    fn with_simd<S: Simd>(self, _simd: S) -> f64 {
        let mut lanes = [0.0f64; LANES];
        let chunks = self.0.chunks_exact(LANES);
        let tail = chunks.remainder();
        for chunk in chunks {
            for (lane, &x) in lanes.iter_mut().zip(chunk) {
                let x = x.to_f64();
                *lane += x * x;
            }
        }
        for (lane, &x) in lanes.iter_mut().zip(tail) {
            let x = x.to_f64();
            *lane += x * x;
        }
        lanes.iter().sum()
    }
}

/// The update of one range, run under `pulp`'s best instruction set: the loops below are
/// plain Rust, inlined here so that LLVM vectorises them with AVX-512 or AVX2 (no FMA
/// contraction: the same results on every instruction set).
struct Update<'a, T> {
    kind: Kind<T>,
    lr: T,
    l2: T,
    params: &'a mut [T],
    gradient: Gradient<'a, T>,
    slots: Slots<'a, T>,
}

impl<T: Real> WithSimd for Update<'_, T> {
    type Output = ();

    #[inline(always)]
    fn with_simd<S: Simd>(self, _simd: S) {
        let Update {
            kind,
            lr,
            l2,
            params,
            gradient,
            slots,
        } = self;
        match gradient {
            Gradient::Values(g) => update_range(kind, lr, l2, params, Given(g), slots),
            Gradient::Zero => update_range(kind, lr, l2, params, Zeros, slots),
        }
    }
}

/// Element i of a range's gradient.
trait Source<T>: Copy {
    fn at(self, i: usize) -> T;
}

#[derive(Clone, Copy)]
struct Given<'a, T>(&'a [T]);

impl<T: Copy> Source<T> for Given<'_, T> {
    #[inline(always)]
    fn at(self, i: usize) -> T {
        self.0[i]
    }
}

#[derive(Clone, Copy)]
struct Zeros;

impl<T: Real> Source<T> for Zeros {
    #[inline(always)]
    fn at(self, _i: usize) -> T {
        T::zero()
    }
}

#[inline(always)]
fn update_range<T: Real, G: Source<T>>(
    kind: Kind<T>,
    lr: T,
    l2: T,
    w: &mut [T],
    g: G,
    slots: Slots<'_, T>,
) {
    let with_l2 = l2 != T::zero();
    match (kind, slots) {
        (Kind::Plain, _) if with_l2 => plain::<T, G, true>(w, g, lr, l2),
        (Kind::Plain, _) => plain::<T, G, false>(w, g, lr, l2),
        (Kind::Momentum { momentum, nesterov }, Slots::Velocity(v)) => match (with_l2, nesterov) {
            (true, true) => sgd_momentum::<T, G, true, true>(w, g, v, lr, l2, momentum),
            (true, false) => sgd_momentum::<T, G, true, false>(w, g, v, lr, l2, momentum),
            (false, true) => sgd_momentum::<T, G, false, true>(w, g, v, lr, l2, momentum),
            (false, false) => sgd_momentum::<T, G, false, false>(w, g, v, lr, l2, momentum),
        },
        (Kind::Adam { .. }, Slots::Moments { m, v }) if with_l2 => {
            adam::<T, G, true>(w, g, m, v, l2, kind)
        }
        (Kind::Adam { .. }, Slots::Moments { m, v }) => adam::<T, G, false>(w, g, m, v, l2, kind),
        // StepRule::update checked that the slots are the rule's.
        _ => {}
    }
}

/// `g + (alpha / n) * w` for the weights (`L2`), `g` for the biases.
#[inline(always)]
fn with_l2<T: Real, const L2: bool>(g: T, w: T, l2: T) -> T {
    if L2 {
        g + l2 * w
    } else {
        g
    }
}

/// `W -= lr * g'`
#[inline(always)]
fn plain<T: Real, G: Source<T>, const L2: bool>(w: &mut [T], g: G, lr: T, l2: T) {
    for (i, w) in w.iter_mut().enumerate() {
        let g = with_l2::<T, L2>(g.at(i), *w, l2);
        *w -= lr * g;
    }
}

/// `v = mu * v - lr * g';  W += v`, or with Nesterov `W += mu * v - lr * g'`.
#[inline(always)]
fn sgd_momentum<T: Real, G: Source<T>, const L2: bool, const NESTEROV: bool>(
    w: &mut [T],
    g: G,
    v: &mut [T],
    lr: T,
    l2: T,
    momentum: T,
) {
    let v = &mut v[..w.len()];
    for (i, (w, v)) in w.iter_mut().zip(v.iter_mut()).enumerate() {
        let g = with_l2::<T, L2>(g.at(i), *w, l2);
        *v = momentum * *v - lr * g;
        *w = if NESTEROV {
            *w + (momentum * *v - lr * g)
        } else {
            *w + *v
        };
    }
}

/// `m = b1 m + (1 - b1) g';  v = b2 v + (1 - b2) g'^2;  W += (-lr_t m) / (sqrt(v) + eps)`.
#[inline(always)]
fn adam<T: Real, G: Source<T>, const L2: bool>(
    w: &mut [T],
    g: G,
    m: &mut [T],
    v: &mut [T],
    l2: T,
    kind: Kind<T>,
) {
    let Kind::Adam {
        beta1,
        one_minus_beta1,
        beta2,
        one_minus_beta2,
        epsilon,
        minus_lr_t,
    } = kind
    else {
        return;
    };
    let n = w.len();
    let (m, v) = (&mut m[..n], &mut v[..n]);
    for (i, ((w, m), v)) in w.iter_mut().zip(m.iter_mut()).zip(v.iter_mut()).enumerate() {
        let g = with_l2::<T, L2>(g.at(i), *w, l2);
        *m = beta1 * *m + one_minus_beta1 * g;
        *v = beta2 * *v + one_minus_beta2 * (g * g);
        *w += (minus_lr_t * *m) / (v.sqrt() + epsilon);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every rule on every instruction set pulp offers here gives the scalar code's bits.
    fn same_bits_on_every_instruction_set<T: Real>() {
        let optimizers = [
            Optimizer::PLAIN_SGD,
            Optimizer::Sgd {
                momentum: 0.9,
                nesterov: true,
            },
            Optimizer::Adam {
                beta1: 0.9,
                beta2: 0.999,
                epsilon: 1e-8,
            },
        ];
        let n = 301; // whole vectors of every width and a tail
        let value = |i: usize, scale: f64| {
            T::from_f64(((i * 7919) % 113) as f64 / 56.0 - 1.0) * T::from_f64(scale)
        };
        for optimizer in optimizers {
            let rule = StepRule::<T>::new(&optimizer, 0.03, 0.2, 16.0, 3).unwrap();
            let g: Vec<T> = (0..n).map(|i| value(i, 0.5)).collect();
            let run = |simd: &dyn Fn(Update<'_, T>)| {
                let mut w: Vec<T> = (0..n).map(|i| value(i + 1, 1.0)).collect();
                let mut slots: Vec<Vec<T>> = (0..rule.slots())
                    .map(|_| (0..n).map(|i| value(i + 2, 1.0).abs()).collect())
                    .collect();
                let view = match slots.as_mut_slice() {
                    [] => Slots::None,
                    [v] => Slots::Velocity(v),
                    [m, v] => Slots::Moments { m, v },
                    _ => unreachable!(),
                };
                simd(Update {
                    kind: rule.kind,
                    lr: rule.lr,
                    l2: rule.l2,
                    params: &mut w,
                    gradient: Gradient::Values(&g),
                    slots: view,
                });
                let bits = |v: &[T]| {
                    v.iter()
                        .map(|&x| Real::to_f64(x).to_bits())
                        .collect::<Vec<_>>()
                };
                (bits(&w), slots.iter().map(|s| bits(s)).collect::<Vec<_>>())
            };
            let scalar = run(&|update| update.with_simd(pulp::Scalar::new()));
            #[cfg(target_arch = "x86_64")]
            {
                if let Some(simd) = pulp::x86::V3::try_new() {
                    assert_eq!(
                        run(&|update| update.with_simd(simd)),
                        scalar,
                        "{optimizer:?} V3"
                    );
                }
                if let Some(simd) = pulp::x86::V4::try_new() {
                    assert_eq!(
                        run(&|update| update.with_simd(simd)),
                        scalar,
                        "{optimizer:?} V4"
                    );
                }
            }
        }
    }

    #[test]
    fn every_instruction_set_gives_the_same_bits() {
        same_bits_on_every_instruction_set::<f32>();
        same_bits_on_every_instruction_set::<f64>();
    }
}
