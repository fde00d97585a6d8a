//! An optimizer's settings, as `MLP.fit` takes them, and the state each one keeps.

use crate::error::{Error, Result};

/// Which rule, with its hyperparameters (scikit-learn's names and ranges).
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Optimizer {
    /// Stochastic gradient descent; `momentum` in [0, 1]. Momentum 0 is plain SGD, which
    /// keeps no state (`nesterov` then changes nothing).
    Sgd { momentum: f64, nesterov: bool },
    /// Adam; `beta1`, `beta2` in [0, 1), `epsilon` > 0.
    Adam {
        beta1: f64,
        beta2: f64,
        epsilon: f64,
    },
}

impl Optimizer {
    /// `W -= lr * g`: today's SGD.
    pub const PLAIN_SGD: Optimizer = Optimizer::Sgd {
        momentum: 0.0,
        nesterov: false,
    };

    /// The settings, or `Error::Value` naming the first one out of range.
    pub fn check(&self) -> Result<()> {
        match *self {
            Optimizer::Sgd { momentum, .. } => in_range("momentum", momentum, "[0, 1]", 1.0, true),
            Optimizer::Adam {
                beta1,
                beta2,
                epsilon,
            } => {
                in_range("beta1", beta1, "[0, 1)", 1.0, false)?;
                in_range("beta2", beta2, "[0, 1)", 1.0, false)?;
                if epsilon.is_finite() && epsilon > 0.0 {
                    Ok(())
                } else {
                    Err(Error::value(
                        "epsilon",
                        format!("expected a finite number > 0, got {epsilon}"),
                    ))
                }
            }
        }
    }

    /// State arrays per parameter: 0 (plain SGD), 1 (velocity) or 2 (Adam's m and v).
    pub fn slots(&self) -> usize {
        match *self {
            Optimizer::Sgd { momentum: 0.0, .. } => 0,
            Optimizer::Sgd { .. } => 1,
            Optimizer::Adam { .. } => 2,
        }
    }

    /// Plain SGD: no state, `W -= lr * g'`.
    pub fn is_plain(&self) -> bool {
        self.slots() == 0
    }
}

/// `value` in [0, high] (`closed`) or [0, high).
fn in_range(arg: &str, value: f64, range: &str, high: f64, closed: bool) -> Result<()> {
    let inside = value >= 0.0 && (value < high || (closed && value == high));
    if inside {
        Ok(())
    } else {
        Err(Error::value(
            arg,
            format!("expected a number in {range}, got {value}"),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slots_per_rule() {
        assert_eq!(Optimizer::PLAIN_SGD.slots(), 0);
        let nesterov_without_momentum = Optimizer::Sgd {
            momentum: 0.0,
            nesterov: true,
        };
        assert!(nesterov_without_momentum.is_plain());
        let momentum = Optimizer::Sgd {
            momentum: 0.9,
            nesterov: false,
        };
        assert_eq!(momentum.slots(), 1);
        let adam = Optimizer::Adam {
            beta1: 0.9,
            beta2: 0.999,
            epsilon: 1e-8,
        };
        assert_eq!(adam.slots(), 2);
    }

    #[test]
    fn out_of_range_settings_name_the_argument() {
        let cases = [
            (
                Optimizer::Sgd {
                    momentum: -0.1,
                    nesterov: false,
                },
                "momentum",
            ),
            (
                Optimizer::Sgd {
                    momentum: f64::NAN,
                    nesterov: false,
                },
                "momentum",
            ),
            (
                Optimizer::Adam {
                    beta1: 1.0,
                    beta2: 0.999,
                    epsilon: 1e-8,
                },
                "beta1",
            ),
            (
                Optimizer::Adam {
                    beta1: 0.9,
                    beta2: -1e-3,
                    epsilon: 1e-8,
                },
                "beta2",
            ),
            (
                Optimizer::Adam {
                    beta1: 0.9,
                    beta2: 0.999,
                    epsilon: 0.0,
                },
                "epsilon",
            ),
        ];
        for (optimizer, name) in cases {
            match optimizer.check() {
                Err(Error::Value { arg, .. }) => assert_eq!(arg, name),
                other => panic!("{optimizer:?}: expected a Value error, got {other:?}"),
            }
        }
        let edge = Optimizer::Sgd {
            momentum: 1.0,
            nesterov: true,
        };
        assert_eq!(edge.check(), Ok(()));
    }
}
