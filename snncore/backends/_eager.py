"""The ``eager`` backend: the reference every other backend is tested against."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import torch
from torch import Tensor

from .._backends import Backend

if TYPE_CHECKING:
    from .._neuron import Neuron

__all__ = ["EagerBackend"]


class EagerBackend(Backend):
    """The reference: a Python loop of single steps through autograd. Supports every neuron."""

    name = "eager"
    priority = 0

    def run(self, neuron: Neuron, x_seq: Tensor, state: Any) -> tuple[Tensor, Any]:
        spikes = []
        for x in x_seq.unbind(0):
            spk, state = neuron.step(x, state)
            spikes.append(spk)
        return torch.stack(spikes), state
