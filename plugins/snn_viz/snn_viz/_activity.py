"""Network activity: firing-rate heatmaps per layer and inter-spike-interval histograms."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

from ._data import (
    ArrayLike,
    check_int,
    check_positive,
    new_axes,
    select_neurons,
    spike_matrix,
    to_numpy,
)

__all__ = ["firing_rate_heatmap", "layer_rates", "isi_histogram", "inter_spike_intervals"]


def _as_mapping(record: Any) -> Mapping[str, Any]:
    if callable(getattr(record, "stacked", None)):
        record = record.stacked()
    if not isinstance(record, Mapping):
        raise TypeError("record must be a mapping of layer name -> time-first spike record "
                        "[T, ...], or a monitor with a .stacked() method returning one; got "
                        f"{type(record).__name__}")
    if not record:
        raise ValueError("record is empty: no layer was recorded")
    return record


def layer_rates(x: ArrayLike, name: str = "record", *, sample: int | None = None,
                window: int = 1) -> np.ndarray:
    """Firing rate ``[T_w, F]`` of one layer's time-first record (the heatmap's data).

    ``[T, N]`` is read as time x neurons. ``[T, B, *features]`` is averaged over the batch (or
    ``sample`` picks one sample) and its features are flattened. The rate is the mean spike
    value per step over consecutive windows of ``window`` steps (the last window may be
    shorter).
    """
    arr = to_numpy(x, name)
    if arr.ndim < 2:
        raise ValueError(f"{name} must be a time-first record [T, N] or [T, B, ...], got shape "
                         f"{arr.shape} (rank {arr.ndim})")
    if arr.ndim == 2:
        if sample is not None:
            raise ValueError(f"sample={sample!r} was given but {name} {arr.shape} is read as "
                             "[T, N] (no batch dimension)")
        mat = arr
    else:
        if arr.shape[1] == 0:
            raise ValueError(f"{name} is empty: shape {arr.shape} has no samples (B = 0)")
        if sample is None:
            mat = arr.mean(axis=1).reshape(arr.shape[0], -1)
        else:
            b = check_int(sample, "sample", 0, arr.shape[1])
            mat = arr[:, b].reshape(arr.shape[0], -1)
    if mat.shape[0] == 0 or mat.shape[1] == 0:
        raise ValueError(f"{name} is empty: shape {arr.shape} (need T >= 1 and neurons >= 1)")
    window = check_int(window, "window", 1, mat.shape[0] + 1)
    starts = np.arange(0, mat.shape[0], window)
    return np.add.reduceat(mat, starts, axis=0) / np.diff(np.append(starts, mat.shape[0]))[:, None]


def firing_rate_heatmap(
    record: Any,
    *,
    sample: int | None = None,
    window: int = 1,
    dt: float = 1.0,
    cmap: str = "viridis",
    colorbar_label: str = "spikes / step",
    title: str | None = "Firing rate per layer",
) -> Figure:
    """Heatmap of every layer's firing rate over time (neurons x time), one panel per layer.

    Args:
        record: ``{layer name: spikes [T, ...]}`` with time-first records, or a monitor whose
            ``.stacked()`` returns that mapping (e.g. ``snncore.Monitor``). ``[T, N]`` is read
            as time x neurons; ``[T, B, *features]`` is averaged over the batch and its
            features flattened (conv layers: ``C*H*W`` rows).
        sample: show one sample of ``[T, B, ...]`` records instead of the batch mean.
        window: steps per time bin (1 <= window <= T). Default: 1.
        dt: time per step (> 0), for the x axis. Default: 1.
        cmap: colour map. Default: ``"viridis"``.
        colorbar_label: colour-bar label; change it when plotting another recorded quantity
            (e.g. ``monitor.stacked("mem")``). Default: ``"spikes / step"``.
        title: figure title.

    Returns:
        The Figure. Panel ``k``'s mesh (``ax.collections[0]``) holds :func:`layer_rates` of
        layer ``k`` transposed (rows: neurons, columns: time bins, each drawn over the steps it
        covers: the last one may be shorter); its title gives the layer's mean over all steps.

    Example::

        snn_viz.firing_rate_heatmap({"lif1": spk1, "lif2": spk2}, window=5)
    """
    layers = _as_mapping(record)
    dt = check_positive(dt, "dt")
    rates = {str(k): layer_rates(v, f"record[{k!r}]", sample=sample, window=window)
             for k, v in layers.items()}
    steps = {str(k): int(np.shape(v)[0]) for k, v in layers.items()}
    import matplotlib.pyplot as plt

    fig, axs = plt.subplots(len(rates), 1, squeeze=False, layout="constrained",
                            figsize=(8.0, 0.8 + 2.2 * len(rates)))
    for ax, (name, r) in zip(axs[:, 0], rates.items(), strict=True):
        t = steps[name]
        # bin edges in time: every bin `window` steps wide, the last one what is left of T
        edges = np.minimum(np.arange(r.shape[0] + 1) * window, t) * dt
        widths = np.diff(edges) / dt
        lo, hi = min(float(r.min()), 0.0), max(float(r.max()), 1e-12)
        mesh = ax.pcolormesh(edges, np.arange(r.shape[1] + 1) - 0.5, r.T, cmap=cmap,
                             vmin=lo, vmax=hi, shading="flat")
        fig.colorbar(mesh, ax=ax, label=colorbar_label)
        ax.set_xlim(0.0, t * dt)
        ax.set_ylabel("neuron")
        ax.yaxis.set_major_locator(MaxNLocator(integer=True))
        mean = float((r * widths[:, None]).sum() / (widths.sum() * r.shape[1]))
        what = "mean rate" if colorbar_label == "spikes / step" else "mean"
        ax.set_title(f"{name}: {r.shape[1]} neurons, {what} {mean:.3f}", fontsize="medium")
    axs[-1, 0].set_xlabel("time step" if dt == 1.0 else "time")
    if title:
        fig.suptitle(title)
    return fig


def inter_spike_intervals(spk: ArrayLike, *, sample: int | None = None,
                          neurons: int | Sequence[int] | None = None,
                          dt: float = 1.0) -> np.ndarray:
    """All inter-spike intervals of the chosen neurons (pooled), in units of ``dt``."""
    mat = spike_matrix(spk, "spk", sample)
    dt = check_positive(dt, "dt")
    idx = select_neurons(neurons, mat.shape[1])
    parts = [np.diff(np.flatnonzero(mat[:, n] != 0)) * dt for n in idx]
    return np.concatenate(parts) if parts else np.zeros(0)


def isi_histogram(
    spk: ArrayLike,
    *,
    sample: int | None = None,
    neurons: int | Sequence[int] | None = None,
    bins: int | Sequence[float] | None = None,
    dt: float = 1.0,
    ax: Any = None,
    color: str = "tab:blue",
    title: str | None = "Inter-spike intervals",
) -> Figure:
    """Histogram of inter-spike intervals, pooled over the chosen neurons.

    Args:
        spk: spike record ``[T, N]`` or ``[T, B, N]``.
        sample: sample of a ``[T, B, N]`` record. Default: 0.
        neurons: neuron indices to pool. Default: all.
        bins: number of bins or bin edges. Default: one bin per whole step (``1·dt, 2·dt, ...``).
        dt: time per step (> 0). Default: 1.
        ax: axes to draw into. Default: a new figure.
        color: bar colour.
        title: axes title; the count, mean and coefficient of variation are appended.

    Returns:
        The Figure; the bars are ``numpy.histogram(intervals, bins)``. Neurons that spike
        fewer than twice have no intervals; when no neuron has any, the axes says so.

    Example::

        snn_viz.isi_histogram(spk, sample=0, neurons=range(10))
    """
    isi = inter_spike_intervals(spk, sample=sample, neurons=neurons, dt=dt)
    fig, ax = new_axes(ax, figsize=(6.0, 4.0))
    if isi.size == 0:
        ax.text(0.5, 0.5, "no inter-spike intervals\n(every neuron spiked fewer than twice)",
                ha="center", va="center", transform=ax.transAxes)
        stats = "n = 0"
    else:
        if bins is None:
            steps = int(round(isi.max() / dt))
            bins = (np.arange(1, steps + 2) - 0.5) * dt
        elif isinstance(bins, (int, np.integer)) and not isinstance(bins, bool):
            bins = check_int(bins, "bins", 1)
        elif isinstance(bins, (bool, float, str)) or not hasattr(bins, "__len__"):
            raise TypeError(f"bins must be None, a number of bins (int >= 1) or a sequence of "
                            f"bin edges, got {bins!r}")
        ax.hist(isi, bins=bins, color=color, edgecolor="white")
        cv = float(isi.std() / isi.mean()) if isi.mean() > 0 else float("nan")
        stats = f"n = {isi.size}, mean = {isi.mean():.3g}, CV = {cv:.2f}"
    ax.set_xlabel("interval (steps)" if dt == 1.0 else "interval")
    ax.set_ylabel("count")
    ax.set_title(f"{title}: {stats}" if title else stats, fontsize="medium")
    return fig
