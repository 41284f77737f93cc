"""Recording states on the fused path (``Neuron.record``) against ``trace()``, paired repeats.

Usage: ``python benchmarks/record.py`` (prints a Markdown table; 2 threads, 7 repeats).
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable

import torch
import torch.nn.functional as F
from torch import nn

import snncore as snn


def paired(fa: Callable[[], None], fb: Callable[[], None], reps: int = 7, warm: int = 2
           ) -> tuple[float, float, float]:
    """Median seconds of ``fa`` and ``fb`` (taking turns) and the median of ``fb / fa``."""
    ra: list[float] = []
    rb: list[float] = []
    for i in range(reps + warm):
        for f, r in ((fa, ra), (fb, rb)):
            t0 = time.perf_counter()
            f()
            if i >= warm:
                r.append(time.perf_counter() - t0)
    ratio = statistics.median(b / a for a, b in zip(ra, rb, strict=True))
    return statistics.median(ra), statistics.median(rb), ratio


def main() -> None:
    torch.set_num_threads(2)
    torch.manual_seed(0)
    rows = []
    # the demo's readout layer alone, cross-entropy on the time-averaged membrane
    x = torch.rand(25, 256, 10, requires_grad=True)
    y = torch.randint(0, 10, (256,))
    ro = snn.Leaky(beta=0.9, reset="none")

    def rec1() -> None:
        _, _, r = ro.record(x, "mem")
        F.cross_entropy(r["mem"].mean(0), y).backward()

    def tr1() -> None:
        _, s = ro.trace(x)
        F.cross_entropy(s.mem.mean(0), y).backward()

    rows.append(("demo readout alone [25, 256, 10], CE on the mean membrane",
                 *paired(rec1, tr1)))
    # a membrane loss on the LIF-alone shape
    x2 = (torch.rand(500, 32768) * 0.6).requires_grad_()
    lif = snn.Leaky(beta=0.95)

    def rec2() -> None:
        _, _, r = lif.record(x2, "mem")
        r["mem"].mean().backward()

    def tr2() -> None:
        _, s = lif.trace(x2)
        s.mem.mean().backward()

    rows.append(("LIF alone [500, 32768], loss = mean membrane", *paired(rec2, tr2)))
    # a regression-style training step: 1-128-1, membrane MSE on the readout
    fc1, fc2 = nn.Linear(1, 128), nn.Linear(128, 1)
    l1, ro3 = snn.Leaky(beta=0.9), snn.Leaky(beta=0.9, reset="none")
    xs, tgt = torch.rand(100, 64, 1), torch.rand(100, 64, 1)

    def rec3() -> None:
        s, _ = l1.run(fc1(xs))
        _, _, r = ro3.record(fc2(s), "mem")
        ((r["mem"] - tgt) ** 2).mean().backward()

    def tr3() -> None:
        s, _ = l1.run(fc1(xs))
        _, st = ro3.trace(fc2(s))
        ((st.mem - tgt) ** 2).mean().backward()

    rows.append(("membrane-loss training step (1-128-1, T=100, B=64)", *paired(rec3, tr3)))
    print("| workload | record (fused) ms | trace() ms | trace / record |")
    print("|---|---|---|---|")
    for name, a, b, r in rows:
        print(f"| {name} | {a * 1e3:.1f} | {b * 1e3:.1f} | {r:.2f}x |")


if __name__ == "__main__":
    main()
