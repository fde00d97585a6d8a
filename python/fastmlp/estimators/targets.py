"""Class labels <-> what the network trains on, for :class:`MLPClassifier`.

Any labels scikit-learn accepts (strings, arbitrary integers, booleans; binary, multi-class)
become indices into the sorted ``classes_``. More than two classes train a softmax output over
them; two classes train ONE logistic output (the probability of the second class), as
scikit-learn's: ``n_outputs_`` is 1, ``coefs_[-1]`` has one column, ``out_activation_`` is
``"logistic"`` and ``predict_proba`` builds its two columns ``[1 - p, p]`` from it.
Multi-label indicator matrices (n, k) train k logistic outputs, one per label, as in
scikit-learn.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray
from sklearn.utils.multiclass import check_classification_targets, type_of_target, unique_labels

__all__ = ["BINARY_OUTPUT", "ClassEncoding"]

#: The output layer of two-class problems (see the module docstring): scikit-learn's.
BINARY_OUTPUT = "logistic"

#: The kinds of targets ``check_classification_targets`` accepts.
_CLASSIFICATION_KINDS = frozenset(
    {
        "binary",
        "multiclass",
        "multiclass-multioutput",
        "multilabel-indicator",
        "multilabel-sequences",
    }
)


def _check_classification(y: Any, kind: str) -> None:
    """scikit-learn's ``check_classification_targets(y)`` for ``y`` of ``type_of_target``
    ``kind``: called only when it would raise, for its own message."""
    if kind not in _CLASSIFICATION_KINDS:
        check_classification_targets(y)


def _labels_of(y: Any, kind: str) -> NDArray:
    """``unique_labels(y)`` for class labels ``y`` (n,) of ``kind`` "binary" or "multiclass":
    for an array of one non-object dtype that is ``np.unique(y)``, without the two more
    ``type_of_target`` passes ``unique_labels`` makes."""
    if isinstance(y, np.ndarray) and y.dtype != object and kind in ("binary", "multiclass"):
        return np.unique(y)
    return unique_labels(y)


@dataclass(frozen=True)
class ClassEncoding:
    """How one classifier's labels map to its outputs.

    ``kind`` is ``"binary"``, ``"multiclass"`` or ``"multilabel"``; ``output`` the output
    layer (``"softmax"`` or ``"logistic"``); ``n_outputs`` its width.
    """

    classes: NDArray
    kind: str
    output: str
    n_outputs: int

    @classmethod
    def from_targets(cls, y: Any, kind: str | None = None) -> ClassEncoding:
        """The encoding of the labels in ``y`` (n,) or of the indicator matrix ``y`` (n, k);
        ``kind`` is ``type_of_target(y)`` where the caller has it."""
        kind = type_of_target(y) if kind is None else kind
        _check_classification(y, kind)
        if kind == "multilabel-indicator":
            width = np.shape(y)[1]
            return cls(np.arange(width), "multilabel", "logistic", width)
        if kind not in ("binary", "multiclass"):
            raise ValueError(
                f"y: MLPClassifier handles binary, multi-class and multi-label targets, "
                f"got {kind!r} targets"
            )
        return cls.from_classes(_labels_of(y, kind))

    @classmethod
    def from_classes(cls, classes: object) -> ClassEncoding:
        """The encoding of the given class labels (``partial_fit``'s ``classes``)."""
        labels = unique_labels(classes)
        if len(labels) < 2:
            raise ValueError(
                f"y: a classifier needs at least 2 classes to learn, got 1 class: {labels!r}"
            )
        if len(labels) == 2:
            return cls(labels, "binary", BINARY_OUTPUT, 2 if BINARY_OUTPUT == "softmax" else 1)
        return cls(labels, "multiclass", "softmax", len(labels))

    def check_compatible(self, y: Any, warm_start: bool, kind: str | None = None) -> None:
        """ValueError unless the labels of ``y`` fit this encoding (a later partial_fit or a
        warm-started fit): the same classes for warm_start, a subset for partial_fit.
        ``kind`` is ``type_of_target(y)`` where the caller has it."""
        kind = type_of_target(y) if kind is None else kind
        if self.kind == "multilabel":
            if kind != "multilabel-indicator" or np.shape(y)[1] != self.n_outputs:
                raise ValueError(
                    f"y: expected a multi-label indicator matrix with {self.n_outputs} columns "
                    "as in the previous fit"
                )
            return
        _check_classification(y, kind)
        classes = _labels_of(y, kind)
        if warm_start:
            if set(classes) != set(self.classes):
                raise ValueError(
                    "warm_start can only be used where `y` has the same classes as in the "
                    f"previous call to fit. Previously got {self.classes}, `y` has {classes}"
                )
        elif len(np.setdiff1d(classes, self.classes, assume_unique=True)):
            raise ValueError(
                f"`y` has classes not in `self.classes_`. `self.classes_` has {self.classes}. "
                f"'y' has {classes}."
            )

    def encode(self, y: NDArray, dtype: np.dtype) -> NDArray:
        """What the network trains on: class indices (n,) int64 for softmax, the 0/1
        indicators (n, k) in ``dtype`` for logistic outputs."""
        if self.output == "softmax":
            return np.searchsorted(self.classes, y).astype(np.int64)
        if self.kind == "binary":  # a single logistic output: is it the second class?
            return (np.asarray(y) == self.classes[1]).astype(dtype)[:, None]
        return np.ascontiguousarray(y, dtype=dtype)

    def probabilities(self, out: NDArray) -> NDArray:
        """``predict_proba`` from the output layer's values (n, n_outputs)."""
        if self.kind == "binary" and self.output == "logistic":
            return np.hstack([1 - out, out])
        return out

    def decode(self, out: NDArray) -> NDArray:
        """``predict``: labels (n,), or the 0/1 indicator matrix (n, k) for multi-label."""
        if self.kind == "multilabel":
            return (out > 0.5).astype(np.int64)
        if self.output == "logistic":
            return self.classes[(out[:, 0] > 0.5).astype(np.int64)]
        return self.classes[out.argmax(axis=1)]
