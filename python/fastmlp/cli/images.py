"""Image files for ``fastmlp predict``: any mode Pillow opens, read into [0, 1] faithfully.

Each mode's own scale is kept: 8-bit gray (``L``) and colour divide by 255, 16-bit gray
(``I;16``...) by 65535, 32-bit integers (``I``) by 65535 when they fit in 16 bits (how Pillow
opens some 16-bit files) and are refused otherwise, floats (``F``) are taken as they are when
in [0, 1] and refused otherwise. Colour becomes luminance (ITU-R 601-2, as Pillow's ``L``,
without its rounding); transparent pixels are white paper. The result is padded to a square
with the border's typical value and resized to 28x28 in floating point, so no mode is clipped
to 8 bits on the way. Images larger than :data:`MAX_PIXELS` are refused before decoding.
"""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Any

import numpy as np

from fastmlp.datasets.dataset import IMAGE_SHAPE

from .common import CliError

__all__ = ["MAX_PIXELS", "read_image"]

#: The largest image read (a 40-megapixel photo); larger ones are refused before decoding.
MAX_PIXELS = 40_000_000
#: ITU-R 601-2 luma weights, as Pillow's convert("L") uses them.
LUMA = np.array([0.299, 0.587, 0.114])
EIGHT_BIT_MODES = ("1", "L")
SIXTEEN_BIT_MAX = 65535.0


def read_image(path: Path, invert: bool) -> np.ndarray:
    """One image file as float32 (28, 28) in [0, 1], white digits on black unless ``invert``."""
    Image = _pillow(path)
    too_large = f"fastmlp reads at most {MAX_PIXELS} pixels; downscale it first"
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(path) as opened:
                width, height = opened.size
                if width * height > MAX_PIXELS:
                    raise CliError(
                        f"{path}: {width}x{height} = {width * height} pixels; {too_large}"
                    )
                opened.load()
                image = _upright(opened)
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as error:
        raise CliError(f"{path}: {error} {too_large}") from None
    except (OSError, ValueError, SyntaxError, Image.UnidentifiedImageError) as error:
        raise CliError(f"{path}: not a readable image ({error})") from None
    pixels = _unit_pixels(image, path)
    pixels = _to_28x28(pixels)
    return (1 - pixels if invert else pixels).astype(np.float32)


def _pillow(path: Path) -> Any:
    try:
        from PIL import Image
    except ImportError:
        raise CliError(
            f"{path}: reading image files needs Pillow: pip install pillow "
            "(or convert the images to a .npy array)"
        ) from None
    return Image


def _upright(image: Any) -> Any:
    """The image turned as its EXIF orientation says (phone photos), else unchanged."""
    from PIL import ImageOps

    try:
        return ImageOps.exif_transpose(image)
    except (OSError, ValueError, SyntaxError):  # a damaged EXIF block: keep the pixels as stored
        return image.copy()


def _unit_pixels(image: Any, path: Path) -> np.ndarray:
    """The image as float64 (height, width) gray values in [0, 1], in its mode's own scale."""
    mode = image.mode
    if mode in EIGHT_BIT_MODES:
        return np.asarray(image.convert("L"), dtype=np.float64) / 255
    if mode.startswith("I;16"):
        return np.asarray(image, dtype=np.float64) / SIXTEEN_BIT_MAX
    if mode == "I":
        integers = np.asarray(image, dtype=np.int64)
        low, high = int(integers.min()), int(integers.max())
        if low < 0 or high > SIXTEEN_BIT_MAX:
            raise CliError(
                f"{path}: 32-bit integer pixels up to {high} (from {low}); fastmlp reads "
                "integer images of 8 or 16 bits (0..255 or 0..65535): rescale it"
            )
        return integers / SIXTEEN_BIT_MAX
    if mode == "F":
        values = np.asarray(image, dtype=np.float64)
        if not np.isfinite(values).all():
            raise CliError(f"{path}: float pixels include NaN or infinite values")
        lowest, highest = float(values.min()), float(values.max())
        if lowest < 0 or highest > 1:
            raise CliError(
                f"{path}: float pixels from {lowest:g} to {highest:g}; fastmlp reads float images "
                "in [0, 1]: rescale it"
            )
        return values
    has_alpha = "A" in mode or "a" in mode or "transparency" in image.info
    try:
        rgb = image.convert("RGBA" if has_alpha else "RGB")
    except (ValueError, OSError) as error:
        raise CliError(f"{path}: image mode {mode!r} is not supported ({error})") from None
    values = np.asarray(rgb, dtype=np.float64) / 255  # (height, width, 3 or 4)
    gray = values[..., :3] @ LUMA
    if has_alpha:  # lay the image on white paper: transparent pixels are background
        alpha = values[..., 3]
        gray = alpha * gray + (1 - alpha)
    return np.clip(gray, 0, 1)


def _to_28x28(pixels: np.ndarray) -> np.ndarray:
    """Pad to a square with the border's median value, then resize (Lanczos) to 28x28."""
    if pixels.shape == IMAGE_SHAPE:
        return pixels
    from PIL import Image

    height, width = pixels.shape
    side = max(width, height)
    if width != height:
        border = np.concatenate([pixels[0], pixels[-1], pixels[:, 0], pixels[:, -1]])
        canvas = np.full((side, side), np.median(border))
        top, left = (side - height) // 2, (side - width) // 2
        canvas[top : top + height, left : left + width] = pixels
        pixels = canvas
    image = Image.fromarray(pixels.astype(np.float32))  # mode "F": no 8-bit rounding
    resized = image.resize(IMAGE_SHAPE[::-1], Image.Resampling.LANCZOS)
    return np.clip(np.asarray(resized, dtype=np.float64), 0, 1)  # Lanczos may ring past 0..1
