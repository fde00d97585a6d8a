"""What a run measured, as terminal text, Markdown (for benchmarks/README.md) and JSON."""

from __future__ import annotations

from collections.abc import Callable, Collection
from dataclasses import asdict, dataclass, field
from typing import Any

from fastmlp.bench.configs import LEARNING_RATE, BenchConfig, Options
from fastmlp.bench.engines import ENGINE_NAMES
from fastmlp.bench.machine import BASELINE_UNSET
from fastmlp.bench.memory import MemoryProbe
from fastmlp.bench.optimizers import PLAIN_SGD, optimizer_by_name
from fastmlp.bench.timing import EngineTiming, MatmulPeak

__all__ = [
    "BUSY_MARK",
    "BUSY_SHARE",
    "NOISY_SPREAD",
    "ConfigResult",
    "Report",
    "markdown_table",
    "side_lines",
    "text_table",
]

# Other processes taking this share of the machine's CPU while a row was timed mark the row.
BUSY_SHARE = 0.1
BUSY_MARK = "†"
# Repetitions whose slowest is this many times the fastest are reported as noisy.
NOISY_SPREAD = 1.5
Table = tuple[list[str], list[list[str]]]


@dataclass
class ConfigResult:
    """Every engine on one configuration at one thread count."""

    config: BenchConfig
    threads: int
    rows: int
    flops: int
    peak_gflops: float
    timings: dict[str, EngineTiming]
    schedule: list[str] = field(default_factory=list)  # engines in the order they were timed
    memory: dict[str, MemoryProbe | None] = field(default_factory=dict)
    others_cpu_share: float | None = None  # other processes' CPU while this row was timed
    optimizer: str = PLAIN_SGD  # fastmlp.bench.optimizers: the training rule timed

    @property
    def label(self) -> str:
        """The row's name: the configuration's, then ``-optimizer`` unless plain SGD."""
        name = self.config.name
        return name if self.optimizer == PLAIN_SGD else f"{name}-{self.optimizer}"

    def seconds(self, engine: str) -> float | None:
        """Median seconds of ``engine``, None when it did not run."""
        timing = self.timings.get(engine)
        return None if timing is None else timing.median

    def gflops(self, engine: str) -> float | None:
        """Achieved matmul GFLOP/s of ``engine``."""
        seconds = self.seconds(engine)
        return None if seconds is None else self.flops / seconds / 1e9

    def ratio(self, engine: str = "rust") -> float | None:
        """``engine``'s seconds over NumPy's (below 1: faster than the reference)."""
        seconds, numpy_s = self.seconds(engine), self.seconds("numpy")
        return None if seconds is None or numpy_s is None else seconds / numpy_s

    def share_of_peak(self, engine: str = "rust") -> float | None:
        """``engine``'s GFLOP/s as a fraction of this thread count's matmul peak."""
        gflops = self.gflops(engine)
        return None if gflops is None or self.peak_gflops <= 0 else gflops / self.peak_gflops

    @property
    def busy(self) -> bool:
        return self.others_cpu_share is not None and self.others_cpu_share >= BUSY_SHARE


def _cell(value: float | None, form: str) -> str:
    return "—" if value is None else format(value, form)


def _probe_dict(probe: MemoryProbe | None) -> dict[str, Any] | None:
    return None if probe is None else asdict(probe)


def _mebibytes(probe: MemoryProbe | None) -> str:
    return "n/a" if probe is None else f"{probe.rss_bytes / 2**20:.1f}"


def _names_column(header: list[str], column: int, names: Collection[str] = ("engine",)) -> bool:
    """Columns of names (left-aligned): the first, and those called one of ``names``."""
    return column == 0 or header[column] in names


def text_table(header: list[str], rows: list[list[str]]) -> str:
    """Columns padded with spaces: names left-aligned, numbers right-aligned."""
    widths = [max(len(h), *(len(r[i]) for r in rows)) for i, h in enumerate(header)]
    lines = ["  ".join(h.ljust(w) for h, w in zip(header, widths, strict=True)).rstrip()]
    lines.append("  ".join("-" * w for w in widths))
    for row in rows:
        cells = [
            cell.ljust(width) if _names_column(header, i) else cell.rjust(width)
            for i, (cell, width) in enumerate(zip(row, widths, strict=True))
        ]
        lines.append("  ".join(cells).rstrip())
    return "\n".join(lines)


def markdown_table(
    header: list[str], rows: list[list[str]], names: Collection[str] = ("engine",)
) -> str:
    """A Markdown table: names (the first column, and those called one of ``names``)
    left-aligned, numbers right-aligned."""
    align = ["---" if _names_column(header, i, names) else "---:" for i in range(len(header))]
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join(align) + "|"]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return "\n".join(lines)


def side_lines(sides: dict[str, dict[str, Any]]) -> list[str]:
    """Per process (``sides``: the workers' ``describe`` replies): its kernels, the BLAS
    kernel threadpoolctl reports, and the OpenBLAS variables it saw."""
    lines = []
    for engine, side in sides.items():
        environ = side.get("environ", {})
        missing = [v for v in BASELINE_UNSET if environ.get(v) is None]
        given = [f"{v}={environ[v]}" for v in BASELINE_UNSET if environ.get(v) is not None]
        env = ", ".join(given) + (" set" if given else "")
        if missing:
            env += ("; " if given else "") + ", ".join(missing) + " unset"
        blas = "; ".join(
            f"{p['internal_api']} {p['version']} ({p['architecture']}, {p['num_threads']} threads)"
            for p in side.get("pools", [])
            if p.get("user_api") == "blas"
        )
        lines.append(
            f"{engine}: kernels {side.get('kernels')}; BLAS loaded: {blas or 'none'}; {env}"
        )
    return lines


@dataclass
class Report:
    """Everything one run measured, ready for :meth:`text`, :meth:`markdown`, :meth:`to_json`.

    ``sides`` holds each engine process's own account (``describe``): its kernels, BLAS
    pools as threadpoolctl reports them, and the OpenBLAS variables it saw.
    """

    options: Options
    machine: dict[str, Any]
    sides: dict[str, dict[str, Any]]
    peaks: list[MatmulPeak]
    results: list[ConfigResult]
    notes: list[str]

    @property
    def engines(self) -> list[str]:
        """The engines that ran, in the order of ENGINE_NAMES."""
        return [e for e in ENGINE_NAMES if any(e in r.timings for r in self.results)]

    # ---- tables ---------------------------------------------------------------------------

    def _peak_table(self) -> Table:
        header = ["threads", "numpy sgemm", "rust sgemm", "numpy dgemm", "rust dgemm"]
        rows = []
        for count in sorted({p.threads for p in self.peaks}):
            cells = [str(count)]
            for dtype in ("float32", "float64"):
                peak = next(p for p in self.peaks if p.threads == count and p.dtype == dtype)
                cells += [_cell(peak.numpy_gflops, ".1f"), _cell(peak.rust_gflops, ".1f")]
            rows.append(cells)
        return header, rows

    def _summary_table(self) -> Table:
        """One row per configuration and thread count, one column per engine (median s)."""
        engines = self.engines
        header = ["config", "threads", *(f"{e} s" for e in engines)]
        if "rust" in engines and "numpy" in engines:
            header.append("rust / numpy")
        rows = []
        for r in self.results:
            cells = [self._config_cell(r), str(r.threads)]
            cells += [_cell(r.seconds(e), ".3g") for e in engines]
            if "rust" in engines and "numpy" in engines:
                cells.append(_cell(r.ratio("rust"), ".2f"))
            rows.append(cells)
        return header, rows

    def _detail_table(self) -> Table:
        """One row per configuration, thread count and engine."""
        header = [
            "config",
            "threads",
            "engine",
            "s/epoch",
            "spread",
            "/ numpy",
            "GFLOP/s",
            "% of peak",
            "memory MiB",
            "vs numpy",
        ]
        rows = []
        for r in self.results:
            for engine in (e for e in self.engines if e in r.timings):
                timing = r.timings[engine]
                share = r.share_of_peak(engine)
                rows.append(
                    [
                        self._config_cell(r),
                        str(r.threads),
                        engine,
                        f"{timing.median:.3g}",
                        f"{100 * timing.spread:.0f}%",
                        _cell(r.ratio(engine), ".2f"),
                        _cell(r.gflops(engine), ".1f"),
                        "—" if share is None else f"{100 * share:.0f}%",
                        _mebibytes(r.memory.get(engine)) if self.options.memory else "—",
                        _cell(timing.difference, ".1e"),
                    ]
                )
        return header, rows

    def _optimizer_table(self) -> Table:
        """One row per configuration, thread count and engine timed with other optimizers:
        each one's epoch over the same engine's plain-SGD epoch in the same run."""
        others = [o for o in self.options.optimizers if o != PLAIN_SGD]
        header = ["config", "threads", "engine", "sgd s", *(f"{o} / sgd" for o in others)]
        rows = []
        for r in self.results:
            if r.optimizer != PLAIN_SGD:
                continue
            by_optimizer = {
                other.optimizer: other
                for other in self.results
                if other.config == r.config and other.threads == r.threads
            }
            for engine in (e for e in self.engines if e in r.timings):
                seconds = [
                    by_optimizer[o].seconds(engine) if o in by_optimizer else None for o in others
                ]
                if all(s is None for s in seconds):
                    continue
                sgd = r.timings[engine].median
                cells = [r.config.name, str(r.threads), engine, f"{sgd:.3g}"]
                cells += [_cell(None if s is None else s / sgd, ".2f") for s in seconds]
                rows.append(cells)
        return header, rows

    @staticmethod
    def _config_cell(result: ConfigResult) -> str:
        return f"{result.label} {BUSY_MARK}" if result.busy else result.label

    # ---- prose ----------------------------------------------------------------------------

    def _summary(self) -> list[str]:
        m, o = self.machine, self.options
        share = m.get("others_cpu_share")
        versions = ", ".join(f"{k} {v}" for k, v in m["versions"].items())
        return [
            f"data: {o.data}, {o.rows:,} rows; {self._rules()}; median of {o.repeats} "
            f"rounds after 1 warm-up; each engine in its own process, the rounds interleaved "
            f"(every engine once per round, in a rotating order), {o.pause:g} s pause after "
            "every call",
            f"machine: {m['cpu']}, {m['cores']} cores ({m['simd']}); load average "
            f"{m['load_start']} (start) -> {m['load_end']} (end); other processes' CPU during "
            "the run: " + ("n/a" if share is None else f"{100 * share:.0f}%"),
            f"versions: {versions}",
            "threads: each engine and every BLAS pool in its process use the count in the "
            "threads column",
            "spread: (slowest - fastest) / median of the repetitions; / numpy: seconds over "
            "NumPy's; % of peak: GFLOP/s over the best square matmul at the same thread count "
            "(sgemm for float32, dgemm for float64); vs numpy: largest relative difference "
            "of the epoch loss (largest absolute of a probability for inference)",
        ]

    def _rules(self) -> str:
        """The training rules timed, e.g. ``plain SGD, lr 0.1; adam (lr 0.001)``."""
        others = [
            optimizer_by_name(o).describe() for o in self.options.optimizers if o != PLAIN_SGD
        ]
        return "; ".join([f"plain SGD, lr {LEARNING_RATE}", *others])

    def _parts(self, render: Callable[[list[str], list[list[str]]], str], bullet: str) -> list[str]:
        parts = [*(bullet + line for line in self._summary())]
        parts += ["", "Engines (each process's own account):", ""]
        parts += [bullet + line for line in side_lines(self.sides)]
        if self.peaks:
            size = self.peaks[0].size
            parts += [
                "",
                f"Matmul peak, GFLOP/s ({size} x {size} x {size}, best of "
                f"{self.options.peak_repeats}):",
                "",
                render(*self._peak_table()),
            ]
        parts += ["", "Seconds per epoch (median):", "", render(*self._summary_table())]
        parts += ["", "Each engine:", "", render(*self._detail_table())]
        optimizer_header, optimizer_rows = self._optimizer_table()
        if optimizer_rows:
            rates = ", ".join(optimizer_by_name(o).describe() for o in self.options.optimizers)
            parts += [
                "",
                f"Optimizers, each engine's epoch over its plain-SGD epoch ({rates}):",
                "",
                render(optimizer_header, optimizer_rows),
            ]
        if self.notes:
            parts += ["", *(f"{bullet}Note: {n}" for n in self.notes)]
        return parts

    def text(self) -> str:
        """Plain-text tables for a terminal."""
        return "\n".join(self._parts(text_table, "")) + "\n"

    def markdown(self) -> str:
        """Markdown tables for ``benchmarks/README.md``."""
        return "\n".join(self._parts(markdown_table, "- ")) + "\n"

    def to_json(self) -> dict[str, Any]:
        """Every number, for ``--json``."""
        return {
            "options": asdict(self.options),
            "machine": self.machine,
            "sides": self.sides,
            "peaks": [asdict(p) | {"best": p.best} for p in self.peaks],
            "results": [
                {
                    "config": r.config.name,
                    "optimizer": r.optimizer,
                    "description": r.config.describe(),
                    "threads": r.threads,
                    "rows": r.rows,
                    "flops": r.flops,
                    "peak_gflops": r.peak_gflops,
                    "schedule": r.schedule,
                    "others_cpu_share": r.others_cpu_share,
                    "engines": {
                        name: {
                            "median_seconds": t.median,
                            "seconds": t.seconds,
                            "spread": t.spread,
                            "gflops": r.gflops(name),
                            "share_of_peak": r.share_of_peak(name),
                            "ratio_to_numpy": r.ratio(name),
                            "difference_from_numpy": t.difference,
                            "memory": _probe_dict(r.memory.get(name)),
                        }
                        for name, t in r.timings.items()
                    },
                }
                for r in self.results
            ],
            "notes": self.notes,
        }
