"""``snntorch.spikeplot``: raster, spike counts, traces and animations with matplotlib.

The functions draw into the axes you pass, as snnTorch's do, and pass matplotlib keyword
arguments through (``raster(spk, ax, s=1.5, c="black")``). Spike counts and animations are
drawn by :mod:`snn_viz` (``snn_viz.spike_count``, ``snn_viz.animate_spike_count``,
``snn_viz.animate_frames``); for new code, :mod:`snn_viz` has figure-returning versions of every
plot. Needs ``pip install "snn-compat[spikeplot]"`` (matplotlib and snn-viz).
"""

from __future__ import annotations

import importlib
from collections import defaultdict
from typing import Any

import numpy as np
import torch
from torch import Tensor

from .._warn import warn_difference

__all__ = ["raster", "spike_count", "traces", "animator", "Camera"]


def _need(module: str) -> Any:
    """``module`` imported, or an ImportError naming the extra that installs it."""
    try:
        return importlib.import_module(module)
    except ImportError as exc:  # pragma: no cover - exercised without the extra
        raise ImportError(f'spikeplot needs {module.split(".")[0]}: pip install '
                          '"snn-compat[spikeplot]"', name=module) from exc


def _viz() -> Any:
    return _need("snn_viz")


def _pyplot() -> Any:
    return _need("matplotlib.pyplot")


def _check(data: Any, fn: str) -> Tensor:
    if not isinstance(data, Tensor):
        raise TypeError(f"spikeplot.{fn}: data must be a torch.Tensor, got {type(data).__name__}")
    return data.detach().cpu()


def raster(data: Tensor, ax: Any, **kwargs: Any) -> Any:
    """Scatter one dot per spike of ``data`` ``[T, N]`` (time on x, neuron on y) into ``ax``.

    ``kwargs`` go to ``ax.scatter`` (``s=``, ``c=``, ``marker=``, ...). Returns the
    ``PathCollection``.
    """
    data = _check(data, "raster")
    if data.dim() == 1:
        data = data.unsqueeze(1)
    if data.dim() != 2:
        raise ValueError(f"spikeplot.raster: data must be [T] or [T, N], got shape "
                         f"{tuple(data.shape)}; select one sample, e.g. spk[:, 0]")
    return ax.scatter(*torch.where(data), **kwargs)


def spike_count(data: Tensor, fig: Any, ax: Any, labels: Any, num_steps: Any = False,
                animate: bool = False, interpolate: int = 1, gridshader: bool = True,
                interval: int = 25, time_step: Any = False) -> Any:
    """Horizontal bars of the spike count of each output of ``data`` ``[T, N]`` in ``ax``.

    With ``animate=True`` returns an animation of the counts growing over ``num_steps`` steps
    (``interval`` ms per frame); ``interpolate``, ``gridshader`` and ``time_step`` only styled
    snnTorch's drawing and are accepted for compatibility.
    """
    data = _check(data, "spike_count")
    if bool(((data != 0) & (data != 1)).any()):
        warn_difference("spikeplot.spike_count(graded spikes)",
                        "a non-zero entry counts as one spike; snnTorch adds the values",
                        stacklevel=3)
    steps = int(num_steps) if num_steps else data.shape[0]
    viz = _viz()
    labels = list(labels) if labels is not None else None
    if animate:
        return viz.animate_spike_count(data[:steps], labels=labels, horizontal=True,
                                       interval=interval, ax=ax)
    viz.spike_count(data[:steps], labels=labels, horizontal=True, ax=ax)
    return None


def traces(data: Tensor, spk: Tensor | None = None, dim: tuple[int, int] = (3, 3),
           spk_height: float = 5, titles: Any = None) -> Any:
    """A ``dim[0] × dim[1]`` grid of membrane traces of ``data`` ``[T, N]``, one neuron per
    panel (neuron ``i`` in panel ``i``), with ``spk_height`` added where ``spk`` spiked.
    Returns the current figure."""
    plt = _pyplot()
    from matplotlib.gridspec import GridSpec

    values = _check(data, "traces")
    if spk is not None:
        values = values + spk_height * _check(spk, "traces")
    arr = values.numpy()
    panels = int(np.prod(dim))
    if arr.ndim != 2 or arr.shape[1] < panels:
        raise ValueError(f"spikeplot.traces: data must be [T, N] with N >= {panels} for "
                         f"dim={tuple(dim)}, got shape {tuple(arr.shape)}")
    gs = GridSpec(*dim)
    first = None
    for i in range(panels):
        ax = plt.subplot(gs[i]) if first is None else plt.subplot(gs[i], sharey=first)
        first = first or ax
        if titles is not None and i < len(titles):
            ax.set_title(titles[i])
        ax.plot(arr[:, i])
        ax.axis("off")
    return plt.gcf()


def animator(data: Tensor, fig: Any, ax: Any, num_steps: Any = False, interval: int = 40,
             cmap: str = "plasma") -> Any:
    """Animate ``data`` ``[T, H, W]`` frame by frame in ``ax`` (``interval`` ms per frame)."""
    data = _check(data, "animator")
    steps = int(num_steps) if num_steps else data.shape[0]
    ax.axis("off")
    return _viz().animate_frames(data[:steps], interval=interval, cmap=cmap,
                                 vmin=float(data.min()), vmax=float(data.max()), ax=ax,
                                 title=None)


class Camera:
    """Collect the artists drawn on ``figure`` between :meth:`snap` calls and turn them into
    an ``ArtistAnimation`` (:meth:`animate`), as snnTorch's (celluloid's) ``Camera`` does."""

    _KINDS = ("collections", "patches", "lines", "texts", "artists", "images")

    def __init__(self, figure: Any) -> None:
        self._figure = figure
        self._offsets: dict[str, dict[int, int]] = {k: defaultdict(int) for k in self._KINDS}
        self._photos: list[list[Any]] = []

    def snap(self) -> list[Any]:
        """Record the artists added since the previous snap as one frame."""
        frame: list[Any] = []
        for i, axis in enumerate(self._figure.axes):
            if axis.legend_ is not None:
                axis.add_artist(axis.legend_)
            for kind in self._KINDS:
                new = list(getattr(axis, kind))[self._offsets[kind][i]:]
                frame += new
                self._offsets[kind][i] += len(new)
        self._photos.append(frame)
        return frame

    def animate(self, *args: Any, **kwargs: Any) -> Any:
        """``matplotlib.animation.ArtistAnimation`` of the snapped frames."""
        from matplotlib.animation import ArtistAnimation

        return ArtistAnimation(self._figure, self._photos, *args, **kwargs)
