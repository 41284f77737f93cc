"""Built-in surrogate gradients (plugin ``snncore.surrogates``)."""

from __future__ import annotations

from .._hookspecs import SurrogateRegistry, hookimpl
from .._surrogate import BUILTIN_SURROGATES

__all__ = ["snncore_register_surrogates"]


@hookimpl
def snncore_register_surrogates(registry: SurrogateRegistry) -> None:
    for cls in BUILTIN_SURROGATES:
        registry.register(cls.name, cls)
