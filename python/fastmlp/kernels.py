"""The Rust engine: the engine contract of ``fastmlp.reference``, computed by ``fastmlp._native``.

Every function has the same name, signature and meaning as its twin in
:mod:`fastmlp.reference` (read that module for the math). Arrays are float32 or float64, one
dtype per call, never converted: a float64 array handed to a float32 computation is a
``TypeError``. Read-only inputs (``x``, targets, labels, order) that are not C-contiguous are
copied into C order first; weights and biases, which are updated in place, must already be
C-contiguous and writeable, or a ``ValueError`` says so. The GIL is released while the Rust
core computes, on the engine's own threads (:func:`fastmlp.set_num_threads`).

Every output kind of the contract (``output``: softmax, logistic, identity, exp; see
:mod:`fastmlp.reference_outputs`), per-row ``sample_weight`` and the hidden activation
``"identity"`` are computed by the core, on every entry point. A ``scipy.sparse`` matrix ``x``
(CSR; CSC and other formats through their sparse ``tocsr()``) is never densified: its arrays
become :data:`SparseRows` directly (:func:`sparse_rows`), which both first layers read.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Literal, NamedTuple, cast

import numpy as np
from numpy.typing import NDArray

from fastmlp import _native
from fastmlp.engine import FloatArray, IntArray
from fastmlp.names import (
    HIDDEN_ACTIVATIONS,
    INPUT_PATHS,
    Activation,
    HiddenActivation,
    InputPath,
    Output,
)
from fastmlp.optimizers import Adam, Optimizer, OptimizerState, check_optimizer_arguments
from fastmlp.reference_outputs import check_output, check_sample_weight
from fastmlp.sparse_inputs import as_csr, csr_arrays, is_scipy_sparse

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
    "sparse_rows",
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
    work, group_rows = _native.sparse_plan(_training_x(x))
    return SparsePlan(work, group_rows)


def sparse_work_crossover(threads: int | None = None) -> float:
    """The :func:`sparse_plan` work at which the sparse first layer's epoch takes as long as
    the dense one's: an epoch on the sparse path takes about work / crossover of the dense
    path's time.

    The default, read per thread count from ``benchmarks/input_paths.py`` on this project's
    machine (``benchmarks/README.md``). ``input_path="auto"`` takes the sparse path where that
    predicted ratio (plus any compressing of a dense ``x`` the call needs) is at most 0.75.
    ``threads`` defaults to the engine's current count. Measured elsewhere, pass your own as
    ``sparse_work_crossover`` to :func:`preferred_input_path`, :func:`training_inputs` or
    :class:`fastmlp.MLP`.
    """
    return _native.sparse_work_crossover(threads)


def preferred_input_path(
    x: FloatArray | SparseRows,
    *,
    sparse_work_crossover: float | None = None,
    epochs: int | None = None,
    fan_out: int | None = None,
) -> Literal["dense", "sparse"]:
    """``"sparse"`` or ``"dense"``: the first layer ``input_path="auto"`` takes for ``x``.

    Sparse where the sparse path's epoch is predicted to take at most 0.75 of the dense one's:
    :func:`sparse_plan` work / ``sparse_work_crossover`` (default: :func:`sparse_work_crossover`
    for the engine's current threads), plus, for a dense ``x`` with ``epochs`` and ``fan_out``
    (the first layer's width) given, compressing it once for that many epochs (about
    64 / (epochs * fan_out) of a dense epoch). Without them, ``x`` counts as compressed once
    for many epochs. :func:`training_inputs` decides so once per fit (:meth:`fastmlp.MLP.fit`
    with its epochs: ``partial_fit`` is one); a :func:`train_epoch` call given ``"auto"`` and a
    bare dense array decides per call, counting the compression for that one call.
    """
    return _native.preferred_input_path(_training_x(x), sparse_work_crossover, epochs, fan_out)


class TrainingInputs(NamedTuple):
    """``x`` as :func:`training_inputs` made it for a whole fit, with the first layer's path
    it decided: pass it as ``x`` to :func:`train_epoch`, whose ``"auto"`` then takes that path
    on every call instead of deciding again."""

    #: C-ordered rows (n, features) for the dense path, or their :data:`SparseRows`.
    x: FloatArray | SparseRows
    input_path: Literal["dense", "sparse"]


def training_inputs(
    x: FloatArray,
    input_path: InputPath = "auto",
    *,
    sparse_work_crossover: float | None = None,
    epochs: int | None = None,
    fan_out: int | None = None,
) -> FloatArray | SparseRows | TrainingInputs:
    """``x`` as :func:`train_epoch` should read it over a whole fit, the path decided once:
    C-ordered (a Fortran-ordered or strided ``x`` is copied here, not on every call), and
    compressed to its nonzeros (:data:`SparseRows`) where the sparse first layer applies
    (``"sparse"``, or ``"auto"`` and :func:`preferred_input_path` with
    ``sparse_work_crossover``, ``epochs`` and ``fan_out`` says so: given the fit's epochs and
    first layer's width, compressing a dense ``x`` must pay for itself within them). Returns
    a :class:`TrainingInputs` (typed as any of this engine's training inputs, as the engine
    contract has it). A scipy.sparse ``x``
    becomes :data:`SparseRows` (:func:`sparse_rows`) for either path: the dense path expands
    each batch's rows, so the matrix is never densified."""
    x = _training_x(x)
    if input_path == "auto":
        input_path = preferred_input_path(
            x, sparse_work_crossover=sparse_work_crossover, epochs=epochs, fan_out=fan_out
        )
    if input_path == "sparse":
        return TrainingInputs(x if isinstance(x, _native.SparseRows) else SparseRows(x), "sparse")
    if input_path == "dense":
        return TrainingInputs(x, "dense")
    raise ValueError(f"input_path: expected one of {INPUT_PATHS}, got {input_path!r}")


def _c_order(arg: str, value: Any) -> Any:
    """A C-ordered, aligned view or copy of a read-only array input (same dtype); others as is."""
    if isinstance(value, np.ndarray) and not (value.flags.c_contiguous and value.flags.aligned):
        return np.require(value, requirements=["C", "A"])
    return value


def sparse_rows(x: Any) -> SparseRows:
    """A scipy.sparse matrix ``x`` (n, features) as :data:`SparseRows`, built from its CSR
    arrays without densifying it (CSC and other formats: their sparse ``tocsr()`` first).

    Any integer index dtype; columns in any order within a row, repeats summed (as
    ``x.toarray()`` sums them), stored zeros dropped. A ``ValueError`` naming ``x`` for an
    ``indptr`` that does not start at 0, decreases or overruns the entries, a column index
    out of range, or a NaN or infinite stored value (the reference engine raises the same).
    """
    csr = as_csr(x)
    indptr, indices, data = csr_arrays(csr)
    return _native.SparseRows.from_csr(indptr, indices, data, tuple(csr.shape))


def _training_x(x: Any) -> Any:
    """Training inputs as the core reads them: a scipy.sparse matrix as :data:`SparseRows`,
    an array C-ordered (:func:`_c_order`), anything else as it is."""
    return sparse_rows(x) if is_scipy_sparse(x) else _c_order("x", x)


def _dense(arg: str, value: Any) -> Any:
    """A scipy.sparse batch as a dense C-ordered array; anything else as :func:`_c_order`."""
    if is_scipy_sparse(value):
        return np.ascontiguousarray(value.toarray())
    return _c_order(arg, value)


def _checked_names(activation: object = "relu", output: object = "softmax") -> Activation:
    """The activation, after checking it and ``output`` with the reference's ValueErrors."""
    check_output(output)
    if isinstance(activation, str) and activation not in HIDDEN_ACTIVATIONS:
        names = ", ".join(f'"{name}"' for name in HIDDEN_ACTIVATIONS)
        raise ValueError(f'activation: expected one of [{names}], got "{activation}"')
    return cast(Activation, activation)


def _row_weights(sample_weight: object, rows: int, dtype: np.dtype) -> FloatArray | None:
    """``sample_weight`` checked as the reference's callers check it (the same errors) and
    converted to the computation's dtype: a C-ordered (rows,) array, or None."""
    return check_sample_weight(sample_weight, rows, dtype)


def _dtype_of(value: Any) -> np.dtype:
    """The float dtype of an array (or of :data:`SparseRows`); float64 for anything else,
    which the core then refuses with its own TypeError."""
    dtype = getattr(value, "dtype", None)
    if isinstance(dtype, str):  # SparseRows.dtype is its name
        dtype = np.dtype(dtype)
    return dtype if isinstance(dtype, np.dtype) and dtype.kind == "f" else np.dtype(np.float64)


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
    """The batch loss ``sum_i s_i * loss_i / sum_i s_i`` of an output layer, as
    :func:`fastmlp.reference.output_loss`: ``out`` and ``targets`` (n, outputs) of one dtype,
    ``sample_weight`` (n,) or None (every row weighs 1; softmax is then :func:`cross_entropy`).
    """
    check_output(output)
    out = _c_order("out", out)
    weights = _row_weights(sample_weight, len(out), _dtype_of(out))
    return _native.output_loss(out, _c_order("targets", targets), output, weights)


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
    ``activation`` ("relu", "tanh", "sigmoid" or "identity"); ``aL`` (n, outputs) is the output
    layer's (``output``: the softmax probabilities by default). ``outputs[0]`` is ``x`` itself.
    A scipy.sparse ``x`` is never densified: the first layer's product is computed from its
    nonzeros.
    """
    activation = _checked_names(activation, output)
    if is_scipy_sparse(x):
        weights, biases = _arrays("weights", weights), _arrays("biases", biases)
        return _forward_sparse(weights, biases, x, activation, output)
    return _native.forward(
        _arrays("weights", weights), _arrays("biases", biases), _c_order("x", x), activation, output
    )


def _identity(z: FloatArray) -> FloatArray:
    return z


def _exp(z: FloatArray) -> FloatArray:
    with np.errstate(over="ignore"):  # inf past the dtype's range, as the core gives
        return np.exp(z)


_HIDDEN = {
    "relu": _native.relu,
    "tanh": _native.tanh,
    "sigmoid": _native.sigmoid,
    "identity": _identity,
}
_OUTPUT = {
    "softmax": _native.softmax,
    "logistic": _native.sigmoid,
    "identity": _identity,
    "exp": _exp,
}


def _forward_sparse(
    weights: list[Any], biases: list[Any], x: Any, activation: Activation, output: Output
) -> list[FloatArray]:
    """:func:`forward` on a scipy.sparse ``x``: the first layer's product from its nonzeros
    (``_native.sparse_matmul``), the other layers as for dense rows. ``outputs[0]`` is ``x``."""
    if not weights or len(weights) != len(biases):
        raise ValueError(
            f"weights, biases: expected lists of the same length >= 1, got {len(weights)} "
            f"and {len(biases)}"
        )
    z = _native.sparse_matmul(sparse_rows(x), _c_order("weights[0]", weights[0]))  # (n, fan_out)
    bias = np.asarray(biases[0])
    if bias.dtype != z.dtype or bias.shape != (z.shape[1],):
        raise ValueError(
            f"biases[0]: expected shape ({z.shape[1]},) of dtype {z.dtype}, got shape "
            f"{bias.shape} of dtype {bias.dtype}"
        )
    z += bias
    if len(weights) == 1:
        return [x, _OUTPUT[output](z)]
    hidden = _HIDDEN[activation](z)  # (n, fan_out)
    rest = _native.forward(weights[1:], biases[1:], hidden, activation, output)
    return [x, *rest]


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
    activation = _checked_names(activation, output)
    return _native.forward(
        _arrays("weights", weights),
        _arrays("biases", biases),
        _c_order("x", x),
        activation,
        output,
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
    """Gradients ``(weight_grads, bias_grads)`` of the (weighted) mean loss of ``output``.

    ``outputs`` is what :func:`forward` returned, ``y_onehot`` (n, outputs) the targets,
    ``sample_weight`` (n,) the rows' weights or None. Gradients have the shapes and dtype of
    the parameters.
    """
    activation = _checked_names(activation, output)
    arrays = [_dense(f"outputs[{i}]", a) for i, a in enumerate(_arrays("outputs", outputs))]
    weights_of_rows = None
    if sample_weight is not None and arrays:
        weights_of_rows = _row_weights(sample_weight, len(arrays[0]), _dtype_of(arrays[0]))
    return _native.backward(
        _arrays("weights", weights),
        arrays,
        _c_order("y_onehot", y_onehot),
        activation,
        output,
        weights_of_rows,
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
    (of ``output``, weighted by ``sample_weight``) computed before the step.
    (:func:`train_step` with its default optimizer, as in the reference.)
    """
    return train_step(
        weights, biases, x, y_onehot, lr, activation, output=output, sample_weight=sample_weight
    )


def _step_weights(sample_weight: object, x: Any) -> FloatArray | None:
    """A step's row weights, checked against the rows of ``x``."""
    if sample_weight is None:
        return None
    rows = x.shape[0] if getattr(x, "ndim", 0) >= 1 else 0
    return _row_weights(sample_weight, rows, _dtype_of(x))


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
    update: fed the same gradients, the two engines' rules agree bit for bit. ``output`` and
    ``sample_weight`` as :func:`fastmlp.reference.train_step` (with row weights, the L2
    term's ``n`` is their sum, and weights summing to 0 take no step).
    """
    arguments = _optimizer_arguments(optimizer, state, alpha, weights, biases)
    checked_activation = _checked_names(activation, output)
    x = _dense("x", x)
    return _native.train_step(
        _arrays("weights", weights),
        _arrays("biases", biases),
        x,
        _c_order("y_onehot", y_onehot),
        _learning_rate(lr),
        checked_activation,
        **arguments,
        output=output,
        sample_weight=_step_weights(sample_weight, x),
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
    """:func:`train_epoch`, also returning how many rows were classified right before their step
    (``output="logistic"``: whose every output was on the right side of 0.5; ``"identity"``
    and ``"exp"``: 0), as :func:`fastmlp.reference.train_epoch_stats`."""
    arguments = _optimizer_arguments(optimizer, state, alpha, weights, biases)
    if isinstance(x, TrainingInputs):
        input_path = x.input_path if input_path == "auto" else input_path
        x = x.x
    if isinstance(batch_size, bool) or not isinstance(batch_size, (int, np.integer)):
        raise TypeError(f"batch_size: expected an int, got {type(batch_size).__name__}")
    if batch_size < 1:
        raise ValueError(f"batch_size: expected a positive integer, got {batch_size}")
    activation = _checked_names(activation, output)
    inputs = _training_x(x)
    rows, dtype = _rows_and_dtype(inputs)
    targets = _epoch_targets(labels, output, rows, weights, dtype)
    arguments["output"] = output
    arguments["sample_weight"] = (
        None if sample_weight is None else _row_weights(sample_weight, rows, dtype)
    )
    loss, correct = _native.train_epoch_stats(
        _arrays("weights", weights),
        _arrays("biases", biases),
        inputs,
        targets,
        _indices("order", order),
        _learning_rate(lr),
        # A batch larger than the order is one batch of all of it: clamp what int64 can't hold.
        int(min(batch_size, np.iinfo(np.int64).max)),
        activation,
        input_path,
        **arguments,
    )
    return loss, correct


def _rows_and_dtype(x: Any) -> tuple[int, np.dtype]:
    """The rows of an epoch's ``x`` (array, SparseRows or scipy.sparse) and its dtype."""
    shape = getattr(x, "shape", None)
    rows = int(shape[0]) if isinstance(shape, tuple) and len(shape) >= 1 else 0
    return rows, _dtype_of(x)


def _epoch_targets(
    labels: object, output: str, rows: int, weights: Sequence[FloatArray], dtype: np.dtype
) -> Any:
    """Softmax: the labels as int64 indices. The other outputs: the target rows (rows,
    outputs) in x's dtype, with the reference's message when they are not."""
    if output == "softmax":
        return _indices("labels", labels)
    array = np.asarray(labels)
    layers = _arrays("weights", weights)
    outputs = layers[-1].shape[1] if layers and getattr(layers[-1], "ndim", 0) == 2 else None
    expected = (rows, outputs)
    if array.dtype != dtype or array.shape != expected:
        raise ValueError(
            f"labels: expected the targets, shape {expected} of dtype {dtype} (rows of x, "
            f"outputs), got shape {array.shape} of dtype {array.dtype}"
        )
    return np.require(array, requirements=["C", "A"])


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
    of the first 512 rows of ``order`` predicts a sparse epoch of at most 0.75 of the dense
    one, counting, for a dense ``x``, compressing all of ``x`` for this one call). Both paths
    give the same result up to the order of floating-point sums. ``x`` may also be a
    :data:`SparseRows` built once from the dense array, which saves the sparse path that
    compression per call, or what :func:`training_inputs` made of it, whose path ``"auto"``
    takes as decided (:meth:`fastmlp.MLP.fit` decides so once per fit), or a scipy.sparse
    matrix, made :data:`SparseRows` for this call (:func:`sparse_rows`), never densified.

    ``optimizer``, ``state`` and ``alpha`` are :func:`fastmlp.reference.train_epoch`'s: each
    batch is a step of the optimizer (plain SGD by default), ``state`` is updated in place
    and counts the steps taken, and each batch's loss includes its L2 term. On divergence or
    Ctrl-C the state is that of the last finished step, as the weights are. ``output`` (the
    output layer and its loss; ``labels`` are then the target rows (n, outputs) in x's dtype,
    for any output but softmax) and ``sample_weight`` ((n,) row weights, each batch's loss
    their weighted mean over its rows) are :func:`fastmlp.reference.train_epoch`'s.
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
