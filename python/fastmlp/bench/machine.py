"""The machine a run measures: CPU, cores, load, BLAS pools, threads, and each engine's
environment."""

from __future__ import annotations

import contextlib
import os
import platform
import sys
import time
from collections.abc import Callable, Iterable, Mapping
from types import ModuleType
from typing import Any

__all__ = [
    "BASELINE_UNSET",
    "CpuMeter",
    "blas_pools",
    "cores",
    "cpu_flags",
    "cpu_name",
    "default_threads",
    "environment_for",
    "load_average",
    "machine_summary",
    "process_cpu_seconds",
    "simd",
    "threadpoolctl",
]

#: Variables unset for the baselines' processes (NumPy, scikit-learn, PyTorch): set for old
#: OpenBLAS builds, they make a current one use older kernels (e.g. Haswell's on an AVX-512
#: CPU). Only those processes lose them; the caller's environment is left as it is.
BASELINE_UNSET = ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE")


def environment_for(baseline: bool, environ: Mapping[str, str] | None = None) -> dict[str, str]:
    """The environment of an engine's process: ``environ`` (default ``os.environ``), without
    :data:`BASELINE_UNSET` for a baseline."""
    env = dict(os.environ if environ is None else environ)
    if baseline:
        for name in BASELINE_UNSET:
            env.pop(name, None)
    return env


def threadpoolctl() -> ModuleType:
    """The ``threadpoolctl`` module, or an ImportError that says how to install it."""
    try:
        import threadpoolctl as module  # a dependency of the benchmark only
    except ImportError as error:
        raise ImportError(
            "the benchmark sets NumPy's BLAS threads with threadpoolctl: pip install threadpoolctl"
        ) from error
    return module


def blas_pools() -> list[dict[str, Any]]:
    """Each thread pool threadpoolctl finds in this process: library, version, the kernel
    architecture it runs (OpenBLAS's ``architecture``, e.g. ``SkylakeX`` or ``Haswell``),
    threads."""
    keys = ("user_api", "internal_api", "version", "architecture", "num_threads", "filepath")
    return [{k: pool.get(k) for k in keys} for pool in threadpoolctl().threadpool_info()]


def cpu_name() -> str:
    """The CPU's model name (Linux ``/proc/cpuinfo``), else what ``platform`` says."""
    with contextlib.suppress(OSError), open("/proc/cpuinfo", encoding="utf-8") as info:
        for line in info:
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    return platform.processor() or platform.machine()


def cpu_flags() -> set[str]:
    """The CPU's feature flags (``avx512f``, ``avx2``, ...), empty off Linux."""
    with contextlib.suppress(OSError), open("/proc/cpuinfo", encoding="utf-8") as info:
        for line in info:
            if line.startswith("flags"):
                return set(line.split(":", 1)[1].split())
    return set()


def simd() -> str:
    """The vector extensions the engines care about: ``avx512f, avx2, fma`` or fewer."""
    found = [name for name in ("avx512f", "avx2", "fma") if name in cpu_flags()]
    return ", ".join(found) if found else "no AVX flags found"


def machine_summary(sides: Mapping[str, Mapping[str, Any]]) -> dict[str, Any]:
    """CPU, cores, vector extensions, the versions each process reported (``sides``: the
    workers' ``describe`` replies) and the load average now; ``load_end`` and
    ``others_cpu_share`` are the run's to fill in at its end."""
    versions: dict[str, str] = {"python": sys.version.split()[0]}
    for side in sides.values():
        versions |= side.get("versions", {})
    return {
        "cpu": cpu_name(),
        "cores": cores(),
        "simd": simd(),
        "versions": versions,
        "load_start": load_average(),
        "load_end": None,
        "others_cpu_share": None,
    }


def cores() -> int:
    """The cores this process may run on."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def default_threads() -> list[int]:
    """1 and every core this process may run on (just [1] on one core)."""
    return sorted({1, cores()})


def load_average() -> str:
    try:
        return " ".join(f"{v:.2f}" for v in os.getloadavg())
    except OSError:
        return "n/a"


def _busy_cpu_seconds() -> float | None:
    """CPU seconds the whole machine has spent busy since boot (Linux /proc/stat)."""
    try:
        with open("/proc/stat", encoding="ascii") as stat:
            fields = [int(v) for v in stat.readline().split()[1:]]
    except (OSError, ValueError):
        return None
    # user nice system idle iowait irq softirq steal ...: everything but idle and iowait
    busy = sum(fields[:3]) + sum(fields[5:8])
    return busy / os.sysconf("SC_CLK_TCK")


def process_cpu_seconds(pid: int) -> float:
    """CPU seconds (user + system) process ``pid`` has used so far; 0 if unknown."""
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii") as stat:
            fields = stat.read().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _own_cpu_seconds(helpers: Iterable[int]) -> float:
    """CPU seconds of this process, its finished children, and its live ``helpers`` (pids)."""
    t = os.times()
    own = t.user + t.system + t.children_user + t.children_system
    return own + sum(process_cpu_seconds(pid) for pid in helpers)


class CpuMeter:
    """How much CPU other processes took while the benchmark ran: a busy machine makes the
    timings, above all those using every core, pessimistic. ``helpers`` gives the pids of
    the benchmark's own live engine processes, which are not "others"."""

    def __init__(self, helpers: Callable[[], Iterable[int]] = tuple) -> None:
        self.helpers = helpers
        self.wall = time.monotonic()
        self.busy = _busy_cpu_seconds()
        self.own = _own_cpu_seconds(helpers())

    def others_share(self, cores: int) -> float | None:
        """Other processes' CPU time since creation, as a fraction of ``cores`` cores."""
        busy = _busy_cpu_seconds()
        if busy is None or self.busy is None:
            return None
        others = (busy - self.busy) - (_own_cpu_seconds(self.helpers()) - self.own)
        capacity = (time.monotonic() - self.wall) * cores
        return max(0.0, others / capacity) if capacity > 0 else None
