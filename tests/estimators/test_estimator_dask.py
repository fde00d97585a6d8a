"""A hyperparameter search over a cluster: GridSearchCV over MLPClassifier through joblib's Dask
backend, on a ``dask.distributed.LocalCluster`` (a real scheduler and two worker processes on
loopback, one thread each). The fits must run on the workers and give the search's serial
results. Small data: the cluster's start-up is most of the time (about 5-10 s)."""

from __future__ import annotations

import logging
import os

import joblib
import numpy as np
import pytest
from sklearn.model_selection import GridSearchCV

from fastmlp import MLPClassifier

from .helpers import PLAIN_SGD, blobs

distributed = pytest.importorskip("distributed")
dask = pytest.importorskip("dask")


def test_grid_search_on_a_dask_cluster_equals_the_serial_search():
    X, y = blobs(n=90)
    estimator = MLPClassifier(
        **PLAIN_SGD, hidden_layer_sizes=(8,), max_iter=30, random_state=0, n_threads=1
    )
    grid = {"learning_rate_init": [1e-5, 0.1], "hidden_layer_sizes": [(4,), (8,)]}
    serial = GridSearchCV(estimator, grid, cv=3).fit(X, y)

    timeouts = {"distributed.comm.timeouts.connect": "60s", "distributed.comm.timeouts.tcp": "60s"}
    with (
        dask.config.set(timeouts),
        distributed.LocalCluster(
            n_workers=2,
            threads_per_worker=1,
            processes=True,
            host="127.0.0.1",
            dashboard_address=None,
            silence_logs=logging.ERROR,
        ) as cluster,
        distributed.Client(cluster, timeout="60s") as client,
    ):
        worker_pids = set(client.run(os.getpid).values())
        assert len(worker_pids) == 2 and os.getpid() not in worker_pids
        workers = set(client.scheduler_info()["workers"])
        with distributed.get_task_stream(client) as tasks, joblib.parallel_backend("dask"):
            search = GridSearchCV(estimator, grid, cv=3).fit(X, y)

    ran_on = {task["worker"] for task in tasks.data}
    assert ran_on and ran_on <= workers  # the fits ran in the worker processes
    assert len(tasks.data) >= 12  # 4 settings x 3 folds, at least
    assert search.best_params_ == serial.best_params_
    np.testing.assert_array_equal(
        search.cv_results_["mean_test_score"], serial.cv_results_["mean_test_score"]
    )
    assert search.best_estimator_.score(X, y) == serial.best_estimator_.score(X, y)
