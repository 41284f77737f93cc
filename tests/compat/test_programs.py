"""snnTorch programs run unchanged apart from their imports and give the same numbers."""

from __future__ import annotations

import textwrap

import torch
from compat_helpers import GRAD_RTOL, close, quiet

SNNTORCH = """
import snntorch as snn
from snntorch import surrogate
from snntorch import utils
import snntorch.functional as SF
"""

COMPAT = """
import snn_compat.snntorch as snn
from snn_compat.snntorch import surrogate
from snn_compat.snntorch import utils
import snn_compat.snntorch.functional as SF
"""

# snnTorch's README quick-start
QUICKSTART = """
import torch, torch.nn as nn

num_steps = 25 # number of time steps
batch_size = 3
beta = 0.5  # neuron decay rate
spike_grad = surrogate.fast_sigmoid() # surrogate gradient

net = nn.Sequential(
      nn.Conv2d(1, 8, 5),
      nn.MaxPool2d(2),
      snn.Leaky(beta=beta, init_hidden=True, spike_grad=spike_grad),
      nn.Conv2d(8, 16, 5),
      nn.MaxPool2d(2),
      snn.Leaky(beta=beta, init_hidden=True, spike_grad=spike_grad),
      nn.Flatten(),
      nn.Linear(16 * 4 * 4, 10),
      snn.Leaky(beta=beta, init_hidden=True, spike_grad=spike_grad, output=True)
      )

data_in = torch.rand(num_steps, batch_size, 1, 28, 28) # random input data
spike_recording = [] # record spikes over time
utils.reset(net) # reset/initialize hidden states for all neurons

for step in range(num_steps): # loop over time
    spike, state = net(data_in[step]) # one time step of forward-pass
    spike_recording.append(spike) # record spikes in list
"""

# the shape of snnTorch's tutorial 5 (explicit states, init_leaky, a training step)
TUTORIAL5 = """
import torch, torch.nn as nn

num_inputs, num_hidden, num_outputs, num_steps, beta = 20, 30, 4, 15, 0.95

class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc1 = nn.Linear(num_inputs, num_hidden)
        self.lif1 = snn.Leaky(beta=beta)
        self.fc2 = nn.Linear(num_hidden, num_outputs)
        self.lif2 = snn.Leaky(beta=beta)

    def forward(self, x):
        mem1 = self.lif1.init_leaky()
        mem2 = self.lif2.init_leaky()
        spk2_rec, mem2_rec = [], []
        for step in range(num_steps):
            cur1 = self.fc1(x)
            spk1, mem1 = self.lif1(cur1, mem1)
            cur2 = self.fc2(spk1)
            spk2, mem2 = self.lif2(cur2, mem2)
            spk2_rec.append(spk2)
            mem2_rec.append(mem2)
        return torch.stack(spk2_rec, dim=0), torch.stack(mem2_rec, dim=0)

net = Net()
loss = nn.CrossEntropyLoss()
optimizer = torch.optim.Adam(net.parameters(), lr=5e-3, betas=(0.9, 0.999))
data = torch.rand(8, num_inputs) * 2
targets = torch.randint(0, num_outputs, (8,))
losses = []
for it in range(3):
    spk_rec, mem_rec = net(data)
    loss_val = torch.zeros((1), dtype=torch.float)
    for step in range(num_steps):
        loss_val += loss(mem_rec[step], targets)
    optimizer.zero_grad()
    loss_val.backward()
    optimizer.step()
    losses.append(loss_val.item())
acc = SF.accuracy_rate(spk_rec, targets)
"""


def _run(header: str, body: str, seed: int = 0) -> dict:
    scope: dict = {}
    torch.manual_seed(seed)
    quiet(lambda: exec(compile(textwrap.dedent(header + body), "<program>", "exec"), scope))
    return scope


def test_readme_quickstart_same_spikes():
    a, b = _run(SNNTORCH, QUICKSTART), _run(COMPAT, QUICKSTART)
    close(torch.stack(a["spike_recording"]), torch.stack(b["spike_recording"]))
    close(a["state"], b["state"])
    assert torch.stack(b["spike_recording"]).shape == (25, 3, 10)


def test_tutorial5_style_training_same_numbers():
    a, b = _run(SNNTORCH, TUTORIAL5), _run(COMPAT, TUTORIAL5)
    assert len(a["losses"]) == len(b["losses"]) == 3
    for u, v in zip(a["losses"], b["losses"], strict=True):
        assert abs(u - v) <= 1e-5 * max(1.0, abs(u))
    close(a["spk_rec"], b["spk_rec"])
    for (n, p), (m, q) in zip(a["net"].named_parameters(), b["net"].named_parameters(),
                              strict=True):
        assert n == m
        close(p, q, rtol=GRAD_RTOL)
    assert abs(float(a["acc"]) - float(b["acc"])) < 1e-6
