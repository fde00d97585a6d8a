"""Property-based tests (hypothesis): every ``fastmlp.kernels`` function on random arguments
(the readers' properties are in ``tests/datasets/test_reader_properties.py``).

For each function, hypothesis draws a valid call (random layer sizes, rows, dtype,
values) and then perturbs it: a wrong or mixed dtype (int, float16, bool, object, complex), a
dimension added or dropped (0-D, 1-D, 3-D), a dimension off by one, zero-size dimensions, a
Fortran-ordered, reversed, strided, read-only or misaligned view, aliased parameters, lists of
the wrong length, bad names, learning rates and batch sizes, labels or row indices out of range,
NaN inputs. An independent model of the contract (``Spec`` in ``kernel_spec.py``, written
from the docstrings and the README's "Engines" and "When things go wrong", not from the
implementation) says what must happen:

* a valid call returns what ``fastmlp.reference`` returns, within float tolerance (parameters
  updated in place alike, inputs untouched); a zero-size or empty input may instead raise
  ``ValueError``;
* an invalid call raises ``TypeError`` or ``ValueError`` (the kinds its problems call for),
  naming an argument, and changes nothing;
* a non-finite loss raises ``fastmlp.TrainingDivergedError`` at the batch where the reference
  diverges, with the weights of the last good step;
* nothing else, ever: no other exception, no PyO3 ``PanicException``, no crash.

The contract is modelled in ``kernel_spec.py``, the calls drawn in ``kernel_calls.py`` and run
in ``kernel_runs.py``. Each function's search runs in a child process (``python -m
tests.engines.test_kernel_properties NAME`` from the repository root), so that a crash of the
native code (a segfault, an abort) fails that test instead of ending the run.

All searches are derandomized (the same examples on every run) and sized to keep the file
under 30 s.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given

from tests.engines.kernel_calls import STRATEGIES, run_sparse_rows_case
from tests.engines.kernel_runs import OUTCOMES, run_case
from tests.support.searches import search_settings

# The child runs this module by name (python -m) from here.
REPO = Path(__file__).resolve().parents[2]


def search(name: str) -> None:
    """The hypothesis search for ``kernels.<name>`` (run in a child process by the tests)."""
    strategy, examples = STRATEGIES[name]

    @search_settings(examples)
    @given(call=strategy)
    def holds_to_the_contract(call: tuple[dict[str, Any], str]) -> None:
        args, note = call
        if name == "SparseRows":
            run_sparse_rows_case(args, note)
        else:
            run_case(name, args, note)

    holds_to_the_contract()


def run_search_in_child(name: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONFAULTHANDLER": "1"}
    return subprocess.run(
        [sys.executable, "-m", __name__, name],
        capture_output=True,
        text=True,
        timeout=300,
        env=env,
        cwd=REPO,
    )


@pytest.mark.parametrize("name", list(STRATEGIES))
def test_kernel_holds_to_the_contract_on_random_arguments(name: str) -> None:
    done = run_search_in_child(name)
    if done.returncode < 0:
        crash = signal.Signals(-done.returncode).name
        pytest.fail(f"kernels.{name}: the process died of {crash}\n{done.stderr[-6000:]}")
    assert done.returncode == 0, f"kernels.{name}:\n{done.stdout[-3000:]}\n{done.stderr[-6000:]}"
    assert f"searched kernels.{name}" in done.stdout, done.stdout


def test_a_crash_in_the_search_fails_the_test_instead_of_ending_the_run() -> None:
    done = subprocess.run(
        [sys.executable, "-m", __name__, "--crash"],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=REPO,
    )
    assert done.returncode == -signal.SIGSEGV, done


HUGE_RESULTS = """
import numpy as np
from fastmlp import kernels
f32 = np.float32
calls = {
    "matmul of two empty operands": lambda: kernels.matmul(
        np.zeros((2**20, 0), f32), np.zeros((0, 2**20), f32)
    ),
    "the same, past the address space": lambda: kernels.matmul(
        np.zeros((2**40, 0), f32), np.zeros((0, 2**40), f32)
    ),
    "forward of a thin x and a wide layer": lambda: kernels.forward(
        [np.ones((1, 2**20), f32)], [np.zeros(2**20, f32)], np.ones((2**20, 1), f32), "relu"
    ),
    "train_epoch of a batch that large": lambda: kernels.train_epoch(
        [np.ones((1, 2**20), f32), np.ones((2**20, 2), f32)], [np.zeros(2**20, f32),
        np.zeros(2, f32)], np.ones((2**20, 1), f32), np.zeros(2**20, int), np.arange(2**20),
        0.1, 2**20, "relu",
    ),
}
for name, call in calls.items():
    try:
        call()
        print(name, "returned")
    except (MemoryError, ValueError) as error:
        print(name, "raised", type(error).__name__, error)
"""


def test_results_too_large_to_allocate_are_a_memory_error_not_a_crash() -> None:
    """Small arrays whose result would need terabytes: NumPy raises MemoryError, and so must
    the engine (Rust's allocator would abort the process)."""
    done = subprocess.run(
        [sys.executable, "-c", HUGE_RESULTS], capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, f"died with {done.returncode}:\n{done.stderr[-3000:]}"
    lines = done.stdout.strip().splitlines()
    assert len(lines) == 4 and all("raised MemoryError" in line for line in lines), lines


# ==== the child process =======================================================================

if __name__ == "__main__":
    if sys.argv[1:] == ["--crash"]:
        import ctypes

        ctypes.string_at(0)  # what a native crash looks like to the parent
    for function_name in sys.argv[1:] or list(STRATEGIES):
        OUTCOMES.clear()
        started = time.perf_counter()
        search(function_name)
        seconds = time.perf_counter() - started
        seen = ", ".join(f"{count} {kind}" for kind, count in OUTCOMES.most_common())
        print(f"searched kernels.{function_name} in {seconds:.1f} s: {seen}", flush=True)
