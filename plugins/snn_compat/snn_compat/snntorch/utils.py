"""``snntorch.utils``: ``reset(net)``, ``data_subset``, ``valid_split``.

``reset(net)`` clears the stored state of the neurons in ``net`` only (snnTorch resets every
live instance of each neuron class found in ``net``'s top level), through
:func:`snncore.reset`. ``data_subset`` and ``valid_split`` are :mod:`snncore.data`'s.
"""

from __future__ import annotations

from typing import Any

from torch import nn

import snncore
from snncore import data as _data

from .._warn import warn_difference

__all__ = ["reset", "data_subset", "valid_split"]


def reset(net: nn.Module) -> nn.Module:
    """Clear the stored hidden state of every neuron in ``net``'s module tree."""
    warn_difference("utils.reset", "resets the neurons inside net only; snnTorch's resets every "
                    "live instance of their classes, in any network", stacklevel=3)
    return snncore.reset(net)


def data_subset(dataset: Any, subset: int, idx: int = 0) -> Any:
    """Keep the ``idx``-th of ``subset`` equal contiguous parts of ``dataset.data`` and
    ``dataset.targets`` (in place; returns the dataset): :func:`snncore.data.data_subset`."""
    return _data.data_subset(dataset, subset, idx)


def valid_split(ds_train: Any, ds_val: Any, split: float, seed: int = 0) -> tuple[Any, Any]:
    """Move a random fraction ``split`` of ``ds_train`` into ``ds_val`` (in place; the same
    split as snnTorch for one seed): :func:`snncore.data.valid_split`."""
    return _data.valid_split(ds_train, ds_val, split, seed)
