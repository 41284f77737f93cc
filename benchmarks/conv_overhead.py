"""Where the conv network's training step goes beyond its conv-only floor.

The tutorial-6 network of section 9 of ``benchmarks/run.py`` (``snn.Sequential`` with its
automatic time blocks, plus any fixed block lengths given with ``--chunks``) takes turns with
the fastest floor of that section (the identity network in 5-step chunks, channels-last)
and nothing else: no peers between them, so that the ratio shows snncore's own cost. It
prints each contender's median forward, backward and total and the median of its per-repeat
ratios to the floor.

It then times the fixed cost of a forward: the network in blocks of ``--block`` steps (13,
what the automatic blocks are at B=64) against the floor in chunks of as many steps, both at
B=1 over ``--steps`` steps (default 26: two blocks), in a tight loop of each alone. The two do
the same convolutions and the neurons' arithmetic is negligible at B=1, so the difference is
the Python and dispatch work of snncore's forward.

Usage: ``python benchmarks/conv_overhead.py [--repeats 15] [--chunks 5,9,13]`` (prints
Markdown; 2 threads).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import Any

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))

import run as bench  # noqa: E402
import workloads as wl  # noqa: E402

FLOOR = "floor: 5-step chunks, channels-last"
OURS = "snncore Sequential"


def measure(repeats: int, chunks: tuple[int, ...] = (), T: int = 25, B: int = 64,
            warmup: int = 2) -> dict[str, dict[str, float]]:
    """Median seconds (``fwd``, ``bwd``, ``total``) of snncore (automatic blocks and each of
    ``chunks``) and of the floor, taking turns, and each one's ``ratio`` to the floor."""
    cont = wl.conv_contenders(T, B, time_chunks=chunks, peers=False)
    cont = {k: v for k, v in cont.items() if k.startswith(OURS) or k == FLOOR}
    res = bench.measure_times(cont, repeats, warmup)
    for r in res.values():
        r["ratio"] = bench.paired_ratio(r, res[FLOOR])
    return res


def fixed_cost(steps: int = 26, block: int = 13, reps: int = 200) -> dict[str, float]:
    """Microseconds of one forward at B=1 of snncore's network in ``block``-step blocks
    (``"snncore"``) and of the floor in chunks of as many steps (``"floor"``)."""
    cont = wl.conv_contenders(steps, 1, time_chunks=(block,), peers=False, floor_chunk=block)
    out = {}
    for key, name in (("snncore", f"{OURS}, time_chunk={block}"),
                      ("floor", f"floor: {block}-step chunks, channels-last")):
        fwd: Any = cont[name][0]
        for _ in range(max(reps // 10, 1)):
            fwd()
        t0 = time.perf_counter()
        for _ in range(reps):
            fwd()
        out[key] = (time.perf_counter() - t0) / reps * 1e6
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeats", type=int, default=15)
    ap.add_argument("--chunks", default="",
                    help="comma-separated fixed time-block lengths to add, e.g. 5,9,13")
    ap.add_argument("--steps", type=int, default=26,
                    help="T of the B=1 fixed-cost measurement (default 26)")
    ap.add_argument("--block", type=int, default=13,
                    help="block length of the B=1 fixed-cost measurement (default 13)")
    args = ap.parse_args(argv)
    try:
        chunks = tuple(int(c) for c in args.chunks.split(",") if c.strip())
    except ValueError:
        ap.error(f"--chunks must be comma-separated integers, got {args.chunks!r}")
    if min((args.repeats, args.steps, args.block, *chunks)) < 1:
        ap.error(f"--repeats, --steps, --block and every --chunks length must be >= 1, got "
                 f"{args.repeats}, {args.steps}, {args.block} and {args.chunks!r}")
    torch.set_num_threads(2)
    res = measure(args.repeats, chunks)
    print(f"Conv network [T=25, B=64], {args.repeats} repeats, taking turns with the floor "
          f"({FLOOR}):\n")
    print("| | forward ms | backward ms | total ms | vs floor |\n|---|---|---|---|---|")
    for name, r in res.items():
        print(f"| {name} | {r['fwd'] * 1e3:.1f} | {r['bwd'] * 1e3:.1f} | "
              f"{r['total'] * 1e3:.1f} | {r['ratio']:.3f}x |")
    cost = fixed_cost(args.steps, args.block)
    print(f"\nOne forward at B=1, T={args.steps}, {args.block}-step blocks: snncore "
          f"{cost['snncore']:.0f} us, floor {cost['floor']:.0f} us.")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
