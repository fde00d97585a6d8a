"""Fixtures shared by every test folder: each engine, dtype and activation in turn (the
values and the helpers live in ``tests/support/networks.py``)."""

from __future__ import annotations

from types import ModuleType

import pytest

from tests.support.networks import ACTIVATIONS, DTYPES, ENGINES


@pytest.fixture(params=list(ENGINES), ids=list(ENGINES))
def engine(request: pytest.FixtureRequest) -> ModuleType:
    return ENGINES[request.param]


@pytest.fixture(params=DTYPES, ids=["float32", "float64"])
def dtype(request: pytest.FixtureRequest) -> type:
    return request.param


@pytest.fixture(params=ACTIVATIONS)
def activation(request: pytest.FixtureRequest) -> str:
    return request.param
