"""The snncore plugin: registers the ``ipu`` backend through the core's hook."""

from __future__ import annotations

from typing import Any

from snncore import extend

__all__ = ["snncore_register_backends"]


@extend.hookimpl
def snncore_register_backends(registry: Any) -> None:
    """Register the ``ipu`` backend (importing this never imports poptorch)."""
    from ._backend import IPUBackend

    registry.register("ipu", IPUBackend)
