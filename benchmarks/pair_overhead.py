"""Where the time of a fused ``Linear`` + neuron training step goes, beyond the GEMM floor.

The pair (``snn.Sequential(nn.Linear(N, N), neuron)``, B=16, T=500, loss = sum of the spikes)
runs in the same interleaved repeats as section 7 of ``benchmarks/run.py``, taking turns with
the dense-gradient GEMM floor, so that every run of the pair starts with caches that the
floor's products have just filled with other data, as a training step starts after the
previous step's backward. Inside the pair it times, per repeat:

- ``product``: the ``addmm`` that computes the linear layer's output (the floor's forward);
- ``neuron loop``: the native forward time loop; ``reverse loop``: the native reverse loop;
- ``loss``: ``spikes.sum()``;
- ``glue``: everything else in the forward (Python and autograd around the two native calls:
  checks, backend selection, buffers, saving for the backward).

A third contender, ``direct``, calls the pair's autograd function with the arguments the pair
passed it on a first call: the pair's step without ``snn.Sequential``, the backend selection
and the argument preparation around it (what a fast path for an unchanged configuration could
save at most).

The same glue is also timed warm, at T=2 (the product and loops then cost microseconds) in a
tight loop of the pair alone. The timers wrap internal functions (``torch.addmm`` and the native
loops' launcher): this is a diagnostic of snncore's own path, not a comparison.

Usage: ``python benchmarks/pair_overhead.py [--kind leaky|synaptic] [--n 512] [--repeats 15]
[--steps 500] [--peers]`` (prints a Markdown table; 2 threads).
"""

from __future__ import annotations

import argparse
import contextlib
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any
from unittest import mock

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))

import run as bench  # noqa: E402
import workloads as wl  # noqa: E402

from snncore.backends import _fused, _native  # noqa: E402


class Timers:
    """Wraps callables so that each call's duration is added to a named total of the current
    repeat (``now``); ``active`` switches the recording on only inside the measured contender."""

    def __init__(self) -> None:
        self.active = False
        self.now: dict[str, float] = {}
        self.runs: list[dict[str, float]] = []

    def wrap(self, fn: Callable[..., Any], name_of: Callable[..., str]) -> Callable[..., Any]:
        def timed(*args: Any, **kwargs: Any) -> Any:
            if not self.active:
                return fn(*args, **kwargs)
            t0 = time.perf_counter()
            try:
                return fn(*args, **kwargs)
            finally:
                key = name_of(*args)
                self.now[key] = self.now.get(key, 0.0) + time.perf_counter() - t0
        return timed


def measure(kind: str, n: int, repeats: int, peers: bool = False, steps: int = 500
            ) -> dict[str, float]:
    """Median milliseconds of each part of the pair's step (see the module docstring)."""
    timers = Timers()
    loops = {"snncore_fused_fwd_f32": "neuron loop", "snncore_fused_bwd_rc_f32": "reverse loop",
             "snncore_fused_bwd_f32": "reverse loop"}
    with contextlib.ExitStack() as patches:
        patches.enter_context(mock.patch.object(
            torch, "addmm", timers.wrap(torch.addmm, lambda *a: "product")))
        patches.enter_context(mock.patch.object(_native, "call_parallel", timers.wrap(
            _native.call_parallel,
            lambda fn, *a: loops.get(getattr(fn, "__name__", ""), "other native"))))
        cont = wl.linear_dense_contenders(steps, 16, n, kind)
        pair_fwd, params = cont[f"snncore Linear+{kind}"]
        net, x = _closed_over(pair_fwd, "net"), _closed_over(pair_fwd, "x")

        def pair() -> tuple[Any, Any]:
            timers.now = {}
            timers.active = True
            t0 = time.perf_counter()
            spk, _ = net(x)
            t1 = time.perf_counter()
            loss = spk.sum()
            t2 = time.perf_counter()
            timers.now["forward"] = t1 - t0
            timers.now["loss"] = t2 - t1
            timers.runs.append(timers.now)
            return spk, _Backward(loss, timers)

        direct = _direct(net, x)
        floor = cont["GEMM only, dense gradient (floor)"]
        others = {k: v for k, v in cont.items()
                  if not k.startswith(("snncore", "GEMM only"))} if peers else {}
        res = bench.measure_times({"pair": (pair, params), "direct": (direct, params),
                                   "floor": floor, **others}, repeats, 3)
    runs = timers.runs[3:]
    med = {k: statistics.median(r.get(k, 0.0) for r in runs) * 1e3
           for k in ("forward", "product", "neuron loop", "loss", "backward", "reverse loop")}
    med["glue"] = statistics.median(
        (r["forward"] - r.get("product", 0.0) - r.get("neuron loop", 0.0)) for r in runs) * 1e3
    med["floor forward"] = res["floor"]["fwd"] * 1e3
    med["floor total"] = res["floor"]["total"] * 1e3
    med["pair total"] = res["pair"]["total"] * 1e3
    med["pair / floor"] = bench.paired_ratio(res["pair"], res["floor"])
    med["direct total"] = res["direct"]["total"] * 1e3
    med["direct / floor"] = bench.paired_ratio(res["direct"], res["floor"])
    return med


def _direct(net: Any, x: torch.Tensor) -> Callable[[], tuple[Any, Any]]:
    """The pair's step without the work around its autograd function: the function is called
    with the arguments the pair passed it on a first call (the same input, weights, state and
    parameter tensors; the workload's neuron learns no parameter, so they stay valid). The
    bound on what a fast path through ``snn.Sequential``, the backend selection and the
    argument preparation could save."""
    orig = _fused._FusedLinearFunction.apply
    seen: list[tuple[Any, ...]] = []

    def capture(*args: Any) -> Any:
        seen.append(args)
        return orig(*args)

    with mock.patch.object(_fused._FusedLinearFunction, "apply", capture):
        net(x)
    if len(seen) != 1:
        raise RuntimeError(f"the pair called its fused function {len(seen)} times, expected 1 "
                           "(the pair did not run fused)")
    args = seen[0]

    def run() -> tuple[Any, Any]:
        spk = orig(*args)[0]
        return spk, spk.sum()
    return run


def _closed_over(fwd: Callable[..., Any], name: str) -> Any:
    """A variable that a section-7 contender closes over (its network ``net``, input ``x``)."""
    cells = dict(zip(fwd.__code__.co_freevars, fwd.__closure__ or (), strict=True))
    return cells[name].cell_contents


class _Backward:
    """``loss.backward()`` that times itself into the repeat's record."""

    def __init__(self, loss: torch.Tensor, timers: Timers) -> None:
        self.loss, self.timers, self.now = loss, timers, timers.now

    def backward(self) -> None:
        self.timers.now = self.now
        t0 = time.perf_counter()
        self.loss.backward()
        self.now["backward"] = time.perf_counter() - t0
        self.timers.active = False


def warm_glue(kind: str, n: int, reps: int = 500) -> tuple[float, float]:
    """Microseconds of the pair's forward and of ``nn.Linear`` alone at T=2 (warm caches)."""
    cont = wl.linear_dense_contenders(2, 16, n, kind)
    pair_fwd, _ = cont[f"snncore Linear+{kind}"]
    net, x = _closed_over(pair_fwd, "net"), _closed_over(pair_fwd, "x")
    fc = net[0]
    out = []
    for f in (lambda: net(x), lambda: fc(x)):
        for _ in range(50):
            f()
        t0 = time.perf_counter()
        for _ in range(reps):
            f()
        out.append((time.perf_counter() - t0) / reps * 1e6)
    return out[0], out[1]


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--kind", choices=("leaky", "synaptic"), default="leaky")
    ap.add_argument("--n", type=int, default=512)
    ap.add_argument("--repeats", type=int, default=15)
    ap.add_argument("--steps", type=int, default=500, help="T (default 500)")
    ap.add_argument("--peers", action="store_true",
                    help="also run section 7's other contenders (the copy-layer yardstick, "
                         "snnTorch, Norse) in every repeat, as benchmarks/run.py does")
    args = ap.parse_args(argv)
    if min(args.n, args.repeats, args.steps) < 1:
        ap.error(f"--n, --repeats and --steps must be >= 1, got {args.n}, {args.repeats} and "
                 f"{args.steps}")
    torch.set_num_threads(2)
    med = measure(args.kind, args.n, args.repeats, args.peers, args.steps)
    pair_t2, linear_t2 = warm_glue(args.kind, args.n)
    print(f"Linear({args.n}) + {args.kind}, B=16, T={args.steps}, {args.repeats} repeats "
          f"interleaved with the floor: pair {med['pair total']:.1f} ms, floor "
          f"{med['floor total']:.1f} ms, {med['pair / floor']:.3f}x; its autograd function "
          f"called directly {med['direct total']:.1f} ms, {med['direct / floor']:.3f}x\n")
    print("| part | median ms |\n|---|---|")
    for k in ("forward", "product", "neuron loop", "glue", "loss", "backward", "reverse loop",
              "floor forward"):
        print(f"| {k} | {med[k]:.2f} |")
    print(f"\nWarm, T=2: the pair's forward {pair_t2:.0f} us, nn.Linear alone {linear_t2:.0f} us.")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
