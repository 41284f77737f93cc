"""Hook specifications: what a snncore plugin may implement.

A plugin is any object or module with functions marked ``@snncore.hookimpl`` whose names are the
hooks below. Installed plugins announce themselves through an entry point in group ``snncore``::

    [project.entry-points.snncore]
    my_plugin = "my_package.plugin"

Each hook receives a registry bound to the plugin (so every entry records who provided it)::

    @snncore.hookimpl
    def snncore_register_neurons(registry):
        registry.register("my_lif", MyLIF)
"""

from __future__ import annotations

from typing import Any

import pluggy

__all__ = [
    "PROJECT",
    "hookspec",
    "hookimpl",
    "snncore_register_neurons",
    "snncore_register_surrogates",
    "snncore_register_encoders",
    "snncore_register_backends",
]

PROJECT = "snncore"
hookspec = pluggy.HookspecMarker(PROJECT)
hookimpl = pluggy.HookimplMarker(PROJECT)


@hookspec
def snncore_register_neurons(registry: Any) -> None:
    """Register neuron classes: ``registry.register("name", NeuronClass)``."""


@hookspec
def snncore_register_surrogates(registry: Any) -> None:
    """Register surrogate-gradient factories: ``registry.register("name", SurrogateClass)``."""


@hookspec
def snncore_register_encoders(registry: Any) -> None:
    """Register spike encoders (callables or classes): ``registry.register("name", fn)``."""


@hookspec
def snncore_register_backends(registry: Any) -> None:
    """Register execution backends: ``registry.register("name", BackendClass)``."""
