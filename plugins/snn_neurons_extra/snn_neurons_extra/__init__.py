"""snn-neurons-extra: more neuron models for snncore.

Installing this distribution registers its models with snncore (entry point group ``snncore``),
so ``snncore.create("synaptic", alpha=0.8, beta=0.9)`` works; the classes can also be imported
from here directly.
"""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError
from importlib.metadata import version as _dist_version

from ._associative import AssociativeLeaky, AssociativeLeakyState
from ._layers import BatchNormTT, GradedSpikes
from ._lstm import SLSTM, SConv2dLSTM, SConv2dLSTMState, SLSTMState
from ._models import (
    ALIF,
    IF,
    IZHIKEVICH_PARAMETER_SETS,
    LI,
    AdEx,
    AdExState,
    ALIFState,
    IFState,
    Izhikevich,
    IzhikevichState,
    LIState,
)
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
    "AssociativeLeaky",
    "AssociativeLeakyState",
    "IF",
    "IFState",
    "LI",
    "LIState",
    "ALIF",
    "ALIFState",
    "Izhikevich",
    "IzhikevichState",
    "IZHIKEVICH_PARAMETER_SETS",
    "AdEx",
    "AdExState",
    "BatchNormTT",
    "GradedSpikes",
]

try:  # the one version number lives in the repository's VERSION file
    __version__ = _dist_version("snn-neurons-extra")
except PackageNotFoundError:  # pragma: no cover - a checkout that is not installed
    __version__ = "0+unknown"
del PackageNotFoundError, _dist_version
