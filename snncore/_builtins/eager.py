"""The built-in ``eager`` backend (plugin ``snncore.eager``, blockable on its own)."""

from __future__ import annotations

from .._hookspecs import BackendRegistry, hookimpl
from ..backends._eager import EagerBackend

__all__ = ["snncore_register_backends"]


@hookimpl
def snncore_register_backends(registry: BackendRegistry) -> None:
    registry.register("eager", EagerBackend)
