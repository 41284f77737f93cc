"""Image checks shared by the snn-viz tests."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image


def assert_png_not_blank(path: Path, min_ink: float = 0.005) -> np.ndarray:
    """The PNG exists, has real content (not one flat colour) and returns its RGB pixels."""
    assert path.exists() and path.stat().st_size > 0, path
    with Image.open(path) as im:
        assert im.format == "PNG"
        rgb = np.asarray(im.convert("RGB"), dtype=np.int16)
    background = rgb[0, 0]
    ink = np.abs(rgb - background).sum(axis=2) > 30
    assert ink.mean() > min_ink, f"{path} looks blank ({ink.mean():.4%} non-background pixels)"
    assert len(np.unique(rgb.reshape(-1, 3), axis=0)) > 2
    return rgb


def gif_frames(path: Path) -> int:
    """Number of frames in a GIF read back with Pillow."""
    assert path.exists() and path.stat().st_size > 0, path
    with Image.open(path) as im:
        assert im.format == "GIF"
        return im.n_frames
