"""Dataset helpers for torchvision-style datasets (objects with ``.data`` and ``.targets``)."""

from __future__ import annotations

from typing import Any

import numpy as np

__all__ = ["data_subset", "valid_split"]


def _check_dataset(ds: Any, name: str, fn: str) -> None:
    if not (hasattr(ds, "data") and hasattr(ds, "targets")):
        raise TypeError(f"{fn}: {name} must have .data and .targets (a torchvision-style "
                        f"dataset such as MNIST), got {type(ds).__name__}")
    if len(ds.data) != len(ds.targets):
        raise ValueError(f"{fn}: {name}.data has {len(ds.data)} entries but .targets has "
                         f"{len(ds.targets)}")


def data_subset(dataset: Any, subset: int, idx: int = 0) -> Any:
    """Keep the ``idx``-th of ``subset`` equal contiguous parts of a dataset, in place.

    ``dataset.data`` and ``dataset.targets`` are cut to entries
    ``[idx·⌊N/subset⌋, (idx+1)·⌊N/subset⌋)``; ``subset=1`` keeps everything. Returns the
    dataset (for chaining).

    Args:
        dataset: an object with ``.data`` and ``.targets`` (e.g. ``torchvision.datasets.MNIST``).
        subset: number of parts (int >= 1).
        idx: which part to keep, in ``[0, subset)``. Default: 0.

    Example::

        >>> train = snn.data.data_subset(train, 10)     # a tenth of the training set
    """
    _check_dataset(dataset, "dataset", "data_subset")
    if isinstance(subset, bool) or not isinstance(subset, int) or subset < 1:
        raise ValueError(f"data_subset: subset must be an int >= 1, got {subset!r}")
    if isinstance(idx, bool) or not isinstance(idx, int) or not 0 <= idx < subset:
        raise ValueError(f"data_subset: idx must be an int in [0, {subset}), got {idx!r}")
    if subset > 1:
        step = len(dataset.data) // subset
        keep = np.arange(step * idx, step * (idx + 1))
        dataset.data = dataset.data[keep]
        dataset.targets = dataset.targets[keep]
    return dataset


def valid_split(ds_train: Any, ds_val: Any, split: float, seed: int = 0) -> tuple[Any, Any]:
    """Move a random fraction ``split`` of a training set into a validation set, in place.

    The training entries are ``numpy.random.default_rng(seed).choice(N, N − ⌊N·split⌋,
    replace=False)`` (in that order); the others, in their original order, become ``ds_val``'s
    ``.data`` and ``.targets``. Returns ``(ds_train, ds_val)``.

    Args:
        ds_train: the dataset to split (``.data``, ``.targets``).
        ds_val: a dataset object whose ``.data`` and ``.targets`` are replaced (e.g. a second
            copy of the training set).
        split: validation fraction in [0, 1).
        seed: seed of the split. Default: 0.
    """
    _check_dataset(ds_train, "ds_train", "valid_split")
    if ds_val is None or not hasattr(ds_val, "__dict__"):
        raise TypeError("valid_split: ds_val must be a dataset object whose .data and .targets "
                        f"are replaced, got {type(ds_val).__name__}")
    if isinstance(split, bool) or not isinstance(split, (int, float)) or not 0 <= split < 1:
        raise ValueError(f"valid_split: split must be a fraction in [0, 1), got {split!r}")
    n = len(ds_train.data)
    train_idx = np.random.default_rng(seed=seed).choice(n, size=n - int(n * split),
                                                         replace=False)
    mask = np.ones(n, dtype=bool)
    mask[train_idx] = False
    val_idx = np.flatnonzero(mask)
    data, targets = ds_train.data, ds_train.targets
    ds_val.data, ds_val.targets = data[val_idx], targets[val_idx]
    ds_train.data, ds_train.targets = data[train_idx], targets[train_idx]
    return ds_train, ds_val
