"""One-call training dashboard (loss / accuracy curves and the last raster) and demo plots."""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

from ._data import ArrayLike
from ._raster import raster
from ._save import save

__all__ = ["training_dashboard", "history_columns", "save_demo_plots"]


def history_columns(history: Any) -> dict[str, np.ndarray]:
    """``{key: values}`` from a list of per-epoch dicts or a dict of per-epoch lists."""
    if isinstance(history, Mapping):
        bad = [k for k, v in history.items() if isinstance(v, (str, bytes)) or not isinstance(
            v, (Sequence, np.ndarray)) and not hasattr(v, "tolist")]
        if bad:
            raise TypeError(f"history: a dict of per-epoch lists needs a list of values for every "
                            f"key; {bad[0]!r} is a {type(history[bad[0]]).__name__} (pass "
                            "[value] for one epoch, or a list of per-epoch dicts)")
        cols = {str(k): list(v) for k, v in history.items()}
    elif isinstance(history, Sequence) and not isinstance(history, (str, bytes)):
        if not history:
            raise ValueError("history is empty: no epoch recorded")
        for i, row in enumerate(history):
            if not isinstance(row, Mapping):
                raise TypeError(f"history[{i}] must be a dict of metrics, got "
                                f"{type(row).__name__}")
        keys = list(dict.fromkeys(k for row in history for k in row))
        missing = [(i, k) for i, row in enumerate(history) for k in keys if k not in row]
        if missing:
            i, k = missing[0]
            raise ValueError(f"history[{i}] has no {k!r}; every epoch must record the same keys")
        cols = {str(k): [row[k] for row in history] for k in keys}
    else:
        raise TypeError("history must be a list of per-epoch dicts or a dict of lists, got "
                        f"{type(history).__name__}")
    out: dict[str, np.ndarray] = {}
    for k, v in cols.items():
        try:
            out[k] = np.asarray([float(x) for x in v], dtype=np.float64)
        except (TypeError, ValueError) as exc:
            raise TypeError(f"history[{k!r}] must hold numbers") from exc
    lengths = {len(v) for v in out.values()}
    if len(lengths) > 1:
        raise ValueError(f"history columns differ in length: "
                         f"{ {k: len(v) for k, v in out.items()} }")
    if not out or lengths == {0}:
        raise ValueError("history is empty: no epoch recorded")
    return out


def training_dashboard(
    history: Any,
    spk: ArrayLike | None = None,
    *,
    sample: int | None = None,
    title: str | None = "Training",
    raster_title: str = "Spike raster (last epoch)",
) -> Figure:
    """Loss curves, accuracy curves and (optionally) the last spike raster in one figure.

    Args:
        history: per-epoch metrics, e.g. ``[{"epoch": 1, "loss": 0.9, "test_accuracy": 0.7},
            ...]`` (as ``snncore demo`` records), or a dict of lists. Keys containing ``"loss"``
            go to the loss panel, keys containing ``"acc"`` to the accuracy panel; ``"epoch"``
            (if present) is the x axis, else 1, 2, ... NaN values show as gaps.
        spk: optional spike record ``[T, N]`` or ``[T, B, N]`` drawn as a raster.
        sample: sample of a ``[T, B, N]`` record. Default: 0.
        title: figure title.
        raster_title: title of the raster panel.

    Returns:
        The Figure: axes 0 = loss, 1 = accuracy (when recorded), last = raster (when given).

    Example::

        history = [{"epoch": 1, "loss": 1.3, "test_accuracy": 0.88},
                   {"epoch": 2, "loss": 0.3, "test_accuracy": 0.95}]
        snn_viz.save(snn_viz.training_dashboard(history, hidden_spk), "training.png")
    """
    cols = history_columns(history)
    epochs = cols.pop("epoch", None)
    losses = {k: v for k, v in cols.items() if "loss" in k.lower()}
    accs = {k: v for k, v in cols.items() if "acc" in k.lower() and k not in losses}
    if not losses and not accs:
        raise ValueError(f"history must record a loss or an accuracy (keys containing 'loss' or "
                         f"'acc'), got keys {sorted(cols)}")
    n = len(next(iter(cols.values())))
    x = epochs if epochs is not None else np.arange(1, n + 1, dtype=np.float64)
    panels = [p for p in (losses, accs) if p]
    import matplotlib.pyplot as plt

    ncols = len(panels) + (spk is not None)
    widths = [1.0] * len(panels) + ([1.4] if spk is not None else [])
    fig, axs = plt.subplots(1, ncols, figsize=(4.2 * ncols, 3.8), layout="constrained",
                            squeeze=False, gridspec_kw={"width_ratios": widths})
    for ax, panel in zip(axs[0], panels, strict=False):
        is_acc = panel is accs
        for k, v in panel.items():
            ax.plot(x, v, marker="o", ms=3, label=k.replace("_", " "))
        ax.set_xlabel("epoch")
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.set_ylabel("accuracy" if is_acc else "loss")
        if is_acc:
            finite = np.concatenate([v[np.isfinite(v)] for v in panel.values()])
            if finite.size and finite.min() >= 0 and finite.max() <= 1:
                ax.set_ylim(0, 1.02)
            last = {k: v[-1] for k, v in panel.items()}
            ax.set_title("accuracy (last: " + ", ".join(f"{v:.3f}" for v in last.values()) + ")",
                         fontsize="medium")
        else:
            ax.set_title("loss", fontsize="medium")
        ax.grid(alpha=0.3)
        ax.legend(fontsize="small")
    if spk is not None:
        raster(spk, sample=sample, ax=axs[0, -1], title=raster_title, marker_size=8.0)
    if title:
        fig.suptitle(title)
    return fig


def save_demo_plots(spk: ArrayLike, history: Sequence[Mapping[str, float]],
                    folder: str | os.PathLike[str]) -> list[Path]:
    """Write ``raster.png`` (the spike raster of ``spk``) and ``training.png`` (the
    :func:`training_dashboard`) into ``folder`` (created if missing); return both paths.

    Args:
        spk: hidden-layer spike record ``[T, N]`` of one sample.
        history: per-epoch dicts with ``"epoch"``, ``"loss"`` and ``"test_accuracy"``.
        folder: output folder.
    """
    import matplotlib.pyplot as plt

    out = Path(folder)
    out.mkdir(parents=True, exist_ok=True)
    paths = []
    fig = raster(spk, title="Hidden-layer spikes of one test sample")
    try:
        paths.append(save(fig, out / "raster.png", dpi=120))
    finally:
        plt.close(fig)
    fig = training_dashboard(history, spk, raster_title="Hidden-layer spikes (trained model)")
    try:
        paths.append(save(fig, out / "training.png", dpi=120))
    finally:
        plt.close(fig)
    return paths
