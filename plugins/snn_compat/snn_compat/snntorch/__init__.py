"""snnTorch 1.0.0's public API on snncore: ``import snn_compat.snntorch as snn``.

The top level holds the neurons and layers (``snn.Leaky``, ``snn.Synaptic``, ...,
``snn.BatchNormTT1d``); the submodules mirror snnTorch's: ``surrogate``, ``spikegen``,
``functional`` (``loss``, ``acc``, ``reg``, ``probe``, ``quant``), ``utils``, ``backprop`` and
``spikeplot`` (``spikeplot`` needs matplotlib and snn-viz and is imported on first use).

Every neuron is an :class:`snncore.Neuron`, so a network of them also runs whole sequences on
the fused backends through :class:`snncore.Sequential`.
"""

from __future__ import annotations

import importlib
from typing import Any

from . import backprop, functional, spikegen, surrogate, utils
from ._layers import BatchNormTT1d, BatchNormTT2d, GradedSpikes
from ._neurons import (
    LIF,
    SLSTM,
    Alpha,
    AssociativeLeaky,
    DeltaLeaky,
    Lapicque,
    Leaky,
    LeakyParallel,
    LinearLeaky,
    RLeaky,
    RSynaptic,
    SConv2dLSTM,
    SpikingNeuron,
    StateLeaky,
    Synaptic,
)

__version__ = "1.0.0"

__all__ = [
    "__version__",
    "SpikingNeuron", "LIF", "Leaky", "Synaptic", "Alpha", "Lapicque", "RLeaky", "RSynaptic",
    "SLSTM", "SConv2dLSTM", "LeakyParallel", "StateLeaky", "LinearLeaky", "DeltaLeaky",
    "AssociativeLeaky", "BatchNormTT1d", "BatchNormTT2d", "GradedSpikes",
    "surrogate", "spikegen", "functional", "utils", "backprop", "spikeplot",
]


def __getattr__(name: str) -> Any:
    if name == "spikeplot":  # matplotlib is imported only when plots are wanted
        module = importlib.import_module(f"{__name__}.spikeplot")
        globals()[name] = module
        return module
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
