"""Raster plots, spike-count bar charts and their animation over time."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from matplotlib.animation import FuncAnimation
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

from ._data import ArrayLike, check_int, check_positive, new_axes, spike_matrix

__all__ = ["raster", "spike_count", "animate_spike_count"]


def _class_labels(neuron_classes: ArrayLike | Sequence[Any] | None, n: int) -> list[Any] | None:
    if neuron_classes is None:
        return None
    if hasattr(neuron_classes, "tolist"):
        labels = list(np.asarray(neuron_classes.tolist()).reshape(-1).tolist())
    else:
        labels = list(neuron_classes)
    if len(labels) != n:
        raise ValueError(f"neuron_classes must give one class per neuron: expected {n} labels, "
                         f"got {len(labels)}")
    return labels


def _tick_labels(labels: Sequence[str] | None, n: int) -> list[str] | None:
    if labels is None:
        return None
    labels = [str(s) for s in labels]
    if len(labels) != n:
        raise ValueError(f"labels must name every neuron: expected {n}, got {len(labels)}")
    return labels


def raster(
    spk: ArrayLike,
    *,
    sample: int | None = None,
    neuron_classes: ArrayLike | Sequence[Any] | None = None,
    ax: Any = None,
    marker_size: float = 20.0,
    color: str = "black",
    dt: float = 1.0,
    title: str | None = "Spike raster",
) -> Figure:
    """Raster plot: one mark at ``(t, n)`` for every non-zero entry ``spk[t, n]``.

    Args:
        spk: spike record ``[T, N]`` or ``[T, B, N]`` (tensor or array; graded spikes count as
            a spike wherever they are non-zero).
        sample: the sample ``b`` to show from a ``[T, B, N]`` record. Default: 0. Must be left
            ``None`` for a ``[T, N]`` record.
        neuron_classes: optional class label per neuron (length ``N``), e.g. the digit each
            output neuron stands for or the population a neuron belongs to; spikes are coloured
            by class and a legend is drawn.
        ax: axes to draw into. Default: a new figure.
        marker_size: marker area in points². Default: 20.
        color: colour of the marks when ``neuron_classes`` is not given. Default: ``"black"``.
        dt: time per step, for the x axis (> 0). Default: 1 (axis in steps).
        title: axes title (``None``: no title).

    Returns:
        The matplotlib Figure. The marks are ``PathCollection`` objects in ``ax.collections``
        (one per class when coloured).

    Example::

        spk, _ = snn.Leaky(beta=0.9).run(torch.rand(50, 1, 100))
        fig = snn_viz.raster(spk, sample=0)
        snn_viz.save(fig, "raster.png")
    """
    mat = spike_matrix(spk, "spk", sample)
    dt = check_positive(dt, "dt")
    t_steps, n = mat.shape
    classes = _class_labels(neuron_classes, n)
    fig, ax = new_axes(ax)
    t_idx, n_idx = np.nonzero(mat)
    if classes is None:
        ax.scatter(t_idx * dt, n_idx, s=marker_size, c=color, marker="|", linewidths=1.2)
    else:
        numeric = all(isinstance(c, (int, float, np.number)) for c in classes)
        # numbers in ascending order, anything else in order of first appearance
        order: list[Any] = sorted(set(classes)) if numeric else list(dict.fromkeys(classes))
        neuron_class = np.array([order.index(c) for c in classes])
        for k, label in enumerate(order):
            sel = neuron_class[n_idx] == k
            ax.scatter(t_idx[sel] * dt, n_idx[sel], s=marker_size, color=_palette(k), marker="|",
                       linewidths=1.2, label=str(label))
        ax.legend(title="class", loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize="small",
                  markerscale=1.5, frameon=False)
    ax.set_xlim(-0.5 * dt, (t_steps - 0.5) * dt)
    ax.set_ylim(-0.5, n - 0.5)
    ax.yaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_xlabel("time step" if dt == 1.0 else "time")
    ax.set_ylabel("neuron")
    if title:
        ax.set_title(title, fontsize="medium")
    return fig


def _palette(k: int) -> Any:
    import matplotlib

    cmap = matplotlib.colormaps["tab10"]
    return cmap(k % cmap.N)


def _counts(spk: ArrayLike, sample: int | None) -> np.ndarray:
    mat = spike_matrix(spk, "spk", sample)
    return (mat != 0).sum(axis=0)


def _draw_bars(ax: Any, counts: np.ndarray, labels: list[str] | None, horizontal: bool,
               color: str) -> Any:
    pos = np.arange(len(counts))
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.yaxis.set_major_locator(MaxNLocator(integer=True))
    if horizontal:
        bars = ax.barh(pos, counts, color=color)
        if labels:
            ax.set_yticks(pos, labels)
        ax.set_xlabel("spike count")
        ax.set_ylabel("neuron")
    else:
        bars = ax.bar(pos, counts, color=color)
        if labels:
            ax.set_xticks(pos, labels)
        ax.set_ylabel("spike count")
        ax.set_xlabel("neuron")
    return bars


def spike_count(
    spk: ArrayLike,
    *,
    sample: int | None = None,
    labels: Sequence[str] | None = None,
    horizontal: bool = False,
    ax: Any = None,
    color: str = "tab:blue",
    title: str | None = "Spike count",
) -> Figure:
    """Bar chart of each neuron's number of spikes over the whole record.

    Args:
        spk: spike record ``[T, N]`` or ``[T, B, N]``.
        sample: sample of a ``[T, B, N]`` record. Default: 0.
        labels: optional tick label per neuron (e.g. class names for an output layer).
        horizontal: horizontal bars (snnTorch's ``spike_count`` style). Default: False.
        ax: axes to draw into. Default: a new figure.
        color: bar colour. Default: ``"tab:blue"``.
        title: axes title.

    Returns:
        The Figure; bar ``i`` has height ``count(spk[:, i] != 0)``.

    Example::

        fig = snn_viz.spike_count(out_spk, sample=0, labels=[str(d) for d in range(10)])
    """
    counts = _counts(spk, sample)
    ticks = _tick_labels(labels, len(counts))
    fig, ax = new_axes(ax)
    _draw_bars(ax, counts, ticks, horizontal, color)
    if title:
        ax.set_title(title)
    return fig


def animate_spike_count(
    spk: ArrayLike,
    *,
    sample: int | None = None,
    labels: Sequence[str] | None = None,
    horizontal: bool = True,
    interval: int = 100,
    ax: Any = None,
    color: str = "tab:blue",
) -> FuncAnimation:
    """Animated spike-count bar chart: frame ``t`` shows each neuron's spikes up to step ``t``.

    One frame per time step (``T`` frames). Save it with :func:`snn_viz.save` as GIF (or MP4
    where ffmpeg is installed), or show it in a notebook with ``anim.to_jshtml()``.

    Args:
        spk: spike record ``[T, N]`` or ``[T, B, N]``.
        sample: sample of a ``[T, B, N]`` record. Default: 0.
        labels: optional tick label per neuron.
        horizontal: horizontal bars. Default: True.
        interval: milliseconds between frames (>= 1). Default: 100.
        ax: axes to draw into. Default: a new figure.
        color: bar colour.

    Returns:
        A ``matplotlib.animation.FuncAnimation`` with ``T`` frames. Keep a reference to it
        until it has been saved or shown.

    Example::

        anim = snn_viz.animate_spike_count(out_spk, labels=[str(d) for d in range(10)])
        snn_viz.save(anim, "counts.gif")
    """
    mat = spike_matrix(spk, "spk", sample)
    interval = check_int(interval, "interval", 1)
    cumulative = np.cumsum(mat != 0, axis=0)
    ticks = _tick_labels(labels, mat.shape[1])
    fig, ax = new_axes(ax)
    bars = _draw_bars(ax, np.zeros(mat.shape[1]), ticks, horizontal, color)
    top = max(1, int(cumulative[-1].max()))
    (ax.set_xlim if horizontal else ax.set_ylim)(0, top * 1.05)
    t_steps = mat.shape[0]
    title = ax.set_title("")

    def update(t: int) -> list[Any]:
        for bar, h in zip(bars, cumulative[t], strict=True):
            (bar.set_width if horizontal else bar.set_height)(float(h))
        title.set_text(f"Spike count, step {t + 1}/{t_steps}")
        return [*bars, title]

    return FuncAnimation(fig, update, frames=t_steps, interval=interval, blit=False,
                         repeat=True)
