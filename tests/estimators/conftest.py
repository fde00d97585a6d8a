"""Fixtures of the scikit-learn estimator tests (``fastmlp.MLPClassifier``/``MLPRegressor``).

They need scikit-learn and scipy (the test extra); without them the whole folder skips.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterator

import pytest

from tests.support.blas import one_blas_thread

pytest.importorskip("sklearn")
pytest.importorskip("scipy")


@pytest.fixture(scope="session", autouse=True)
def _one_blas_thread() -> Iterator[None]:
    """NumPy's and scipy's BLAS on one thread: these tests make thousands of tiny products,
    which OpenBLAS's threads only slow down (measured while other jobs ran: a small L-BFGS fit
    took 1.05 s with two BLAS threads and 0.04 s with one)."""
    with one_blas_thread():
        yield


@pytest.fixture(autouse=True)
def _quiet_convergence() -> Iterator[None]:
    """Most fits here are short on purpose: their ConvergenceWarning is noise (the tests of
    the warning itself use pytest.warns, which sees it anyway)."""
    from sklearn.exceptions import ConvergenceWarning

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        yield


@pytest.fixture(params=["rust", "numpy"])
def engine(request: pytest.FixtureRequest) -> str:
    return request.param


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """scikit-learn's checks expected to fail are strict xfails here: a check that starts to
    pass fails its test until it is taken off ``expected_failed_checks``."""
    for item in items:
        if item.originalname != "test_scikit_learns_estimator_checks":
            continue
        for mark in list(item.iter_markers("xfail")):
            item.add_marker(pytest.mark.xfail(reason=mark.kwargs.get("reason"), strict=True),
                            append=False)  # fmt: skip
