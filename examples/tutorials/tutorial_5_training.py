"""Tutorial 5: training a spiking network with backpropagation through time (snnTorch
tutorial 5 on snncore, with the 8x8 digits).

A 64-1000-10 network of Leaky neurons (β = 0.95) sees each digit as a constant input current
for 25 steps. The loss is the cross-entropy of the output membrane at every step, summed over
time, as in snnTorch's tutorial; gradients flow back through all 25 steps (BPTT) with the
surrogate gradient of the spike. The prediction is the output neuron with the most spikes.

Written for snncore: the image is the same at every step, so the first Linear layer is computed
once and its output broadcast over time (``expand``, no copy); ``snn.Sequential`` runs the
hidden Leaky layer over the whole sequence as one fused loop and the second Linear once over
all ``T·B`` rows; ``record`` returns the output layer's membrane at every step for the loss
(on the fused path, with gradients through the recorded membrane).

Run: ``python examples/tutorials/tutorial_5_training.py [--quick] [--epochs N]``
"""

from __future__ import annotations

import torch
from _common import batches, load_digits, parse_args
from torch import Tensor, nn

import snncore as snn

NUM_STEPS = 25
NUM_HIDDEN = 1000
BETA = 0.95
BATCH_SIZE = 128
LR = 5e-4


class Net(nn.Module):
    """64 -> 1000 Leaky -> 10 Leaky; ``forward(x [B, 64])`` returns output spikes and
    membrane, both ``[T, B, 10]``."""

    def __init__(self, num_steps: int = NUM_STEPS) -> None:
        super().__init__()
        self.num_steps = num_steps
        self.fc1 = nn.Linear(64, NUM_HIDDEN)
        self.hidden = snn.Sequential(snn.Leaky(beta=BETA), nn.Linear(NUM_HIDDEN, 10))
        self.lif2 = snn.Leaky(beta=BETA)

    def forward(self, x: Tensor) -> tuple[Tensor, Tensor]:
        cur1 = self.fc1(x)                                          # once: the input is static
        cur2, _ = self.hidden(cur1.expand(self.num_steps, *cur1.shape))
        spk2, _, rec = self.lif2.record(cur2, "mem")                # membrane at every step
        return spk2, rec["mem"]


def build(seed: int = 0) -> tuple[Net, torch.optim.Optimizer]:
    """The network and its optimizer, as in the tutorial (Adam, lr 5e-4)."""
    torch.manual_seed(seed)
    net = Net()
    return net, torch.optim.Adam(net.parameters(), lr=LR, betas=(0.9, 0.999))


_ce_over_time = snn.losses.ce_rate_loss()       # (1/T) Σ_t CE(record_t, y)


def train_batch(net: Net, optimizer: torch.optim.Optimizer, data: Tensor,
                targets: Tensor) -> float:
    """One BPTT step on a batch: loss = Σ_t CE(U_t, y)."""
    net.train()
    _, mem_rec = net(data)
    loss = _ce_over_time(mem_rec, targets) * net.num_steps
    optimizer.zero_grad()
    loss.backward()
    optimizer.step()
    return loss.item()


@torch.no_grad()
def accuracy(net: Net, data: Tensor, targets: Tensor) -> float:
    """Fraction of samples whose output neuron with the most spikes is the target."""
    net.eval()
    correct = 0.0
    for x, y in batches(data, targets, 256):
        spk, _ = net(x)
        correct += float(snn.metrics.accuracy_rate(spk, y)) * len(y)
    return correct / len(targets)


def main() -> None:
    args = parse_args(__doc__.splitlines()[0], epochs=10, quick_epochs=1)
    gen = torch.Generator().manual_seed(args.seed)
    x_train, x_test, y_train, y_test = load_digits(args.seed, flat=True)
    net, optimizer = build(args.seed)
    print(f"digits: {len(x_train)} train / {len(x_test)} test, 64-{NUM_HIDDEN}-10 Leaky "
          f"network, {NUM_STEPS} steps, {args.epochs} epoch(s)")
    print(f"test accuracy before training: {accuracy(net, x_test, y_test) * 100:.2f}%")
    for epoch in range(args.epochs):
        losses = [train_batch(net, optimizer, data, targets)
                  for data, targets in batches(x_train, y_train, BATCH_SIZE, gen, drop_last=True)]
        print(f"epoch {epoch + 1}: mean train loss {sum(losses) / len(losses):.3f}, test accuracy "
              f"{accuracy(net, x_test, y_test) * 100:.2f}%")
    train_acc = accuracy(net, x_train, y_train)
    test_acc = accuracy(net, x_test, y_test)
    print(f"result train_accuracy = {train_acc:.4f}")
    print(f"result test_accuracy = {test_acc:.4f}")
    print(f"result final_loss = {losses[-1]:.4f}")


if __name__ == "__main__":
    main()
