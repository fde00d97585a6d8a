"""Coverage-guided fuzzing of fastmlp's model loader, :meth:`fastmlp.MLP.load`, with atheris.

Every input is written to a scratch file and loaded. The contract checked on each one: the
loader returns a well-formed model -- weights (fan_in, fan_out) and biases (fan_out,) that
match its ``layer_sizes``, in its dtype, native byte order, C-contiguous, writeable and
finite, ``class_names`` None or one string per class -- or raises ``ValueError`` (or, for a
model too large to allocate, ``MemoryError``) whose message names the file. Anything else
stops the run and writes the input to ``crash-<sha1>``.

Usage (see fuzz/README.md)::

    pip install atheris                      # not a test dependency of fastmlp
    python fuzz/fuzz_model.py --make-seeds fuzz/seeds     # small valid model files
    mkdir -p /tmp/model-corpus
    python fuzz/fuzz_model.py /tmp/model-corpus fuzz/seeds/model -max_total_time=180
    python fuzz/fuzz_model.py crash-1234...  # replay one input

Arguments other than ``--make-seeds`` go to libFuzzer unchanged.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import sys
import tempfile
from pathlib import Path

import numpy as np

# ---- seeds ------------------------------------------------------------------------------------


def _rewritten(model_file: bytes, compress: bool, big_endian: bool) -> bytes:
    """The same model as an archive deflated and/or with big-endian arrays."""
    import zipfile  # here, not at the top: the fuzzing run imports it instrumented

    with zipfile.ZipFile(io.BytesIO(model_file)) as archive:
        members = {info.filename: archive.read(info) for info in archive.infolist()}
    out = io.BytesIO()
    method = zipfile.ZIP_DEFLATED if compress else zipfile.ZIP_STORED
    with zipfile.ZipFile(out, "w", compression=method) as archive:
        for name, content in members.items():
            if big_endian and name != "metadata.npy":
                array = np.load(io.BytesIO(content))
                buffer = io.BytesIO()
                np.save(buffer, array.astype(array.dtype.newbyteorder(">")))
                content = buffer.getvalue()
            archive.writestr(name, content)
    return out.getvalue()


def make_seeds(folder: Path) -> None:
    """Small valid model files: several shapes and dtypes, stored, deflated, big-endian."""
    from fastmlp import MLP

    target = folder / "model"
    target.mkdir(parents=True, exist_ok=True)
    models = {
        "softmax-f32": MLP([4, 3], seed=0),
        "hidden-f64": MLP([5, 4, 2], activation="tanh", dtype="float64", seed=1),
        "deep-f32": MLP([3, 3, 3, 2], activation="sigmoid", init=("normal", 0.1), seed=2),
    }
    models["deep-f32"].dataset = "mnist-sample"
    models["deep-f32"].class_names = ("yes", "no")
    x = np.random.default_rng(0).random((6, 4)).astype(np.float32)
    models["softmax-f32"].fit(x, np.arange(6) % 3, epochs=2, batch_size=3)  # a history
    with tempfile.TemporaryDirectory() as scratch:
        for name, model in models.items():
            data = model.save(Path(scratch) / f"{name}.npz").read_bytes()
            (target / f"{name}.npz").write_bytes(data)
            (target / f"{name}-deflated.npz").write_bytes(_rewritten(data, True, False))
            (target / f"{name}-big-endian.npz").write_bytes(_rewritten(data, False, True))


# ---- the target -------------------------------------------------------------------------------

# The scratch file each input is written to (set by main: on tmpfs where there is one).
PATH = Path()


def check_model(data: bytes) -> None:
    from fastmlp import MLP

    with open(PATH, "wb") as stream:
        stream.write(data)
    try:
        model = MLP.load(PATH)
    except (ValueError, MemoryError) as error:
        if str(PATH) not in str(error):
            raise AssertionError(
                f"{type(error).__name__} without the file name: {error}"
            ) from error
        return
    finally:
        PATH.unlink(missing_ok=True)
    sizes = model.layer_sizes
    assert len(model.weights) == len(model.biases) == len(sizes) - 1
    for i, (w, b) in enumerate(zip(model.weights, model.biases, strict=True)):
        assert w.shape == (sizes[i], sizes[i + 1]) and b.shape == (sizes[i + 1],)
        for array in (w, b):
            assert array.dtype == model.dtype and array.dtype.isnative, array.dtype
            assert array.flags.c_contiguous and array.flags.writeable
            assert np.isfinite(array).all()
    names = model.class_names
    assert names is None or (len(names) == model.classes and all(isinstance(n, str) for n in names))
    json.dumps(model.history_.as_dict())  # plain floats


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], add_help=False)
    parser.add_argument("--make-seeds", type=Path, metavar="FOLDER")
    args, rest = parser.parse_known_args()
    if args.make_seeds is not None:
        make_seeds(args.make_seeds)
        print(f"seeds written to {args.make_seeds}/model")
        return

    import atheris

    global PATH
    # libFuzzer ends the process with exit(), past Python's cleanup: each input's file is
    # removed right after it is read instead.
    folder = "/dev/shm" if os.path.isdir("/dev/shm") else tempfile.gettempdir()
    PATH = Path(folder) / f"fastmlp-fuzz-model-{os.getpid()}.npz"

    # Coverage feedback from the loader, zipfile (not yet imported here, so instrumented as it
    # loads) and the .npy header parser (NumPy's, loaded with numpy: instrumented function by
    # function). zlib and json's scanner are C code and give none.
    assert "zipfile" not in sys.modules
    with atheris.instrument_imports(include=["fastmlp", "zipfile"]):
        import fastmlp  # noqa: F401
    npy_format = sys.modules.get("numpy.lib._format_impl") or sys.modules["numpy.lib.format"]
    for name in ("read_magic", "_read_array_header", "_filter_header", "descr_to_dtype"):
        if hasattr(npy_format, name):
            atheris.instrument_func(getattr(npy_format, name))

    atheris.Setup([sys.argv[0], *rest], check_model)
    atheris.Fuzz()


if __name__ == "__main__":
    main()
