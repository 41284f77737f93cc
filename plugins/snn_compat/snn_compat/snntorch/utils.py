"""``snntorch.utils``: ``reset(net)``, ``data_subset``, ``valid_split``.

``reset(net)`` clears the stored state of the neurons in ``net`` only (snnTorch resets every
live instance of each neuron class found in ``net``'s top level), through
:func:`snncore.reset`.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from torch import nn

import snncore

__all__ = ["reset", "data_subset", "valid_split"]


def reset(net: nn.Module) -> nn.Module:
    """Clear the stored hidden state of every neuron in ``net``'s module tree."""
    return snncore.reset(net)


def _check_dataset(ds: Any, name: str, fn: str) -> None:
    if not (hasattr(ds, "data") and hasattr(ds, "targets")):
        raise TypeError(f"{fn}: {name} must have .data and .targets (a torchvision-style "
                        f"dataset), got {type(ds).__name__}")


def data_subset(dataset: Any, subset: int, idx: int = 0) -> Any:
    """Keep the ``idx``-th of ``subset`` equal contiguous parts of ``dataset.data`` and
    ``dataset.targets`` (in place; returns the dataset). ``subset <= 1`` keeps everything."""
    _check_dataset(dataset, "dataset", "data_subset")
    if isinstance(subset, bool) or not isinstance(subset, int) or subset < 1:
        raise ValueError(f"data_subset: subset must be an int >= 1, got {subset!r}")
    if subset > 1:
        n = len(dataset.data)
        step = n // subset
        if isinstance(idx, bool) or not isinstance(idx, int) or not 0 <= idx < subset:
            raise ValueError(f"data_subset: idx must be an int in [0, {subset}), got {idx!r}")
        keep = np.arange(n, dtype="int")[step * idx: step * (idx + 1)]
        dataset.data = dataset.data[keep]
        dataset.targets = dataset.targets[keep]
    return dataset


def valid_split(ds_train: Any, ds_val: Any, split: float, seed: int = 0) -> tuple[Any, Any]:
    """Move a random fraction ``split`` of ``ds_train`` into ``ds_val`` (both in place).

    The training indices are ``numpy.random.default_rng(seed).choice(n, n − int(n·split),
    replace=False)`` (the same split as snnTorch for one seed); the rest, in order, become the
    validation set. Returns ``(ds_train, ds_val)``.
    """
    _check_dataset(ds_train, "ds_train", "valid_split")
    if ds_val is None or not hasattr(ds_val, "__dict__"):
        raise TypeError("valid_split: ds_val must be a dataset object whose .data and "
                        f".targets are replaced, got {type(ds_val).__name__}")
    if isinstance(split, bool) or not isinstance(split, (int, float)) or not 0 <= split < 1:
        raise ValueError(f"valid_split: split must be a fraction in [0, 1), got {split!r}")
    n = len(ds_train)
    n_train = n - int(n * split)
    train_idx = np.random.default_rng(seed=seed).choice(n, size=n_train, replace=False)
    mask = np.ones(n, dtype=bool)
    mask[train_idx] = False
    val_idx = np.flatnonzero(mask)
    data, targets = ds_train.data, ds_train.targets
    ds_val.data, ds_val.targets = data[val_idx], targets[val_idx]
    ds_train.data, ds_train.targets = data[train_idx], targets[train_idx]
    return ds_train, ds_val
