"""The benchmark (fastmlp.bench, benchmarks/): its structure, what it reports, and how it
isolates the engines. No test asserts a time."""

from __future__ import annotations

import ast
import importlib.util
import io
import json
import math
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

pytest.importorskip("threadpoolctl")  # a dependency of the benchmark only

from fastmlp import bench, kernels, names, reference
from fastmlp.bench import engines, timing
from fastmlp.bench.configs import config_by_name
from fastmlp.bench.machine import BASELINE_UNSET, process_cpu_seconds

REPO = Path(__file__).resolve().parents[2]
PACKAGE = REPO / "python" / "fastmlp" / "bench"
TRAIN = "784-128-10-relu-b128-f32"
INFER = "infer-784-128-10-relu-10k-f32"
HAS_SKLEARN = importlib.util.find_spec("sklearn") is not None
# What the quick end-to-end run times: the Rust engine, the reference and both scikit-learn
# solvers (PyTorch is left out: when present it is slow to import; tested on its own below).
ENGINES = ["rust", "numpy", *(["sklearn-sgd", "sklearn-adam"] if HAS_SKLEARN else [])]
# Values the parent's environment holds for the run, which the baselines must not see.
PARENT_ENVIRON = {"OPENBLAS_CORETYPE": "Haswell", "OPENBLAS_L2_SIZE": "512"}


def run_main(args: list[str]) -> str:
    out = io.StringIO()
    assert bench.main(args, out=out) == 0
    return out.getvalue()


def positive_finite(value: Any) -> bool:
    return isinstance(value, (int, float)) and math.isfinite(value) and value > 0


def detail_rows(text: str) -> dict[tuple[str, str], list[str]]:
    """The per-engine table of a text report: (config, engine) -> the other cells."""
    lines = text.splitlines()
    start = lines.index("Each engine:") + 2  # then the header and its rule
    assert lines[start].split()[:3] == ["config", "threads", "engine"], lines[start]
    rows = {}
    for line in lines[start + 2 :]:
        if not line.strip():
            break
        cells = [c for c in line.split() if c != bench.BUSY_MARK]
        rows[(cells[0], cells[2])] = [cells[1], *cells[3:]]
    return rows


@pytest.fixture(scope="module")
def quick_run(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, dict[str, Any]]]:
    """One quick run of two configurations (text and JSON), with the OpenBLAS variables set
    in this process as this project's machines set them."""
    json_path = tmp_path_factory.mktemp("bench") / "bench.json"
    args = ["--quick", "--threads", "1", "--no-memory", "--configs", f"{TRAIN},{INFER}"]
    with pytest.MonkeyPatch.context() as patch:
        for variable, value in PARENT_ENVIRON.items():
            patch.setenv(variable, value)
        text = run_main([*args, "--engines", ",".join(ENGINES), "--json", str(json_path)])
        for variable, value in PARENT_ENVIRON.items():
            assert os.environ[variable] == value  # the caller's environment is untouched
    yield text, json.loads(json_path.read_text(encoding="utf-8"))


# ---- FLOP counts, by hand ---------------------------------------------------------------------


def test_train_flops_small_network_by_hand() -> None:
    # 4-3-2 on 5 rows. Layer 0 (4x3): forward 2*5*4*3 = 120, weight gradient 120, no delta
    # below the first layer. Layer 1 (3x2): forward 2*5*3*2 = 60, weight gradient 60,
    # delta sent down 60. Total 120 + 120 + 60 + 60 + 60 = 420.
    assert bench.train_flops((4, 3, 2), 5) == 420
    assert bench.forward_flops((4, 3, 2), 5) == 180


def test_train_flops_seed_networks_by_hand() -> None:
    # 784-128-10 on 1000 rows: 2*1000*784*128 = 200,704,000 and 2*1000*128*10 = 2,560,000;
    # 2 * 200,704,000 + 3 * 2,560,000 = 409,088,000.
    assert bench.train_flops((784, 128, 10), 1000) == 409_088_000
    # Softmax regression 784-10 on 256 rows: forward and weight gradient, 2*256*7840 each.
    assert bench.train_flops((784, 10), 256) == 8_028_160


def test_config_flops_inference_uses_its_rows() -> None:
    infer = next(c for c in bench.CONFIGS if c.is_inference)
    assert bench.config_flops(infer, 60_000) == bench.forward_flops(infer.sizes, 10_000)
    assert bench.config_flops(infer, 300) == bench.forward_flops(infer.sizes, 300)
    full = next(c for c in bench.CONFIGS if c.batch_size is None)
    assert full.batch_for(60_000) == 60_000
    assert bench.config_flops(full, 60_000) == bench.train_flops(full.sizes, 60_000)


def test_seed_configurations_are_all_there() -> None:
    described = {c.describe() for c in bench.CONFIGS}
    assert described == {
        "784-128-10 relu, batch 128, float32",
        "784-10 softmax, batch 256, float32",
        "784-128-64-10 relu, batch 64, float64",
        "784-128-10 relu, full batch, float64",
        "784-128-10 relu, inference on 10,000 rows, float32",
    }
    assert all(c.activation in names.ACTIVATIONS and c.dtype in names.DTYPES for c in bench.CONFIGS)
    with pytest.raises(ValueError, match=TRAIN):
        config_by_name("no-such-config")


# ---- data, weights, orders --------------------------------------------------------------------


@pytest.mark.parametrize("kind", ["random", "mnist-like"])
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_load_data(kind: str, dtype: str) -> None:
    x, labels = bench.load_data(kind, 6_000, dtype)  # mnist-like tiles its 5,000 rows
    assert x.shape == (6_000, 784) and x.dtype == dtype and x.flags.c_contiguous
    assert labels.shape == (6_000,) and labels.dtype == np.int64
    assert 0.0 <= x.min() and x.max() <= 1.0
    assert set(np.unique(labels)) <= set(range(10))
    if kind == "mnist-like":
        np.testing.assert_array_equal(x[5_000:], x[:1_000])
        np.testing.assert_array_equal(labels[5_000:], labels[:1_000])


@pytest.mark.parametrize("density", [0.05, 0.5])
def test_random_rows_of_a_density(density: float) -> None:
    x, _ = bench.load_data(f"random:{density}", 2_000, "float32")
    assert abs(np.count_nonzero(x) / x.size - density) < 0.01
    np.testing.assert_array_equal(x, bench.load_data(f"random:{density}", 2_000, "float32")[0])


def test_load_fashion_mnist_when_present() -> None:
    try:
        x, labels = bench.load_data("fashion-mnist", 100, "float32")
    except FileNotFoundError:
        pytest.skip("fashion-mnist is not on this machine")
    assert x.shape == (100, 784) and labels.shape == (100,)


@pytest.mark.parametrize("kind", ["cifar", "random:0", "random:2", "random:x"])
def test_unknown_data_kind(kind: str) -> None:
    with pytest.raises(ValueError, match="random"):
        bench.load_data(kind, 10, "float32")


def test_row_orders_are_shared_and_differ_per_repetition() -> None:
    first = bench.row_order(100, 0, 1)
    np.testing.assert_array_equal(first, bench.row_order(100, 0, 1))
    assert first.dtype == np.int64 and sorted(first) == list(range(100))
    assert not np.array_equal(first, bench.row_order(100, 0, 2))
    assert not np.array_equal(first, bench.row_order(100, 1, 1))


# ---- engines ----------------------------------------------------------------------------------


def test_engine_names_follow_the_lists() -> None:
    assert set(engines.SKLEARN_ACTIVATIONS) == set(names.ACTIVATIONS)
    assert set(engines.RUST_ENGINES.values()) == set(names.INPUT_PATHS)
    assert set(bench.DEFAULT_ENGINES) <= set(bench.ENGINE_NAMES)
    assert bench.BASELINES == {"numpy", "sklearn-sgd", "sklearn-adam", "torch"}
    with pytest.raises(ValueError, match="rust"):
        engines.make_engine("jax")


@pytest.mark.parametrize("name", ["rust", "rust-dense", "rust-sparse", "numpy"])
def test_fastmlp_engines_train_and_predict_like_the_reference(name: str) -> None:
    engine = engines.make_engine(name)
    x, labels = bench.load_data("mnist-like", 300, "float32")
    inputs = engine.prepare(x)
    if name == "rust-sparse":
        assert isinstance(inputs, kernels.TrainingInputs)
        assert isinstance(inputs.x, kernels.SparseRows)
    weights, biases = bench.init_params((784, 16, 10), "float32", 0)
    want_w, want_b = bench.init_params((784, 16, 10), "float32", 0)
    order = bench.row_order(300, 0, 1)
    loss = engine.train_epoch(weights, biases, inputs, labels, order, 0.1, 32, "relu")
    expected = reference.train_epoch(want_w, want_b, x, labels, order, 0.1, 32, "relu")
    assert abs(loss - expected) <= bench.AGREEMENT_TOLERANCE["float32"] * expected
    probabilities = engine.forward(weights, biases, x[:50], "relu")
    assert probabilities.shape == (50, 10)
    np.testing.assert_allclose(probabilities.sum(axis=1), 1, rtol=1e-5)


@pytest.mark.skipif(not HAS_SKLEARN, reason="scikit-learn is not installed")
@pytest.mark.parametrize("activation", names.ACTIVATIONS)
def test_sklearn_sgd_is_the_same_math(activation: str) -> None:
    """Same weights, same order, plain SGD: scikit-learn's epoch loss and weights are the
    reference's; adam's are not (another optimizer), but it trains the same network."""
    x, labels = bench.load_data("mnist-like", 400, "float64")
    order = bench.row_order(400, 0, 1)
    results = {}
    for name in ("sklearn-sgd", "sklearn-adam"):
        weights, biases = bench.init_params((784, 12, 10), "float64", 0)
        loss = engines.make_engine(name).train_epoch(
            weights, biases, x, labels, order, 0.1, 50, activation
        )
        results[name] = (loss, weights, biases)
    weights, biases = bench.init_params((784, 12, 10), "float64", 0)
    expected = reference.train_epoch(weights, biases, x, labels, order, 0.1, 50, activation)
    loss, got_w, got_b = results["sklearn-sgd"]
    assert loss == pytest.approx(expected, rel=1e-9)
    for got, want in zip(got_w + got_b, weights + biases, strict=True):
        np.testing.assert_allclose(got, want, rtol=1e-9, atol=1e-12)
    adam_loss, adam_w, _ = results["sklearn-adam"]
    assert math.isfinite(adam_loss) and not np.allclose(adam_w[0], weights[0])
    probabilities = engines.make_engine("sklearn-sgd").forward(got_w, got_b, x[:20], activation)
    np.testing.assert_allclose(
        probabilities, reference.forward(weights, biases, x[:20], activation)[-1], rtol=1e-9
    )


# ---- timing: interleaved rounds, with fake workers --------------------------------------------


class FakeWorker:
    """A worker that answers at once and records the calls it got (in a shared log)."""

    def __init__(self, name: str, log: list[tuple[str, int]], loss: float, fail_at: int = -1):
        self.name, self.log, self.loss, self.fail_at = name, log, loss, fail_at

    def request(self, message: dict[str, Any]) -> dict[str, Any]:
        repetition = message["repetition"]
        self.log.append((self.name, repetition))
        if repetition == self.fail_at:
            raise timing.WorkerError(f"{self.name}: broke")
        return {"seconds": 0.1 + repetition, "loss": self.loss}


def test_time_config_interleaves_rotates_and_pauses(monkeypatch: pytest.MonkeyPatch) -> None:
    sleeps: list[float] = []
    monkeypatch.setattr(timing.time, "sleep", sleeps.append)
    log: list[tuple[str, int]] = []
    workers = {
        "rust": FakeWorker("rust", log, 2.0002),
        "numpy": FakeWorker("numpy", log, 2.0),
        "sklearn-adam": FakeWorker("sklearn-adam", log, 9.0),
    }
    same_math = {"rust": True, "numpy": True, "sklearn-adam": False}
    data = {"data": "random", "rows": 10, "seed": 0}
    timings, schedule, failed = timing.time_config(
        config_by_name(TRAIN),
        workers,
        same_math,
        data,
        1,
        3,
        pause=0.5,  # type: ignore[arg-type]
    )
    # Warm-ups first, then rounds in a rotating order: nobody runs its repetitions in a block.
    assert log[:3] == [("rust", 0), ("numpy", 0), ("sklearn-adam", 0)]
    assert schedule == [
        *["rust", "numpy", "sklearn-adam"],
        *["numpy", "sklearn-adam", "rust"],
        *["sklearn-adam", "rust", "numpy"],
    ]
    assert [r for _, r in log[3:]] == [1, 1, 1, 2, 2, 2, 3, 3, 3]
    assert sleeps == [0.5] * 12 and failed == {} and list(timings) == ["sgd"]
    sgd = timings["sgd"]
    assert sgd["rust"].seconds == [1.1, 2.1, 3.1] and sgd["rust"].median == 2.1
    assert sgd["rust"].spread == pytest.approx(2 / 2.1)
    assert sgd["rust"].difference == pytest.approx(1e-4)
    assert sgd["numpy"].difference is None and sgd["sklearn-adam"].difference is None


def test_time_config_leaves_out_an_engine_that_fails(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(timing.time, "sleep", lambda seconds: None)
    log: list[tuple[str, int]] = []
    workers = {"rust": FakeWorker("rust", log, 1.0), "numpy": FakeWorker("numpy", log, 1.0, 2)}
    timings, schedule, failed = timing.time_config(
        config_by_name(TRAIN),
        workers,
        {},
        {},
        1,
        3,  # type: ignore[arg-type]
    )
    assert set(timings["sgd"]) == {"rust"} and failed == {"numpy": "numpy: broke"}
    assert ("numpy", 3) not in log and schedule.count("rust") == 3
    assert timings["sgd"]["rust"].difference is None  # no reference left to compare with


# ---- end to end, each engine in its own process ----------------------------------------------


def test_each_engine_row_appears_with_numbers(quick_run: tuple[str, dict[str, Any]]) -> None:
    text, report = quick_run
    rows = detail_rows(text)
    for config in (TRAIN, INFER):
        for engine in ENGINES:
            threads, seconds, spread, ratio, gflops, share, memory, difference = rows[
                (config, engine)
            ]
            assert threads == "1" and memory == "—"
            assert positive_finite(float(seconds)) and positive_finite(float(gflops))
            assert spread.endswith("%") and share.endswith("%")
            assert positive_finite(float(ratio))
            if engine in ("numpy", "sklearn-adam") and config == TRAIN:
                assert difference == "—"
            elif engine != "numpy":
                assert float(difference) <= bench.AGREEMENT_TOLERANCE["float32"]
    summary = text[text.index("Seconds per epoch (median):") :]
    assert all(f"{engine} s" in summary for engine in ENGINES)
    assert {r["config"] for r in report["results"]} == {TRAIN, INFER}
    for result in report["results"]:
        assert set(result["engines"]) == set(ENGINES)
        for engine in result["engines"].values():
            assert len(engine["seconds"]) == 2 and all(map(positive_finite, engine["seconds"]))
            assert positive_finite(engine["median_seconds"]) and engine["memory"] is None
    for peak in report["peaks"]:
        assert positive_finite(peak["numpy_gflops"]) and positive_finite(peak["rust_gflops"])


def test_the_rounds_are_interleaved(quick_run: tuple[str, dict[str, Any]]) -> None:
    _, report = quick_run
    for result in report["results"]:
        schedule = result["schedule"]
        assert sorted(schedule) == sorted(ENGINES * 2)
        first_round, second_round = schedule[: len(ENGINES)], schedule[len(ENGINES) :]
        assert sorted(first_round) == sorted(ENGINES) and first_round != second_round


def test_baselines_run_without_the_openblas_variables(
    quick_run: tuple[str, dict[str, Any]],
) -> None:
    """Each engine's process reports its own os.environ: the baselines lack both variables,
    the Rust engine keeps the caller's; and each side names the BLAS kernel it loaded."""
    text, report = quick_run
    sides = report["sides"]
    assert set(sides) == set(ENGINES)
    assert len({side["pid"] for side in sides.values()} | {os.getpid()}) == len(ENGINES) + 1
    for engine, side in sides.items():
        if engine in bench.BASELINES:
            assert side["environ"] == dict.fromkeys(BASELINE_UNSET), engine
        else:
            assert side["environ"] == PARENT_ENVIRON, engine
        blas = [pool for pool in side["pools"] if pool["user_api"] == "blas"]
        assert blas and all(pool["internal_api"] for pool in blas), engine
    numpy_line = next(line for line in text.splitlines() if line.startswith("numpy: kernels"))
    assert "OPENBLAS_CORETYPE, OPENBLAS_L2_SIZE unset" in numpy_line
    architecture = next(p for p in sides["numpy"]["pools"] if p["user_api"] == "blas")
    assert str(architecture["architecture"]) in numpy_line
    rust_line = next(line for line in text.splitlines() if line.startswith("rust: kernels"))
    assert "OPENBLAS_CORETYPE=Haswell" in rust_line


def test_peak_memory_in_fresh_processes(tmp_path: Path) -> None:
    json_path = tmp_path / "bench.json"
    run_main(
        [
            *("--quick", "--threads", "1", "--configs", TRAIN, "--engines", "rust,numpy"),
            *("--json", str(json_path)),
        ]
    )
    (result,) = json.loads(json_path.read_text(encoding="utf-8"))["results"]
    for name, engine in result["engines"].items():
        memory = engine["memory"]
        if memory is None:  # only where /proc/self/clear_refs is missing
            continue
        assert memory["rss_bytes"] >= 0
        assert (
            (memory["tracemalloc_bytes"] > 0)
            if name == "numpy"
            else (memory["tracemalloc_bytes"] is None)
        )


def test_markdown_tables_for_the_readme() -> None:
    text = run_main(
        [
            *("--quick", "--threads", "1", "--no-memory", "--markdown", "--configs", TRAIN),
            *("--engines", "rust,numpy"),
        ]
    )
    lines = text.splitlines()
    header = next(line for line in lines if line.startswith("| config | threads | engine"))
    for column in ("s/epoch", "spread", "/ numpy", "GFLOP/s", "% of peak", "memory MiB"):
        assert f"| {column} |" in header
    summary = next(line for line in lines if line.startswith("| config | threads | rust s"))
    assert "| numpy s |" in summary and "| rust / numpy |" in summary
    rows = [line for line in lines if line.startswith(f"| {TRAIN}")]
    assert len(rows) == 3  # the summary's row and one per engine
    cells = [c.strip() for c in rows[1].strip("|").split("|")]
    assert cells[2] == "rust" and positive_finite(float(cells[3]))


def test_torch_when_importable() -> None:
    text = run_main(
        [
            *("--quick", "--threads", "1", "--no-memory", "--configs", TRAIN),
            *("--engines", "numpy,torch"),
        ]
    )
    if importlib.util.find_spec("torch") is None:
        assert "PyTorch not importable" in text
        assert {engine for _, engine in detail_rows(text)} == {"numpy"}
        return
    rows = detail_rows(text)
    assert positive_finite(float(rows[(TRAIN, "torch")][1]))
    assert "differs from numpy" not in text


def test_no_torch_leaves_it_out() -> None:
    options = bench.options_from_args(bench.build_parser().parse_args(["--quick", "--no-torch"]))
    assert "torch" not in options.engines and options.pause == 0 and options.rows == 256
    options = bench.options_from_args(bench.build_parser().parse_args([]))
    assert options.engines == list(bench.DEFAULT_ENGINES) and options.pause > 0


@pytest.mark.parametrize(
    "args",
    [
        ["--configs", "no-such-config"],
        ["--threads", "0"],
        ["--engines", "jax"],
        ["--data", "cifar"],
        ["--pause", "-1"],
    ],
)
def test_bad_arguments_exit_with_usage(args: list[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        bench.main(args)
    assert exit_info.value.code == 2


def test_input_paths_option_points_to_its_new_place(capsys: pytest.CaptureFixture[str]) -> None:
    assert bench.main(["--input-paths"]) == 2
    assert "benchmarks/input_paths.py" in capsys.readouterr().err


def test_worker_reports_errors_and_keeps_serving() -> None:
    with timing.Worker("numpy") as worker:
        with pytest.raises(timing.WorkerError, match="no-such-config"):
            worker.request({"op": "epoch", "config": "no-such-config", "threads": 1})
        assert worker.info["engine"] == "numpy" and worker.info["pid"] == worker.pid
        assert process_cpu_seconds(worker.pid) >= 0


# ---- structure --------------------------------------------------------------------------------


def bench_imports(path: Path) -> set[str]:
    """The fastmlp.bench modules ``path`` imports."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.module:
            if node.module.startswith("fastmlp.bench."):
                found.add(node.module.removeprefix("fastmlp.bench."))
            elif node.module == "fastmlp.bench":
                found.update(alias.name for alias in node.names)
    return found


def test_the_benchmark_package_has_no_import_circles() -> None:
    modules = {p.stem: bench_imports(p) for p in PACKAGE.glob("*.py") if p.stem[0] != "_"}
    assert {"configs", "data", "engines", "machine", "worker", "timing", "memory", "report"} <= set(
        modules
    ) and "command" in modules
    done: list[str] = []
    while len(done) < len(modules):  # a topological order exists: no module waits on itself
        ready = [m for m, deps in modules.items() if m not in done and deps <= set(done)]
        assert ready, f"import circle among {sorted(set(modules) - set(done))}"
        done += sorted(ready)
    assert not (PACKAGE.parent / "bench.py").exists()
    assert not (PACKAGE.parent / "bench_input_paths.py").exists()


def test_input_paths_research_script(capsys: pytest.CaptureFixture[str]) -> None:
    spec = importlib.util.spec_from_file_location("input_paths", REPO / "benchmarks/input_paths.py")
    assert spec is not None and spec.loader is not None
    script = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(script)
    args = ["--rows", "600", "--repeats", "1", "--threads", "1", "--densities", "0.05,0.5"]
    assert script.main([*args, "--pause", "0"]) == 0
    table = capsys.readouterr().out
    rows = [line for line in table.splitlines() if line.startswith("| ") and "---" not in line]
    data = [row.split("|")[1].strip() for row in rows[1:]]
    assert data[0] == "mnist-like" and "random:0.05" in data and "random:0.5" in data
    for row in rows[1:]:
        cells = [cell.strip() for cell in row.split("|")[1:-1]]
        assert cells[3] in ("dense", "sparse")
        assert all(positive_finite(float(cell)) for cell in cells[5:8]), row
    mnist = next(row for row in rows if row.startswith("| mnist-like "))
    # MNIST-like rows (work 0.46): the sparse path does not earn 0.75 of the dense epoch
    assert "| dense |" in mnist
    scattered = next(row for row in rows if row.startswith("| random:0.05 "))
    assert "| sparse |" in scattered  # work 0.135, one row at a time
