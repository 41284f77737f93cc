"""Input handling shared by every plot: tensors or arrays in, validated NumPy arrays out."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

__all__ = [
    "ArrayLike",
    "to_numpy",
    "spike_matrix",
    "select_neurons",
    "check_int",
    "new_axes",
]

#: Anything :func:`to_numpy` accepts: a ``torch.Tensor``, a NumPy array or a nested sequence.
ArrayLike = Any


def to_numpy(x: ArrayLike, name: str) -> np.ndarray:
    """``x`` as a float64 NumPy array (torch tensors are detached and moved to the CPU)."""
    if hasattr(x, "detach") and hasattr(x, "cpu"):  # torch.Tensor without importing torch
        x = x.detach().cpu()
        if x.is_complex():
            raise TypeError(f"{name} must hold real numbers, got a {x.dtype} tensor")
        if x.is_floating_point() and x.dtype.itemsize < 4:  # bfloat16/half: NumPy lacks bf16
            x = x.float()
        x = x.numpy()
    if isinstance(x, (str, bytes)) or x is None:
        raise TypeError(f"{name} must be a torch.Tensor or a NumPy array, got {type(x).__name__}")
    if np.iscomplexobj(x):
        raise TypeError(f"{name} must hold real numbers, got complex values")
    try:
        arr = np.asarray(x, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise TypeError(
            f"{name} must be a torch.Tensor or a NumPy array of numbers, got {type(x).__name__}"
        ) from exc
    if not np.all(np.isfinite(arr)):
        raise ValueError(f"{name} contains NaN or infinite values")
    return arr


def check_positive(value: Any, name: str) -> float:
    """``value`` as a float: a finite real number > 0 (NumPy scalars too, not bools)."""
    import numbers

    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name} must be a number > 0, got {type(value).__name__} {value!r}")
    v = float(value)
    if not (np.isfinite(v) and v > 0):
        raise ValueError(f"{name} must be a finite number > 0, got {value!r}")
    return v


def check_int(value: Any, name: str, low: int, high: int | None = None) -> int:
    """``value`` as an int in ``[low, high)`` (``high=None``: no upper bound), else ValueError."""
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise TypeError(f"{name} must be an int, got {value!r}")
    value = int(value)
    if value < low or (high is not None and value >= high):
        rng = f">= {low}" if high is None else f"in [{low}, {high - 1}]"
        raise ValueError(f"{name} must be {rng}, got {value}")
    return value


def spike_matrix(spk: ArrayLike, name: str = "spk", sample: int | None = None) -> np.ndarray:
    """A ``[T, N]`` record, from ``[T, N]`` or ``[T, B, N]`` (``sample`` picks ``b``; default 0).

    Raises ValueError for any other rank, an empty record, or ``sample`` out of range / given
    for a ``[T, N]`` record.
    """
    arr = to_numpy(spk, name)
    if arr.ndim == 2:
        if sample is not None:
            raise ValueError(
                f"sample={sample!r} was given but {name} has shape {arr.shape}, read as [T, N] "
                "(no batch dimension); pass sample only for a [T, B, N] record"
            )
        out = arr
    elif arr.ndim == 3:
        if arr.shape[1] == 0:
            raise ValueError(f"{name} is empty: shape {arr.shape} has no samples (B = 0)")
        b = check_int(0 if sample is None else sample, "sample", 0, arr.shape[1])
        out = arr[:, b, :]
    else:
        raise ValueError(
            f"{name} must be a time-first record [T, N] or [T, B, N], got shape {arr.shape} "
            f"(rank {arr.ndim}); flatten feature dims first, e.g. spk.flatten(2)"
        )
    if out.shape[0] == 0 or out.shape[1] == 0:
        raise ValueError(f"{name} is empty: shape {arr.shape} (need T >= 1 and N >= 1)")
    return out


def select_neurons(neurons: int | Sequence[int] | None, n: int, name: str = "neurons",
                   default_max: int | None = None) -> list[int]:
    """Validated neuron indices into ``N = n`` (``None``: all, or the first ``default_max``)."""
    if neurons is None:
        return list(range(n if default_max is None else min(n, default_max)))
    if isinstance(neurons, (int, np.integer)) and not isinstance(neurons, bool):
        items: list[Any] = [neurons]
    elif hasattr(neurons, "tolist") and not isinstance(neurons, (list, tuple)):
        items = list(np.asarray(neurons.tolist()).reshape(-1))  # tensors, arrays
    else:
        try:
            items = list(neurons)  # type: ignore[arg-type]
        except TypeError:
            raise TypeError(f"{name} must be an int or a sequence of ints, got "
                            f"{type(neurons).__name__}") from None
    if not items:
        raise ValueError(f"{name} is empty; pass at least one neuron index")
    out = []
    for i in items:
        if isinstance(i, bool) or not isinstance(i, (int, np.integer)):
            raise TypeError(f"{name} must hold ints, got {i!r}")
        if not 0 <= int(i) < n:
            raise ValueError(f"{name}: index {int(i)} is out of range for {n} neurons "
                             f"(valid: 0 to {n - 1})")
        out.append(int(i))
    return out


def new_axes(ax: Any, figsize: tuple[float, float] = (8.0, 4.0)) -> tuple[Any, Any]:
    """``(figure, axes)``: ``ax`` and its figure, or a new pyplot figure with one axes."""
    if ax is not None:
        from matplotlib.axes import Axes

        if not isinstance(ax, Axes):
            raise TypeError(f"ax must be a matplotlib Axes, got {type(ax).__name__}")
        return ax.figure, ax
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=figsize, layout="constrained")
    return fig, ax
