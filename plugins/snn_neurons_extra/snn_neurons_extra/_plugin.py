"""The snncore plugin: registers this package's neurons and layers through the core's hook."""

from __future__ import annotations

from typing import Any

import snncore

__all__ = ["snncore_register_neurons", "NEURONS"]


def _neurons() -> dict[str, Any]:
    from . import _associative, _layers, _lstm, _models, _parallel, _recurrent, _synaptic

    return {
        "synaptic": _synaptic.Synaptic,
        "alpha": _synaptic.Alpha,
        "lapicque": _synaptic.Lapicque,
        "rleaky": _recurrent.RLeaky,
        "rsynaptic": _recurrent.RSynaptic,
        "slstm": _lstm.SLSTM,
        "sconv2dlstm": _lstm.SConv2dLSTM,
        "leaky_parallel": _parallel.LeakyParallel,
        "state_leaky": _parallel.StateLeaky,
        "linear_leaky": _parallel.LinearLeaky,
        "delta_leaky": _parallel.DeltaLeaky,
        "associative_leaky": _associative.AssociativeLeaky,
        "if": _models.IF,
        "li": _models.LI,
        "alif": _models.ALIF,
        "izhikevich": _models.Izhikevich,
        "adex": _models.AdEx,
        "batchnorm_tt": _layers.BatchNormTT,
        "graded_spikes": _layers.GradedSpikes,
    }


#: registry name -> class, filled on first use
NEURONS: dict[str, Any] = {}


@snncore.hookimpl
def snncore_register_neurons(registry: Any) -> None:
    """Register every neuron and layer of snn-neurons-extra."""
    if not NEURONS:
        NEURONS.update(_neurons())
    for name, cls in NEURONS.items():
        registry.register(name, cls)
