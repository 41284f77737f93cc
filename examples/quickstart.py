"""Quick start: rate-code data, run a spiking network over the whole sequence, train one step.

Run: python examples/quickstart.py
"""

from __future__ import annotations

import torch
from torch import nn

import snncore as snn


def main() -> None:
    torch.manual_seed(0)
    gen = torch.Generator().manual_seed(0)
    images = torch.rand(32, 64)  # a batch of 32 "images" of 64 pixels in [0, 1]
    labels = torch.randint(0, 10, (32,), generator=gen)
    spikes_in = snn.encoders.rate(images, num_steps=25, generator=gen)  # [T=25, B=32, 64]

    net = snn.Sequential(
        nn.Linear(64, 128), snn.Leaky(beta=0.9),       # Linear runs once over all T·B rows
        nn.Linear(128, 10), snn.Leaky(beta=0.9),       # neurons run the whole sequence at once
    )
    opt = torch.optim.Adam(net.parameters(), lr=1e-2)
    loss_fn = snn.losses.CERateLoss()

    for step in range(5):
        spk_out, _ = net(spikes_in)                    # [25, 32, 10]
        loss = loss_fn(spk_out, labels)
        opt.zero_grad()
        loss.backward()
        opt.step()
        acc = snn.metrics.accuracy_rate(spk_out, labels)
        print(f"step {step}: loss {loss.item():.4f}, batch accuracy {float(acc) * 100:.1f}%")
    print(f"output spikes per sample: {spk_out.sum(0).mean().item():.1f}")


if __name__ == "__main__":
    main()
