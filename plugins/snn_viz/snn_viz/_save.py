"""Saving figures (PNG, PDF, SVG) and animations (GIF; MP4 where ffmpeg is installed)."""

from __future__ import annotations

import numbers
import os
from pathlib import Path
from typing import Any

from matplotlib.animation import Animation
from matplotlib.figure import Figure

__all__ = ["save", "FIGURE_SUFFIXES", "ANIMATION_SUFFIXES"]

#: File types a Figure can be saved as.
FIGURE_SUFFIXES = (".png", ".pdf", ".svg")
#: File types an Animation can be saved as (".mp4" needs the ffmpeg program).
ANIMATION_SUFFIXES = (".gif", ".mp4")


def _ffmpeg_available() -> bool:
    from matplotlib.animation import writers

    return bool(writers.is_available("ffmpeg"))


def save(obj: Any, path: str | os.PathLike[str], *, dpi: float | None = None,
         fps: float | None = None) -> Path:
    """Save a Figure or an Animation returned by any ``snn_viz`` function.

    The file type follows the suffix: a Figure as ``.png``, ``.pdf`` or ``.svg``; an Animation
    as ``.gif`` (written by Pillow) or ``.mp4`` (needs the ``ffmpeg`` program on ``PATH``).

    Args:
        obj: a ``matplotlib.figure.Figure`` or ``matplotlib.animation.Animation``.
        path: target file; its folder must exist.
        dpi: resolution (> 0). Default: matplotlib's (figures) / the figure's (animations).
        fps: frames per second of an animation (> 0). Default: from the animation's interval.

    Returns:
        The path written, as a ``pathlib.Path``.

    Raises:
        ValueError: unsupported suffix for the object, or a bad ``dpi`` / ``fps``.
        TypeError: ``obj`` is neither a Figure nor an Animation.
        RuntimeError: ``.mp4`` asked for but ffmpeg is not installed.
    """
    path = Path(path)
    suffix = path.suffix.lower()
    for name, value in (("dpi", dpi), ("fps", fps)):
        if value is not None and (isinstance(value, bool) or not isinstance(value, numbers.Real)
                                  or not value > 0):
            raise ValueError(f"{name} must be a number > 0, got {value!r}")
    if isinstance(obj, Animation):
        if suffix not in ANIMATION_SUFFIXES:
            raise ValueError(f"an animation can be saved as {', '.join(ANIMATION_SUFFIXES)}, "
                             f"not {suffix or 'a path without suffix'!r} ({path})")
        if suffix == ".mp4":
            if not _ffmpeg_available():
                raise RuntimeError("saving MP4 needs the ffmpeg program, which was not found "
                                   "on PATH; install ffmpeg or save as .gif")
            writer = "ffmpeg"
        else:
            writer = "pillow"
        obj.save(str(path), writer=writer, fps=fps, dpi=dpi)
        return path
    if isinstance(obj, Figure):
        if suffix not in FIGURE_SUFFIXES:
            hint = "; GIF and MP4 are for animations" if suffix in ANIMATION_SUFFIXES else ""
            raise ValueError(f"a figure can be saved as {', '.join(FIGURE_SUFFIXES)}, not "
                             f"{suffix or 'a path without suffix'!r} ({path}){hint}")
        obj.savefig(path, dpi=dpi if dpi is not None else "figure")
        return path
    raise TypeError(f"obj must be a matplotlib Figure or Animation, got {type(obj).__name__}")
