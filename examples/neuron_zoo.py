"""Every neuron family from the neuron registry, driven by the same input current.

Needs the neuron plugin: pip install "snncore[neurons-extra]".
Run: python examples/neuron_zoo.py
"""

from __future__ import annotations

import torch

import snncore as snn

# name -> constructor arguments and a constant drive suited to the model's units
ZOO = {
    "leaky": (dict(beta=0.9), 0.3),
    "synaptic": (dict(alpha=0.8, beta=0.9), 0.1),
    "alpha": (dict(alpha=0.9, beta=0.8), 0.5),
    "lapicque": (dict(beta=0.9), 1.5),
    "if": (dict(), 0.3),
    "alif": (dict(beta=0.9), 0.3),
    "izhikevich": (dict(parameter_set="regular_spiking"), 10.0),
    "adex": (dict(), 1000.0),  # pA
}


def main() -> None:
    torch.manual_seed(0)
    steps = 200
    print(f"{'neuron':<12} {'provider':<40} spikes in {steps} steps")
    for name, (kwargs, drive) in ZOO.items():
        neuron = snn.create(name, **kwargs)
        x = torch.full((steps, 1, 1), drive)
        spk, _ = neuron.run(x)
        entry = snn.registries()["neuron"].get(name)
        print(f"{name:<12} {entry.provider():<40} {int(spk.sum())}")


if __name__ == "__main__":
    main()
