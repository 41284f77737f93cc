"""Tutorial 6: surrogate gradient descent in a convolutional spiking network (snnTorch
tutorial 6 on snncore, with the 8x8 digits).

The spike is a step function: its derivative is zero almost everywhere, so backpropagation
replaces it in the backward pass by a smooth surrogate, here the fast sigmoid
``∂S/∂U ≈ 1 / (1 + k|U - θ|)²`` with slope ``k = 25``. The network is snnTorch's tutorial 6
shape with 3x3 convolutions so that the 8x8 digits keep a 2x2 map after two poolings:
Conv2d(1, 12) - MaxPool - Leaky - Conv2d(12, 64) - MaxPool - Leaky - Linear(256, 10) - Leaky,
β = 0.5, 50 steps with the image as a constant input, cross-entropy on the spike rate
(``snn.losses.ce_rate_loss``), Adam (lr 1e-2).

Written for snncore: the image is the same at every step, so the first convolution and pooling
(the layers before the first neuron) are computed once and broadcast over time; the rest runs
in one ``snn.Sequential`` over the whole sequence: convolutions and pooling once over all
``T·B`` images, each neuron layer as one fused loop.

Run: ``python examples/tutorials/tutorial_6_surrogate_conv.py [--quick] [--epochs N]
[--plots DIR]``
"""

from __future__ import annotations

import torch
from _common import batches, load_digits, parse_args, save_figure
from torch import Tensor, nn

import snncore as snn

NUM_STEPS = 50
BETA = 0.5
BATCH_SIZE = 128
LR = 1e-2


class ConvSNN(nn.Module):
    """``forward(x [B, 1, 8, 8])`` returns the output spikes ``[T, B, 10]``."""

    def __init__(self, num_steps: int = NUM_STEPS) -> None:
        super().__init__()
        self.num_steps = num_steps
        grad = snn.surrogate("fast_sigmoid", slope=25)
        self.stem = nn.Sequential(nn.Conv2d(1, 12, 3, padding=1), nn.MaxPool2d(2))
        self.body = snn.Sequential(
            snn.Leaky(beta=BETA, surrogate=grad),
            nn.Conv2d(12, 64, 3, padding=1), nn.MaxPool2d(2), snn.Leaky(beta=BETA, surrogate=grad),
            nn.Flatten(), nn.Linear(64 * 2 * 2, 10), snn.Leaky(beta=BETA, surrogate=grad),
        )

    def forward(self, x: Tensor) -> Tensor:
        cur1 = self.stem(x)                                  # once: the input is static
        spk, _ = self.body(cur1.expand(self.num_steps, *cur1.shape))
        return spk


def build(seed: int = 0, num_steps: int = NUM_STEPS) -> tuple[ConvSNN, torch.optim.Optimizer]:
    """The network and its optimizer, as in the tutorial (Adam, lr 1e-2)."""
    torch.manual_seed(seed)
    net = ConvSNN(num_steps)
    return net, torch.optim.Adam(net.parameters(), lr=LR, betas=(0.9, 0.999))


_loss_fn = snn.losses.ce_rate_loss()


def train_batch(net: ConvSNN, optimizer: torch.optim.Optimizer, data: Tensor,
                targets: Tensor) -> float:
    """One step of surrogate-gradient descent through all time steps."""
    net.train()
    loss = _loss_fn(net(data), targets)
    optimizer.zero_grad()
    loss.backward()
    optimizer.step()
    return loss.item()


@torch.no_grad()
def accuracy(net: ConvSNN, data: Tensor, targets: Tensor) -> float:
    """Fraction of samples whose output neuron with the most spikes is the target."""
    net.eval()
    return float(snn.metrics.accuracy_rate(net(data), targets))


def main() -> None:
    args = parse_args(__doc__.splitlines()[0], epochs=5, quick_epochs=2)
    num_steps = 25 if args.quick else NUM_STEPS                   # the short run: 25 steps
    gen = torch.Generator().manual_seed(args.seed)
    x_train, x_test, y_train, y_test = load_digits(args.seed)
    net, optimizer = build(args.seed, num_steps)
    print(f"digits: {len(x_train)} train / {len(x_test)} test, conv SNN, {num_steps} steps, "
          f"fast-sigmoid surrogate (slope 25), {args.epochs} epoch(s)")
    for epoch in range(args.epochs):
        losses = [train_batch(net, optimizer, data, targets)
                  for data, targets in batches(x_train, y_train, BATCH_SIZE, gen, drop_last=True)]
        print(f"epoch {epoch + 1}: mean train loss {sum(losses) / len(losses):.3f}, test accuracy "
              f"{accuracy(net, x_test, y_test) * 100:.2f}%")
    with torch.no_grad():
        spk = net(x_test[:1])
    print(f"output spike counts for one test digit (label {int(y_test[0])}): "
          f"{spk[:, 0].sum(0).int().tolist()}")
    print(f"result test_accuracy = {accuracy(net, x_test, y_test):.4f}")
    print(f"result final_loss = {losses[-1]:.4f}")

    if args.plots is not None:
        from snncore import viz

        save_figure(viz.spike_count(spk, sample=0, labels=[str(i) for i in range(10)]),
                    args.plots, "tutorial_6_spike_count")
        save_figure(viz.surrogate_shape(snn.surrogate("fast_sigmoid", slope=25)), args.plots,
                    "tutorial_6_fast_sigmoid")
        print(f"figures saved in {args.plots}")


if __name__ == "__main__":
    main()
