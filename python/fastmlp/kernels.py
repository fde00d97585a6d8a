"""The Rust engine: the engine contract of ``fastmlp.reference``, computed by ``fastmlp._native``.

Every function has the same name, signature and meaning as its twin in
:mod:`fastmlp.reference` (read that module for the math). Arrays are float32 or float64, one
dtype per call, never converted: a float64 array handed to a float32 computation is a
``TypeError``. Read-only inputs (``x``, targets, labels, order) that are not C-contiguous are
copied into C order first; weights and biases, which are updated in place, must already be
C-contiguous and writeable, or a ``ValueError`` says so. The GIL is released while the Rust
core computes, on the engine's own threads (:func:`fastmlp.set_num_threads`).

Where the contract has grown ahead of the Rust core (issue 12, phase 2), these functions take
the same keywords as the reference and raise ``NotImplementedError`` for what the core does
not compute yet: the hidden activation ``"identity"``, any ``output`` but ``"softmax"``, and
``sample_weight``. A ``scipy.sparse`` matrix ``x`` is densified a few batches at a time (the
core reads dense rows or :data:`SparseRows`; building those straight from CSR is phase 2).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Literal, NamedTuple, cast

import numpy as np
from numpy.typing import NDArray

from fastmlp import _native
from fastmlp.engine import FloatArray, IntArray
from fastmlp.errors import TrainingDivergedError
from fastmlp.names import (
    HIDDEN_ACTIVATIONS,
    INPUT_PATHS,
    Activation,
    HiddenActivation,
    InputPath,
    Output,
)
from fastmlp.optimizers import Adam, Optimizer, OptimizerState, check_optimizer_arguments
from fastmlp.reference_outputs import check_output

__all__ = [
    "CHECKS_INTERRUPTS",
    "SparsePlan",
    "SparseRows",
    "TrainingInputs",
    "backward",
    "cross_entropy",
    "forward",
    "matmul",
    "output_loss",
    "preferred_input_path",
    "relu",
    "sgd_step",
    "sigmoid",
    "softmax",
    "sparse_plan",
    "sparse_work_crossover",
    "tanh",
    "train_epoch",
    "train_epoch_stats",
    "train_step",
    "training_inputs",
]

#: ``train_epoch`` stops between batches on Ctrl-C by itself (see :class:`fastmlp.engine.Engine`).
CHECKS_INTERRUPTS = True

#: Compressed rows of a float array (``SparseRows(x)``): pass as ``x`` to :func:`train_epoch`
#: to train on the nonzeros without scanning the dense array again each epoch.
SparseRows = _native.SparseRows


class SparsePlan(NamedTuple):
    """How the sparse first layer would run on some rows (:func:`sparse_plan`)."""

    #: Its products' work as a fraction of the dense products' work.
    work: float
    #: Rows it takes together: 8 where rows share their nonzero inputs (images), else 1.
    group_rows: int


def sparse_plan(x: FloatArray | SparseRows) -> SparsePlan:
    """How the sparse first layer would run on ``x``'s first 512 rows, and its work.

    ``x``: float32/float64 (n, features), or its :class:`SparseRows`. In groups of 8 rows the
    products run over the inputs nonzero in one of the group's rows, for all 8 rows: the
    work is that *group fill* (the mean fraction of ``features`` those inputs are). Rows that
    share few inputs go one by one instead, at about 2.7 times their density (each nonzero
    reads a whole row of ``W[0]``). MNIST: work 0.46 in groups of 8 (density 0.19);
    Fashion-MNIST: 0.87 in groups of 8; random rows of density 0.05: 0.135 one by one.
    """
    work, group_rows = _native.sparse_plan(_c_order("x", x))
    return SparsePlan(work, group_rows)


def sparse_work_crossover(threads: int | None = None) -> float:
    """The :func:`sparse_plan` work below which ``input_path="auto"`` takes the sparse path.

    The default, read per thread count from ``benchmarks/input_paths.py`` on this project's
    machine (``benchmarks/README.md``): an epoch on the sparse path takes about work /
    crossover of the dense path's time. ``threads`` defaults to the engine's current count.
    Measured elsewhere, pass your own as ``sparse_work_crossover`` to
    :func:`preferred_input_path`, :func:`training_inputs` or :class:`fastmlp.MLP`.
    """
    return _native.sparse_work_crossover(threads)


def preferred_input_path(
    x: FloatArray | SparseRows, *, sparse_work_crossover: float | None = None
) -> Literal["dense", "sparse"]:
    """``"sparse"`` or ``"dense"``: the faster first layer for ``x`` compressed once.

    Sparse when the :func:`sparse_plan` work of ``x`` is below ``sparse_work_crossover``
    (default: :func:`sparse_work_crossover` for the engine's current threads). The decision
    :func:`training_inputs` takes once per fit; a :func:`train_epoch` call given ``"auto"``
    and a bare array decides per call, and also counts compressing the array for that call.
    """
    return _native.preferred_input_path(_c_order("x", x), sparse_work_crossover)


class TrainingInputs(NamedTuple):
    """``x`` as :func:`training_inputs` made it for a whole fit, with the first layer's path
    it decided: pass it as ``x`` to :func:`train_epoch`, whose ``"auto"`` then takes that path
    on every call instead of deciding again."""

    #: C-ordered rows (n, features) for the dense path, or their :data:`SparseRows`.
    x: FloatArray | SparseRows
    input_path: Literal["dense", "sparse"]


def training_inputs(
    x: FloatArray, input_path: InputPath = "auto", *, sparse_work_crossover: float | None = None
) -> FloatArray | SparseRows | TrainingInputs:
    """``x`` as :func:`train_epoch` should read it over a whole fit, the path decided once:
    C-ordered (a Fortran-ordered or strided ``x`` is copied here, not on every call), and
    compressed to its nonzeros (:data:`SparseRows`) where the sparse first layer applies
    (``"sparse"``, or ``"auto"`` and :func:`preferred_input_path` with
    ``sparse_work_crossover`` says so). Returns a :class:`TrainingInputs` (typed as any of
    this engine's training inputs, as the engine contract has it). A scipy.sparse ``x`` stays
    as it is."""
    if _is_scipy_sparse(x):
        # Densified a few batches at a time by train_epoch (building SparseRows straight
        # from CSR is issue 12's phase 2).
        return TrainingInputs(x, "sparse" if input_path == "sparse" else "dense")
    x = _c_order("x", x)
    if input_path == "auto":
        input_path = preferred_input_path(x, sparse_work_crossover=sparse_work_crossover)
    if input_path == "sparse":
        return TrainingInputs(SparseRows(x), "sparse")
    if input_path == "dense":
        return TrainingInputs(x, "dense")
    raise ValueError(f"input_path: expected one of {INPUT_PATHS}, got {input_path!r}")


def _c_order(arg: str, value: Any) -> Any:
    """A C-ordered, aligned view or copy of a read-only array input (same dtype); others as is."""
    if isinstance(value, np.ndarray) and not (value.flags.c_contiguous and value.flags.aligned):
        return np.require(value, requirements=["C", "A"])
    return value


# A scipy.sparse x is densified in pieces of whole batches of at most this many values.
_DENSE_PIECE_VALUES = 1 << 22


def _is_scipy_sparse(value: object) -> bool:
    """Whether ``value`` is a scipy.sparse matrix or array (without importing scipy)."""
    return type(value).__module__.startswith("scipy.sparse") and hasattr(value, "toarray")


def _dense(arg: str, value: Any) -> Any:
    """A scipy.sparse batch as a dense C-ordered array; anything else as :func:`_c_order`."""
    if _is_scipy_sparse(value):
        return np.ascontiguousarray(value.toarray())
    return _c_order(arg, value)


def _not_in_rust_yet(
    activation: object = "relu", output: object = "softmax", sample_weight: object = None
) -> Activation:
    """``NotImplementedError`` for what only the reference computes so far (issue 12 phase 2);
    else the activation, as one the Rust core knows (an unknown name is its ValueError).

    An unknown ``output`` or activation is the reference's ValueError (its list of
    activations has the reference's own "identity").
    """
    check_output(output)
    if isinstance(activation, str) and activation not in HIDDEN_ACTIVATIONS:
        names = ", ".join(f'"{name}"' for name in HIDDEN_ACTIVATIONS)
        raise ValueError(f'activation: expected one of [{names}], got "{activation}"')
    missing = []
    if activation == "identity":
        missing.append("activation='identity'")
    if output != "softmax":
        missing.append(f"output={output!r}")
    if sample_weight is not None:
        missing.append("sample_weight")
    if missing:
        raise NotImplementedError(
            f"the Rust engine does not compute {' and '.join(missing)} yet; the NumPy engine "
            "does (engine='numpy', fastmlp.reference)"
        )
    return cast(Activation, activation)


def _arrays(arg: str, value: object) -> list[Any]:
    """The items of a list or tuple of arrays (not a single array, a dict or a string)."""
    if isinstance(value, Sequence) and not isinstance(value, (str, bytes)):
        return list(value)
    raise TypeError(f"{arg}: expected a list of numpy arrays, got {type(value).__name__}")


def _indices(arg: str, value: object) -> NDArray[np.int64]:
    """Integer labels or row indices as a C-ordered, aligned int64 array (an exact conversion)."""
    array = np.asarray(value)
    if array.dtype.kind not in "iu":
        raise TypeError(f"{arg}: expected an integer array, got dtype {array.dtype}")
    if array.ndim != 1:
        raise ValueError(f"{arg}: expected a 1-D array, got shape {array.shape}")
    if array.dtype.kind == "u" and array.size and array.max() > np.iinfo(np.int64).max:
        raise ValueError(f"{arg}: values exceed the int64 range")
    return np.require(array, np.int64, ["C", "A"])


def _optimizer_arguments(
    optimizer: object,
    state: object,
    alpha: object,
    weights: Sequence[FloatArray],
    biases: Sequence[FloatArray],
) -> dict[str, Any]:
    """The optimizer keywords, checked as the reference checks them, as ``_native`` takes
    them: the settings as a tuple, ``state.step`` and one ``(weights, biases)`` pair of
    arrays per slot (velocity; or m, then v)."""
    checked, checked_state, checked_alpha = check_optimizer_arguments(
        optimizer, state, alpha, _arrays("weights", weights), _arrays("biases", biases)
    )
    settings: tuple[Any, ...]
    if isinstance(checked, Adam):
        settings = ("adam", checked.beta1, checked.beta2, checked.epsilon)
    else:
        settings = ("sgd", checked.momentum, checked.nesterov)
    if checked_state is None:
        return {"optimizer": settings, "alpha": checked_alpha}
    slots = [(list(m.weights), list(m.biases)) for m in checked_state.slots().values()]
    return {
        "optimizer": settings,
        "step": checked_state.step,
        "slots": slots,
        "alpha": checked_alpha,
    }


def _learning_rate(lr: object) -> float:
    """``lr`` as a Python float; an int too large for one is a ValueError like ``inf``."""
    try:
        return float(lr)  # type: ignore[arg-type]
    except OverflowError:
        raise ValueError(
            "lr: expected a finite number > 0, got an int too large for a float"
        ) from None


def matmul(a: FloatArray, b: FloatArray) -> FloatArray:
    """``a @ b`` for 2-D arrays ``a`` (m, k) and ``b`` (k, n) of one dtype; returns (m, n)."""
    return _native.matmul(_c_order("a", a), _c_order("b", b))


def relu(z: FloatArray) -> FloatArray:
    """``max(z, 0)`` elementwise; any shape, same dtype (NaN stays NaN)."""
    return _native.relu(_c_order("z", z))


def tanh(z: FloatArray) -> FloatArray:
    """``tanh(z)`` elementwise; any shape, same dtype."""
    return _native.tanh(_c_order("z", z))


def sigmoid(z: FloatArray) -> FloatArray:
    """``1 / (1 + exp(-z))`` elementwise without overflow; any shape, same dtype."""
    return _native.sigmoid(_c_order("z", z))


def softmax(z: FloatArray) -> FloatArray:
    """Row-wise softmax of logits ``z`` (n, classes), stable for any finite values."""
    return _native.softmax(_c_order("z", z))


def cross_entropy(p: FloatArray, y_onehot: FloatArray) -> float:
    """Mean over rows of ``-sum(y * log(max(p, tiny)))`` for ``p``, ``y_onehot`` (n, classes)."""
    return _native.cross_entropy(_c_order("p", p), _c_order("y_onehot", y_onehot))


def output_loss(
    out: FloatArray,
    targets: FloatArray,
    output: Output = "softmax",
    sample_weight: FloatArray | None = None,
) -> float:
    """The batch loss of an output layer (:func:`fastmlp.reference.output_loss`).

    The Rust engine has softmax + cross-entropy (:func:`cross_entropy`), unweighted; the other
    kinds and ``sample_weight`` are phase 2 (``NotImplementedError``).
    """
    _not_in_rust_yet(output=output, sample_weight=sample_weight)
    return cross_entropy(out, targets)


def forward(
    weights: Sequence[FloatArray],
    biases: Sequence[FloatArray],
    x: FloatArray,
    activation: HiddenActivation,
    *,
    output: Output = "softmax",
) -> list[FloatArray]:
    """Every layer's output ``[x, a1, ..., aL]`` for ``x`` (n, inputs).

    ``weights[l]`` is (fan_in, fan_out), ``biases[l]`` (fan_out,); hidden layers use
    ``activation`` ("relu", "tanh" or "sigmoid"); ``aL`` (n, classes) holds the softmax
    probabilities. ``outputs[0]`` is ``x`` itself (a scipy.sparse ``x``: its dense copy).
    """
    activation = _not_in_rust_yet(activation, output)
    return _native.forward(
        _arrays("weights", weights), _arrays("biases", biases), _dense("x", x), activation
    )


def _forward_of_finite(
    weights: Sequence[FloatArray],
    biases: Sequence[FloatArray],
    x: FloatArray,
    activation: HiddenActivation,
    *,
    output: Output = "softmax",
) -> list[FloatArray]:
    """:func:`forward` on a dense ``x`` whose values it also checks to be finite (a
    ``ValueError`` counting the NaN and infinite ones, as ``validation.check_inputs``), in
    the sparse first layer's own pass over ``x`` where it takes that path."""
    activation = _not_in_rust_yet(activation, output)
    return _native.forward(
        _arrays("weights", weights),
        _arrays("biases", biases),
        _c_order("x", x),
        activation,
        check_finite=True,
    )


def backward(
    weights: Sequence[FloatArray],
    outputs: Sequence[FloatArray],
    y_onehot: FloatArray,
    activation: HiddenActivation,
    *,
    output: Output = "softmax",
    sample_weight: FloatArray | None = None,
) -> tuple[list[FloatArray], list[FloatArray]]:
    """Gradients ``(weight_grads, bias_grads)`` of the mean cross-entropy.

    ``outputs`` is what :func:`forward` returned, ``y_onehot`` (n, classes) the targets.
    Gradients have the shapes and dtype of the parameters.
    """
    activation = _not_in_rust_yet(activation, output, sample_weight)
    arrays = [_dense(f"outputs[{i}]", a) for i, a in enumerate(_arrays("outputs", outputs))]
    return _native.backward(
        _arrays("weights", weights), arrays, _c_order("y_onehot", y_onehot), activation
    )


def sgd_step(
    weights: Sequence[FloatArray],
    biases: Sequence[FloatArray],
    x: FloatArray,
    y_onehot: FloatArray,
    lr: float,
    activation: HiddenActivation,
    *,
    output: Output = "softmax",
    sample_weight: FloatArray | None = None,
) -> float:
    """One gradient step on the batch ``x`` (n, inputs), ``y_onehot`` (n, classes).

    Updates ``weights`` and ``biases`` in place (``W -= lr * dW``) and returns the mean loss
    computed before the step.
    """
    activation = _not_in_rust_yet(activation, output, sample_weight)
    return _native.sgd_step(
        _arrays("weights", weights),
        _arrays("biases", biases),
        _dense("x", x),
        _c_order("y_onehot", y_onehot),
        _learning_rate(lr),
        activation,
    )


def train_step(
    weights: Sequence[FloatArray],
    biases: Sequence[FloatArray],
    x: FloatArray,
    y_onehot: FloatArray,
    lr: float,
    activation: HiddenActivation,
    *,
    optimizer: Optimizer | None = None,
    state: OptimizerState | None = None,
    alpha: float = 0.0,
    output: Output = "softmax",
    sample_weight: FloatArray | None = None,
) -> float:
    """One step of ``optimizer`` (plain SGD by default) on the batch ``x``, ``y_onehot``.

    Updates the parameters and ``state`` in place and returns the batch's loss before the
    step, with the L2 term ``alpha / (2 n) * sum(W**2)``. The rules are
    :func:`fastmlp.reference.train_step`'s (``fastmlp.optimizers.rules``), fused into the
    update: fed the same gradients, the two engines' rules agree bit for bit.
    """
    arguments = _optimizer_arguments(optimizer, state, alpha, weights, biases)
    checked_activation = _not_in_rust_yet(activation, output, sample_weight)
    return _native.train_step(
        _arrays("weights", weights),
        _arrays("biases", biases),
        _c_order("x", x),
        _c_order("y_onehot", y_onehot),
        _learning_rate(lr),
        checked_activation,
        **arguments,
    )


def train_epoch_stats(
    weights: Sequence[FloatArray],
    biases: Sequence[FloatArray],
    x: FloatArray | SparseRows | TrainingInputs,
    labels: IntArray | FloatArray,
    order: IntArray,
    lr: float,
    batch_size: int,
    activation: HiddenActivation,
    *,
    input_path: InputPath = "auto",
    optimizer: Optimizer | None = None,
    state: OptimizerState | None = None,
    alpha: float = 0.0,
    output: Output = "softmax",
    sample_weight: FloatArray | None = None,
) -> tuple[float, int]:
    """:func:`train_epoch`, also returning how many rows were classified right before their step."""
    arguments = _optimizer_arguments(optimizer, state, alpha, weights, biases)
    if isinstance(x, TrainingInputs):
        x, input_path = x.x, (x.input_path if input_path == "auto" else input_path)
    if isinstance(batch_size, bool) or not isinstance(batch_size, (int, np.integer)):
        raise TypeError(f"batch_size: expected an int, got {type(batch_size).__name__}")
    if batch_size < 1:
        raise ValueError(f"batch_size: expected a positive integer, got {batch_size}")
    activation = _not_in_rust_yet(activation, output, sample_weight)
    if _is_scipy_sparse(x):
        return _train_epoch_in_dense_pieces(
            weights, biases, x, labels, order, lr, batch_size, activation, input_path, arguments
        )
    loss, correct = _native.train_epoch_stats(
        _arrays("weights", weights),
        _arrays("biases", biases),
        _c_order("x", x),
        _indices("labels", labels),
        _indices("order", order),
        _learning_rate(lr),
        # A batch larger than the order is one batch of all of it: clamp what int64 can't hold.
        int(min(batch_size, np.iinfo(np.int64).max)),
        activation,
        input_path,
        **arguments,
    )
    return loss, correct


def train_epoch(
    weights: Sequence[FloatArray],
    biases: Sequence[FloatArray],
    x: FloatArray | SparseRows | TrainingInputs,
    labels: IntArray | FloatArray,
    order: IntArray,
    lr: float,
    batch_size: int,
    activation: HiddenActivation,
    *,
    input_path: InputPath = "auto",
    optimizer: Optimizer | None = None,
    state: OptimizerState | None = None,
    alpha: float = 0.0,
    output: Output = "softmax",
    sample_weight: FloatArray | None = None,
) -> float:
    """One epoch of mini-batch SGD over the rows ``x[order]``, updating in place.

    ``x`` is (n, inputs), ``labels`` (n,) integer classes, ``order`` the row indices to visit
    (any permutation or subset); batches are ``order[i:i + batch_size]``, the last one possibly
    short. Returns the mean per-sample loss, each batch's loss taken before its step.
    Stops with :class:`fastmlp.TrainingDivergedError` at a non-finite loss (weights as before
    that batch) and with ``KeyboardInterrupt`` on Ctrl-C (weights of the last finished step).

    ``input_path`` chooses how the first layer reads ``x``: ``"dense"`` (a GEMM), ``"sparse"``
    (only the nonzero inputs: faster for MNIST-like data, where most pixels are 0) or
    ``"auto"`` (the faster of the two for this call: sparse when the :func:`sparse_plan` work
    of the first 512 rows of ``order`` is below :func:`sparse_work_crossover` by enough to
    also pay, for a dense ``x``, for compressing all of ``x`` first). Both paths give the
    same result up to the order of floating-point sums. ``x`` may also be a
    :data:`SparseRows` built once from the dense array, which saves the sparse path that
    compression per call, or what :func:`training_inputs` made of it, whose path ``"auto"``
    takes as decided (:meth:`fastmlp.MLP.fit` decides so once per fit), or a scipy.sparse
    matrix, densified a few batches at a time.

    ``optimizer``, ``state`` and ``alpha`` are :func:`fastmlp.reference.train_epoch`'s: each
    batch is a step of the optimizer (plain SGD by default), ``state`` is updated in place
    and counts the steps taken, and each batch's loss includes its L2 term. On divergence or
    Ctrl-C the state is that of the last finished step, as the weights are. ``output`` and
    ``sample_weight``: the Rust engine computes their defaults only, so far.
    """
    return train_epoch_stats(
        weights,
        biases,
        x,
        labels,
        order,
        lr,
        batch_size,
        activation,
        input_path=input_path,
        optimizer=optimizer,
        state=state,
        alpha=alpha,
        output=output,
        sample_weight=sample_weight,
    )[0]


def _train_epoch_in_dense_pieces(
    weights: Sequence[FloatArray],
    biases: Sequence[FloatArray],
    x: Any,
    labels: Any,
    order: NDArray[np.integer],
    lr: float,
    batch_size: int,
    activation: Activation,
    input_path: InputPath,
    optimizer_arguments: dict[str, Any],
) -> tuple[float, int]:
    """:func:`train_epoch_stats` on a scipy.sparse ``x``: its rows in ``order`` are densified
    in pieces of whole batches (at most ``_DENSE_PIECE_VALUES`` values), each piece one call
    of the core. The same batches and steps as one call on the dense matrix."""
    rows = x.tocsr() if x.format != "csr" else x
    n, features = rows.shape
    order = _indices("order", order)
    labels = _indices("labels", labels)
    if len(labels) != n:
        raise ValueError(
            f"labels: expected shape ({n},) (one per row of x), got shape {labels.shape}"
        )
    outside = np.flatnonzero((order < 0) | (order >= n))
    if outside.size:
        raise ValueError(
            f"order: expected row indices in [0, {n}), got {order[outside[0]]} at position "
            f"{outside[0]}"
        )
    if len(order) == 0:
        raise ValueError("order must hold at least one row index, got an empty array")
    batches_per_piece = max(1, _DENSE_PIECE_VALUES // (batch_size * max(features, 1)))
    piece_rows = batches_per_piece * batch_size
    total_loss, total_correct = 0.0, 0
    for start in range(0, len(order), piece_rows):
        part = order[start : start + piece_rows]
        dense = np.ascontiguousarray(rows[part].toarray())  # (len(part), features)
        try:
            loss, correct = _native.train_epoch_stats(
                _arrays("weights", weights),
                _arrays("biases", biases),
                dense,
                labels[part],
                np.arange(len(part), dtype=np.int64),
                _learning_rate(lr),
                int(min(batch_size, np.iinfo(np.int64).max)),
                activation,
                input_path,
                **optimizer_arguments,
            )
        except TrainingDivergedError as error:
            batch = start // batch_size + (error.batch or 0)
            raise TrainingDivergedError(
                f"training diverged: the loss of batch {batch} (0-based, within this epoch) is "
                f"{error.loss}; the weights are those before that batch; try a smaller "
                "learning rate",
                batch=batch,
                loss=error.loss,
            ) from None
        total_loss += loss * len(part)
        total_correct += correct
    return total_loss / len(order), total_correct
