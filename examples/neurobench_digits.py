"""Benchmark the demo's spiking network on the 8x8 digits with NeuroBench.

The network is the one ``snncore demo`` trains (64-256-10, a leaky hidden layer and a
non-spiking leaky readout), trained briefly here. NeuroBench's data loader yields static images
batch-first; a preprocessor rate-codes them into time-first spike trains, so the model is wrapped
with ``layout="time_first"``. Both layers run on the fused backend over the whole sequence.

Needs: pip install "snncore[demo]" && pip install --no-deps neurobench==2.3.0 && pip install
snntorch tqdm
"""

from __future__ import annotations

import torch
from neurobench.metrics.static import Footprint, ParameterCount
from neurobench.metrics.workload import (
    ActivationSparsity,
    ClassificationAccuracy,
    MembraneUpdates,
    NeuronOperations,
    SynapticOperations,
)
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

import snncore as snn
from snncore.neurobench import MetricError, SnncoreModel, run_benchmark

STEPS, EVAL_STEPS, EPOCHS = 25, 100, 3


class DigitsSNN(nn.Module):
    """The demo's network: time-first in, (hidden spikes, readout membrane) out."""

    def __init__(self, hidden: int = 256, beta: float = 0.9) -> None:
        super().__init__()
        self.fc1 = nn.Linear(64, hidden)
        self.lif1 = snn.Leaky(beta=beta)
        self.fc2 = nn.Linear(hidden, 10)
        self.readout = snn.Leaky(beta=beta, reset="none")

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        spk, _ = self.lif1.run(self.fc1(x))
        _, _, rec = self.readout.record(self.fc2(spk), "mem")  # fused, membrane per step
        return spk, rec["mem"]


def main() -> None:
    torch.manual_seed(0)
    gen = torch.Generator().manual_seed(0)
    x, y = load_digits(return_X_y=True)
    xtr, xte, ytr, yte = train_test_split(x / 16.0, y, test_size=0.25, stratify=y,
                                          random_state=0)
    xtr, xte = torch.tensor(xtr, dtype=torch.float32), torch.tensor(xte, dtype=torch.float32)
    ytr, yte = torch.tensor(ytr), torch.tensor(yte)

    net = DigitsSNN()
    opt = torch.optim.Adam(net.parameters(), lr=2e-3)
    snn.fit(net, (xtr, ytr), lambda out, t: nn.functional.cross_entropy(out[1].mean(0), t),
            opt, EPOCHS, transform=lambda b: snn.encoders.rate(b, STEPS, generator=gen),
            batch_size=64, generator=gen, progress=False)

    loader = DataLoader(TensorDataset(xte, yte), batch_size=128)   # static images [B, 64]

    def encode(data: tuple[torch.Tensor, torch.Tensor]) -> tuple[torch.Tensor, torch.Tensor]:
        images, targets = data
        return snn.encoders.rate(images, EVAL_STEPS, generator=gen), targets  # [T, B, 64]

    def decide(out: tuple[torch.Tensor, torch.Tensor]) -> torch.Tensor:
        _spk, mem = out                                    # batch-first [B, T, ...]
        return mem.mean(1).argmax(1)

    model = SnncoreModel(net, layout="time_first")
    results = run_benchmark(
        model, loader, [Footprint, ParameterCount],
        [ClassificationAccuracy, ActivationSparsity, SynapticOperations, MembraneUpdates],
        preprocessors=[encode], postprocessors=[decide])
    print(f"NeuroBench on {len(xte)} held-out digits, {EVAL_STEPS} steps each "
          f"(after {EPOCHS} training epochs):")
    for name, value in results.items():
        print(f"  {name}: {value}")
    assert results["ClassificationAccuracy"] > 0.8, results
    assert 0.0 < results["ActivationSparsity"] < 1.0, results
    assert results["MembraneUpdates"] > 0, results

    # NeuroBench has no operation count for a readout without reset: said, not reported as 0
    try:
        run_benchmark(model, loader, [], [NeuronOperations], preprocessors=[encode],
                      postprocessors=[decide])
    except MetricError as exc:
        print(f"  NeuronOperations: not defined for this network ({exc.__cause__!r})")


if __name__ == "__main__":
    main()
