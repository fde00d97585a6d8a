"""Fixtures of the ``MLP`` training tests: each engine and dtype by name, and NumPy's BLAS on
one thread."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.support.blas import one_blas_thread
from tests.support.training import DTYPE_NAMES, ENGINE_NAMES


@pytest.fixture(scope="module", autouse=True)
def _one_blas_thread() -> Iterator[None]:
    """Run NumPy's BLAS on one thread in each module here: two threads slow the NumPy engine
    many times over when other jobs share the cores (benchmarks/README.md, "Busy machine").
    Results stay within the bounds of tests/support/training.py either way."""
    with one_blas_thread():
        yield


@pytest.fixture(params=ENGINE_NAMES)
def engine_name(request: pytest.FixtureRequest) -> str:
    return request.param


@pytest.fixture(params=DTYPE_NAMES)
def dtype_name(request: pytest.FixtureRequest) -> str:
    return request.param
