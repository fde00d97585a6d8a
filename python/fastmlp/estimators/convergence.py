"""What the estimators do after each epoch of ``MLP.fit``: scikit-learn's bookkeeping and its
convergence rule, as the loop's epoch callback (``MLP.fit``'s ``progress`` function, which
ends training by setting the history's ``stop_reason``).

After each epoch: ``n_iter_``, ``t_``, ``loss_``, ``loss_curve_``; with early stopping the
validation score (accuracy or R^2, as scikit-learn) in ``validation_scores_``; the messages
of ``verbose``. Without early stopping, scikit-learn stops once the training loss has not
improved by ``tol`` for more than ``n_iter_no_change`` epochs in a row; that rule is the
callback's (with early stopping, or the adaptive schedule, ``MLP.fit`` watches itself).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fastmlp.history import History

__all__ = ["EpochMonitor"]


class EpochMonitor:
    """The epoch callback (``progress``) of one ``MLP.fit`` call made by an estimator.

    Args:
        estimator: the estimator whose fitted attributes are updated.
        rows: the training rows of an epoch (for ``t_``).
        n_iter_no_change: epochs without improvement tolerated (an int, or inf).
        stop_on_plateau: apply the training-loss rule (no early stopping, no adaptive rate).
        validation_score: with early stopping, the current model's score on the held-out rows.
    """

    def __init__(
        self,
        estimator: Any,
        rows: int,
        n_iter_no_change: float,
        stop_on_plateau: bool,
        validation_score: Callable[[], float] | None = None,
    ) -> None:
        self.estimator = estimator
        self.rows = rows
        self.n_iter_no_change = n_iter_no_change
        self.stop_on_plateau = stop_on_plateau
        self.validation_score = validation_score
        self.converged = False

    def __call__(self, history: History) -> None:
        e = self.estimator
        loss = float(history.loss[-1])
        e.n_iter_ += 1
        e.t_ += self.rows
        e.loss_ = loss
        e.loss_curve_.append(loss)
        if e.verbose:
            print(f"Iteration {e.n_iter_}, loss = {loss:.8f}")

        if self.validation_score is not None:
            score = self.validation_score()
            e.validation_scores_.append(score)
            if e.verbose:
                print(f"Validation score: {score:f}")
            if score < e.best_validation_score_ + e.tol:
                e._no_improvement_count += 1
            else:
                e._no_improvement_count = 0
            e.best_validation_score_ = max(e.best_validation_score_, score)
            return  # MLP.fit's early stopping decides

        if loss > e.best_loss_ - e.tol:
            e._no_improvement_count += 1
        else:
            e._no_improvement_count = 0
        e.best_loss_ = min(e.best_loss_, loss)
        if self.stop_on_plateau and e._no_improvement_count > self.n_iter_no_change:
            reason = (
                f"Training loss did not improve more than tol={e.tol:f} for "
                f"{self.n_iter_no_change:g} consecutive epochs. Stopping."
            )
            if e.verbose:
                print(reason)
            self.converged = True
            history.stop_reason = reason
