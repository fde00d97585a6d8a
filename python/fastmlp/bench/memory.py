"""Peak memory of one engine's epoch, each in a fresh process.

In a process that has already built the data and imported the engine, how far one call
(the first: thread pools and BLAS buffers count) raises the resident-set high-water mark
above the resident size just before it (Linux ``/proc/self/status`` VmHWM, reset through
``/proc/self/clear_refs``). For the NumPy engine also the ``tracemalloc`` peak of a second
call (NumPy's own allocations only), a cross-check.
"""

from __future__ import annotations

import gc
import tracemalloc
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from fastmlp.bench.configs import BenchConfig
from fastmlp.bench.optimizers import PLAIN_SGD
from fastmlp.bench.timing import Worker, WorkerError

__all__ = ["MemoryProbe", "measure_call", "probe_memory"]


@dataclass
class MemoryProbe:
    """Peak memory of one engine's epoch, measured in a fresh process."""

    rss_bytes: int
    tracemalloc_bytes: int | None = None  # NumPy engine only: peak of traced allocations


def _proc_status_kib(key: str) -> int | None:
    """A ``kB`` field of /proc/self/status (e.g. VmRSS, VmHWM), None off Linux."""
    try:
        with open("/proc/self/status", encoding="ascii") as status:
            for line in status:
                if line.startswith(key + ":"):
                    return int(line.split()[1])
    except OSError:
        return None
    return None


def _reset_high_water_mark() -> bool:
    """Reset VmHWM to the current resident size (Linux >= 4.0); False if impossible."""
    try:
        with open("/proc/self/clear_refs", "w", encoding="ascii") as clear_refs:
            clear_refs.write("5")
    except OSError:
        return False
    return True


def measure_call(
    call: Callable[[], Any], make_fresh: Callable[[], Any], traced: bool
) -> dict[str, Any]:
    """In the engine's process: the high-water mark ``call`` adds; with ``traced``, also the
    tracemalloc peak of a second call from fresh weights (``make_fresh``)."""
    gc.collect()
    before = _proc_status_kib("VmRSS")
    if before is None or not _reset_high_water_mark():
        return {"rss_bytes": None}
    call()
    high = _proc_status_kib("VmHWM") or before
    result: dict[str, Any] = {"rss_bytes": max(0, high - before) * 1024}
    if traced:
        make_fresh()
        tracemalloc.start()
        call()
        result["tracemalloc_bytes"] = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
    return result


def probe_memory(
    config: BenchConfig,
    engine: str,
    threads: int,
    data: dict[str, Any],
    environ: Mapping[str, str] | None = None,
    optimizer: str = PLAIN_SGD,
) -> tuple[MemoryProbe | None, str | None]:
    """Peak memory of one call of ``config`` by ``engine`` (training with ``optimizer``) in a
    fresh process.

    ``data`` is ``{"data": kind, "rows": n, "seed": s}``. Returns ``(probe, None)``, or
    ``(None, why)`` when it could not be measured.
    """
    message = {"op": "memory", "config": config.name, "threads": threads, **data}
    message["optimizer"] = optimizer
    try:
        with Worker(engine, environ) as worker:
            found = worker.request(message)
    except (OSError, WorkerError) as error:
        return None, f"memory probe of {engine} on {config.name} failed: {error}"
    if found.get("rss_bytes") is None:
        return None, "memory not measured: /proc/self/clear_refs is not available here"
    return MemoryProbe(found["rss_bytes"], found.get("tracemalloc_bytes")), None
