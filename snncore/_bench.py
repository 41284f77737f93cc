"""``snncore bench``: a short speed check of this machine, so anyone can check the speed claims.

One training step (forward and backward of ``spikes.sum()``) of ``Linear(N, N)`` followed by a
``Leaky`` layer over ``[T, B, N]``, timed for snncore on its default backend (``fused`` on CPU),
snncore on ``eager`` (a loop of single steps through autograd), and snnTorch written the way its
tutorials write it (when snnTorch is installed). The contenders take turns in every repeat, so a
busy spell of the machine hits all of them; ratios are medians of the per-repeat ratios.
"""

from __future__ import annotations

import statistics
import sys
import time
from collections.abc import Callable
from typing import Any, TextIO

import torch
from torch import Tensor, nn

from ._leaky import Leaky
from ._sequential import Sequential

__all__ = ["SIZES", "run_bench"]

#: problem sizes and repeats per mode
SIZES: dict[str, dict[str, int]] = {
    "quick": {"T": 100, "B": 16, "N": 256, "repeats": 5, "warmup": 1},
    "full": {"T": 500, "B": 16, "N": 2048, "repeats": 7, "warmup": 2},
}
BETA = 0.95


def _contenders(T: int, B: int, N: int) -> dict[str, Callable[[], Tensor]]:
    torch.manual_seed(0)
    x = torch.rand(T, B, N)
    fc = nn.Linear(N, N)
    with torch.no_grad():
        fc.weight.mul_(2.0)  # enough drive for a realistic spike rate
    net = Sequential(fc, Leaky(beta=BETA, surrogate="atan"))
    out: dict[str, Callable[[], Tensor]] = {
        "snncore": lambda: net(x)[0].sum(),
        "snncore eager": lambda: net(x, backend="eager")[0].sum(),
    }
    try:
        import snntorch
        from snntorch import surrogate as snt_surrogate
    except ImportError:
        return out
    lif = snntorch.Leaky(beta=BETA, spike_grad=snt_surrogate.atan(), reset_mechanism="subtract")

    def snntorch_tutorial() -> Tensor:
        mem = lif.init_leaky()
        rec = []
        for step in range(T):
            spk, mem = lif(fc(x[step]), mem)
            rec.append(spk)
        return torch.stack(rec).sum()

    out[f"snnTorch {getattr(snntorch, '__version__', '')}".strip()] = snntorch_tutorial
    return out


def _time(contenders: dict[str, Callable[[], Tensor]], repeats: int, warmup: int
          ) -> dict[str, list[float]]:
    times: dict[str, list[float]] = {name: [] for name in contenders}
    for i in range(warmup + repeats):
        for name, step in contenders.items():
            t0 = time.perf_counter()
            step().backward()
            elapsed = time.perf_counter() - t0
            if i >= warmup:
                times[name].append(elapsed)
    return times


def run_bench(quick: bool = True, threads: int | None = None, out: TextIO | None = None
              ) -> dict[str, Any]:
    """Run the benchmark and print a short report to ``out``.

    Args:
        quick: the small problem (a few seconds) instead of the full one (about a minute).
            Default: True.
        threads: PyTorch intra-op threads for the run (restored afterwards). Default: None
            (PyTorch's setting).
        out: where the report goes. Default: ``sys.stdout``.

    Returns:
        ``{"sizes", "backend", "median_s": {name: seconds}, "ratios": {name: x}}`` where
        ``ratios[name]`` is how many times longer ``name`` took than snncore's default backend.
    """
    from ._backends import select_backend
    from ._demo import _prepare_fused

    out = out or sys.stdout
    if threads is not None and (not isinstance(threads, int) or isinstance(threads, bool)
                                or threads < 1):
        raise ValueError(f"run_bench: threads must be an int >= 1 or None, got {threads!r}")
    _prepare_fused(out)  # a first fused call on this machine builds native code: said, not timed
    sizes = SIZES["quick" if quick else "full"]
    T, B, N = sizes["T"], sizes["B"], sizes["N"]
    before = torch.get_num_threads()
    if threads is not None:
        torch.set_num_threads(threads)
    try:
        backend = select_backend(Leaky(beta=BETA), torch.zeros(T, B, N), None).name
        contenders = _contenders(T, B, N)
        times = _time(contenders, sizes["repeats"], sizes["warmup"])
    finally:
        torch.set_num_threads(before)
    base = times["snncore"]
    median = {name: statistics.median(t) for name, t in times.items()}
    ratios = {name: statistics.median(a / b for a, b in zip(t, base, strict=True))
              for name, t in times.items() if name != "snncore"}
    out.write(f"snncore bench ({'quick' if quick else 'full'}): one training step of "
              f"Linear({N}, {N}) + Leaky over T={T}, B={B}; median of {sizes['repeats']} "
              f"repeats, {threads or before} threads\n")
    names = {"snncore": f"snncore ({backend})", "snncore eager": "snncore (eager)"}
    width = max(len(names.get(n, n)) for n in median)
    for name, seconds in median.items():
        out.write(f"  {names.get(name, name):<{width}}  {seconds * 1e3:9.2f} ms\n")
    for name, ratio in ratios.items():
        out.write(f"snncore ({backend}) is {ratio:.1f}x as fast as {names.get(name, name)}\n")
    if not any(n.startswith("snnTorch") for n in median):
        out.write("snnTorch is not installed: pip install snntorch to compare with it\n")
    return {"sizes": dict(sizes), "backend": backend, "median_s": median, "ratios": ratios}
