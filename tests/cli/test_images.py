"""``fastmlp predict`` on image files: every Pillow mode read into [0, 1] faithfully (16-bit,
32-bit integer, float, palette, alpha, CMYK, ...) or refused with a clear error."""

from __future__ import annotations

import contextlib
import io
import struct
import zlib
from pathlib import Path

import numpy as np
import pytest

from fastmlp import MLP, datasets
from fastmlp.cli import main
from fastmlp.cli.common import CliError
from fastmlp.cli.images import MAX_PIXELS, read_image

Image = pytest.importorskip("PIL.Image")

STEP = 1 / 255  # one 8-bit level


@pytest.fixture(scope="module")
def digit() -> np.ndarray:
    """A real MNIST digit, uint8 (28, 28), white on black."""
    return datasets.load("mnist-sample").x_test[0]


def expected(digit: np.ndarray) -> np.ndarray:
    return digit.astype(np.float64) / 255


def save(image: object, path: Path, **options: object) -> Path:
    image.save(path, **options)  # type: ignore[attr-defined]
    return path


def assert_faithful(pixels: np.ndarray, digit: np.ndarray, tolerance: float = STEP) -> None:
    assert pixels.shape == (28, 28) and pixels.dtype == np.float32
    assert 0 <= pixels.min() and pixels.max() <= 1
    np.testing.assert_allclose(pixels, expected(digit), atol=tolerance)


# ---- modes read faithfully --------------------------------------------------------------------


def test_8_bit_grayscale_is_exact(tmp_path: Path, digit: np.ndarray) -> None:
    pixels = read_image(save(Image.fromarray(digit), tmp_path / "d.png"), invert=False)
    assert_faithful(pixels, digit, tolerance=0)


@pytest.mark.parametrize(("order", "suffix"), [("<u2", ".png"), (">u2", ".tif"), ("<u2", ".tif")])
def test_16_bit_grayscale_is_scaled_not_clipped(
    tmp_path: Path, digit: np.ndarray, order: str, suffix: str
) -> None:
    """A 16-bit PNG was binarised by convert("L") (everything above 255 became white)."""
    values = (digit.astype(np.uint16) * 257).astype(order)  # 0..65535
    path = save(Image.fromarray(values), tmp_path / f"d16{suffix}")
    assert Image.open(path).mode.startswith("I;16")
    assert_faithful(read_image(path, invert=False), digit)


def test_32_bit_integer_within_16_bits_is_read_as_16_bit(tmp_path: Path, digit: np.ndarray) -> None:
    image = Image.fromarray(digit.astype(np.int32) * 257)
    assert image.mode == "I"
    assert_faithful(read_image(save(image, tmp_path / "d.tif"), invert=False), digit)


def test_float_tiff_in_0_1_is_read_as_is(tmp_path: Path, digit: np.ndarray) -> None:
    """A float TIFF came out blank: convert("L") truncated 0..1 to 0."""
    image = Image.fromarray(expected(digit).astype(np.float32))
    path = save(image, tmp_path / "d.tif")
    assert Image.open(path).mode == "F"
    assert_faithful(read_image(path, invert=False), digit, tolerance=1e-7)


def test_palette_image(tmp_path: Path, digit: np.ndarray) -> None:
    image = Image.fromarray(digit).convert("P", palette=Image.Palette.ADAPTIVE, colors=256)
    path = save(image, tmp_path / "d.png")
    assert Image.open(path).mode == "P"
    assert_faithful(read_image(path, invert=False), digit, tolerance=4 * STEP)


def test_colour_is_luminance(tmp_path: Path, digit: np.ndarray) -> None:
    rgb = np.stack([digit, digit, digit], axis=-1)
    assert_faithful(read_image(save(Image.fromarray(rgb), tmp_path / "d.png"), False), digit)
    cmyk = Image.fromarray(rgb).convert("CMYK")
    assert_faithful(read_image(save(cmyk, tmp_path / "d.tif"), invert=False), digit)


@pytest.mark.parametrize("mode", ["RGBA", "LA", "P"])
def test_transparent_pixels_are_white_paper(tmp_path: Path, mode: str) -> None:
    """Opaque black ink on a transparent background reads as black on white."""
    gray = np.zeros((28, 28), np.uint8)
    alpha = np.zeros((28, 28), np.uint8)
    alpha[10:18, 10:18] = 255  # an opaque black square, the rest transparent
    image = Image.merge("LA", [Image.fromarray(gray), Image.fromarray(alpha)]).convert("RGBA")
    options = {}
    if mode == "P":  # entry 0 black ink, entry 1 a gray made transparent
        image = Image.fromarray((alpha == 0).astype(np.uint8), mode="P")
        image.putpalette([0, 0, 0, 128, 128, 128])
        options["transparency"] = 1
    else:
        image = image.convert(mode)
    path = save(image, tmp_path / "ink.png", **options)
    assert Image.open(path).mode == mode
    pixels = read_image(path, invert=False)
    target = np.ones((28, 28), np.float32)
    target[10:18, 10:18] = 0
    np.testing.assert_allclose(pixels, target, atol=STEP)
    np.testing.assert_allclose(read_image(path, invert=True), 1 - target, atol=STEP)


def test_one_bit_image(tmp_path: Path, digit: np.ndarray) -> None:
    binary = digit > 127
    image = Image.fromarray(binary)
    assert image.mode == "1"
    pixels = read_image(save(image, tmp_path / "d.png"), invert=False)
    np.testing.assert_array_equal(pixels, binary.astype(np.float32))


def test_a_large_16_bit_image_is_resized_in_its_own_scale(
    tmp_path: Path, digit: np.ndarray
) -> None:
    big = Image.fromarray(digit).resize((112, 112), Image.Resampling.NEAREST)
    eight = read_image(save(big, tmp_path / "d8.png"), invert=False)
    values = np.asarray(big).astype(np.uint16) * 257
    sixteen = read_image(save(Image.fromarray(values), tmp_path / "d16.png"), invert=False)
    np.testing.assert_allclose(sixteen, eight, atol=2 * STEP)
    assert sixteen.max() > 0.9  # not blank, not saturated into a binary image
    assert len(np.unique(sixteen)) > 10


# ---- modes refused ------------------------------------------------------------------------------


def test_float_pixels_outside_0_1_are_refused(tmp_path: Path, digit: np.ndarray) -> None:
    image = Image.fromarray(digit.astype(np.float32))  # 0..255 floats
    with pytest.raises(CliError, match=r"d\.tif: float pixels from 0 to 255.*\[0, 1\]"):
        read_image(save(image, tmp_path / "d.tif"), invert=False)


def test_non_finite_float_pixels_are_refused(tmp_path: Path) -> None:
    values = np.zeros((28, 28), np.float32)
    values[3, 3] = np.nan
    with pytest.raises(CliError, match="NaN"):
        read_image(save(Image.fromarray(values), tmp_path / "n.tif"), invert=False)


def test_32_bit_integers_beyond_16_bits_are_refused(tmp_path: Path) -> None:
    values = np.full((28, 28), 70000, np.int32)
    with pytest.raises(CliError, match=r"i\.tif: 32-bit integer pixels up to 70000"):
        read_image(save(Image.fromarray(values), tmp_path / "i.tif"), invert=False)


def png_header_only(path: Path, width: int, height: int) -> Path:
    """A PNG that declares ``width`` x ``height`` 8-bit gray pixels (and holds almost none)."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return (
            struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
        )

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    idat = zlib.compress(b"\0" * (width + 1))  # one row
    path.write_bytes(
        b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", idat) + chunk(b"IEND", b"")
    )
    return path


@pytest.mark.parametrize("size", [(20000, 20000), (MAX_PIXELS // 1000 + 1, 1000)])
def test_images_too_large_are_refused_before_decoding(
    tmp_path: Path, size: tuple[int, int]
) -> None:
    path = png_header_only(tmp_path / "huge.png", *size)
    pixels = size[0] * size[1]
    with pytest.raises(CliError, match=rf"huge\.png: .*\b{pixels} pixels.*at most {MAX_PIXELS}"):
        read_image(path, invert=False)


# ---- through the command line --------------------------------------------------------------------


def test_predict_gives_the_same_class_for_8_and_16_bit_files(
    tmp_path: Path, digit: np.ndarray
) -> None:
    sample = datasets.load("mnist-sample")
    model = MLP([784, 32, 10], seed=0)
    model.fit(datasets.prepare(sample.x_train), sample.y_train, epochs=3, batch_size=64)
    model_path = model.save(tmp_path / "m.npz")
    save(Image.fromarray(digit), tmp_path / "d8.png")
    save(Image.fromarray(digit.astype(np.uint16) * 257), tmp_path / "d16.png")
    save(Image.fromarray(expected(digit).astype(np.float32)), tmp_path / "df.tif")
    out = io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(io.StringIO()):
        code = main(
            [
                "predict",
                str(model_path),
                *(str(tmp_path / n) for n in ("d8.png", "d16.png", "df.tif")),
            ]
        )
    assert code == 0
    classes = [line.split(":")[1].split()[0] for line in out.getvalue().splitlines()]
    assert len(classes) == 3 and len(set(classes)) == 1, out.getvalue()
    assert int(classes[0]) == model.predict(datasets.prepare(digit[None]))[0]


def test_predict_huge_png_is_one_line(tmp_path: Path) -> None:
    model_path = MLP([784, 10], seed=0).save(tmp_path / "m.npz")
    path = png_header_only(tmp_path / "bomb.png", 20000, 20000)
    err = io.StringIO()
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(err):
        code = main(["predict", str(model_path), str(path)])
    assert code == 2 and err.getvalue().count("\n") == 1, err.getvalue()
    assert err.getvalue().startswith(f"fastmlp predict: error: {path}: ")
    assert "400000000 pixels" in err.getvalue()
