"""Initial weights: every scheme the seed notebooks use, drawn from one NumPy Generator.

Weights are drawn in float64 and cast to the model's dtype, layer by layer in order, as the
seeds do (``rng.normal(0, 0.02, size=(784, 128)).astype(np.float32)``), so that the same seed
reproduces a seed notebook's initial weights exactly. Biases start at zero.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence

import numpy as np
from numpy.typing import NDArray

__all__ = ["INIT_NAMES", "Init", "check_init", "initial_parameters"]

#: ``"he"``, ``"xavier"``, ``("normal", std)`` or ``("uniform", low, high)``.
Init = str | tuple

INIT_NAMES = ("he", "xavier", "normal", "uniform")
_USAGE = '"he", "xavier", ("normal", std) or ("uniform", low, high)'


def check_init(init: object) -> tuple:
    """``init`` in its canonical tuple form: ``("he",)``, ``("normal", std)``, ... ."""
    if isinstance(init, str):
        if init in ("he", "xavier"):
            return (init,)
        if init in ("normal", "uniform"):
            raise ValueError(f"init: {init!r} needs its parameters, e.g. {_USAGE}")
        raise ValueError(f"init: expected one of {_USAGE}, got {init!r}")
    if isinstance(init, (tuple, list)) and init and isinstance(init[0], str):
        name, *params = init
        if name in ("he", "xavier") and not params:
            return (name,)
        numbers = [p for p in params if isinstance(p, (int, float)) and not isinstance(p, bool)]
        if len(numbers) != len(params) or not all(np.isfinite(numbers)):
            raise ValueError(f"init: parameters must be finite numbers, got {init!r}")
        if name == "normal" and len(params) == 1:
            if params[0] <= 0:
                raise ValueError(f"init: the normal std must be > 0, got {params[0]}")
            return ("normal", float(params[0]))
        if name == "uniform" and len(params) == 2:
            if not params[0] < params[1]:
                raise ValueError(f"init: uniform needs low < high, got {params[0]}, {params[1]}")
            return ("uniform", float(params[0]), float(params[1]))
    raise ValueError(f"init: expected one of {_USAGE}, got {init!r}")


def _draw(init: tuple, fan_in: int, fan_out: int, rng: np.random.Generator) -> NDArray:
    shape = (fan_in, fan_out)
    match init:
        case ("he",):
            # He et al. 2015, for ReLU: N(0, 2 / fan_in).
            return rng.normal(0.0, np.sqrt(2.0 / fan_in), size=shape)
        case ("xavier",):
            # Glorot & Bengio 2010, uniform form: U(-a, a) with a = sqrt(6 / (fan_in + fan_out)).
            limit = np.sqrt(6.0 / (fan_in + fan_out))
            return rng.uniform(-limit, limit, size=shape)
        case ("normal", std):
            return rng.normal(0.0, std, size=shape)
        case ("uniform", low, high):
            return rng.uniform(low, high, size=shape)
    raise AssertionError(f"unchecked init {init!r}")


def initial_parameters(
    layer_sizes: Sequence[int], init: tuple, dtype: np.dtype, rng: np.random.Generator
) -> tuple[list[NDArray], list[NDArray]]:
    """Weights ``(fan_in, fan_out)`` drawn by ``init`` and zero biases ``(fan_out,)``."""
    weights, biases = [], []
    for fan_in, fan_out in itertools.pairwise(layer_sizes):
        weights.append(np.ascontiguousarray(_draw(init, fan_in, fan_out, rng), dtype=dtype))
        biases.append(np.zeros(fan_out, dtype=dtype))
    return weights, biases
