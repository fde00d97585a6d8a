"""The benchmark runs end to end and counts FLOPs right; no test asserts a time."""

from __future__ import annotations

import io
import json
import math
from pathlib import Path
from typing import Any

import numpy as np
import pytest

pytest.importorskip("threadpoolctl")  # a dependency of the benchmark only

from fastmlp import bench

QUICK = ["--quick", "--threads", "1", "--no-torch"]


def run_main(args: list[str]) -> str:
    out = io.StringIO()
    assert bench.main(args, out=out) == 0
    return out.getvalue()


def positive_finite(value: Any) -> bool:
    return isinstance(value, (int, float)) and math.isfinite(value) and value > 0


# ---- FLOP counts, by hand ------------------------------------------------------


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


# ---- data ----------------------------------------------------------------------


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


def test_load_fashion_mnist_when_present() -> None:
    try:
        x, labels = bench.load_data("fashion-mnist", 100, "float32")
    except FileNotFoundError:
        pytest.skip("fashion-mnist is not on this machine")
    assert x.shape == (100, 784) and labels.shape == (100,)


def test_unknown_data_kind() -> None:
    with pytest.raises(ValueError, match="random"):
        bench.load_data("cifar", 10, "float32")


# ---- end to end ----------------------------------------------------------------


def test_quick_run_end_to_end(tmp_path: Path) -> None:
    json_path = tmp_path / "bench.json"
    text = run_main([*QUICK, "--json", str(json_path)])

    # One text row per configuration, with positive finite numbers in it.
    # (a "†" after the name marks a row timed while other processes were busy)
    cells = [[c for c in line.split() if c != bench.BUSY_MARK] for line in text.splitlines()]
    rows = {line[0]: line[1:] for line in cells if line}
    for name in bench.CONFIG_NAMES:
        assert name in rows, f"no row for {name} in:\n{text}"
        threads, rust_s, numpy_s, ratio = rows[name][:4]
        assert threads == "1"
        for cell in (rust_s, numpy_s, ratio):
            assert positive_finite(float(cell))
    assert "PyTorch not requested" in text

    report = json.loads(json_path.read_text(encoding="utf-8"))
    assert {r["config"] for r in report["results"]} == set(bench.CONFIG_NAMES)
    for peak in report["peaks"]:
        assert positive_finite(peak["numpy_gflops"]) and positive_finite(peak["rust_gflops"])
    for result in report["results"]:
        assert result["threads"] == 1
        assert positive_finite(result["flops"]) and positive_finite(result["peak_gflops"])
        assert positive_finite(result["ratio_rust_numpy"])
        assert positive_finite(result["share_of_peak"])
        assert set(result["engines"]) == {"rust", "numpy"}
        for name, engine in result["engines"].items():
            assert len(engine["seconds"]) == 2
            assert all(positive_finite(s) for s in engine["seconds"])
            assert positive_finite(engine["gflops"])
            memory = engine["memory"]
            if memory is not None:  # None only where /proc/self/clear_refs is missing
                assert memory["rss_bytes"] >= 0
            if name == "rust":
                # Same weights, same orders: the same result as the reference.
                dtype = "float64" if result["config"].endswith("f64") else "float32"
                tolerance = bench.AGREEMENT_TOLERANCE[dtype]
                assert engine["difference_from_numpy"] <= tolerance
            else:
                assert engine["difference_from_numpy"] is None
                if memory is not None:
                    assert memory["tracemalloc_bytes"] > 0


def test_markdown_table_for_the_readme() -> None:
    config = "784-10-b256-f32"
    text = run_main([*QUICK, "--no-memory", "--markdown", "--configs", config, "--threads", "1"])
    lines = text.splitlines()
    header = next(line for line in lines if line.startswith("| config"))
    for column in (
        "threads",
        "rust s/epoch",
        "numpy s/epoch",
        "ratio rust/numpy",
        "torch s/epoch",
        "rust GFLOP/s",
        "% of peak",
        "peak memory",
    ):
        assert column in header
    (row,) = [line for line in lines if line.startswith(f"| {config} ")]
    cells = [c.strip() for c in row.strip("|").split("|")]
    assert cells[0] in (config, f"{config} {bench.BUSY_MARK}")
    assert cells[1] == "1" and cells[5] == "—"  # no torch
    assert positive_finite(float(cells[2])) and positive_finite(float(cells[6]))
    assert cells[7].endswith("%")


def test_torch_when_importable() -> None:
    pytest.importorskip("torch")
    text = run_main(
        ["--quick", "--threads", "1", "--no-memory", "--configs", "784-128-10-relu-b128-f32"]
    )
    row = next(line for line in text.splitlines() if line.startswith("784-128-10-relu-b128-f32"))
    cells = [c for c in row.split() if c != bench.BUSY_MARK]
    assert positive_finite(float(cells[5]))  # torch s/epoch
    assert "differs from numpy" not in text


def test_bad_arguments_exit_with_usage() -> None:
    with pytest.raises(SystemExit) as exit_info:
        bench.main(["--configs", "no-such-config"])
    assert exit_info.value.code == 2
    with pytest.raises(SystemExit):
        bench.main(["--threads", "0"])


def test_input_paths_table_has_both_paths_for_every_data_set(capsys) -> None:
    pytest.importorskip("threadpoolctl")
    from fastmlp import bench_input_paths

    assert (
        bench.main(
            [
                "--input-paths",
                "--rows",
                "600",
                "--repeats",
                "1",
                "--threads",
                "1",
                "--densities",
                "0.05,0.5",
            ]
        )
        == 0
    )
    table = capsys.readouterr().out
    rows = [line for line in table.splitlines() if line.startswith("| ") and "---" not in line]
    names = [row.split("|")[1].strip() for row in rows[1:]]
    assert names[0] == "mnist-like" and "random d=0.05" in names and "random d=0.5" in names
    for row in rows[1:]:
        seconds = [float(cell) for cell in row.split("|")[4:7]]
        assert all(s > 0 and np.isfinite(s) for s in seconds), row
    assert bench_input_paths.SIZES == [784, 128, 10]
