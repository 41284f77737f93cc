"""``snntorch.utils``: ``reset(net)``, ``data_subset``, ``valid_split``.

``reset(net)`` clears the stored state of the neurons in ``net`` only (snnTorch resets every
live instance of each neuron class found in ``net``'s top level), through
:func:`snncore.reset`. ``data_subset`` and ``valid_split`` are :mod:`snncore.data`'s.
"""

from __future__ import annotations

from torch import nn

import snncore
from snncore.data import data_subset, valid_split

__all__ = ["reset", "data_subset", "valid_split"]


def reset(net: nn.Module) -> nn.Module:
    """Clear the stored hidden state of every neuron in ``net``'s module tree."""
    return snncore.reset(net)
