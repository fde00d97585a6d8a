"""The benchmark behind ``fastmlp bench``: an epoch of each engine, side by side, honestly.

One run times the Rust engine, the NumPy reference, scikit-learn's ``MLPClassifier`` (sgd
and adam) and PyTorch (when importable) on the same data, initial weights and row orders,
for the seed notebooks' configurations and for inference on 10,000 rows, next to this
machine's matmul peak. Each engine runs in its own process; the baselines' processes run
without ``OPENBLAS_CORETYPE``/``OPENBLAS_L2_SIZE`` (their native BLAS kernels), and the
report prints the kernel threadpoolctl finds in each. ``benchmarks/README.md`` explains
the columns and keeps the results.

>>> from fastmlp import bench
>>> bench.main(["--quick", "--threads", "1"])        # doctest: +SKIP

``--optimizers sgd,momentum,adam`` adds rows for the optimizer issue's rules (the Rust
engine and the reference, where the installed fastmlp has them) and their epoch over the
plain-SGD epoch.

One job per module: ``configs`` (networks, FLOPs, options), ``data`` (rows, weights,
orders), ``engines`` (the timed engines), ``optimizers`` (the training rules timed),
``machine`` (CPU, threads, environments), ``worker`` (an engine's process), ``timing``
(interleaved timing of the workers), ``memory`` (peak memory in fresh processes),
``report`` (tables, JSON), ``command`` (the command line and a run). The research scripts
in ``benchmarks/`` run their own operations through ``worker`` and ``timing`` too.
"""

from fastmlp.bench.command import build_parser, main, options_from_args, run
from fastmlp.bench.configs import (
    CONFIG_NAMES,
    CONFIGS,
    LEARNING_RATE,
    BenchConfig,
    Options,
    config_flops,
    forward_flops,
    train_flops,
)
from fastmlp.bench.data import DATA_KINDS, init_params, load_data, load_images, row_order
from fastmlp.bench.engines import BASELINES, DEFAULT_ENGINES, ENGINE_NAMES
from fastmlp.bench.machine import BASELINE_UNSET
from fastmlp.bench.optimizers import OPTIMIZER_NAMES, OPTIMIZERS, BenchOptimizer
from fastmlp.bench.report import BUSY_MARK, ConfigResult, Report
from fastmlp.bench.timing import AGREEMENT_TOLERANCE, EngineTiming, MatmulPeak

__all__ = [
    "AGREEMENT_TOLERANCE",
    "BASELINES",
    "BASELINE_UNSET",
    "BUSY_MARK",
    "CONFIGS",
    "CONFIG_NAMES",
    "DATA_KINDS",
    "DEFAULT_ENGINES",
    "ENGINE_NAMES",
    "LEARNING_RATE",
    "OPTIMIZERS",
    "OPTIMIZER_NAMES",
    "BenchConfig",
    "BenchOptimizer",
    "ConfigResult",
    "EngineTiming",
    "MatmulPeak",
    "Options",
    "Report",
    "build_parser",
    "config_flops",
    "forward_flops",
    "init_params",
    "load_data",
    "load_images",
    "main",
    "options_from_args",
    "row_order",
    "run",
    "train_flops",
]
