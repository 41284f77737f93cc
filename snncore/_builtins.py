"""snncore's own built-ins, registered through the same hooks as any third-party plugin."""

from __future__ import annotations

from typing import Any

from ._hookspecs import hookimpl

__all__ = [
    "snncore_register_neurons",
    "snncore_register_surrogates",
    "snncore_register_encoders",
    "snncore_register_backends",
]


@hookimpl
def snncore_register_neurons(registry: Any) -> None:
    from ._leaky import Leaky

    registry.register("leaky", Leaky)


@hookimpl
def snncore_register_surrogates(registry: Any) -> None:
    from ._surrogate import BUILTIN_SURROGATES

    for cls in BUILTIN_SURROGATES:
        registry.register(cls.name, cls)


@hookimpl
def snncore_register_encoders(registry: Any) -> None:
    from ._encoders import BUILTIN_ENCODERS

    for name, cls in BUILTIN_ENCODERS.items():
        registry.register(name, cls)


@hookimpl
def snncore_register_backends(registry: Any) -> None:
    from ._backends import EagerBackend
    from ._fused import FusedBackend
    from ._generic import GenericBackend
    from ._triton import TritonBackend

    registry.register("eager", EagerBackend)
    registry.register("fused", FusedBackend)
    registry.register("generic", GenericBackend)
    registry.register("triton", TritonBackend)
