"""The benchmarked networks (the seed notebooks' configurations) and their matmul FLOPs."""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from dataclasses import dataclass, field

from fastmlp.names import Activation, DType

__all__ = [
    "CONFIGS",
    "CONFIG_NAMES",
    "LEARNING_RATE",
    "BenchConfig",
    "Options",
    "config_by_name",
    "config_flops",
    "forward_flops",
    "train_flops",
]

LEARNING_RATE = 0.1  # the seeds' rate


@dataclass(frozen=True)
class BenchConfig:
    """One benchmarked network: layer sizes, hidden activation, dtype and batch size.

    ``batch_size=None`` trains full-batch (one step per epoch); ``inference_rows`` set makes
    the configuration a forward pass over that many rows instead of an epoch of training.
    """

    name: str
    sizes: tuple[int, ...]
    activation: Activation
    dtype: DType
    batch_size: int | None = None
    inference_rows: int | None = None

    @property
    def is_inference(self) -> bool:
        """True for a forward pass only (no training)."""
        return self.inference_rows is not None

    def rows_used(self, data_rows: int) -> int:
        """Rows one timed call processes, given ``data_rows`` rows of data."""
        if self.inference_rows is None:
            return data_rows
        return min(self.inference_rows, data_rows)

    def batch_for(self, rows: int) -> int:
        """The batch size of an epoch over ``rows`` rows (all of them when full-batch)."""
        return rows if self.batch_size is None else self.batch_size

    def describe(self) -> str:
        """A short human description, e.g. ``784-128-10 relu, batch 128, float32``."""
        net = "-".join(str(s) for s in self.sizes)
        act = f" {self.activation}" if len(self.sizes) > 2 else " softmax"
        if self.inference_rows is not None:
            what = f"inference on {self.inference_rows:,} rows"
        elif self.batch_size is None:
            what = "full batch"
        else:
            what = f"batch {self.batch_size}"
        return f"{net}{act}, {what}, {self.dtype}"


CONFIGS: tuple[BenchConfig, ...] = (
    # seed 000: 784-128-10 ReLU, SGD batch 128, float32
    BenchConfig("784-128-10-relu-b128-f32", (784, 128, 10), "relu", "float32", 128),
    # seed 003: softmax regression, batch 256, float32
    BenchConfig("784-10-b256-f32", (784, 10), "relu", "float32", 256),
    # seed 004: 784-128-64-10 ReLU, batch 64, float64
    BenchConfig("784-128-64-10-relu-b64-f64", (784, 128, 64, 10), "relu", "float64", 64),
    # seed 001: 784-128-10 ReLU, full-batch gradient descent, float64
    BenchConfig("784-128-10-relu-full-f64", (784, 128, 10), "relu", "float64", None),
    # prediction on an MNIST-sized test set with the seed-000 network
    BenchConfig(
        "infer-784-128-10-relu-10k-f32", (784, 128, 10), "relu", "float32", inference_rows=10_000
    ),
)
CONFIG_NAMES = tuple(c.name for c in CONFIGS)


def config_by_name(name: str) -> BenchConfig:
    """The configuration called ``name``; ``ValueError`` listing them for any other."""
    for config in CONFIGS:
        if config.name == name:
            return config
    raise ValueError(f"config: expected one of {', '.join(CONFIG_NAMES)}, got {name!r}")


def forward_flops(sizes: Sequence[int], rows: int) -> int:
    """Matmul FLOPs of a forward pass over ``rows`` rows: ``2 * rows * fan_in * fan_out``
    per layer (one multiply and one add per term of ``a_in @ W``)."""
    return sum(2 * rows * fan_in * fan_out for fan_in, fan_out in itertools.pairwise(sizes))


def train_flops(sizes: Sequence[int], rows: int) -> int:
    """Matmul FLOPs of an epoch of SGD over ``rows`` rows, exactly.

    Per layer of shape (fan_in, fan_out), with ``f = 2 * rows * fan_in * fan_out``: the
    forward product ``a_in @ W`` (f), the weight gradient ``a_in.T @ delta`` (f), and for
    every layer but the first the delta sent down, ``delta @ W.T`` (f). The split into
    batches does not change the sum. Bias, activation, softmax and update work are not
    counted.
    """
    total = 0
    for layer, (fan_in, fan_out) in enumerate(itertools.pairwise(sizes)):
        per_product = 2 * rows * fan_in * fan_out
        total += 2 * per_product if layer == 0 else 3 * per_product
    return total


def config_flops(config: BenchConfig, data_rows: int) -> int:
    """Matmul FLOPs of one timed call of ``config`` on ``data_rows`` rows of data."""
    rows = config.rows_used(data_rows)
    if config.is_inference:
        return forward_flops(config.sizes, rows)
    return train_flops(config.sizes, rows)


@dataclass
class Options:
    """What one run measures; ``fastmlp bench`` builds it from the command line."""

    threads: list[int]
    engines: list[str]
    repeats: int = 5
    configs: list[str] = field(default_factory=lambda: list(CONFIG_NAMES))
    data: str = "random"
    rows: int = 60_000
    seed: int = 0
    memory: bool = True
    peaks: bool = True
    peak_size: int = 2048
    peak_repeats: int = 5
    pause: float = 0.25  # seconds after every timed call, for spinning threads to stop
    #: Training rows per optimizer (fastmlp.bench.optimizers); plain SGD is every engine's.
    optimizers: list[str] = field(default_factory=lambda: ["sgd"])
