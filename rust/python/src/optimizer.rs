//! The optimizer arguments of `train_step` / `train_epoch_stats`: the settings as a tuple,
//! the caller's state arrays borrowed for update in place, and the core's `Descent` over them.
//!
//! Python passes `optimizer` as `("sgd", momentum, nesterov)` or `("adam", beta1, beta2,
//! epsilon)`, `step` as `state.step` (int64, shape (1,)) and `slots` as one
//! `(weights, biases)` pair of array lists per slot (velocity; or m, then v).

use crate::arrays::{items, readwrite};
use crate::errors::to_py_err;
use fastmlp_core::optimizer::{Descent, NetworkState, Optimizer, SlotArrays};
use fastmlp_core::{Architecture, Real};
use numpy::{Element, PyReadwriteArrayDyn, PyUntypedArrayMethods};
use pyo3::exceptions::{PyTypeError, PyValueError};
use pyo3::prelude::*;

/// The settings from their tuple.
pub fn optimizer_of(settings: Option<&Bound<'_, PyAny>>) -> PyResult<Optimizer> {
    let Some(settings) = settings else {
        return Ok(Optimizer::PLAIN_SGD);
    };
    let bad = || {
        PyTypeError::new_err(
            "optimizer: expected ('sgd', momentum, nesterov) or ('adam', beta1, beta2, epsilon)",
        )
    };
    let name: String = settings.get_item(0).map_err(|_| bad())?.extract()?;
    let number = |i: usize| -> PyResult<f64> { settings.get_item(i).map_err(|_| bad())?.extract() };
    let optimizer = match (name.as_str(), settings.len()?) {
        ("sgd", 3) => Optimizer::Sgd {
            momentum: number(1)?,
            nesterov: settings.get_item(2)?.extract()?,
        },
        ("adam", 4) => Optimizer::Adam {
            beta1: number(1)?,
            beta2: number(2)?,
            epsilon: number(3)?,
        },
        _ => return Err(bad()),
    };
    optimizer.check().map_err(to_py_err)?;
    Ok(optimizer)
}

/// One slot's arrays for the weights (or the biases), borrowed for update in place.
type Borrowed<'py, T> = Vec<PyReadwriteArrayDyn<'py, T>>;

/// The state arrays, borrowed for update in place: the step count and each slot's arrays.
pub struct BorrowedState<'py, T: Element> {
    optimizer: Optimizer,
    alpha: f64,
    step: Option<PyReadwriteArrayDyn<'py, i64>>,
    slots: Vec<(Borrowed<'py, T>, Borrowed<'py, T>)>,
    /// The step count of plain SGD with L2 and no state.
    uncounted: i64,
}

const SLOT_NAMES: [[&str; 2]; 3] = [["velocity", ""], ["m", "v"], ["", ""]];

impl<'py, T: Element + Real> BorrowedState<'py, T> {
    /// Borrow `step` and `slots` (None for plain SGD without a state).
    pub fn borrow(
        optimizer: Optimizer,
        alpha: f64,
        step: Option<&Bound<'py, PyAny>>,
        slots: Option<&Bound<'py, PyAny>>,
    ) -> PyResult<Self> {
        let step = step
            .map(|step| -> PyResult<_> {
                let array = readwrite::<i64>("state.step", step, Some(1), "int64")?;
                if array.len() != 1 {
                    return Err(PyValueError::new_err(
                        "state.step: expected a writeable int64 array of shape (1,)",
                    ));
                }
                Ok(array)
            })
            .transpose()?;
        let names = match optimizer.slots() {
            1 => SLOT_NAMES[0],
            2 => SLOT_NAMES[1],
            _ => SLOT_NAMES[2],
        };
        let mut borrowed = Vec::new();
        if let Some(slots) = slots {
            for (i, slot) in items("state", slots)?.iter().enumerate() {
                let name = names
                    .get(i)
                    .copied()
                    .filter(|n| !n.is_empty())
                    .unwrap_or("slot");
                let pair = items(&format!("state.{name}"), slot)?;
                let [weights, biases] = pair.as_slice() else {
                    return Err(PyValueError::new_err(format!(
                        "state.{name}: expected (weights, biases)"
                    )));
                };
                let take = |kind: &str, list: &Bound<'py, PyAny>, ndim: usize| {
                    items(&format!("state.{name}.{kind}"), list)?
                        .iter()
                        .enumerate()
                        .map(|(l, a)| {
                            readwrite::<T>(
                                &format!("state.{name}.{kind}[{l}]"),
                                a,
                                Some(ndim),
                                T::NAME,
                            )
                        })
                        .collect::<PyResult<Vec<_>>>()
                };
                borrowed.push((take("weights", weights, 2)?, take("biases", biases, 1)?));
            }
        }
        if step.is_none() && (optimizer.slots() > 0 || !borrowed.is_empty()) {
            return Err(PyValueError::new_err(
                "state: this optimizer keeps state per parameter: pass \
                 state=fastmlp.optimizers.init_state(optimizer, weights, biases)",
            ));
        }
        Ok(BorrowedState {
            optimizer,
            alpha,
            step,
            slots: borrowed,
            uncounted: 0,
        })
    }

    /// The core's view of the state (None: plain SGD without L2 or a state to count in).
    pub fn descent<'s>(&'s mut self, arch: &Architecture) -> PyResult<Option<Descent<'s, T>>> {
        let BorrowedState {
            optimizer,
            alpha,
            step,
            slots,
            uncounted,
        } = self;
        let step: &mut i64 = match step.as_mut() {
            Some(array) => {
                let values = array
                    .as_slice_mut()
                    .map_err(|e| PyValueError::new_err(format!("state.step: {e}")))?;
                &mut values[0]
            }
            None if *alpha == 0.0 => return Ok(None),
            // Plain SGD with L2 and no state: its steps are counted nowhere.
            None => uncounted,
        };
        let slots = slots
            .iter_mut()
            .map(|(weights, biases)| -> PyResult<SlotArrays<'s, T>> {
                let slices = |arrays: &'s mut Vec<PyReadwriteArrayDyn<'py, T>>| slices_of(arrays);
                Ok(SlotArrays {
                    weights: slices(weights)?,
                    biases: slices(biases)?,
                })
            })
            .collect::<PyResult<Vec<_>>>()?;
        let state = NetworkState::new(arch, *optimizer, step, slots).map_err(to_py_err)?;
        Ok(Some(Descent::new(state, *alpha).map_err(to_py_err)?))
    }
}

/// The arrays' memory, each C-contiguous (checked when it was borrowed).
fn slices_of<'s, T: Element>(
    arrays: &'s mut [PyReadwriteArrayDyn<'_, T>],
) -> PyResult<Vec<&'s mut [T]>> {
    arrays
        .iter_mut()
        .map(|a| {
            a.as_slice_mut()
                .map_err(|e| PyValueError::new_err(format!("state: array is not contiguous: {e}")))
        })
        .collect()
}
