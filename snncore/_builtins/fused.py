"""The built-in ``fused`` backend (plugin ``snncore.fused``, blockable on its own)."""

from __future__ import annotations

from .._hookspecs import BackendRegistry, hookimpl
from ..backends._fused import FusedBackend

__all__ = ["snncore_register_backends"]


@hookimpl
def snncore_register_backends(registry: BackendRegistry) -> None:
    registry.register("fused", FusedBackend)
