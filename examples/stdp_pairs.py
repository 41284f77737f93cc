"""Spike-timing-dependent plasticity: an input that fires just before its output neuron is
potentiated, one that fires just after is depressed.

Two input neurons drive one Leaky neuron through ``nn.Linear``; input 0 always fires one
step before the output, input 1 one step after. ``snncore.plasticity.STDPLearner`` records
the spikes with forward hooks and writes ``-dW`` into the weight's gradient, so an ordinary
optimizer applies the rule.
"""

import torch
from torch import nn

import snncore
from snncore import plasticity

torch.manual_seed(0)
fc = nn.Linear(2, 1, bias=False)
with torch.no_grad():
    fc.weight.fill_(0.5)
lif = snncore.Leaky(beta=0.5, threshold=1.0, stateful=True)
learner = plasticity.STDPLearner(fc, lif, tau_pre=4.0, tau_post=4.0, f_pre=0.01, f_post=0.01)
opt = torch.optim.SGD(fc.parameters(), lr=1.0)

# every 4 steps: input 0 fires, a teacher current makes the output fire, then input 1 fires
inputs = torch.tensor([[1.0, 0.0], [0.0, 0.0], [0.0, 1.0], [0.0, 0.0]]).repeat(5, 1)
teacher = torch.tensor([0.0, 2.0, 0.0, 0.0]).repeat(5)
for _epoch in range(20):
    snncore.reset(lif)
    learner.reset()
    opt.zero_grad()
    with torch.no_grad():
        for x, current in zip(inputs, teacher, strict=True):
            lif(fc(x.unsqueeze(0)) + current)
    learner.step()
    opt.step()

w0, w1 = fc.weight[0].tolist()
print(f"weight of the input firing before the output: 0.500 -> {w0:.3f}")
print(f"weight of the input firing after the output:  0.500 -> {w1:.3f}")
assert w0 > 0.5 > w1
