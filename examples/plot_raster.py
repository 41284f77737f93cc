"""Spike raster, membrane traces and surrogate shape of a Leaky layer, saved as PNG.

Run:  python examples/plot_raster.py [OUT_DIR]      (needs: pip install "snncore[viz]")

A layer of 20 Leaky neurons is driven by rate-coded (Bernoulli) input spikes through a random
weight matrix (stronger for higher neuron indices) for 100 steps; the script writes three
figures into OUT_DIR (default: the current folder): raster.png, traces.png and surrogate.png.
"""

from __future__ import annotations

import sys
from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # files only; no window

import torch  # noqa: E402

import snn_viz  # noqa: E402
import snncore as snn  # noqa: E402


def main(out_dir: str = ".") -> list[Path]:
    torch.manual_seed(0)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    steps, inputs, neurons = 100, 50, 20
    rates = torch.linspace(0.05, 0.4, inputs)
    x = (torch.rand(steps, 1, inputs) < rates).float()  # input spikes [T, B, inputs]
    fc = torch.nn.Linear(inputs, neurons, bias=False)
    with torch.no_grad():  # neuron i gets weights scaled by 0.5 + i / neurons: a rate gradient
        fc.weight.uniform_(0.0, 0.05).mul_(0.5 + torch.arange(neurons).unsqueeze(1) / neurons)
    lif = snn.Leaky(beta=0.9, threshold=1.0)
    with torch.no_grad():
        current = fc(x)
        spk, states = lif.trace(current)  # spikes and membrane [T, 1, neurons]
    print(f"{int(spk.sum())} spikes from {neurons} neurons over {steps} steps")
    classes = ["weak input" if i < neurons // 2 else "strong input" for i in range(neurons)]
    figures = {
        "raster.png": snn_viz.raster(spk, neuron_classes=classes, title="Leaky layer"),
        "traces.png": snn_viz.traces(states.mem, spk=spk, current=current, threshold=1.0,
                                     neurons=[0, 10, 19]),
        "surrogate.png": snn_viz.surrogate_shape(lif.surrogate),
    }
    paths = [snn_viz.save(fig, out / name) for name, fig in figures.items()]
    for p in paths:
        print(f"wrote {p}")
    return paths


if __name__ == "__main__":
    main(*sys.argv[1:2])
