"""The optimizer's state: arrays the caller creates once and both engines update in place.

Layout (``L`` layers, parameters ``weights[l]`` (fan_in, fan_out) and ``biases[l]``
(fan_out,), all of one dtype)::

    state.step       int64 array of shape (1,): the steps taken with this state (Adam's t)
    state.velocity   SGD with momentum: Moments, one array shaped as each parameter
    state.m, state.v Adam's first and second moments: Moments each
                     (slots an optimizer does not keep are None)

    Moments.weights[l]  (fan_in, fan_out)    Moments.biases[l]  (fan_out,)

Plain SGD keeps no arrays: its ``state`` may be ``None``. Every array is C-contiguous,
writeable, of the parameters' dtype, and shares no memory with another.
"""

from __future__ import annotations

import weakref
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

from fastmlp.optimizers.settings import Optimizer, check_alpha, check_optimizer

__all__ = [
    "Moments",
    "OptimizerState",
    "check_optimizer_arguments",
    "check_state",
    "init_state",
    "state_from_arrays",
]

SLOTS = ("velocity", "m", "v")


@dataclass(eq=False)
class Moments:
    """One array per parameter, shaped as it: ``weights[l]`` (fan_in, fan_out) and
    ``biases[l]`` (fan_out,)."""

    weights: list[NDArray]
    biases: list[NDArray]

    def arrays(self) -> list[NDArray]:
        return [*self.weights, *self.biases]


@dataclass(eq=False)
class OptimizerState:
    """An optimizer's state for one network (see the module's docstring for the layout).

    Make it with :func:`init_state`, pass it to every ``train_epoch`` / ``train_step`` call of
    either engine, and training continues exactly where the last call stopped.
    """

    step: NDArray[np.int64]
    velocity: Moments | None = None
    m: Moments | None = None
    v: Moments | None = None

    def slots(self) -> dict[str, Moments]:
        """The slots it holds, by name, in the order velocity, m, v."""
        held = {name: getattr(self, name) for name in SLOTS}
        return {name: moments for name, moments in held.items() if moments is not None}

    def arrays(self) -> dict[str, NDArray]:
        """Every array by a flat name: ``step``, ``velocity.W0``, ``m.b1``, ... (for files)."""
        named: dict[str, NDArray] = {"step": self.step}
        for name, moments in self.slots().items():
            named.update({f"{name}.W{i}": w for i, w in enumerate(moments.weights)})
            named.update({f"{name}.b{i}": b for i, b in enumerate(moments.biases)})
        return named

    def copy(self) -> OptimizerState:
        """A deep copy."""
        copies = {
            name: Moments([w.copy() for w in s.weights], [b.copy() for b in s.biases])
            for name, s in self.slots().items()
        }
        return OptimizerState(self.step.copy(), **copies)

    def assign(self, other: OptimizerState) -> None:
        """Overwrite every array in place with ``other``'s (a copy of this state)."""
        for mine, theirs in zip(self.arrays().values(), other.arrays().values(), strict=True):
            mine[...] = theirs


def init_state(
    optimizer: Optimizer, weights: Sequence[NDArray], biases: Sequence[NDArray]
) -> OptimizerState:
    """A fresh state for ``optimizer`` on these parameters: zeros, step 0.

    Args:
        optimizer: an :class:`~fastmlp.optimizers.SGD` or :class:`~fastmlp.optimizers.Adam`.
        weights: ``weights[l]`` (fan_in, fan_out), float32 or float64.
        biases: ``biases[l]`` (fan_out,), same dtype.
    """
    slots = {
        name: Moments([np.zeros_like(w) for w in weights], [np.zeros_like(b) for b in biases])
        for name in optimizer.slots
    }
    return OptimizerState(np.zeros(1, dtype=np.int64), **slots)


def check_state(
    optimizer: Optimizer,
    state: object,
    weights: Sequence[NDArray],
    biases: Sequence[NDArray],
) -> OptimizerState | None:
    """``state`` if it fits ``optimizer`` and the parameters, else TypeError/ValueError.

    ``None`` is accepted for plain SGD only (it keeps no arrays).
    """
    if state is None:
        if optimizer.slots:
            raise ValueError(
                f"state: {optimizer!r} keeps {', '.join(optimizer.slots)} per parameter: "
                "pass state=fastmlp.optimizers.init_state(optimizer, weights, biases), "
                "the same object on every call"
            )
        return None
    if not isinstance(state, OptimizerState):
        raise TypeError(
            "state: expected None or a fastmlp.optimizers.OptimizerState, "
            f"got {type(state).__name__}"
        )
    step = state.step
    if not (
        isinstance(step, np.ndarray)
        and step.dtype == np.int64
        and step.shape == (1,)
        and step.flags.writeable
    ):
        raise ValueError("state.step: expected a writeable int64 array of shape (1,)")
    if step[0] < 0:
        raise ValueError(f"state.step: expected the steps taken so far (>= 0), got {step[0]}")
    held = tuple(state.slots())
    if held != optimizer.slots:
        raise ValueError(
            f"state: {optimizer!r} keeps {list(optimizer.slots)}, the state holds {list(held)}; "
            "make one with fastmlp.optimizers.init_state(optimizer, weights, biases)"
        )
    layers = len(weights)
    parameters = [*weights, *biases]
    arrays: list[NDArray] = []
    for name, moments in state.slots().items():
        if not isinstance(moments, Moments):
            raise TypeError(f"state.{name}: expected Moments, got {type(moments).__name__}")
        if len(moments.weights) != layers or len(moments.biases) != layers:
            raise ValueError(
                f"state.{name}: expected {layers} weight and {layers} bias arrays, got "
                f"{len(moments.weights)} and {len(moments.biases)}"
            )
        for kind, own, params in (
            ("weights", moments.weights, weights),
            ("biases", moments.biases, biases),
        ):
            for layer, (array, param) in enumerate(zip(own, params, strict=True)):
                _check_array(f"state.{name}.{kind}[{layer}]", array, param)
        arrays.extend(moments.arrays())
    _check_disjoint(arrays, parameters)
    return state


def check_optimizer_arguments(
    optimizer: object,
    state: object,
    alpha: object,
    weights: Sequence[NDArray],
    biases: Sequence[NDArray],
) -> tuple[Optimizer, OptimizerState | None, float]:
    """The engines' ``optimizer``, ``state`` and ``alpha`` keywords, checked alike in both."""
    checked = check_optimizer(optimizer)
    return checked, check_state(checked, state, weights, biases), check_alpha(alpha)


def _check_array(arg: str, array: object, param: NDArray) -> None:
    if not isinstance(array, np.ndarray):
        raise TypeError(f"{arg}: expected a numpy array, got {type(array).__name__}")
    if array.dtype != param.dtype or array.shape != param.shape:
        raise ValueError(
            f"{arg}: expected {param.dtype} of shape {param.shape} (its parameter's), "
            f"got {array.dtype} of shape {array.shape}"
        )
    if not (array.flags.c_contiguous and array.flags.writeable):
        raise ValueError(f"{arg}: expected a C-contiguous, writeable array")


#: The arrays last found disjoint, as weak references, with their layouts: the training loop
#: checks the same state and parameters on every epoch call.
_LAST_DISJOINT: dict[str, Any] = {}


def _check_disjoint(arrays: list[NDArray], parameters: list[NDArray]) -> None:
    """No state array may overlap another or a parameter: each is updated on its own.

    The same array objects with the same shapes and strides as the last call that passed
    (an ndarray's memory never moves) pass again without the pairwise check."""
    everything = [*arrays, *parameters]
    layout = [(a.shape, a.strides) if isinstance(a, np.ndarray) else None for a in everything]
    last = _LAST_DISJOINT.get("arrays")
    if (
        last is not None
        and last[1] == layout
        and len(last[0]) == len(everything)
        and all(ref() is a for ref, a in zip(last[0], everything, strict=True))
    ):
        return
    for i, array in enumerate(arrays):
        for other in everything[i + 1 :]:
            if np.may_share_memory(array, other):
                raise ValueError(
                    "state: two of its arrays (or one and a parameter) share memory; "
                    "each needs its own (init_state makes them)"
                )
    try:
        _LAST_DISJOINT["arrays"] = ([weakref.ref(a) for a in everything], layout)
    except TypeError:  # an argument that is not an ndarray (nothing is remembered)
        _LAST_DISJOINT.pop("arrays", None)


def state_from_arrays(
    optimizer: Optimizer,
    arrays: dict[str, NDArray],
    weights: Sequence[NDArray],
    biases: Sequence[NDArray],
) -> OptimizerState:
    """The state whose :meth:`OptimizerState.arrays` were ``arrays`` (read from a file).

    Raises ValueError when an array is missing, extra, misshapen, or not finite (and Adam's v
    negative). The arrays are copied into fresh, writeable C-ordered ones.
    """
    fresh = init_state(optimizer, weights, biases)
    expected = fresh.arrays()
    if set(arrays) != set(expected):
        raise ValueError(
            f"expected optimizer state arrays {sorted(expected)} for {optimizer!r}, "
            f"got {sorted(arrays)}"
        )
    for name, target in expected.items():
        array = arrays[name]
        if array.shape != target.shape or array.dtype != target.dtype:
            raise ValueError(
                f"optimizer state {name}: expected {target.dtype} of shape {target.shape}, "
                f"got {array.dtype} of shape {array.shape}"
            )
        if name == "step":
            if array[0] < 0:
                raise ValueError(f"optimizer state step: expected >= 0, got {array[0]}")
        elif not np.isfinite(array).all():
            raise ValueError(f"optimizer state {name}: contains NaN or infinite values")
        elif name.startswith("v.") and (array < 0).any():
            raise ValueError(f"optimizer state {name}: Adam's second moment is negative")
        target[...] = array
    return fresh
