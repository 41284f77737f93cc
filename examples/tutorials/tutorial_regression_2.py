"""Regression, part II: regression-based classification with recurrent LIF neurons
(snnTorch's regression tutorial 2 on snncore, with the 8x8 digits).

Instead of pushing the correct class to fire at every step and the others never (cross-entropy),
the spike count is regressed onto a target: the correct class should fire on 80% of the steps,
the others on 20% (``mse_count_loss(correct_rate=0.8, incorrect_rate=0.2)``). The neurons are
recurrent (``snn_neurons_extra.RLeaky``): each layer feeds its own spikes back through a
learnable all-to-all linear layer, ``U_t = β U_{t-1} + X_t + V(S_{t-1}) - S_{t-1} θ``. The
tutorial's alternative loss regresses the output membrane instead: above threshold for the
correct class (1.05), below it for the others (0.2), ``mse_membrane_loss``; the output layer's
membrane at every step comes from ``record``.

Run: ``python examples/tutorials/tutorial_regression_2.py [--quick] [--epochs N]``
"""

from __future__ import annotations

import torch
from _common import batches, load_digits, parse_args
from torch import Tensor, nn

import snncore as snn
from snn_neurons_extra import RLeaky

NUM_STEPS = 10
HIDDEN = 128
BETA = 0.9
LR = 5e-3              # snnTorch: 1e-3 over 469 MNIST batches per epoch; digits have 10


class Net(nn.Module):
    """64 -> 128 RLeaky -> 10 RLeaky over ``NUM_STEPS`` steps of a static image; returns the
    output spikes and membrane ``[T, B, 10]``."""

    def __init__(self) -> None:
        super().__init__()
        self.hidden = snn.Sequential(nn.Linear(64, HIDDEN),
                                     RLeaky(beta=BETA, linear_features=HIDDEN),
                                     nn.Linear(HIDDEN, 10))
        self.out = RLeaky(beta=BETA, linear_features=10)

    def forward(self, x: Tensor) -> tuple[Tensor, Tensor]:
        cur, _ = self.hidden(x.expand(NUM_STEPS, *x.shape))
        spk, _, rec = self.out.record(cur, "mem")
        return spk, rec["mem"]


def train(loss_name: str, epochs: int, seed: int) -> float:
    torch.manual_seed(seed)
    gen = torch.Generator().manual_seed(seed)
    x_train, x_test, y_train, y_test = load_digits(seed, flat=True)
    net = Net()
    optimizer = torch.optim.Adam(net.parameters(), lr=LR)
    if loss_name == "spike count":
        count_loss = snn.losses.mse_count_loss(correct_rate=0.8, incorrect_rate=0.2)

        def loss_fn(spk: Tensor, mem: Tensor, y: Tensor) -> Tensor:
            return count_loss(spk, y)
    else:
        mem_loss = snn.losses.mse_membrane_loss(on_target=1.05, off_target=0.2)

        def loss_fn(spk: Tensor, mem: Tensor, y: Tensor) -> Tensor:
            return mem_loss(mem, y)

    for epoch in range(epochs):
        net.train()
        losses = []
        for x, y in batches(x_train, y_train, 128, gen, drop_last=True):
            spk, mem = net(x)
            loss = loss_fn(spk, mem, y)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            losses.append(loss.item())
        with torch.no_grad():
            net.eval()
            spk, mem = net(x_test)
        # spike-count targets: the class with the most spikes; membrane targets: the highest
        # mean membrane
        pred = spk.sum(0) if loss_name == "spike count" else mem.mean(0)
        acc = float((pred.argmax(1) == y_test).float().mean())
        print(f"  epoch {epoch + 1}: loss {sum(losses) / len(losses):.4f}, test accuracy "
              f"{acc * 100:.2f}%")
    counts = spk.sum(0)
    right = counts.gather(1, y_test[:, None])[:, 0]
    others = (counts.sum(1) - right) / 9
    print(f"  mean firing rate of the correct class {float(right.mean()) / NUM_STEPS:.2f}, of "
          f"the others {float(others.mean()) / NUM_STEPS:.2f}")
    return acc


def main() -> None:
    args = parse_args(__doc__.splitlines()[0], epochs=10, quick_epochs=2)
    print(f"RLeaky 64-{HIDDEN}-10, {NUM_STEPS} steps, {args.epochs} epoch(s); loss on the spike "
          "count (targets 80% / 20%):")
    acc_count = train("spike count", args.epochs, args.seed)
    print("loss on the membrane potential (targets 1.05 / 0.2):")
    acc_mem = train("membrane", args.epochs, args.seed)
    print(f"result accuracy_count_loss = {acc_count:.4f}")
    print(f"result accuracy_membrane_loss = {acc_mem:.4f}")


if __name__ == "__main__":
    main()
