"""snnTorch tutorial 6 (surrogate gradients, convolutional SNN) on the 8x8 digits, written as
snnTorch 1.0.0 code.

The model, loss and loop of snnTorch's tutorial 6, with 3x3 convolutions (padding 1) so that
the 8x8 digits keep a 2x2 map after two poolings: Conv2d(1, 12) - MaxPool - Leaky -
Conv2d(12, 64) - MaxPool - Leaky - Linear(256, 10) - Leaky, every neuron with beta = 0.5 and
the fast-sigmoid surrogate (slope 25), stateful (``init_hidden=True``) inside ``nn.Sequential``,
50 steps with the image as a constant input, ``SF.ce_rate_loss``, Adam (lr 1e-2).
``benchmarks/tutorials.py`` runs this file as it is, and again with its imports switched to
``snn_compat.snntorch``; ``examples/tutorials/tutorial_6_surrogate_conv.py`` is the
snncore-native rewrite.

Run: ``python benchmarks/snntorch_programs/tutorial_6.py`` (needs snntorch 1.0.0).
"""

import sys
from pathlib import Path

import snntorch as snn
import torch
import torch.nn as nn
from snntorch import functional as SF
from snntorch import surrogate, utils

spike_grad = surrogate.fast_sigmoid(slope=25)
beta = 0.5
num_steps = 50
batch_size = 128


def build(seed=0):
    torch.manual_seed(seed)
    net = nn.Sequential(nn.Conv2d(1, 12, 3, padding=1),
                        nn.MaxPool2d(2),
                        snn.Leaky(beta=beta, spike_grad=spike_grad, init_hidden=True),
                        nn.Conv2d(12, 64, 3, padding=1),
                        nn.MaxPool2d(2),
                        snn.Leaky(beta=beta, spike_grad=spike_grad, init_hidden=True),
                        nn.Flatten(),
                        nn.Linear(64 * 2 * 2, 10),
                        snn.Leaky(beta=beta, spike_grad=spike_grad, init_hidden=True, output=True)
                        )
    optimizer = torch.optim.Adam(net.parameters(), lr=1e-2, betas=(0.9, 0.999))
    return net, optimizer


def forward_pass(net, num_steps, data):
    mem_rec = []
    spk_rec = []
    utils.reset(net)
    for step in range(num_steps):  # noqa: B007 - as in the tutorial
        spk_out, mem_out = net(data)
        spk_rec.append(spk_out)
        mem_rec.append(mem_out)
    return torch.stack(spk_rec), torch.stack(mem_rec)


loss_fn = SF.ce_rate_loss()


def train_batch(net, optimizer, data, targets):
    net.train()
    spk_rec, _ = forward_pass(net, num_steps, data)
    loss_val = loss_fn(spk_rec, targets)
    optimizer.zero_grad()
    loss_val.backward()
    optimizer.step()
    return loss_val.item()


def accuracy(net, data, targets):
    with torch.no_grad():
        net.eval()
        spk_rec, _ = forward_pass(net, num_steps, data)
        return SF.accuracy_rate(spk_rec, targets)


def main(num_epochs=1):
    sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "examples" / "tutorials"))
    from _common import train_program  # the digits split and batches the tutorials use

    train_program(build, train_batch, accuracy, num_epochs, flat=False, batch_size=batch_size)


if __name__ == "__main__":
    main()
