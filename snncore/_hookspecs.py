"""Hook specifications: what a snncore plugin may implement.

A plugin is any object or module with functions marked ``@snncore.hookimpl`` whose names are the
hooks below. Installed plugins announce themselves through an entry point in group ``snncore``::

    [project.entry-points.snncore]
    my_plugin = "my_package.plugin"

Each registration hook receives a registry bound to the plugin (so every entry records who
provided it)::

    @snncore.hookimpl
    def snncore_register_neurons(registry):
        registry.register("my_lif", MyLIF)

A function marked ``@hookimpl`` whose name starts with ``snncore_`` but matches no hook here (a
misspelling such as ``snncore_register_neuron``) is reported when the plugin loads. Plugins may
add hooks of their own with :func:`snncore.extend.add_hookspecs` (names not starting with
``snncore_``) and call them with :func:`snncore.extend.call_hook`.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from typing import Any

import pluggy

from ._registry import RegistryView

__all__ = [
    "PROJECT",
    "hookspec",
    "hookimpl",
    "NeuronRegistry",
    "SurrogateRegistry",
    "EncoderRegistry",
    "BackendRegistry",
    "snncore_register_neurons",
    "snncore_register_surrogates",
    "snncore_register_encoders",
    "snncore_register_backends",
    "snncore_add_commands",
]

PROJECT = "snncore"
hookspec = pluggy.HookspecMarker(PROJECT)
hookimpl = pluggy.HookimplMarker(PROJECT)

#: what ``snncore_register_neurons`` receives: register neuron classes (``snncore.Neuron``
#: subclasses, or any ``nn.Module`` factory)
NeuronRegistry = RegistryView[Callable[..., Any]]
#: what ``snncore_register_surrogates`` receives: register ``snncore.Surrogate`` subclasses
SurrogateRegistry = RegistryView[Callable[..., Any]]
#: what ``snncore_register_encoders`` receives: register encoder functions or classes
EncoderRegistry = RegistryView[Callable[..., Any]]
#: what ``snncore_register_backends`` receives: register ``snncore.Backend`` subclasses
BackendRegistry = RegistryView[Callable[..., Any]]


@hookspec
def snncore_register_neurons(registry: NeuronRegistry) -> None:
    """Register neuron classes: ``registry.register("name", NeuronClass)``."""


@hookspec
def snncore_register_surrogates(registry: SurrogateRegistry) -> None:
    """Register surrogate-gradient factories: ``registry.register("name", SurrogateClass)``."""


@hookspec
def snncore_register_encoders(registry: EncoderRegistry) -> None:
    """Register spike encoders (callables or classes): ``registry.register("name", fn)``."""


@hookspec
def snncore_register_backends(registry: BackendRegistry) -> None:
    """Register execution backends: ``registry.register("name", BackendClass)``."""


@hookspec
def snncore_add_commands(subparsers: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    """Add subcommands to the ``snncore`` command line.

    ``subparsers`` is the :mod:`argparse` sub-parser collection of ``snncore``; add a parser and
    set its handler, a function ``(args, out) -> int`` (``out`` is the text stream to write to,
    the return value is the exit status)::

        @snncore.hookimpl
        def snncore_add_commands(subparsers):
            p = subparsers.add_parser("nir", help="NIR graphs")
            p.add_argument("file")
            p.set_defaults(func=lambda args, out: inspect(args.file, out))

    Called only when the command line is built, not on import.
    """
