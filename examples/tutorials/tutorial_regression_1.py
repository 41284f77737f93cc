"""Regression, part I: the membrane potential as a regression output (snnTorch's regression
tutorial 1 on snncore).

The network learns to make the membrane potential of its output neuron follow a target curve
over 50 steps (a straight line with a random slope, or its square root) from that line as input.
Hidden layers are Leaky neurons with a random, learnable decay and a random threshold per
neuron (fast-sigmoid surrogate); the output is a leaky integrator without spikes or reset
(``snn_neurons_extra.LI``, whose output is its membrane ``U_t = β U_{t-1} + X_t``), so the
whole network runs over the sequence in one ``snn.Sequential``. Loss: the mean squared error
between membrane and target; evaluation: the L1 error and the relative error.

Run: ``python examples/tutorials/tutorial_regression_1.py [--quick] [--epochs N] [--plots DIR]``
(``--epochs`` counts training iterations on the one sample, as in snnTorch's tutorial)
"""

from __future__ import annotations

import torch
from _common import parse_args, save_figure
from torch import Tensor, nn

import snncore as snn
from snn_neurons_extra import LI

NUM_STEPS = 50
HIDDEN = 128


def regression_data(num_samples: int, mode: str, generator: torch.Generator
                    ) -> tuple[Tensor, Tensor]:
    """Inputs: lines from 0 to a random end, ``[T, N, 1]``; targets: the same lines
    (``"linear"``) or the square root of the line times a random slope (``"sqrt"``)."""
    ends = torch.rand(num_samples, generator=generator)
    features = (torch.linspace(0, 1, NUM_STEPS)[:, None] * ends[None, :]).unsqueeze(-1)
    if mode == "linear":
        return features, features.clone()
    if mode == "sqrt":
        return features, torch.sqrt(features * float(torch.rand(1, generator=generator)))
    raise ValueError(f"mode must be 'linear' or 'sqrt', got {mode!r}")


def make_net() -> snn.Sequential:
    grad = snn.surrogate("fast_sigmoid", slope=25)

    def hidden_lif() -> snn.Leaky:
        return snn.Leaky(beta=torch.rand(HIDDEN), threshold=torch.rand(HIDDEN) + 1e-3,
                         learn_beta=True, surrogate=grad)

    return snn.Sequential(
        nn.Linear(1, HIDDEN), hidden_lif(),
        nn.Linear(HIDDEN, HIDDEN), hidden_lif(),
        nn.Linear(HIDDEN, 1), LI(beta=torch.rand(1), learn_beta=True),
    )


def errors(mem: Tensor, target: Tensor) -> tuple[float, float]:
    """Mean L1 error and mean relative error (steps after the first, as in the tutorial)."""
    l1 = float(nn.functional.l1_loss(mem, target))
    rel = torch.linalg.norm(mem - target, dim=-1) / torch.linalg.norm(target, dim=-1)
    return l1, float(rel[1:].mean())


def main() -> None:
    args = parse_args(__doc__.splitlines()[0], epochs=300, quick_epochs=100)
    gen = torch.Generator().manual_seed(args.seed)
    feature, label = regression_data(1, "sqrt", gen)          # one sample, [T, 1, 1]
    net = make_net()
    with torch.no_grad():
        untrained, _ = net(feature)
    l1_before, rel_before = errors(untrained, label)
    print(f"untrained: mean L1 error {l1_before:.3e}, relative error {rel_before:.3e}")

    optimizer = torch.optim.Adam(net.parameters(), lr=1e-3)
    loss_fn = nn.MSELoss()
    for it in range(args.epochs):
        mem, _ = net(feature)
        loss = loss_fn(mem, label)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        if (it + 1) % max(1, args.epochs // 5) == 0:
            print(f"iteration {it + 1}: MSE {loss.item():.3e}")

    with torch.no_grad():
        mem, _ = net(feature)
    l1, rel = errors(mem, label)
    print(f"trained: mean L1 error {l1:.3e}, relative error {rel:.3e}")
    print(f"result l1_before = {l1_before:.4e}")
    print(f"result l1_after = {l1:.4e}")
    print(f"result relative_error = {rel:.4e}")

    if args.plots is not None:
        import matplotlib.pyplot as plt

        fig, ax = plt.subplots()
        ax.plot(mem[:, 0, 0], label="output membrane")
        ax.plot(label[:, 0, 0], "--", label="target")
        ax.set(title="Trained output neuron", xlabel="time step", ylabel="membrane potential")
        ax.legend()
        save_figure(fig, args.plots, "tutorial_regression_1")
        print(f"figures saved in {args.plots}")


if __name__ == "__main__":
    main()
