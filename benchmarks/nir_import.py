"""Speed of a network imported from NIR against the same network built with snncore directly.

A Linear(N, N) + LIF layer (N = 2048 by default) is built with snncore, exported to a .nir
file, and imported twice: with its snncore metadata (the exact snncore module comes back) and
as plain NIR (what a graph written by another library gives: a Leaky behind NIR's input
scaling). Each repeat times forward + backward over [T, B, N] for the direct model and both
imports back to back; the reported ratios are medians of the per-repeat ratios.

    python benchmarks/nir_import.py                # N=2048, B=16, T=500
    python benchmarks/nir_import.py --n 256 --steps 50 --repeats 3 --json
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
import warnings
from pathlib import Path

import torch
from torch import nn

import snn_nir
import snncore as snn


def build(n: int) -> snn.Sequential:
    torch.manual_seed(0)
    return snn.Sequential(nn.Linear(n, n), snn.Leaky(beta=0.95, threshold=1.0, reset="zero",
                                                     reset_delay=False))


def fwd_bwd(model, x: torch.Tensor, sequence_call) -> float:
    model.zero_grad(set_to_none=True)
    t0 = time.perf_counter()
    y, _ = sequence_call(x)
    y.sum().backward()
    return time.perf_counter() - t0


def main(argv: list[str] | None = None) -> dict[str, float]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=2048, help="neurons (default: 2048)")
    parser.add_argument("--batch", type=int, default=16, help="batch size (default: 16)")
    parser.add_argument("--steps", type=int, default=500, help="time steps (default: 500)")
    parser.add_argument("--repeats", type=int, default=5, help="paired repeats (default: 5)")
    parser.add_argument("--json", action="store_true", help="print the result as JSON")
    args = parser.parse_args(argv)
    dt = 1e-3
    direct = build(args.n)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "linear_lif.nir"
        snn_nir.write(path, direct, (args.n,), dt=dt)
        exact = snn_nir.import_from_nir(path, dt=dt)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            plain = snn_nir.import_from_nir(path, dt=dt, use_metadata=False)
    x = (torch.rand(args.steps, args.batch, args.n) < 0.05).float()
    with torch.no_grad():  # same function: identical spikes
        assert torch.equal(direct(x)[0], exact.run(x)[0])
    runs = {"direct": (direct, direct), "import_metadata": (exact, exact.run),
            "import_plain": (plain, plain.run)}
    for model, call in runs.values():  # warm-up (the fused backend compiles on first use)
        fwd_bwd(model, x[:2], call)
    times: dict[str, list[float]] = {k: [] for k in runs}
    for _ in range(args.repeats):
        for name, (model, call) in runs.items():
            times[name].append(fwd_bwd(model, x, call))
    result = {
        "n": args.n, "batch": args.batch, "steps": args.steps, "repeats": args.repeats,
        "direct_s": statistics.median(times["direct"]),
        "import_metadata_s": statistics.median(times["import_metadata"]),
        "import_plain_s": statistics.median(times["import_plain"]),
        "ratio_metadata": statistics.median(
            a / b for a, b in zip(times["import_metadata"], times["direct"], strict=True)),
        "ratio_plain": statistics.median(
            a / b for a, b in zip(times["import_plain"], times["direct"], strict=True)),
    }
    if args.json:
        json.dump(result, sys.stdout, indent=2)
        sys.stdout.write("\n")
    else:
        print(f"Linear({args.n}, {args.n}) + LIF, B={args.batch}, T={args.steps}, forward + "
              f"backward, median of {args.repeats}:")
        print(f"  built directly        {result['direct_s']:.3f} s")
        print(f"  imported (metadata)   {result['import_metadata_s']:.3f} s  "
              f"ratio {result['ratio_metadata']:.3f}")
        print(f"  imported (plain NIR)  {result['import_plain_s']:.3f} s  "
              f"ratio {result['ratio_plain']:.3f}")
    return result


if __name__ == "__main__":
    main()
