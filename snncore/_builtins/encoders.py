"""Built-in spike encoders (plugin ``snncore.encoders``)."""

from __future__ import annotations

from .._encoders import BUILTIN_ENCODERS
from .._hookspecs import EncoderRegistry, hookimpl

__all__ = ["snncore_register_encoders"]


@hookimpl
def snncore_register_encoders(registry: EncoderRegistry) -> None:
    for name, cls in BUILTIN_ENCODERS.items():
        registry.register(name, cls)
