"""snnTorch tutorial 5 (training with BPTT) on the 8x8 digits, written as snnTorch 1.0.0 code.

The model, loss and loop of snnTorch's tutorial 5 (784 inputs replaced by the digits' 64): a
64-1000-10 network of ``snn.Leaky`` neurons (beta = 0.95) looped over 25 steps with the
image as a constant input, the cross-entropy of the output membrane summed over the steps,
Adam (lr 5e-4). ``benchmarks/tutorials.py`` runs this file as it is, and again with its
imports switched to ``snn_compat.snntorch``; ``examples/tutorials/tutorial_5_training.py`` is
the snncore-native rewrite.

Run: ``python benchmarks/snntorch_programs/tutorial_5.py`` (needs snntorch 1.0.0).
"""

import sys
from pathlib import Path

import snntorch as snn
import torch
import torch.nn as nn

num_inputs = 64
num_hidden = 1000
num_outputs = 10
num_steps = 25
beta = 0.95
batch_size = 128


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
        spk2_rec = []
        mem2_rec = []
        for step in range(num_steps):  # noqa: B007 - as in the tutorial
            cur1 = self.fc1(x)
            spk1, mem1 = self.lif1(cur1, mem1)
            cur2 = self.fc2(spk1)
            spk2, mem2 = self.lif2(cur2, mem2)
            spk2_rec.append(spk2)
            mem2_rec.append(mem2)
        return torch.stack(spk2_rec, dim=0), torch.stack(mem2_rec, dim=0)


loss = nn.CrossEntropyLoss()


def build(seed=0):
    torch.manual_seed(seed)
    net = Net()
    optimizer = torch.optim.Adam(net.parameters(), lr=5e-4, betas=(0.9, 0.999))
    return net, optimizer


def train_batch(net, optimizer, data, targets):
    net.train()
    spk_rec, mem_rec = net(data.view(data.size(0), -1))
    loss_val = torch.zeros((1), dtype=torch.float)
    for step in range(num_steps):
        loss_val += loss(mem_rec[step], targets)
    optimizer.zero_grad()
    loss_val.backward()
    optimizer.step()
    return loss_val.item()


def accuracy(net, data, targets):
    with torch.no_grad():
        net.eval()
        spk_rec, _ = net(data.view(data.size(0), -1))
        _, predicted = spk_rec.sum(dim=0).max(1)
        return (predicted == targets).sum().item() / targets.size(0)


def main(num_epochs=3):
    sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "examples" / "tutorials"))
    from _common import train_program  # the digits split and batches the tutorials use

    train_program(build, train_batch, accuracy, num_epochs, flat=True, batch_size=batch_size)


if __name__ == "__main__":
    main()
