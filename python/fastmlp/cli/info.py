"""``fastmlp info``: version, threads, NumPy's BLAS, optional extras, where data is looked for."""

from __future__ import annotations

import argparse
import importlib.metadata
import os
import platform
import sys
from pathlib import Path
from typing import Any

import numpy as np

import fastmlp
from fastmlp import datasets
from fastmlp.datasets.lookup import find_idx_files

from .common import env_text, thousands

THREADS_VARIABLE = "FASTMLP_NUM_THREADS"
OPTIONAL = (
    ("matplotlib", "matplotlib", "plots: --plot, fastmlp.plots"),
    ("Pillow", "PIL", "image files in `fastmlp predict`"),
    ("threadpoolctl", "threadpoolctl", "NumPy's BLAS threads in `fastmlp bench`"),
)


def add_parser(subparsers: Any) -> None:
    """Register ``info``."""
    parser = subparsers.add_parser(
        "info",
        help="version, threads, BLAS, and where data is looked for",
        description="Show fastmlp's version, the Rust engine's threads, NumPy and its BLAS, "
        "the optional extras, and the directories searched for each dataset (found or not).",
    )
    parser.add_argument(
        "--data-dir", metavar="DIR", help="include this --data-dir in the data lookup"
    )
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    """Print the report; return 0."""
    package = Path(fastmlp.__file__).parent
    print(f"fastmlp {fastmlp.__version__} ({package})")
    print(f"Python {platform.python_version()} ({sys.executable}), {platform.platform()}")
    print(f"engine: rust, {engine_threads()}; numpy reference")
    print(f"CPU: {cpu_text()}")
    print(f"NumPy {np.__version__}, BLAS: {blas_text()}")
    print("optional: " + "; ".join(optional_text(*entry) for entry in OPTIONAL))
    print("data:")
    print(f"  {env_text(datasets.ENV_VAR)}; download cache {datasets.cache_dir()}")
    for name in datasets.DATASETS:
        print(f"  {dataset_text(name, args.data_dir)}")
    print(f"  {sample_text()}")
    return 0


def engine_threads() -> str:
    """The Rust engine's thread count and where it comes from."""
    source = (
        f"from {env_text(THREADS_VARIABLE)}"
        if os.environ.get(THREADS_VARIABLE)
        else f"{THREADS_VARIABLE} not set: all cores"
    )
    try:
        return f"{fastmlp.get_num_threads()} threads ({source})"
    except ValueError as error:
        return f"thread count unavailable: {error}"


def cpu_text() -> str:
    """Logical cores, and how many this process may use."""
    text = f"{os.cpu_count()} logical cores"
    if hasattr(os, "sched_getaffinity"):
        text += f", {len(os.sched_getaffinity(0))} usable by this process"
    machine = platform.processor() or platform.machine()
    return f"{text} ({machine})" if machine else text


def blas_text() -> str:
    """NumPy's BLAS library, version and threads (threadpoolctl), else its build config."""
    try:
        from threadpoolctl import threadpool_info

        libraries = [i for i in threadpool_info() if i.get("user_api") == "blas"]
    except Exception:  # threadpoolctl missing or unable to inspect: fall back below
        libraries = []
    if libraries:
        return "; ".join(
            f"{lib.get('internal_api')} {lib.get('version')}, {lib.get('num_threads')} threads"
            + (f", {lib['architecture']}" if lib.get("architecture") else "")
            for lib in libraries
        )
    try:
        config = np.show_config(mode="dicts")
        blas = config["Build Dependencies"]["blas"]
        return f"{blas.get('name')} {blas.get('version')} (threads: install threadpoolctl)"
    except Exception:  # old NumPy without mode="dicts", or an unexpected layout
        return "unknown (numpy.show_config() prints the build configuration)"


def optional_text(name: str, module: str, purpose: str) -> str:
    """``"matplotlib 3.9.0"`` or ``"matplotlib missing (for plots ...)"``."""
    distribution = "pillow" if module == "PIL" else name
    try:
        return f"{name} {importlib.metadata.version(distribution)}"
    except importlib.metadata.PackageNotFoundError:
        return f"{name} missing (for {purpose})"


def dataset_text(name: str, data_dir: str | None) -> str:
    """Where ``name`` was found, or every directory looked in."""
    directories = datasets.data_dirs(name, data_dir)
    for directory in directories:
        files, _ = find_idx_files(directory)
        if files is not None:
            return f"{name}: found in {directory}"
    looked = ", ".join(str(d) for d in directories)
    return f"{name}: not found (looked in {looked}); `--dataset {name}` downloads it"


def sample_text() -> str:
    """The bundled sample, which is always there unless the package lost its data."""
    try:
        sample = datasets.load("mnist-sample")
    except (OSError, ValueError) as error:
        return f"mnist-sample: unavailable: {error}"
    return (
        f"mnist-sample: bundled, {thousands(len(sample.x_train))} train / "
        f"{thousands(len(sample.x_test))} test digits ({sample.source})"
    )
