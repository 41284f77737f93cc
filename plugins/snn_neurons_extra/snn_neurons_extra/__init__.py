"""snn-neurons-extra: more neuron models for snncore.

Installing this distribution registers its models with snncore (entry point group ``snncore``),
so ``snncore.create("synaptic", alpha=0.8, beta=0.9)`` works; the classes can also be imported
from here directly.
"""

from __future__ import annotations

from ._lstm import SLSTM, SConv2dLSTM, SConv2dLSTMState, SLSTMState
from ._parallel import (
    DeltaLeaky,
    DeltaLeakyState,
    LeakyParallel,
    LeakyParallelState,
    LinearLeaky,
    StateLeaky,
    StateLeakyState,
)
from ._recurrent import RLeaky, RLeakyState, RSynaptic, RSynapticState
from ._synaptic import Alpha, AlphaState, Lapicque, LapicqueState, Synaptic, SynapticState

__all__ = [
    "Synaptic",
    "SynapticState",
    "Alpha",
    "AlphaState",
    "Lapicque",
    "LapicqueState",
    "RLeaky",
    "RLeakyState",
    "RSynaptic",
    "RSynapticState",
    "SLSTM",
    "SLSTMState",
    "SConv2dLSTM",
    "SConv2dLSTMState",
    "LeakyParallel",
    "LeakyParallelState",
    "StateLeaky",
    "StateLeakyState",
    "LinearLeaky",
    "DeltaLeaky",
    "DeltaLeakyState",
]

__version__ = "0.1.0"
