"""Surrogate-gradient shapes: the Heaviside forward and the derivative backward uses."""

from __future__ import annotations

import numbers
from collections.abc import Sequence
from typing import Any

import numpy as np
from matplotlib.figure import Figure

from ._data import check_int, new_axes

__all__ = ["surrogate_shape", "resolve_surrogate"]


def resolve_surrogate(surrogate: Any, **params: Any) -> Any:
    """A surrogate object from a registered name (``snncore.surrogate(name, **params)``) or an
    existing surrogate object (``params`` must then be empty)."""
    import snncore

    if isinstance(surrogate, str):
        return snncore.surrogate(surrogate, **params)
    if isinstance(surrogate, snncore.Surrogate) or callable(getattr(surrogate, "derivative", None)):
        if params:
            raise TypeError(f"surrogate parameters {sorted(params)} can only be given with a "
                            f"surrogate name, not with the object {surrogate!r}")
        return surrogate
    raise TypeError(f"surrogate must be a registered surrogate name (str) or a surrogate object "
                    f"with a derivative(x) method, got {type(surrogate).__name__}")


def surrogate_shape(
    surrogate: Any,
    *,
    x_range: tuple[float, float] = (-2.0, 2.0),
    points: int = 401,
    show_integral: bool = False,
    ax: Any = None,
    title: str | None = None,
    **params: Any,
) -> Figure:
    """Plot a surrogate gradient: forward step ``H(x)`` and ``derivative(x)``, ``x = U − θ``.

    Args:
        surrogate: a registered surrogate name (any plugin's, e.g. ``"atan"``,
            ``"fast_sigmoid"``, ``"plugin:name"``), a surrogate object, or a sequence of
            those to compare several derivatives on one axes.
        x_range: ``(low, high)`` of ``x`` with ``low < high``. Default: ``(-2, 2)``.
        points: number of sample points (>= 2). Default: 401.
        show_integral: also draw the running integral of the derivative from ``low``: the
            smooth function whose gradient backward uses in place of ``H``. Default: False.
        ax: axes to draw into. Default: a new figure.
        title: axes title. Default: the surrogate (and its parameters).
        **params: surrogate parameters, e.g. ``alpha=2`` (only with a single name).

    Returns:
        The Figure. The line labelled ``"H(x)"`` is the forward step; each surrogate's
        derivative is a line labelled with the surrogate's repr, e.g. ``"ATan(alpha=2.0)"``.

    Raises:
        snncore.UnknownNameError: for an unregistered name (with close matches / install hint).

    Example::

        snn_viz.surrogate_shape("atan", alpha=4.0)
        snn_viz.surrogate_shape(["atan", "fast_sigmoid", "triangular"], show_integral=True)
    """
    import torch

    import snncore

    names = list(surrogate) if isinstance(surrogate, (list, tuple)) else [surrogate]
    if not names:
        raise ValueError("surrogate: pass at least one surrogate name or object")
    if params and len(names) > 1:
        raise TypeError("surrogate parameters can only be given with a single surrogate name")
    objs = [resolve_surrogate(s, **params) for s in names]
    if (not isinstance(x_range, Sequence) or len(x_range) != 2
            or not all(isinstance(v, numbers.Real) and not isinstance(v, bool)
                    and np.isfinite(float(v)) for v in x_range)
            or not x_range[0] < x_range[1]):
        raise ValueError(f"x_range must be (low, high) finite numbers with low < high, "
                         f"got {x_range!r}")
    points = check_int(points, "points", 2)
    x = torch.linspace(float(x_range[0]), float(x_range[1]), points, dtype=torch.float64)
    fig, ax = new_axes(ax, figsize=(6.0, 4.0))
    xs = x.numpy()
    ax.plot(xs, snncore.heaviside(x).numpy(), color="black", lw=1.5, label="H(x)")
    for k, obj in enumerate(objs):
        with torch.no_grad():
            d = obj.derivative(x)
        if not isinstance(d, torch.Tensor) or d.shape != x.shape:
            raise ValueError(f"{obj!r}.derivative(x) must return a tensor shaped like x "
                             f"{tuple(x.shape)}, got {getattr(d, 'shape', type(d).__name__)}")
        dy = d.detach().to(torch.float64).numpy()
        color = f"C{k}"
        ax.plot(xs, dy, color=color, lw=2.0, label=repr(obj))
        if show_integral:
            integral = np.concatenate([[0.0], np.cumsum((dy[1:] + dy[:-1]) / 2 * np.diff(xs))])
            ax.plot(xs, integral, color=color, lw=1.2, ls=":", label=f"∫ {repr(obj)}")
    ax.axvline(0.0, color="grey", lw=0.6)
    ax.set_xlabel("x = U − θ")
    ax.set_ylabel("value")
    ax.legend(fontsize="small")
    if title is None:
        title = f"Surrogate gradient: {objs[0]!r}" if len(objs) == 1 else "Surrogate gradients"
    if title:
        ax.set_title(title, fontsize="medium")
    return fig
