"""Write a neuron, register it in-process, build it by name and run it like any built-in.

Run: python examples/custom_neuron.py
"""

from __future__ import annotations

from typing import NamedTuple

import torch
from torch import Tensor

import snncore as snn


class RefractoryState(NamedTuple):
    mem: Tensor
    refractory: Tensor  # steps left during which the neuron cannot fire


@snn.register_neuron("refractory_lif")
class RefractoryLIF(snn.Neuron):
    r"""LIF with an absolute refractory period of ``period`` steps.

    .. math::
        U_t = \beta U_{t-1} + X_t - R_t\theta,\quad
        S_t = H(U_t - \theta)\,[\rho_{t-1} = 0],\quad
        \rho_t = \text{period}\cdot S_t + \max(\rho_{t-1} - 1, 0)\,(1 - S_t)
    """

    State = RefractoryState

    def __init__(self, beta: float, period: int = 2, **kwargs) -> None:
        super().__init__(**kwargs)
        self.add_param("beta", beta, False, low=0.0, high=1.0)
        if not isinstance(period, int) or period < 0:
            raise ValueError(f"RefractoryLIF: period must be an int >= 0, got {period!r}")
        self.period = period

    def step(self, x: Tensor, state: RefractoryState) -> tuple[Tensor, RefractoryState]:
        beta, thr = self.param("beta", x), self.param("threshold", x)
        mem = self.integrate(beta, state.mem, x, thr)
        spk, mem = self.fire_and_reset(mem, thr)
        spk = spk * (state.refractory == 0).to(x.dtype)          # silenced while refractory
        fired = (spk > 0).to(x.dtype)
        refractory = self.period * fired + (state.refractory - 1).clamp(min=0) * (1 - fired)
        return spk, RefractoryState(mem, refractory)


def main() -> None:
    torch.manual_seed(0)
    x = torch.full((20, 1, 3), 0.6)
    plain, _ = snn.create("leaky", beta=1.0).run(x)
    refr, state = snn.create("refractory_lif", beta=1.0, period=3).run(x)
    print("leaky spikes:         ", plain[:, 0, 0].int().tolist())
    print("refractory_lif spikes:", refr[:, 0, 0].int().tolist())
    entry = snn.registries()["neuron"].get("refractory_lif")
    print(f"registered as {entry.qualified_name!r}: {entry.description}")
    assert refr.sum() < plain.sum()


if __name__ == "__main__":
    main()
