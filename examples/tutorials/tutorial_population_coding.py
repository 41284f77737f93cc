"""Population coding (snnTorch's population-coding tutorial on snncore, with the 8x8 digits).

With a single time step each output neuron can fire at most once, so one neuron per class
carries little information. A population code gives every class a group of neurons (here 50,
500 outputs in all) and counts the group's spikes together. The digits set has 1347 training
images (10 batches per epoch, where FashionMNIST in snnTorch's tutorial has 469), so more
epochs are needed for the same number of updates. Both networks are trained for a
single time step with ``mse_count_loss`` (correct class: fire; others: silent), the population
one with ``population_code=True, num_classes=10``; accuracy counts spikes per group the same
way (``snn.metrics.accuracy_rate(..., population_code=True)``). Training uses ``snn.fit``.

Run: ``python examples/tutorials/tutorial_population_coding.py [--quick] [--epochs N]``
"""

from __future__ import annotations

import torch
from _common import load_digits, parse_args
from torch import nn

import snncore as snn

NUM_STEPS = 1
NUM_HIDDEN = 128
POP_OUTPUTS = 500


def make_net(num_outputs: int) -> snn.Sequential:
    grad = snn.surrogate("fast_sigmoid", slope=25)
    return snn.Sequential(nn.Linear(64, NUM_HIDDEN), snn.Leaky(beta=0.9, surrogate=grad),
                          nn.Linear(NUM_HIDDEN, num_outputs), snn.Leaky(beta=0.9, surrogate=grad))


def train_and_test(num_outputs: int, population: bool, epochs: int, seed: int) -> float:
    torch.manual_seed(seed)
    gen = torch.Generator().manual_seed(seed)
    x_train, x_test, y_train, y_test = load_digits(seed, flat=True)
    net = make_net(num_outputs)
    code = {"population_code": True, "num_classes": 10} if population else {}
    loss_fn = snn.losses.mse_count_loss(correct_rate=1.0, incorrect_rate=0.0, **code)
    optimizer = torch.optim.Adam(net.parameters(), lr=2e-3, betas=(0.9, 0.999))

    def test_accuracy(model: nn.Module) -> dict[str, float]:
        with torch.no_grad():
            spk, _ = model(x_test.expand(NUM_STEPS, *x_test.shape))     # [1, B, outputs]
        return {"test_accuracy": float(snn.metrics.accuracy_rate(spk, y_test, **code))}

    history = snn.fit(net, (x_train, y_train), lambda out, y: loss_fn(out[0], y), optimizer,
                      epochs, transform=lambda x: x.expand(NUM_STEPS, *x.shape),
                      batch_size=128, generator=gen, eval_fn=test_accuracy, progress=False)
    every = max(1, epochs // 8)
    for record in history:
        if int(record["epoch"]) % every and int(record["epoch"]) != epochs:
            continue
        print(f"  epoch {int(record['epoch'])}: loss {record['loss']:.3f}, test accuracy "
              f"{record['test_accuracy'] * 100:.2f}%")
    return history[-1]["test_accuracy"]


def main() -> None:
    args = parse_args(__doc__.splitlines()[0], epochs=40, quick_epochs=8)
    print(f"one time step, {args.epochs} epoch(s); without population coding (10 outputs):")
    acc_single = train_and_test(10, False, args.epochs, args.seed)
    print(f"with population coding ({POP_OUTPUTS} outputs, {POP_OUTPUTS // 10} per class):")
    acc_pop = train_and_test(POP_OUTPUTS, True, args.epochs, args.seed)
    print(f"result accuracy_single_neuron = {acc_single:.4f}")
    print(f"result accuracy_population = {acc_pop:.4f}")


if __name__ == "__main__":
    main()
