"""Membrane / current / spike traces of chosen neurons, and snnTorch's tutorial figure."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
from matplotlib.figure import Figure

from ._data import (
    ArrayLike,
    check_int,
    check_positive,
    new_axes,
    select_neurons,
    spike_matrix,
    to_numpy,
)

__all__ = ["traces", "cur_mem_spk", "neuron_traces"]

#: Neurons shown by :func:`traces` when ``neurons`` is not given.
DEFAULT_MAX_NEURONS = 8


def _series(x: ArrayLike, name: str, sample: int | None) -> np.ndarray:
    """``[T, N]`` from ``[T]``, ``[T, N]`` or ``[T, B, N]``."""
    arr = to_numpy(x, name)
    if arr.ndim == 1:
        if sample is not None:
            raise ValueError(f"sample={sample!r} was given but {name} is a single trace [T]")
        if arr.shape[0] == 0:
            raise ValueError(f"{name} is empty: shape {arr.shape} (need T >= 1)")
        return arr[:, None]
    if arr.ndim not in (2, 3):
        raise ValueError(f"{name} must be [T], [T, N] or [T, B, N], got shape {arr.shape} "
                         f"(rank {arr.ndim})")
    return spike_matrix(arr, name, sample)


def _thresholds(threshold: float | ArrayLike | None, n: int) -> np.ndarray | None:
    """Per-neuron thresholds ``[N]`` from a scalar or a per-neuron value."""
    if threshold is None:
        return None
    th = to_numpy(threshold, "threshold")
    if th.size == 1:
        return np.full(n, float(th.reshape(-1)[0]))
    th = th.reshape(-1)
    if th.shape[0] != n:
        raise ValueError(f"threshold must be a scalar or one value per neuron ({n}), "
                         f"got {th.shape[0]} values")
    return th


def _grid(
    series: Mapping[str, np.ndarray],
    spikes: np.ndarray | None,
    threshold: np.ndarray | None,
    neurons: list[int],
    dt: float,
    ax: Any,
    title: str | None,
) -> Figure:
    t = np.arange(next(iter(series.values())).shape[0]) * dt
    if ax is not None:
        if len(neurons) != 1:
            raise ValueError(f"ax can only be given when one neuron is plotted, got "
                             f"{len(neurons)} neurons; leave ax=None for a grid")
        fig, ax = new_axes(ax)
        axes = [ax]
    else:
        import matplotlib.pyplot as plt

        fig, axs = plt.subplots(len(neurons), 1, sharex=True, squeeze=False, layout="constrained",
                                figsize=(8.0, 1.2 + 1.6 * len(neurons)))
        axes = list(axs[:, 0])
    fixed = {"membrane": "tab:blue", "input current": "tab:orange", "input": "tab:orange"}
    others = iter(["tab:green", "tab:purple", "tab:brown", "tab:pink", "tab:olive", "tab:cyan"])
    colors = {label: fixed.get(label) or next(others, "tab:gray") for label in series}
    for row, (axis, n) in enumerate(zip(axes, neurons, strict=True)):
        for label, mat in series.items():
            axis.plot(t, mat[:, n], color=colors[label], lw=1.3, label=label)
        if threshold is not None:
            axis.axhline(threshold[n], color="tab:red", ls="--", lw=1.0, label="threshold")
        if spikes is not None:
            times = t[spikes[:, n] != 0]
            axis.vlines(times, 0, 1, transform=axis.get_xaxis_transform(), colors="black",
                        alpha=0.35, lw=1.0, label="spike")
        axis.set_ylabel(f"neuron {n}")
        if row == 0:
            axis.legend(loc="upper right", fontsize="small", ncols=min(4, len(series) + 2))
    axes[-1].set_xlabel("time step" if dt == 1.0 else "time")
    if title and ax is None:
        fig.suptitle(title)
    elif title:
        axes[0].set_title(title)
    return fig


def traces(
    mem: ArrayLike,
    *,
    spk: ArrayLike | None = None,
    current: ArrayLike | None = None,
    threshold: float | ArrayLike | None = None,
    neurons: int | Sequence[int] | None = None,
    sample: int | None = None,
    dt: float = 1.0,
    ax: Any = None,
    title: str | None = "Neuron traces",
) -> Figure:
    """Membrane (and optionally input current and spikes) of chosen neurons over time.

    One row per neuron: the membrane ``U_t`` as a line, the input current as a second line, the
    threshold ``θ`` as a dashed red line, and every spike as a grey vertical line.

    Args:
        mem: membrane record ``[T]``, ``[T, N]`` or ``[T, B, N]`` (e.g. ``states.mem`` from
            ``neuron.trace(x)``).
        spk: spikes of the same shape as ``mem``. Default: none drawn.
        current: input current of the same shape as ``mem``. Default: none drawn.
        threshold: scalar or per-neuron ``[N]`` threshold. Default: not drawn.
        neurons: index or indices of the neurons to plot. Default: the first 8.
        sample: sample of ``[T, B, N]`` records. Default: 0.
        dt: time per step (> 0). Default: 1.
        ax: axes to draw into (only when a single neuron is plotted). Default: a new figure.
        title: figure title.

    Returns:
        The Figure. In each row, the line labelled ``"membrane"`` holds ``mem[:, n]``.

    Example::

        spk, states = lif.trace(x)                   # x: [T, B, N]
        snn_viz.traces(states.mem, spk=spk, current=x, threshold=1.0, neurons=[0, 3])
    """
    dt = check_positive(dt, "dt")
    u = _series(mem, "mem", sample)
    series = {}
    if current is not None:
        series["input current"] = _same_shape(_series(current, "current", sample), u,
                                              "current", current, mem)
    series["membrane"] = u
    s = None if spk is None else _same_shape(_series(spk, "spk", sample), u, "spk", spk, mem)
    idx = select_neurons(neurons, u.shape[1], default_max=DEFAULT_MAX_NEURONS)
    return _grid(series, s, _thresholds(threshold, u.shape[1]), idx, dt, ax, title)


def _scalar(value: Any, name: str) -> float:
    arr = to_numpy(value, name)
    if arr.size != 1:
        raise ValueError(f"{name} must be a single number, got shape {arr.shape}")
    return float(arr.reshape(-1)[0])


def _same_shape(x: np.ndarray, ref: np.ndarray, name: str, given: Any = None,
                mem: Any = None) -> np.ndarray:
    """``x`` (one sample's ``[T, N]``) if it has ``ref``'s shape, and the records as given had
    the same shape too (a ``[T, B, N]`` record next to a sliced ``[T, N]`` membrane would
    otherwise show another sample's values)."""
    if given is not None and np.shape(given) != np.shape(mem):
        raise ValueError(f"{name} must have the same shape as mem: got {tuple(np.shape(given))} "
                         f"vs {tuple(np.shape(mem))} (slice both to the same sample)")
    if x.shape != ref.shape:
        raise ValueError(f"{name} must have the same shape as mem: got [T, N] = {x.shape} "
                         f"vs {ref.shape}")
    return x


def cur_mem_spk(
    current: ArrayLike,
    mem: ArrayLike,
    spk: ArrayLike,
    *,
    threshold: float | None = 1.0,
    neuron: int = 0,
    sample: int | None = None,
    dt: float = 1.0,
    ylim_current: tuple[float, float] | None = None,
    ylim_mem: tuple[float, float] | None = None,
    title: str | None = None,
) -> Figure:
    """snnTorch's tutorial figure: input current, membrane potential and output spikes of one
    neuron, stacked over a shared time axis.

    Args:
        current: input current ``[T]``, ``[T, N]`` or ``[T, B, N]``.
        mem: membrane potential, same shape as ``current``.
        spk: output spikes, same shape as ``current``.
        threshold: drawn as a dashed line on the membrane panel (``None``: not drawn).
            Default: 1.0.
        neuron: which neuron of ``[T, N]`` / ``[T, B, N]`` records. Default: 0.
        sample: sample of ``[T, B, N]`` records. Default: 0.
        dt: time per step (> 0). Default: 1.
        ylim_current, ylim_mem: optional y limits of the first two panels.
        title: figure title.

    Returns:
        The Figure with three axes (current, membrane, spikes).

    Example::

        lif = snn.Leaky(beta=0.8)
        cur = torch.cat([torch.zeros(10), torch.full((90,), 0.25)])
        spk, states = lif.trace(cur)
        snn_viz.cur_mem_spk(cur, states.mem, spk, threshold=1.0, title="Leaky, step input")
    """
    dt = check_positive(dt, "dt")
    u = _series(mem, "mem", sample)
    i = _same_shape(_series(current, "current", sample), u, "current", current, mem)
    s = _same_shape(_series(spk, "spk", sample), u, "spk", spk, mem)
    n = check_int(neuron, "neuron", 0, u.shape[1])
    import matplotlib.pyplot as plt

    fig, (ax_i, ax_u, ax_s) = plt.subplots(
        3, 1, sharex=True, figsize=(8.0, 6.0), layout="constrained",
        gridspec_kw={"height_ratios": [1, 1, 0.4]},
    )
    t = np.arange(u.shape[0]) * dt
    ax_i.plot(t, i[:, n], color="tab:orange", label="input current")
    ax_i.set_ylabel("input current")
    if ylim_current is not None:
        ax_i.set_ylim(*ylim_current)
    ax_u.plot(t, u[:, n], color="tab:blue", label="membrane")
    if threshold is not None:
        ax_u.axhline(_scalar(threshold, "threshold"), color="tab:red", ls="--",
                     label="threshold")
    ax_u.set_ylabel("membrane potential")
    if ylim_mem is not None:
        ax_u.set_ylim(*ylim_mem)
    times = t[s[:, n] != 0]
    ax_s.vlines(times, 0, 1, colors="black", lw=1.5, label="spike")
    ax_s.set_ylim(0, 1)
    ax_s.set_yticks([])
    ax_s.set_ylabel("output spikes")
    ax_s.set_xlabel("time step" if dt == 1.0 else "time")
    ax_s.set_xlim(t[0] - 0.5 * dt, t[-1] + 0.5 * dt)
    if title:
        fig.suptitle(title)
    return fig


def neuron_traces(
    neuron: Any,
    x_seq: Any,
    *,
    neurons: int | Sequence[int] | None = None,
    sample: int | None = None,
    show_input: bool = True,
    title: str | None = None,
) -> Figure:
    """Run ``neuron.trace(x_seq)`` and plot the input, every state field and the spikes.

    Works for any snncore neuron: the state fields (``mem``, ``syn``, ...) come from the
    neuron's state NamedTuple (fields not shaped like the spikes are not traces and are left
    out); the threshold line from ``neuron.threshold``.

    Args:
        neuron: an snncore neuron (anything with ``trace(x_seq) -> (spikes, states)``).
        x_seq: input ``[T, N]`` or ``[T, B, N]`` (torch tensor).
        neurons: neuron indices to plot. Default: the first 8.
        sample: sample of a ``[T, B, N]`` input. Default: 0.
        show_input: also draw the input. Default: True.
        title: figure title. Default: the neuron's class name.

    Returns:
        The Figure (one row per plotted neuron).

    Example::

        snn_viz.neuron_traces(snn.create("leaky", beta=0.9), torch.rand(50, 1, 4), neurons=[0, 1])
    """
    if not callable(getattr(neuron, "trace", None)):
        raise TypeError(f"neuron must have a trace(x_seq) method (an snncore neuron), "
                        f"got {type(neuron).__name__}")
    import torch

    with torch.no_grad():
        spk, states = neuron.trace(x_seq)
    s = _series(spk, "spikes", sample)
    series: dict[str, np.ndarray] = {}
    if show_input:
        series["input"] = _same_shape(_series(x_seq, "x_seq", sample), s, "x_seq")
    fields = getattr(states, "_fields", None)
    if fields is None:
        raise TypeError("neuron.trace must return (spikes, states) with a NamedTuple of states")
    for field in fields:
        value = getattr(states, field)
        if value is None or getattr(value, "shape", None) != getattr(spk, "shape", None):
            continue  # a field that is not one value per neuron and step (not a trace)
        label = "membrane" if field == "mem" else field
        series[label] = _series(value, field, sample)
    threshold = getattr(neuron, "threshold", None)
    th = None if threshold is None else _thresholds(to_numpy(threshold, "neuron.threshold"),
                                                    s.shape[1])
    idx = select_neurons(neurons, s.shape[1], default_max=DEFAULT_MAX_NEURONS)
    return _grid(series, s, th, idx, 1.0, None, title or type(neuron).__name__)
