"""The built-in ``generic`` backend (plugin ``snncore.generic``, blockable on its own)."""

from __future__ import annotations

from .._hookspecs import BackendRegistry, hookimpl
from ..backends._generic import GenericBackend

__all__ = ["snncore_register_backends"]


@hookimpl
def snncore_register_backends(registry: BackendRegistry) -> None:
    registry.register("generic", GenericBackend)
