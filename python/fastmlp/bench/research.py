"""What the research scripts in ``benchmarks/`` share with ``fastmlp bench``.

A script runs each unit of its work (a library, a recipe, a way of calling fastmlp) in its
own process: the script itself, started as ``python SCRIPT --serve NAME`` by a
:class:`fastmlp.bench.timing.Worker`, answering JSON requests with its own operations
(:func:`serve`). The parent (:class:`ScriptRun`) starts the processes (the baselines'
without ``OPENBLAS_CORETYPE``/``OPENBLAS_L2_SIZE``), times them in interleaved rounds with
a pause after every call (:func:`fastmlp.bench.timing.run_rounds`), watches the other
processes' share of the CPU, and writes the run's header: the machine, each process's
BLAS kernel (threadpoolctl) and environment, and the notes.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable, Hashable, Mapping, Sequence
from pathlib import Path
from typing import Any

from fastmlp.bench.command import start_workers
from fastmlp.bench.engines import set_common_threads
from fastmlp.bench.machine import CpuMeter, load_average, machine_summary
from fastmlp.bench.report import BUSY_SHARE, NOISY_SPREAD, side_lines
from fastmlp.bench.timing import EngineTiming, Worker, run_rounds
from fastmlp.bench.worker import process_account, run_server

__all__ = [
    "SERVE_FLAG",
    "ScriptRun",
    "fill_unset_options",
    "noisy",
    "serve",
    "set_threads",
]

#: The argument a research script's worker process is started with (then the unit's name).
SERVE_FLAG = "--serve"

Operation = Callable[[dict[str, Any]], dict[str, Any]]


def serve(describe: Callable[[], dict[str, Any]], operations: Mapping[str, Operation]) -> int:
    """The worker side of a script: answer ``describe`` (this process's account, plus
    ``describe()``: ``available``, ``why``, ``kernels``, ``versions``) and each operation
    by its ``op``, until stdin closes. Returns the exit code."""

    def handle(request: dict[str, Any]) -> dict[str, Any]:
        if request["op"] == "describe":
            return {**process_account(), **describe()}
        return operations[request["op"]](request)

    run_server(handle)
    return 0


def fill_unset_options(
    args: argparse.Namespace, defaults: Mapping[str, Any], quick: Mapping[str, Any]
) -> None:
    """Give each option the user left unset (None) its ``quick`` value under ``--quick``,
    else its default: options given explicitly win."""
    for option, value in (quick if args.quick else defaults).items():
        if getattr(args, option, None) is None:
            setattr(args, option, value)


def set_threads(threads: int) -> None:
    """``threads`` threads for fastmlp's engine, every BLAS/OpenMP pool in this process, and
    PyTorch's pools if PyTorch is loaded."""
    set_common_threads(threads)
    torch = sys.modules.get("torch")
    if torch is not None:
        torch.set_num_threads(threads)


def noisy(timing: EngineTiming) -> bool:
    """Its slowest repetition is over ``NOISY_SPREAD`` times its fastest."""
    return max(timing.seconds) > NOISY_SPREAD * min(timing.seconds)


class ScriptRun:
    """One run of a research script: its worker processes (``units``: name -> whether it
    runs a baseline's kernels), the machine, and the notes.

    Use as a context manager: the processes end on leaving it, and the end of the run's
    load and the other processes' share of the CPU are recorded.
    """

    def __init__(self, script: str | os.PathLike[str], units: Mapping[str, bool]) -> None:
        self.notes: list[str] = []
        started = {
            name: Worker(name, command=[str(Path(script)), SERVE_FLAG, name], baseline=baseline)
            for name, baseline in units.items()
        }
        self.workers, self.sides = start_workers(started, self.notes)
        self.machine = machine_summary(self.sides)
        self._meter = CpuMeter(lambda: [w.pid for w in self.workers.values()])

    def __enter__(self) -> ScriptRun:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """End the processes; record the load and the other processes' share of the CPU."""
        if self.machine["load_end"] is None:
            self.machine["load_end"] = load_average()
            share = self._meter.others_share(self.machine["cores"])
            self.machine["others_cpu_share"] = share
            if share is not None and share >= BUSY_SHARE:
                self.notes.append(
                    f"other processes used {100 * share:.0f}% of the {self.machine['cores']} "
                    "cores during the run: the timings are pessimistic"
                )
        for worker in self.workers.values():
            worker.close()

    def rounds(
        self,
        units: Sequence[Hashable],
        send: Callable[[Any, int], dict[str, Any]],
        repeats: int,
        pause: float,
        warmup: bool = True,
    ) -> tuple[dict[Any, list[dict[str, Any]]], list[Any]]:
        """:func:`fastmlp.bench.timing.run_rounds` over ``units``; a note for each unit that
        failed (it is left out of the replies; the note is the worker's error, which names
        its process)."""
        replies, schedule, failed = run_rounds(units, send, repeats, pause, warmup)
        self.notes += [why for why in failed.values() if why not in self.notes]
        return replies, schedule

    def header(self, settings: Sequence[str]) -> list[str]:
        """Markdown bullets: ``settings`` (what was measured and how), the machine, the
        versions, and each process's kernels and environment."""
        m = self.machine
        share = m["others_cpu_share"]
        versions = ", ".join(f"{k} {v}" for k, v in m["versions"].items())
        lines = [
            *settings,
            f"machine: {m['cpu']}, {m['cores']} cores ({m['simd']}); load average "
            f"{m['load_start']} (start) -> {m['load_end']} (end); other processes' CPU during "
            "the run: " + ("n/a" if share is None else f"{100 * share:.0f}%"),
            f"versions: {versions}",
            *side_lines(self.sides),
        ]
        return [f"- {line}" for line in lines]

    def footer(self) -> list[str]:
        """The notes, as Markdown bullets."""
        return [f"- Note: {note}" for note in self.notes]
