"""Check a spiking network for the IPU on the CPU, and train it on an IPU when one is there.

Runs everywhere: without Graphcore's Poplar SDK it prints the lint and why the IPU is unavailable.
"""

import torch
from torch import nn

import snn_ipu
import snncore as snn

torch.manual_seed(0)
T, B, F, C = 10, 8, 20, 4
net = snn.Sequential(nn.Linear(F, 32), snn.Leaky(beta=0.9), nn.Linear(32, C), snn.Leaky(beta=0.9))
x = torch.rand(T, B, F)
y = torch.randint(0, C, (B,))
optimizer = torch.optim.Adam(net.parameters(), lr=1e-2)

report = snn_ipu.check_model(net, x, optimizer=optimizer)
print(report)


class Careless(nn.Module):
    """The same network with two things an IPU cannot run."""

    def __init__(self):
        super().__init__()
        self.net = net

    def forward(self, x):
        out, _ = self.net(x)
        if out.sum() > 0:                    # a data-dependent branch
            out = out / out.max().item()     # a host sync
        return out


print(snn_ipu.check_model(Careless(), x))


def loss_fn(out, target):
    return nn.functional.cross_entropy(out.sum(0), target)


ok, why = snn_ipu.available()
if not ok:
    print(f"IPU unavailable: {why}")
else:
    ipu_net = snn_ipu.training_model(net, loss_fn, optimizer)
    for step in range(5):
        out, loss = ipu_net(x, y)
        print(f"step {step}: loss {float(loss):.4f}")
    ipu_net.destroy()
