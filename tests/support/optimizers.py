"""What the engines' optimizer support is today, for tests parametrised over both engines.

The Rust engine's step fuses plain SGD only until the optimizer rules of
``rust/core/src/optimizer`` are wired into it (issue 11, phase 2): until then its cases with
momentum, Adam or ``alpha`` are skipped here, by name, and ``test_optimizers.py`` checks that
it refuses them with a ``NotImplementedError``. Phase 2 deletes this module's skip.
"""

from __future__ import annotations

import pytest

from fastmlp.optimizers import SGD, Optimizer

RUST_OPTIMIZER_STEP = False  # phase 2 sets True, then removes the helper


def needs_plain_sgd(optimizer: Optimizer | str | None, alpha: float = 0.0) -> bool:
    """Whether a run with these settings is more than plain SGD without L2."""
    if optimizer is None or optimizer == "sgd":
        return alpha != 0.0
    if isinstance(optimizer, SGD):
        return bool(optimizer.slots) or alpha != 0.0
    return True


def skip_unless_engine_runs_optimizer(
    engine_name: str, optimizer: Optimizer | str | None, alpha: float = 0.0
) -> None:
    """Skip a Rust case with momentum, Adam or alpha until the Rust optimizer step lands."""
    if engine_name == "rust" and not RUST_OPTIMIZER_STEP and needs_plain_sgd(optimizer, alpha):
        pytest.skip("the Rust engine's optimizer step is issue 11, phase 2")
