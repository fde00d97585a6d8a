"""Fixtures shared by every test folder: each engine, dtype and activation in turn (the
values and the helpers live in ``tests/support/networks.py``)."""

from __future__ import annotations

import signal
from collections.abc import Iterator
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


@pytest.fixture(autouse=True, scope="session")
def ctrl_c_deliverable() -> Iterator[None]:
    """Ctrl-C reaches the tests that send it, as in an interactive session: a shell starts a
    background job (``cmd &``, ``nohup``) with SIGINT ignored, which Python and its children
    then keep ignoring. Installing Python's own handler also lets the children (which get
    SIGINT's default at exec) install theirs."""
    before = signal.getsignal(signal.SIGINT)
    if before is signal.SIG_IGN:
        signal.signal(signal.SIGINT, signal.default_int_handler)
    yield
    if before is signal.SIG_IGN:
        signal.signal(signal.SIGINT, before)
