"""The timed engines, behind one shape: an epoch of SGD and a forward pass, with the
signatures of :mod:`fastmlp.reference`.

- ``rust``, ``rust-dense``, ``rust-sparse``: :func:`fastmlp.kernels.train_epoch` with
  ``input_path`` "auto", "dense" and "sparse"; the inputs are prepared once per data set by
  :func:`fastmlp.kernels.training_inputs`, as ``MLP.fit`` does once per fit.
- ``numpy``: :mod:`fastmlp.reference`, plain NumPy on OpenBLAS.
- ``sklearn-sgd``, ``sklearn-adam``: scikit-learn's ``MLPClassifier`` with the same network,
  batch size and learning rate, one epoch per ``fit`` (``max_iter=1``, ``warm_start=True``,
  starting from the given weights); sgd is plain SGD (no momentum, no L2), the same math
  as the reference, and adam is scikit-learn's default solver.
- ``torch``: the same network in PyTorch (raw tensors sharing the NumPy arrays' memory,
  autograd, a manual SGD step), when it can be imported. Never a dependency of fastmlp.

The fastmlp engines (Rust and the reference) also take the optimizer keywords of
:mod:`fastmlp.bench.optimizers` (``optimizer=``, ``state=``) where the installed fastmlp
has them; the other engines time their own solver only.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

import fastmlp
from fastmlp import kernels, reference
from fastmlp.bench.machine import threadpoolctl
from fastmlp.engine import FloatArray
from fastmlp.names import INPUT_PATHS, Activation

__all__ = [
    "BASELINES",
    "DEFAULT_ENGINES",
    "ENGINE_NAMES",
    "SKLEARN_ACTIVATIONS",
    "BenchEngine",
    "EngineUnavailable",
    "make_engine",
]

# (weights, biases, x, labels, order, lr, batch, activation, **optimizer keywords) -> mean loss
TrainEpoch = Callable[..., float]
Forward = Callable[..., FloatArray]  # (weights, biases, x, activation) -> probabilities

#: The Rust engine once per input path: "rust" is "auto", what MLP.fit uses by default.
RUST_ENGINES = {("rust" if path == "auto" else f"rust-{path}"): path for path in INPUT_PATHS}
ENGINE_NAMES = (*RUST_ENGINES, "numpy", "sklearn-sgd", "sklearn-adam", "torch")
DEFAULT_ENGINES = ("rust", "numpy", "sklearn-sgd", "sklearn-adam", "torch")
#: Engines whose matrix products are NumPy's BLAS (or PyTorch's): run with their native
#: kernels (see fastmlp.bench.machine.BASELINE_UNSET).
BASELINES = frozenset({"numpy", "sklearn-sgd", "sklearn-adam", "torch"})
#: fastmlp's activation names in scikit-learn's words.
SKLEARN_ACTIVATIONS: dict[Activation, str] = {
    "relu": "relu",
    "tanh": "tanh",
    "sigmoid": "logistic",
}


class EngineUnavailable(Exception):
    """The engine's library cannot be imported here (PyTorch, scikit-learn)."""


@dataclass(frozen=True)
class BenchEngine:
    """One timed engine: its epoch and forward pass, and what the report says about it."""

    name: str
    train_epoch: TrainEpoch
    forward: Forward
    #: What train_epoch reads as x, made once per data set, outside the timer.
    prepare: Callable[[FloatArray], Any] = lambda x: x
    #: A square matmul for the run's peak (the Rust engine's own, and NumPy's BLAS).
    matmul: Callable[[FloatArray, FloatArray], Any] | None = None
    #: Its training computes the reference's math, so its loss is compared with NumPy's.
    same_math: bool = True
    #: train_epoch takes fastmlp's optimizer keywords (see fastmlp.bench.optimizers).
    takes_optimizers: bool = False
    kernels: str = ""
    versions: dict[str, str] = field(default_factory=dict)
    set_threads: Callable[[int], None] = lambda threads: None


def set_common_threads(threads: int) -> None:
    """``threads`` threads for the Rust engine and every BLAS/OpenMP pool in this process."""
    if fastmlp.get_num_threads() != threads:
        fastmlp.set_num_threads(threads)
    threadpoolctl().threadpool_limits(limits=threads)


def _rust(name: str) -> BenchEngine:
    path = RUST_ENGINES[name]

    def train_epoch(*args: Any, **optimizer: Any) -> float:
        return kernels.train_epoch(*args, input_path=path, **optimizer)

    return BenchEngine(
        name,
        train_epoch,
        lambda w, b, x, activation: kernels.forward(w, b, x, activation)[-1],
        prepare=lambda x: kernels.training_inputs(x, path),
        matmul=kernels.matmul if path == "auto" else None,
        takes_optimizers=True,
        kernels=f"its own (gemm crate; NumPy's BLAS unused), input_path={path!r}",
        versions={"fastmlp": fastmlp.__version__},
        set_threads=set_common_threads,
    )


def _numpy() -> BenchEngine:
    return BenchEngine(
        "numpy",
        reference.train_epoch,
        lambda w, b, x, activation: reference.forward(w, b, x, activation)[-1],
        matmul=np.matmul,
        takes_optimizers=True,
        kernels="NumPy's BLAS",
        versions={"numpy": np.__version__},
        set_threads=set_common_threads,
    )


def _sklearn(name: str) -> BenchEngine:
    try:
        import sklearn
        from sklearn.exceptions import ConvergenceWarning
        from sklearn.neural_network import MLPClassifier
    except ImportError as error:
        raise EngineUnavailable(f"scikit-learn not importable ({error}): skipped") from None
    solver = name.removeprefix("sklearn-")
    classifiers: dict[tuple[Any, ...], Any] = {}

    def classifier_for(
        weights: Sequence[FloatArray],
        biases: Sequence[FloatArray],
        x: FloatArray,
        batch_size: int,
        activation: str,
        lr: float,
    ) -> Any:
        """A classifier of the network's shape holding ``weights`` and ``biases`` (its
        optimizer updates them in place, as the other engines do)."""
        key = (tuple(w.shape for w in weights), x.dtype.str, batch_size, activation, lr)
        classifier = classifiers.get(key)
        if classifier is None:
            classifier = MLPClassifier(
                hidden_layer_sizes=[w.shape[1] for w in weights[:-1]],
                activation=SKLEARN_ACTIVATIONS[activation],  # type: ignore[index]
                solver=solver,
                alpha=0.0,
                batch_size=batch_size,
                learning_rate="constant",
                learning_rate_init=lr,
                momentum=0.0,
                nesterovs_momentum=False,
                max_iter=1,
                shuffle=False,  # the rows come in the benchmark's order
                warm_start=True,  # each fit starts from coefs_ and intercepts_
                random_state=0,
            )
            # One tiny fit gives it its classes and layers; its weights are replaced below.
            classes = np.arange(weights[-1].shape[1])
            rows = np.resize(np.arange(len(x)), len(classes))
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", UserWarning)  # a batch larger than its rows
                classifier.partial_fit(x[rows], classes, classes=classes)
            classifiers[key] = classifier
        classifier.coefs_ = list(weights)
        classifier.intercepts_ = list(biases)
        return classifier

    def train_epoch(
        weights: Sequence[FloatArray],
        biases: Sequence[FloatArray],
        x: FloatArray,
        labels: np.ndarray,
        order: np.ndarray,
        lr: float,
        batch_size: int,
        activation: str,
    ) -> float:
        classifier = classifier_for(weights, biases, x, batch_size, activation, lr)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)  # max_iter=1, on purpose
            # x[order]: the gather scikit-learn's own shuffling would do, inside the timer.
            classifier.fit(x[order], labels[order])
        return float(classifier.loss_)

    def forward(
        weights: Sequence[FloatArray], biases: Sequence[FloatArray], x: FloatArray, activation: str
    ) -> FloatArray:
        return classifier_for(weights, biases, x, len(x), activation, 0.1).predict_proba(x)

    return BenchEngine(
        name,
        train_epoch,
        forward,
        same_math=solver == "sgd",
        kernels="NumPy's BLAS",
        versions={"scikit-learn": sklearn.__version__, "numpy": np.__version__},
        set_threads=set_common_threads,
    )


def _torch() -> BenchEngine:
    try:
        import torch  # optional, and slow to import: only in its own process
    except Exception as error:  # any failure to import means "not available"
        raise EngineUnavailable(f"PyTorch not importable ({error}): skipped") from None
    functional = torch.nn.functional
    activations = {"relu": torch.relu, "tanh": torch.tanh, "sigmoid": torch.sigmoid}

    def logits(ws: list[Any], bs: list[Any], h: Any, activation: str) -> Any:
        act = activations[activation]
        last = len(ws) - 1
        for layer, (w, b) in enumerate(zip(ws, bs, strict=True)):
            h = torch.addmm(b, h, w)
            if layer < last:
                h = act(h)
        return h

    def train_epoch(
        weights: Sequence[FloatArray],
        biases: Sequence[FloatArray],
        x: FloatArray,
        labels: np.ndarray,
        order: np.ndarray,
        lr: float,
        batch_size: int,
        activation: str,
    ) -> float:
        ws = [torch.from_numpy(w).requires_grad_() for w in weights]
        bs = [torch.from_numpy(b).requires_grad_() for b in biases]
        params = ws + bs
        xt, yt, ot = torch.from_numpy(x), torch.from_numpy(labels), torch.from_numpy(order)
        total = 0.0
        for start in range(0, len(order), batch_size):
            rows = ot[start : start + batch_size]
            loss = functional.cross_entropy(
                logits(ws, bs, xt.index_select(0, rows), activation), yt.index_select(0, rows)
            )
            loss.backward()
            with torch.no_grad():
                for p in params:
                    grad = p.grad
                    assert grad is not None  # backward() set it
                    p -= lr * grad  # in place: the NumPy arrays change too
                    p.grad = None
            total += loss.item() * len(rows)
        return total / len(order)

    def forward(
        weights: Sequence[FloatArray], biases: Sequence[FloatArray], x: FloatArray, activation: str
    ) -> FloatArray:
        with torch.inference_mode():
            ws = [torch.from_numpy(w) for w in weights]
            bs = [torch.from_numpy(b) for b in biases]
            probs = torch.softmax(logits(ws, bs, torch.from_numpy(x), activation), dim=1)
        return probs.numpy()

    def set_threads(threads: int) -> None:
        set_common_threads(threads)
        torch.set_num_threads(threads)

    return BenchEngine(
        "torch",
        train_epoch,
        forward,
        kernels="PyTorch's",
        versions={"torch": str(torch.__version__)},
        set_threads=set_threads,
    )


def make_engine(name: str) -> BenchEngine:
    """The engine called ``name`` (one of :data:`ENGINE_NAMES`).

    Raises:
        ValueError: an unknown name.
        EngineUnavailable: its library cannot be imported here.
    """
    if name in RUST_ENGINES:
        return _rust(name)
    if name == "numpy":
        return _numpy()
    if name in ("sklearn-sgd", "sklearn-adam"):
        return _sklearn(name)
    if name == "torch":
        return _torch()
    raise ValueError(f"engine: expected one of {', '.join(ENGINE_NAMES)}, got {name!r}")
