"""The engine contract (fastmlp.engine.Engine) and the lists of names (fastmlp.names): both
engines satisfy the one, every language and layer uses the other."""

from __future__ import annotations

import inspect
import subprocess
import sys
import textwrap
from pathlib import Path
from types import ModuleType
from typing import Any, TypeVar, get_args

import numpy as np
import pytest

from fastmlp import _native, kernels, names, reference
from fastmlp.cli import build_parser
from fastmlp.engine import Engine, FloatArray

REPO = Path(__file__).resolve().parents[2]
# Each engine module, with the type its training functions read as x (Engine's Inputs).
ENGINES: dict[str, tuple[ModuleType, object]] = {
    "rust": (kernels, FloatArray | kernels.SparseRows | kernels.TrainingInputs),
    "numpy": (reference, FloatArray),
}
CONTRACT = sorted(
    name for name, member in vars(Engine).items() if inspect.isfunction(member) and name[0] != "_"
)
ATTRIBUTES = {name: kind for name, kind in Engine.__annotations__.items()}


def resolved(function: Any) -> inspect.Signature:
    return inspect.signature(function, eval_str=True)


def test_the_contract_lists_the_documented_functions() -> None:
    assert CONTRACT == sorted(
        [
            "matmul",
            "relu",
            "tanh",
            "sigmoid",
            "softmax",
            "cross_entropy",
            "output_loss",
            "forward",
            "backward",
            "sgd_step",
            "training_inputs",
            "train_epoch",
            "train_epoch_stats",
            "train_step",
        ]
    )
    assert ATTRIBUTES == {"CHECKS_INTERRUPTS": "bool"}


@pytest.mark.parametrize("engine_name", list(ENGINES))
@pytest.mark.parametrize("function_name", CONTRACT)
def test_engine_signature_is_the_contracts(engine_name: str, function_name: str) -> None:
    """Same parameter names, kinds, defaults and annotations, and the same return annotation;
    where the contract says ``Inputs``, the engine's own input type."""
    module, inputs = ENGINES[engine_name]
    function = getattr(module, function_name)
    assert function_name in module.__all__
    expected = resolved(getattr(Engine, function_name))
    got = resolved(function)
    expected_parameters = list(expected.parameters.values())[1:]  # without self
    assert [p.name for p in got.parameters.values()] == [p.name for p in expected_parameters]
    for have, want in zip(got.parameters.values(), expected_parameters, strict=True):
        assert have.kind == want.kind, (function_name, have.name)
        assert have.default == want.default, (function_name, have.name)
        annotation = inputs if isinstance(want.annotation, TypeVar) else want.annotation
        assert have.annotation == annotation, (function_name, have.name, have.annotation)
    want_return = inputs if isinstance(expected.return_annotation, TypeVar) else None
    assert got.return_annotation == (want_return or expected.return_annotation), function_name
    assert function.__doc__, f"{engine_name} {function_name} has no docstring"


@pytest.mark.parametrize("engine_name", list(ENGINES))
def test_engine_attributes_and_runtime_protocol(engine_name: str) -> None:
    module, _ = ENGINES[engine_name]
    assert isinstance(module, Engine)
    assert isinstance(module.CHECKS_INTERRUPTS, bool)
    assert module.CHECKS_INTERRUPTS is (engine_name == "rust")
    assert not isinstance(np, Engine)  # the runtime check can fail


def run_mypy(code: str, tmp_path: Path) -> subprocess.CompletedProcess[str]:
    """mypy on ``code`` with the repository's configuration, against the installed fastmlp."""
    source = tmp_path / "engine_check.py"
    source.write_text(textwrap.dedent(code), encoding="utf-8")
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "mypy",
            "--config-file",
            str(REPO / "pyproject.toml"),
            "--cache-dir",
            str(tmp_path / ".mypy_cache"),
            str(source),
        ],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
        cwd=tmp_path,
    )


def test_mypy_checks_both_engines_against_the_contract(tmp_path: Path) -> None:
    pytest.importorskip("mypy")
    good = run_mypy(
        """
        from fastmlp import kernels, reference
        from fastmlp.engine import Engine, FloatArray

        rust: Engine[FloatArray | kernels.SparseRows | kernels.TrainingInputs] = kernels
        numpy_engine: Engine[FloatArray] = reference
        """,
        tmp_path,
    )
    assert good.returncode == 0, good.stdout + good.stderr
    # The same check fails for a module that lacks the contract, or reads other inputs.
    bad = run_mypy(
        """
        import math

        from fastmlp import reference
        from fastmlp.engine import Engine

        not_an_engine: Engine[float] = math
        wrong_inputs: Engine[int] = reference
        """,
        tmp_path,
    )
    assert bad.returncode == 1, bad.stdout + bad.stderr
    assert bad.stdout.count("error:") >= 2, bad.stdout


# ---- one list of each set of names ----------------------------------------------------------


def test_each_list_is_its_literal() -> None:
    assert names.ACTIVATIONS == get_args(names.Activation)
    assert names.ACTIVATIONS == ("relu", "tanh", "sigmoid", "identity")
    assert names.OUTPUTS == get_args(names.Output) == ("softmax", "logistic", "identity", "exp")
    assert names.ENGINES == get_args(names.EngineName) == ("rust", "numpy")
    assert names.INPUT_PATHS == get_args(names.InputPath) == ("auto", "dense", "sparse")
    assert names.DTYPES == get_args(names.DType) == ("float32", "float64")
    assert names.OPTIMIZERS == get_args(names.OptimizerName) == ("sgd", "adam")
    assert names.LR_SCHEDULES == get_args(names.LRSchedule)
    assert names.LR_SCHEDULES == ("constant", "invscaling", "adaptive")
    assert names.MONITORS == get_args(names.Monitor) == ("val_loss", "val_accuracy")


def test_rust_core_accepts_the_same_names() -> None:
    assert _native.ACTIVATIONS == names.ACTIVATIONS
    assert _native.INPUT_PATHS == names.INPUT_PATHS
    assert _native.OUTPUTS == names.OUTPUTS


@pytest.mark.parametrize("engine_name", list(ENGINES))
def test_every_activation_and_input_path_runs_in_each_engine(engine_name: str) -> None:
    module, _ = ENGINES[engine_name]
    rng = np.random.default_rng(0)
    x = rng.random((6, 4)).astype(np.float32)
    labels = np.arange(6) % 3
    for activation in names.ACTIVATIONS:
        for input_path in names.INPUT_PATHS:
            weights = [np.full((4, 5), 0.1, np.float32), np.full((5, 3), 0.1, np.float32)]
            biases = [np.zeros(5, np.float32), np.zeros(3, np.float32)]
            inputs = module.training_inputs(x, input_path)
            loss = module.train_epoch(
                weights,
                biases,
                inputs,
                labels,
                np.arange(6),
                0.1,
                2,
                activation,
                input_path=input_path,
            )
            assert loss == pytest.approx(np.log(3), rel=0.2)
        with pytest.raises(ValueError, match="activation"):
            module.forward(weights, biases, x, "gelu")
    with pytest.raises(ValueError, match="input_path"):
        module.train_epoch(
            weights, biases, x, labels, np.arange(6), 0.1, 2, "relu", input_path="csr"
        )


def test_reference_has_the_math_of_every_activation() -> None:
    assert tuple(reference.ACTIVATIONS) == names.HIDDEN_ACTIVATIONS == names.ACTIVATIONS


def test_reference_has_every_output_layer() -> None:
    assert reference.OUTPUTS == names.OUTPUTS


def test_cli_choices_are_the_lists() -> None:
    train = build_parser()._subparsers._group_actions[0].choices["train"]  # type: ignore[union-attr]
    choices = {action.dest: tuple(action.choices) for action in train._actions if action.choices}
    assert choices["activation"] == names.ACTIVATIONS
    assert choices["engine"] == names.ENGINES
    assert choices["input_path"] == names.INPUT_PATHS
    assert choices["dtype"] == names.DTYPES
    assert choices["optimizer"] == names.OPTIMIZERS
    assert choices["lr_schedule"] == names.LR_SCHEDULES
    assert choices["monitor"] == names.MONITORS


def test_model_checks_against_the_lists() -> None:
    import fastmlp

    for activation in names.ACTIVATIONS:
        assert fastmlp.MLP([4, 3], activation=activation).activation == activation
    with pytest.raises(ValueError, match="'relu', 'tanh', 'sigmoid'"):
        fastmlp.MLP([4, 3], activation="gelu")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="'auto', 'dense', 'sparse'"):
        fastmlp.MLP([4, 3], input_path="csr")  # type: ignore[arg-type]
