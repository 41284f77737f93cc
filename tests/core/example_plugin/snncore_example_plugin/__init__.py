"""A third-party snncore plugin, as a user would write one.

It provides the neuron ``"example_if"`` (integrate-and-fire, subtract reset) and the surrogate
``"example_boxcar"``, announced through the entry point group ``snncore``.
"""

from __future__ import annotations

from typing import Any, NamedTuple

import torch
from torch import Tensor

import snncore

__all__ = ["ExampleIF", "ExampleIFState", "Boxcar"]


class ExampleIFState(NamedTuple):
    mem: Tensor


class ExampleIF(snncore.Neuron):
    r"""Integrate-and-fire: :math:`U_t = U_{t-1} + X_t - R_t\theta`, :math:`S_t = H(U_t-\theta)`."""

    State = ExampleIFState

    def __init__(self, threshold: float = 1.0, **kwargs: Any) -> None:
        super().__init__(threshold=threshold, **kwargs)

    def step(self, x: Tensor, state: ExampleIFState) -> tuple[Tensor, ExampleIFState]:
        thr = self.param("threshold", x)
        mem = self.integrate(torch.ones((), dtype=x.dtype), state.mem, x, thr)
        spk, mem = self.fire_and_reset(mem, thr)
        return spk, ExampleIFState(mem)


class Boxcar(snncore.Surrogate):
    """Boxcar surrogate: ``1/(2w)`` for ``|x| < w``, else 0."""

    name = "example_boxcar"

    def __init__(self, width: float = 0.5) -> None:
        self.width = float(width)

    def derivative(self, x: Tensor) -> Tensor:
        return (x.abs() < self.width).to(x.dtype) / (2 * self.width)

    def params(self) -> dict[str, float]:
        return {"width": self.width}


@snncore.hookimpl
def snncore_register_neurons(registry: Any) -> None:
    registry.register("example_if", ExampleIF)


@snncore.hookimpl
def snncore_register_surrogates(registry: Any) -> None:
    registry.register("example_boxcar", Boxcar)
