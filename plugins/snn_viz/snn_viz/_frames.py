"""2-D animation of spiking frames (a rate-coded image, event-camera frames, a conv layer)."""

from __future__ import annotations

import numbers
from typing import Any

import numpy as np
from matplotlib.animation import FuncAnimation

from ._data import ArrayLike, check_int, new_axes, to_numpy

__all__ = ["animate_frames", "frame_stack"]


def frame_stack(frames: ArrayLike, sample: int | None = None) -> np.ndarray:
    """The ``[T, H, W]`` frames :func:`animate_frames` shows, from any accepted layout.

    Layouts: ``[T, H, W]``; ``[T, B, H, W]`` (``sample`` picks one; default 0);
    ``[T, B, C, H, W]`` with ``C = 1``, or ``C = 2`` (event polarity: shown as ON − OFF).
    """
    arr = to_numpy(frames, "frames")
    if arr.ndim == 3:
        if sample is not None:
            raise ValueError(f"sample={sample!r} was given but frames {arr.shape} is read as "
                             "[T, H, W] (no batch dimension)")
        out = arr
    elif arr.ndim in (4, 5):
        if arr.shape[1] == 0:
            raise ValueError(f"frames is empty: shape {arr.shape} has no samples (B = 0)")
        out = arr[:, check_int(0 if sample is None else sample, "sample", 0, arr.shape[1])]
        if arr.ndim == 5:
            c = out.shape[1]
            if c == 1:
                out = out[:, 0]
            elif c == 2:
                out = out[:, 0] - out[:, 1]
            else:
                raise ValueError(f"frames [T, B, C, H, W] must have C = 1 or 2 (ON/OFF), got "
                                 f"C = {c}; select a channel first, e.g. frames[:, :, k:k+1]")
    else:
        raise ValueError(f"frames must be [T, H, W], [T, B, H, W] or [T, B, C, H, W], got shape "
                         f"{arr.shape} (rank {arr.ndim})")
    if 0 in out.shape:
        raise ValueError(f"frames is empty: shape {arr.shape} (need T, H, W >= 1)")
    return out


def animate_frames(
    frames: ArrayLike,
    *,
    sample: int | None = None,
    interval: int = 100,
    cmap: str | None = None,
    vmin: float | None = None,
    vmax: float | None = None,
    colorbar: bool = False,
    ax: Any = None,
    title: str | None = "Spiking frames",
) -> FuncAnimation:
    """Animate a sequence of 2-D spike frames, one frame per time step.

    Args:
        frames: ``[T, H, W]``, ``[T, B, H, W]``, or ``[T, B, C, H, W]`` with ``C = 1`` or
            ``C = 2`` (two polarity channels, shown as ON − OFF with a diverging colour map).
            E.g. ``snn.encoder("rate", ...)`` applied to images ``[B, 1, 28, 28]``.
        sample: sample of batched layouts. Default: 0.
        interval: milliseconds between frames (>= 1). Default: 100.
        cmap: colour map. Default: ``"gray"`` (``"bwr"`` for two polarity channels).
        vmin, vmax: colour limits. Default: the record's min and max (fixed for all frames).
        colorbar: draw a colour bar. Default: False.
        ax: axes to draw into. Default: a new figure.
        title: title prefix; each frame adds its step ``t``.

    Returns:
        A ``FuncAnimation`` with ``T`` frames (save with :func:`snn_viz.save`).

    Example::

        frames = snn.encoder("rate", num_steps=20)(images[:1])    # [T, 1, 1, 28, 28]
        snn_viz.save(snn_viz.animate_frames(frames), "digit.gif")
    """
    arr = to_numpy(frames, "frames")
    polar = arr.ndim == 5 and arr.shape[2] == 2
    stack = frame_stack(arr, sample)
    interval = check_int(interval, "interval", 1)
    for value, label in ((vmin, "vmin"), (vmax, "vmax")):
        if value is not None and (isinstance(value, bool) or not isinstance(
                value, numbers.Real) or not np.isfinite(float(value))):
            raise ValueError(f"{label} must be a finite number or None, got {value!r}")
    if vmin is not None and vmax is not None and not float(vmin) < float(vmax):
        raise ValueError(f"vmin must be below vmax, got vmin={vmin!r}, vmax={vmax!r}")
    # default limits include 0, so that a record spiking everywhere is not drawn as a silent one
    lo = min(float(stack.min()), 0.0) if vmin is None else float(vmin)
    hi = max(float(stack.max()), 0.0) if vmax is None else float(vmax)
    if polar and vmin is None and vmax is None:
        lim = max(abs(lo), abs(hi), 1e-12)
        lo, hi = -lim, lim
    if hi <= lo:  # a constant record: one unit of range above (or below) the given limit
        if vmax is None:
            hi = lo + 1.0
        else:
            lo = hi - 1.0
    fig, ax = new_axes(ax, figsize=(4.5, 4.5))
    image = ax.imshow(stack[0], cmap=cmap or ("bwr" if polar else "gray"), vmin=lo, vmax=hi,
                      interpolation="nearest")
    ax.set_xticks([])
    ax.set_yticks([])
    if colorbar:
        fig.colorbar(image, ax=ax)
    t_steps = stack.shape[0]
    head = ax.set_title("")

    def update(t: int) -> list[Any]:
        image.set_data(stack[t])
        head.set_text(f"{title + ', ' if title else ''}step {t + 1}/{t_steps}")
        return [image, head]

    update(0)
    return FuncAnimation(fig, update, frames=t_steps, interval=interval, blit=False)
