"""snncore: train spiking neural networks with surrogate gradients on PyTorch.

Quick start::

    import torch
    import snncore as snn

    lif = snn.create("leaky", beta=0.9)       # from the neuron registry
    spk, state = lif.run(torch.rand(25, 8, 100))   # time-first [T, B, N]
"""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError
from importlib.metadata import version as _dist_version
from typing import Any

from . import _api, data, encoders, losses, metrics, plasticity, surrogates, viz
from ._api import (
    backend,
    create,
    encoder,
    plugin_report,
    register_backend,
    register_encoder,
    register_neuron,
    register_plugin,
    register_surrogate,
    registries,
    surrogate,
    unregister_plugin,
)
from ._backends import Backend, use_backend
from ._checkpoint import load_checkpoint, save_checkpoint
from ._errors import (
    AmbiguousNameError,
    BackendError,
    BackendFallbackWarning,
    BackendUnavailableError,
    DuplicateNameError,
    NativeBuildWarning,
    SnncoreError,
    UnknownNameError,
)
from ._hookspecs import hookimpl, hookspec
from ._leaky import Leaky, LeakyState
from ._monitor import Monitor
from ._neuron import Neuron, detach, neurons_of, reset
from ._plugins import PluginWarning
from ._quant import StateQuant, state_quant
from ._sequential import Sequential
from ._surrogate import Surrogate, heaviside, spike
from ._training import bptt, fit, truncated_bptt
from .backends._eager import EagerBackend

try:  # the one version number lives in the repository's VERSION file
    __version__ = _dist_version("snncore")
except PackageNotFoundError:  # pragma: no cover - a checkout that is not installed
    __version__ = "0+unknown"
del PackageNotFoundError, _dist_version


def __getattr__(name: str) -> Any:
    """``snncore.<ClassName>`` for the classes of plugin neurons (``snncore.Synaptic`` with
    snn-neurons-extra installed); otherwise an AttributeError naming the plugin to install."""
    if name.startswith("_") or not name[:1].isupper():
        raise AttributeError(f"module 'snncore' has no attribute {name!r}")
    found = _api.plugin_class(name)
    if found is not None:
        return found
    hint = _api.plugin_class_hint(name)
    raise AttributeError(f"module 'snncore' has no attribute {name!r}"
                         + (f"; {hint}" if hint else ""))


__all__ = [
    "__version__",
    # registries and plugins
    "create",
    "surrogate",
    "encoder",
    "backend",
    "registries",
    "register_neuron",
    "register_surrogate",
    "register_encoder",
    "register_backend",
    "register_plugin",
    "unregister_plugin",
    "plugin_report",
    "hookimpl",
    "hookspec",
    "PluginWarning",
    # errors
    "SnncoreError",
    "UnknownNameError",
    "DuplicateNameError",
    "AmbiguousNameError",
    "BackendUnavailableError",
    "BackendError",
    "BackendFallbackWarning",
    "NativeBuildWarning",
    # neurons
    "Neuron",
    "Leaky",
    "LeakyState",
    "reset",
    "detach",
    "neurons_of",
    # surrogates
    "Surrogate",
    "surrogates",
    "viz",
    "spike",
    "heaviside",
    # data, encoders, losses, metrics, monitors, training
    "data",
    "encoders",
    "losses",
    "metrics",
    "plasticity",
    "Monitor",
    "state_quant",
    "StateQuant",
    "fit",
    "bptt",
    "truncated_bptt",
    "save_checkpoint",
    "load_checkpoint",
    # backends
    "Backend",
    "EagerBackend",
    "use_backend",
    # networks
    "Sequential",
]
