"""The built-in ``triton`` backend (plugin ``snncore.triton``, blockable on its own)."""

from __future__ import annotations

from .._hookspecs import BackendRegistry, hookimpl
from ..backends._triton import TritonBackend

__all__ = ["snncore_register_backends"]


@hookimpl
def snncore_register_backends(registry: BackendRegistry) -> None:
    registry.register("triton", TritonBackend)
