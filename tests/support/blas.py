"""NumPy's BLAS on one thread, for test folders that make many small products."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator


@contextlib.contextmanager
def one_blas_thread() -> Iterator[None]:
    """Every BLAS pool in this process on one thread while inside; nothing without
    threadpoolctl (optional: it only makes the suite faster)."""
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:
        yield
        return
    with threadpool_limits(limits=1, user_api="blas"):
        yield
