"""Types of the Rust extension module (rust/python). See fastmlp.kernels for the documented API."""

from collections.abc import Sequence
from typing import Literal

import numpy as np
from numpy.typing import NDArray

from fastmlp.names import Activation, InputPath, Output

__version__: str
#: The names the core accepts (Activation::NAMES, InputPath::NAMES, Output::NAMES); equal to
#: fastmlp.names'.
ACTIVATIONS: tuple[Activation, ...]
INPUT_PATHS: tuple[InputPath, ...]
OUTPUTS: tuple[Output, ...]

class SparseRows:
    def __init__(self, x: NDArray[_Float]) -> None: ...
    @staticmethod
    def from_csr(
        indptr: NDArray[np.int64],
        indices: NDArray[np.int32] | NDArray[np.int64],
        data: NDArray[_Float],
        shape: tuple[int, int],
    ) -> SparseRows: ...
    @property
    def shape(self) -> tuple[int, int]: ...
    @property
    def nnz(self) -> int: ...
    @property
    def density(self) -> float: ...
    @property
    def dtype(self) -> str: ...

_Float = np.float32 | np.float64
#: ("sgd", momentum, nesterov) or ("adam", beta1, beta2, epsilon)
_OptimizerSettings = (
    tuple[Literal["sgd"], float, bool] | tuple[Literal["adam"], float, float, float]
)

def matmul(a: NDArray[_Float], b: NDArray[_Float]) -> NDArray[_Float]: ...
def relu(z: NDArray[_Float]) -> NDArray[_Float]: ...
def tanh(z: NDArray[_Float]) -> NDArray[_Float]: ...
def sigmoid(z: NDArray[_Float]) -> NDArray[_Float]: ...
def softmax(z: NDArray[_Float]) -> NDArray[_Float]: ...
def cross_entropy(p: NDArray[_Float], y_onehot: NDArray[_Float]) -> float: ...
def output_loss(
    out: NDArray[_Float],
    targets: NDArray[_Float],
    output: Output = "softmax",
    sample_weight: NDArray[_Float] | None = None,
) -> float: ...
def forward(
    weights: Sequence[NDArray[_Float]],
    biases: Sequence[NDArray[_Float]],
    x: NDArray[_Float],
    activation: Activation,
    output: Output = "softmax",
    input_path: InputPath = "auto",
    check_finite: bool = False,
) -> list[NDArray[_Float]]: ...
def backward(
    weights: Sequence[NDArray[_Float]],
    outputs: Sequence[NDArray[_Float]],
    y_onehot: NDArray[_Float],
    activation: Activation,
    output: Output = "softmax",
    sample_weight: NDArray[_Float] | None = None,
) -> tuple[list[NDArray[_Float]], list[NDArray[_Float]]]: ...
def sgd_step(
    weights: Sequence[NDArray[_Float]],
    biases: Sequence[NDArray[_Float]],
    x: NDArray[_Float],
    y_onehot: NDArray[_Float],
    lr: float,
    activation: Activation,
    output: Output = "softmax",
    sample_weight: NDArray[_Float] | None = None,
) -> float: ...
def train_step(
    weights: Sequence[NDArray[_Float]],
    biases: Sequence[NDArray[_Float]],
    x: NDArray[_Float],
    y_onehot: NDArray[_Float],
    lr: float,
    activation: Activation,
    optimizer: _OptimizerSettings | None = None,
    step: NDArray[np.int64] | None = None,
    slots: Sequence[tuple[Sequence[NDArray[_Float]], Sequence[NDArray[_Float]]]] | None = None,
    alpha: float = 0.0,
    output: Output = "softmax",
    sample_weight: NDArray[_Float] | None = None,
) -> float: ...
def train_epoch_stats(
    weights: Sequence[NDArray[_Float]],
    biases: Sequence[NDArray[_Float]],
    x: NDArray[_Float] | SparseRows,
    labels: NDArray[np.int64] | NDArray[_Float],
    order: NDArray[np.int64],
    lr: float,
    batch_size: int,
    activation: Activation,
    input_path: InputPath = "auto",
    optimizer: _OptimizerSettings | None = None,
    step: NDArray[np.int64] | None = None,
    slots: Sequence[tuple[Sequence[NDArray[_Float]], Sequence[NDArray[_Float]]]] | None = None,
    alpha: float = 0.0,
    output: Output = "softmax",
    sample_weight: NDArray[_Float] | None = None,
) -> tuple[float, int]: ...
def set_num_threads(n: int) -> None: ...
def get_num_threads() -> int: ...
def max_num_threads() -> int: ...
def sparse_plan(x: NDArray[_Float] | SparseRows) -> tuple[float, int]: ...
def sparse_matmul(x: SparseRows, w: NDArray[_Float]) -> NDArray[_Float]: ...
def preferred_input_path(
    x: NDArray[_Float] | SparseRows,
    sparse_work_crossover: float | None = None,
    epochs: int | None = None,
    fan_out: int | None = None,
) -> Literal["dense", "sparse"]: ...
def sparse_work_crossover(threads: int | None = None) -> float: ...
