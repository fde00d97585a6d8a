"""The benchmark's optimizer rows (``fastmlp bench --optimizers``): which engines run which
rule, what each timed call gets, how the rows and ratios are reported, and the note when
the installed fastmlp lacks the optimizers. Fakes stand in for ``fastmlp.optimizers`` and
the engines: no test asserts a time."""

from __future__ import annotations

import io
import sys
import types
from typing import Any

import numpy as np
import pytest

pytest.importorskip("threadpoolctl")  # a dependency of the benchmark only

import fastmlp
from fastmlp import bench
from fastmlp.bench import engines, optimizers, timing, worker
from fastmlp.bench.configs import config_by_name
from fastmlp.bench.report import ConfigResult, Report
from fastmlp.bench.timing import EngineTiming

TRAIN = "784-128-10-relu-b128-f32"
INFER = "infer-784-128-10-relu-10k-f32"


@pytest.fixture
def fake_optimizers(monkeypatch: pytest.MonkeyPatch) -> types.ModuleType:
    """A stand-in ``fastmlp.optimizers`` with the optimizer issue's two functions."""
    module = types.ModuleType("fastmlp.optimizers")

    def make_optimizer(**settings: Any) -> tuple[str, dict[str, Any]]:
        return ("optimizer", settings)

    def init_state(optimizer: Any, weights: list[Any], biases: list[Any]) -> dict[str, Any]:
        return {"for": optimizer, "shapes": [w.shape for w in weights + biases]}

    module.make_optimizer = make_optimizer  # type: ignore[attr-defined]
    module.init_state = init_state  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "fastmlp.optimizers", module)
    monkeypatch.setattr(fastmlp, "optimizers", module, raising=False)
    return module


def recording_engine(calls: list[dict[str, Any]], refuse: str | None = None) -> engines.BenchEngine:
    """A fastmlp-like engine whose epoch records its learning rate and keywords; it refuses
    settings naming ``refuse`` (a keyword or a value) as an engine without that rule would."""

    def train_epoch(*args: Any, **keywords: Any) -> float:
        settings = keywords.get("optimizer", ("", {}))[1]
        if refuse is not None and (refuse in settings or refuse in settings.values()):
            raise NotImplementedError(f"no {refuse} here")
        calls.append({"lr": args[5], **keywords})
        return 1.0

    return engines.BenchEngine(
        "rust", train_epoch, lambda *args: np.zeros(1), takes_optimizers=True
    )


def test_optimizer_table_is_data() -> None:
    assert optimizers.OPTIMIZER_NAMES[0] == optimizers.PLAIN_SGD == "sgd"
    assert optimizers.optimizer_by_name("sgd").lr == bench.LEARNING_RATE
    assert optimizers.optimizer_by_name("adam").fit_keywords == {"optimizer": "adam"}
    assert optimizers.optimizer_by_name("nesterov").fit_keywords["nesterov"] is True
    assert optimizers.optimizer_by_name("adam").describe() == "adam (lr 0.001)"
    with pytest.raises(ValueError, match="momentum"):
        optimizers.optimizer_by_name("rmsprop")


def test_plain_sgd_needs_no_optimizer_module() -> None:
    weights, biases = bench.init_params((4, 3, 2), "float32", 0)
    assert optimizers.optimizer_keywords("sgd", weights, biases) == {}


def test_without_the_optimizer_module_the_reason_names_it() -> None:
    if getattr(fastmlp, "optimizers", None) is not None:
        pytest.skip("this fastmlp has fastmlp.optimizers")
    why = optimizers.unsupported_reason(engines.make_engine("numpy").train_epoch, "adam", "float32")
    assert why is not None and "fastmlp.optimizers" in why


def test_unsupported_reason_probes_the_engine(fake_optimizers: types.ModuleType) -> None:
    calls: list[dict[str, Any]] = []
    engine = recording_engine(calls, refuse="adam")
    assert optimizers.unsupported_reason(engine.train_epoch, "momentum", "float32") is None
    assert calls[0]["optimizer"] == ("optimizer", {"optimizer": "sgd", "momentum": 0.9})
    assert calls[0]["state"]["shapes"] == [(4, 3), (3, 2), (3,), (2,)]
    why = optimizers.unsupported_reason(engine.train_epoch, "adam", "float32")
    assert why == "NotImplementedError: no adam here"


def test_each_call_gets_the_optimizer_its_rate_and_a_fresh_state(
    fake_optimizers: types.ModuleType, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls: list[dict[str, Any]] = []
    monkeypatch.setattr(worker, "make_engine", lambda name: recording_engine(calls, "nesterov"))
    state = worker.State("rust")
    calls.clear()  # the probes'
    described = worker.describe(state)
    assert described["optimizers"] == ["sgd", "momentum", "adam"]
    assert set(described["optimizers_not_run"]) == {"nesterov"}
    request = {"config": TRAIN, "data": "random", "rows": 64, "seed": 0, "repetition": 1}
    for optimizer in ("sgd", "adam", "adam"):
        call = worker.Call(
            state, request | ({} if optimizer == "sgd" else {"optimizer": optimizer})
        )
        call()
    plain, adam, again = calls
    assert plain == {"lr": bench.LEARNING_RATE}
    assert adam["lr"] == 1e-3 and adam["optimizer"] == ("optimizer", {"optimizer": "adam"})
    assert adam["state"] is not again["state"]  # every timed call starts afresh


class FakeWorker:
    """Answers at once; records (engine, optimizer, repetition) in a shared log."""

    def __init__(self, name: str, log: list[tuple[str, str, int]]) -> None:
        self.name, self.log = name, log

    def request(self, message: dict[str, Any]) -> dict[str, Any]:
        optimizer = message.get("optimizer", "sgd")
        self.log.append((self.name, optimizer, message["repetition"]))
        if optimizer == "momentum":
            raise timing.WorkerError(f"{self.name}: momentum broke")
        return {"seconds": 1.0 if optimizer == "sgd" else 1.2, "loss": 2.0}


def test_time_config_interleaves_the_optimizers(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(timing.time, "sleep", lambda seconds: None)
    log: list[tuple[str, str, int]] = []
    workers = {name: FakeWorker(name, log) for name in ("rust", "numpy", "sklearn-sgd")}
    wanted = {"rust": ["sgd", "adam", "momentum"], "numpy": ["sgd", "adam"]}
    timings, schedule, failed = timing.time_config(
        config_by_name(TRAIN),
        workers,  # type: ignore[arg-type]
        {"rust": True, "numpy": True, "sklearn-sgd": True},
        {"data": "random", "rows": 10, "seed": 0},
        1,
        2,
        optimizers=wanted,
    )
    assert set(timings) == {"sgd", "adam"}
    assert set(timings["sgd"]) == {"rust", "numpy", "sklearn-sgd"}
    assert set(timings["adam"]) == {"rust", "numpy"}
    assert timings["adam"]["rust"].difference == 0.0  # compared with numpy's adam
    assert failed == {"rust+momentum": "rust: momentum broke"}
    units = ["rust", "numpy", "sklearn-sgd", "rust+adam", "numpy+adam"]
    assert schedule[:5] == units and schedule[5:] == [*units[1:], units[0]]
    assert ("rust", "momentum", 1) not in log  # failed at its warm-up, not called again


def report_with(results: list[ConfigResult], optimizers_run: list[str]) -> Report:
    options = bench.Options(threads=[1], engines=["rust", "numpy"], optimizers=optimizers_run)
    options.memory = False
    machine = {
        "cpu": "test CPU",
        "cores": 2,
        "simd": "avx2",
        "versions": {},
        "load_start": "0",
        "load_end": "0",
        "others_cpu_share": 0.0,
    }
    return Report(options, machine, {}, [], results, [])


def result(config: str, optimizer: str, seconds: dict[str, float]) -> ConfigResult:
    timings = {name: EngineTiming([s, s]) for name, s in seconds.items()}
    return ConfigResult(config_by_name(config), 1, 100, 10**9, 0.0, timings, optimizer=optimizer)


def test_optimizer_rows_and_their_ratios_in_the_report() -> None:
    results = [
        result(TRAIN, "sgd", {"rust": 0.1, "numpy": 0.2, "sklearn-sgd": 0.5}),
        result(TRAIN, "adam", {"rust": 0.11, "numpy": 0.3}),
        result(INFER, "sgd", {"rust": 0.01, "numpy": 0.02}),
    ]
    text = report_with(results, ["sgd", "adam"]).text()
    assert f"{TRAIN}-adam" in text and "plain SGD, lr 0.1; adam (lr 0.001)" in text
    table = text[text.index("Optimizers, each engine's epoch over its plain-SGD epoch") :]
    lines = [line.split() for line in table.splitlines()[4:] if line.strip()]
    assert lines == [[TRAIN, "1", "rust", "0.1", "1.10"], [TRAIN, "1", "numpy", "0.2", "1.50"]]
    markdown = report_with(results, ["sgd", "adam"]).markdown()
    assert "| config | threads | engine | sgd s | adam / sgd |" in markdown
    json_rows = report_with(results, ["sgd", "adam"]).to_json()["results"]
    assert [(r["config"], r["optimizer"]) for r in json_rows] == [
        (TRAIN, "sgd"),
        (TRAIN, "adam"),
        (INFER, "sgd"),
    ]


def test_plain_sgd_alone_has_no_optimizer_table() -> None:
    text = report_with([result(TRAIN, "sgd", {"rust": 0.1})], ["sgd"]).text()
    assert "Optimizers," not in text and "-sgd" not in text


def test_optimizers_option() -> None:
    parse = bench.build_parser().parse_args
    assert bench.options_from_args(parse([])).optimizers == ["sgd"]
    options = bench.options_from_args(parse(["--optimizers", "sgd,momentum,adam"]))
    assert options.optimizers == ["sgd", "momentum", "adam"]
    with pytest.raises(SystemExit):
        bench.main(["--optimizers", "rmsprop"], out=io.StringIO())


def test_a_run_notes_the_optimizers_this_fastmlp_lacks() -> None:
    if getattr(fastmlp, "optimizers", None) is not None:
        pytest.skip("this fastmlp has fastmlp.optimizers")
    out = io.StringIO()
    args = ["--quick", "--threads", "1", "--no-memory", "--configs", TRAIN]
    assert bench.main([*args, "--engines", "rust", "--optimizers", "sgd,adam"], out=out) == 0
    text = out.getvalue()
    assert "not timed: rust with adam: the installed fastmlp has no fastmlp.optimizers" in text
    assert f"{TRAIN}-adam" not in text


def test_optimizer_rows_end_to_end() -> None:
    """With this fastmlp's optimizers: the reference's rows for each rule, each engine's
    ratio to its plain-SGD epoch; the Rust engine's rows too, or a note saying why not."""
    if getattr(fastmlp, "optimizers", None) is None:
        pytest.skip("this fastmlp has no fastmlp.optimizers")
    out = io.StringIO()
    args = ["--quick", "--threads", "1", "--no-memory", "--configs", TRAIN]
    assert bench.main([*args, "--engines", "rust,numpy", "--optimizers", "sgd,adam"], out=out) == 0
    text = out.getvalue()
    table = text[text.index("Optimizers, each engine's epoch") :].splitlines()[4:]
    rows = {cells[2]: cells for cells in (line.split() for line in table) if len(cells) == 5}
    assert rows["numpy"][:2] == [TRAIN, "1"] and float(rows["numpy"][4]) > 0
    lines = [[c for c in line.split() if c != bench.BUSY_MARK] for line in text.splitlines()]
    rust_adam = any(cells[:3] == [f"{TRAIN}-adam", "1", "rust"] for cells in lines)
    assert ("rust" in rows) == rust_adam
    if not rust_adam:
        assert "not timed: rust with adam:" in text
    else:
        assert "differs from numpy" not in text  # the same rule, the same losses
