"""Built-in neurons (plugin ``snncore.neurons``)."""

from __future__ import annotations

from .._hookspecs import NeuronRegistry, hookimpl
from .._leaky import Leaky

__all__ = ["snncore_register_neurons"]


@hookimpl
def snncore_register_neurons(registry: NeuronRegistry) -> None:
    registry.register("leaky", Leaky)
