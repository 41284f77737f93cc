"""Speed and memory benchmarks of snncore, side by side with snnTorch, in one process.

Sections:
  1. Linear(N, N) + LIF, B=16, T=500, N in {512, 2048}: forward, backward (loss = sum of
     spikes), total, memory; snncore default and eager, the GEMM-only floor, snnTorch as its
     tutorials write it and snnTorch's best case.
  2. LIF alone on [T=500, 16*2048] against the memory-bandwidth roofline (24 bytes per
     neuron-step for training in fp32; bandwidth measured with a large copy).
  3. Training memory vs T in {100, 500, 2000} for LIF alone: held after forward and peak.
  4. With a CUDA GPU and triton: the triton backend's LIF at T=32 over 4M neurons against the
     GPU's copy bandwidth (target 80%) and eager, and every shipped family in the generic
     Triton kernels against eager (forward + backward with a dense upstream gradient).
  5.-12. Neuron families, record, dense floors, Synaptic, recurrent, conv, huge pages, the
     buffer cache on and off, multi-layer Linear + Leaky networks.

Usage::

    python benchmarks/run.py            # full run (5-10 minutes), writes docs/benchmarks.md
    python benchmarks/run.py --quick    # a fast smoke run, prints only
    nox -s bench                        # the full run in a fresh environment

Memory is counted by a dispatch-mode tracker: bytes of every tensor storage allocated through
PyTorch from the start of the forward, freed when the storage dies. "held" is what is still
allocated after the forward minus the output itself (what the backward keeps alive); "peak" is
the maximum during forward plus backward.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as _dt
import gc
import json
import os
import platform
import statistics
import sys
import time
import weakref
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import torch
from torch import Tensor, nn
from torch.utils._python_dispatch import TorchDispatchMode
from torch.utils._pytree import tree_flatten

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(Path(__file__).resolve().parent))

import snncore as snn  # noqa: E402

try:
    import snntorch
    from snntorch import surrogate as snt_surrogate
except ImportError:  # pragma: no cover - snnTorch is optional for the benchmark
    snntorch = None

BETA, THR = 0.95, 1.0
#: sections 6 and 7 (N=512) time this many times more repeats: their steps take milliseconds to
#: tens of milliseconds, and on a 2-core VM one repeat's ratio moves by up to +-15% (page faults,
#: the host), too much for a median of 7 to decide targets a few percent apart
CLOSE_REPEATS = 3


def _measuring_args(argv: list[str]) -> list[str]:
    """The arguments that change what is measured: ``--json`` and ``--out`` (where the results
    go, often a local path) are left out of the command shown in the report."""
    shown: list[str] = []
    skip_value = False
    for arg in argv:
        if skip_value:
            skip_value = False
        elif arg in ("--json", "--out"):
            skip_value = True
        elif not arg.startswith(("--json=", "--out=")):
            shown.append(arg)
    return shown


# -- measurement helpers ---------------------------------------------------------------------------
@contextlib.contextmanager
def frozen_heap() -> Iterator[None]:
    """Move every Python object that exists now out of the garbage collector's reach while
    timing (``gc.freeze``), so that the ``gc.collect()`` before each timed run walks only what
    the runs themselves created. A full collection walks every object of the process (hundreds
    of thousands with the peers imported) and leaves the CPU caches cold, which a training loop
    does not do between its steps: measured, it added 1.3-2.3 ms to every step of the record
    section's millisecond workloads (demo readout alone: 2.0 ms instead of 0.7 ms)."""
    gc.collect()
    gc.freeze()
    try:
        yield
    finally:
        gc.unfreeze()


class MemoryTracker(TorchDispatchMode):
    """Live bytes of tensor storages created while active (CPU), and their peak."""

    def __init__(self) -> None:
        super().__init__()
        self.current = 0
        self.peak = 0
        self._live: dict[int, int] = {}

    def _free(self, key: int, nbytes: int) -> None:
        if self._live.pop(key, None) is not None:
            self.current -= nbytes

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):  # noqa: ANN001
        out = func(*args, **(kwargs or {}))
        inputs = {t.untyped_storage()._cdata for t in tree_flatten((args, kwargs))[0]
                  if isinstance(t, Tensor)}
        for t in tree_flatten(out)[0]:
            if isinstance(t, Tensor) and t.device.type == "cpu":
                st = t.untyped_storage()
                key = st._cdata
                if key in self._live or key in inputs:  # known, or a view / in-place result
                    continue
                n = st.nbytes()
                self._live[key] = n
                self.current += n
                self.peak = max(self.peak, self.current)
                weakref.finalize(st, self._free, key, n)
        return out


def measure_times(contenders: dict[str, tuple[Callable, list[Tensor]]], repeats: int,
                  warmup: int) -> dict[str, dict[str, float]]:
    """Median forward, backward and total seconds of each contender over ``repeats`` runs,
    the contenders taking turns (so that a busy spell of the machine hits all of them)."""
    times: dict[str, dict[str, list[float]]] = {
        name: {"fwd": [], "bwd": [], "total": []} for name in contenders}
    # every workload starts with an empty buffer cache (its warm-up runs fill it), as a
    # training job of its own would: blocks that an earlier workload left idle would otherwise
    # stay resident beside this workload's memory
    snn.backends.empty_cache()
    with frozen_heap():
        for i in range(warmup + repeats):
            for name, (fwd, params) in contenders.items():
                for p in params:
                    p.grad = None
                gc.collect()
                t0 = time.perf_counter()
                out, loss = fwd()
                t1 = time.perf_counter()
                loss.backward()
                t2 = time.perf_counter()
                del out, loss
                if i >= warmup:
                    times[name]["fwd"].append(t1 - t0)
                    times[name]["bwd"].append(t2 - t1)
                    times[name]["total"].append(t2 - t0)
    res: dict[str, dict[str, Any]] = {}
    for name, d in times.items():
        res[name] = {k: statistics.median(v) for k, v in d.items()}
        res[name]["totals"] = d["total"]
    return res


def paired_ratio(a: dict[str, Any], b: dict[str, Any]) -> float:
    """Median over repeats of a's total / b's total in the same repeat (the contenders ran
    back to back, so a busy spell of the machine affects both sides of each ratio alike)."""
    return statistics.median(x / y for x, y in zip(a["totals"], b["totals"], strict=True))


def measure_memory(fwd: Callable[[], tuple[Tensor, Tensor]], params: list[Tensor]
                   ) -> dict[str, float]:
    """Bytes held after the forward (minus the output) and the training peak."""
    for p in params:
        p.grad = None
    gc.collect()
    # the fused loops' buffer cache starts empty, so that every block it holds during the
    # pass is an allocation the tracker sees (cached memory counts like any other)
    snn.backends.empty_cache()
    tracker = MemoryTracker()
    with tracker:
        out, loss = fwd()
        gc.collect()
        held = tracker.current - out.untyped_storage().nbytes()
        loss.backward()
        del out, loss
    return {"held": float(held), "peak": float(tracker.peak)}


def bandwidth(repeats: int) -> float:
    """Bytes per second of a large copy (read + write), median over ``repeats``."""
    a = torch.rand(64 * 1024 * 1024)  # 256 MiB
    b = torch.empty_like(a)
    b.copy_(a)
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        b.copy_(a)
        times.append(time.perf_counter() - t0)
    return 2 * a.numel() * a.element_size() / statistics.median(times)


# -- contenders -----------------------------------------------------------------------------
def _snt_leaky() -> Any:
    return snntorch.Leaky(beta=BETA, threshold=THR, spike_grad=snt_surrogate.atan(),
                          reset_mechanism="subtract")


def linear_contenders(T: int, B: int, N: int) -> dict[str, tuple[Callable, list[Tensor]]]:
    torch.manual_seed(0)
    x = torch.rand(T, B, N)
    fc = nn.Linear(N, N)
    with torch.no_grad():
        fc.weight.mul_(2.0)  # enough drive for a realistic spike rate
    params = list(fc.parameters())
    out: dict[str, tuple[Callable, list[Tensor]]] = {}

    net = snn.Sequential(fc, snn.Leaky(beta=BETA, threshold=THR, surrogate="atan"))

    def snncore_default() -> tuple[Tensor, Tensor]:
        spk, _ = net(x)
        return spk, spk.sum()

    def snncore_eager() -> tuple[Tensor, Tensor]:
        spk, _ = net(x, backend="eager")
        return spk, spk.sum()

    def gemm_only() -> tuple[Tensor, Tensor]:
        y = fc(x.reshape(T * B, N))
        return y, y.sum()

    out["snncore (default)"] = (snncore_default, params)
    out["snncore (eager)"] = (snncore_eager, params)
    out["GEMM only (floor)"] = (gemm_only, params)
    if snntorch is not None:
        lif = _snt_leaky()

        def snntorch_tutorial() -> tuple[Tensor, Tensor]:
            mem = lif.init_leaky()
            rec = []
            for step in range(T):
                cur = fc(x[step])
                spk, mem = lif(cur, mem)
                rec.append(spk)
            spk = torch.stack(rec)
            return spk, spk.sum()

        def snntorch_best() -> tuple[Tensor, Tensor]:
            mem = lif.init_leaky()
            cur = fc(x)
            rec = []
            for c in cur.unbind(0):
                spk, mem = lif(c, mem)
                rec.append(spk)
            spk = torch.stack(rec)
            return spk, spk.sum()

        out["snnTorch (tutorial style)"] = (snntorch_tutorial, params)
        out["snnTorch (best case)"] = (snntorch_best, params)
    return out


def lif_contenders(T: int, M: int) -> dict[str, tuple[Callable, list[Tensor]]]:
    torch.manual_seed(1)
    x = (torch.rand(T, M) * 0.6).requires_grad_(True)
    lif = snn.Leaky(beta=BETA, threshold=THR, surrogate="atan")
    out: dict[str, tuple[Callable, list[Tensor]]] = {}

    def snncore_default() -> tuple[Tensor, Tensor]:
        spk, _ = lif.run(x)
        return spk, spk.sum()

    def snncore_eager() -> tuple[Tensor, Tensor]:
        spk, _ = lif.run(x, backend="eager")
        return spk, spk.sum()

    out["snncore (default)"] = (snncore_default, [x])
    out["snncore (eager)"] = (snncore_eager, [x])
    if snntorch is not None:
        slif = _snt_leaky()

        def snntorch_loop() -> tuple[Tensor, Tensor]:
            mem = slif.init_leaky()
            rec = []
            for xt in x.unbind(0):
                spk, mem = slif(xt, mem)
                rec.append(spk)
            spk = torch.stack(rec)
            return spk, spk.sum()

        out["snnTorch (loop)"] = (snntorch_loop, [x])
    return out


def _triton_copy_kernel() -> Any:
    """A plain Triton copy kernel (load a block, store it): the bandwidth reference."""
    import triton
    import triton.language as tl

    @triton.jit
    def copy_kernel(src, dst, n, BLOCK: tl.constexpr):
        offs = tl.program_id(0).to(tl.int64) * BLOCK + tl.arange(0, BLOCK)
        m = offs < n
        tl.store(dst + offs, tl.load(src + offs, mask=m), mask=m)

    return copy_kernel


def device_bandwidth(dev: torch.device, n: int, repeats: int) -> float:
    """Bytes per second (read + write) of the faster of PyTorch's copy and a Triton copy
    kernel on ``dev``, median over ``repeats`` each."""
    sync = torch.cuda.synchronize if dev.type == "cuda" else (lambda: None)
    a = torch.rand(n, device=dev)
    b = torch.empty_like(a)
    kernel = _triton_copy_kernel()
    block = 4096

    def triton_copy() -> None:
        kernel[(-(-n // block),)](a, b, n, BLOCK=block)

    best = 0.0
    for fn in (lambda: b.copy_(a), triton_copy):
        fn()
        times = []
        for _ in range(repeats):
            sync()
            t0 = time.perf_counter()
            fn()
            sync()
            times.append(time.perf_counter() - t0)
        best = max(best, 2 * a.numel() * a.element_size() / statistics.median(times))
    if not torch.equal(a, b):
        raise RuntimeError("the bandwidth copy kernel copied wrongly")
    return best


def gpu_measure(dev: torch.device, T: int, M: int, repeats: int, warmup: int,
                bw_elems: int) -> dict[str, Any]:
    """Forward + backward times (dense upstream gradient) of the triton backend and eager: LIF in
    the hand-written kernels, LIF in the generic kernels, and every shipped family in the
    generic kernels; plus the device's copy bandwidth. Runs on CPU tensors too under
    ``TRITON_INTERPRET=1`` (how it is tested without a GPU)."""
    import workloads as wl

    from snncore._backends import get_backend
    from snncore.backends._triton_generic import triton_generic_run

    sync = torch.cuda.synchronize if dev.type == "cuda" else (lambda: None)
    gbw = device_bandwidth(dev, bw_elems, repeats)
    g = torch.Generator(device=dev).manual_seed(2)
    grad = torch.rand(T, M, device=dev, generator=g)

    def timed(run: Callable[[Tensor], Tensor], x: Tensor) -> float:
        ts = []
        for i in range(warmup + repeats):
            x.grad = None
            sync()
            t0 = time.perf_counter()
            run(x).backward(grad)
            sync()
            if i >= warmup:
                ts.append(time.perf_counter() - t0)
        return statistics.median(ts)

    def peak(run: Callable[[Tensor], Tensor], x: Tensor) -> float | None:
        """Training peak in bytes above what was allocated before (CUDA only)."""
        if dev.type != "cuda":
            return None
        x.grad = None
        sync()
        base = torch.cuda.memory_allocated(dev)
        torch.cuda.reset_peak_memory_stats(dev)
        run(x).backward(grad)
        sync()
        return float(torch.cuda.max_memory_allocated(dev) - base)

    fams = {"leaky (hand-written kernels)": (lambda: snn.Leaky(beta=BETA, threshold=THR,
                                                               surrogate="atan"), 0.6, "triton"),
            "leaky (generic kernels)": (lambda: snn.Leaky(beta=BETA, threshold=THR,
                                                          surrogate="atan"), 0.6, "generic")}
    fams.update({name: (make, scale, "triton") for name, (make, scale)
                 in wl.family_neurons().items() if name != "leaky"})
    res: dict[str, Any] = {}
    for name, (make, scale, how) in fams.items():
        neuron = make().to(dev)
        x = (torch.rand(T, M, device=dev, generator=g) * scale).requires_grad_(True)
        # the backend itself (no selection, so no silent fallback to eager; an unsupported
        # neuron raises); it runs the hand-written kernels where they apply
        def ours(v: Tensor, n: Any = neuron, how: str = how) -> Tensor:
            if how == "generic":
                return triton_generic_run(n, v, n.prepare(v[0], None))[0]
            return get_backend("triton").run(n, v, n.prepare(v[0], None))[0]

        def eager(v: Tensor, n: Any = neuron) -> Tensor:
            return n.run(v, backend="eager")[0]

        res[name] = {"triton": timed(ours, x), "eager": timed(eager, x),
                     "triton_peak": peak(ours, x), "eager_peak": peak(eager, x)}
        del x
    return {"bandwidth_Bps": gbw, "T": T, "M": M, "results": res}


def gpu_section(md: list[str], raw: dict[str, Any], repeats: int, warmup: int,
                quick: bool, dev: torch.device | None = None) -> list[str]:
    """Triton LIF forward+backward at T=32 with 4M neurons against the GPU's copy bandwidth and
    against eager, and every family in the generic Triton kernels; a 'not measured' line
    without a CUDA GPU or triton."""
    if dev is None:
        ok, why = snn.registries()["backend"].get("triton").factory.available()
        if not ok:
            return [f"| Triton LIF forward+backward: >= 80% of GPU copy bandwidth at T=32, 4M "
                    f"neurons; >= 10x eager; every family in the generic Triton kernels >= 3x "
                    f"eager | not measured: {why} | - |"]
        dev = torch.device("cuda")
    small = quick or dev.type != "cuda"
    T, M = 32, (1 << 18 if quick else 1 << 22) if dev.type == "cuda" else 300
    bw_elems = (1 << 28 if not quick else 1 << 24) if dev.type == "cuda" else 1 << 12
    out = gpu_measure(dev, T, M, repeats, warmup, bw_elems)
    gbw, res = out["bandwidth_Bps"], out["results"]
    roof = 24 * T * M / gbw
    gpu = torch.cuda.get_device_name(dev) if dev.type == "cuda" else f"{dev} (interpreter)"
    raw["gpu"] = {"device": gpu, **out, "small": small}
    md.append(f"## 4. Triton kernels on {gpu}, [T={T}, {M}] fp32, forward + backward "
              "(dense upstream gradient)\n")
    md.append(f"Copy bandwidth (the faster of PyTorch's copy and a Triton copy kernel) "
              f"{gbw / 1e9:.0f} GB/s; LIF roofline (24 bytes per neuron-step: x, spikes and "
              f"the kept membrane in the forward; the spike gradient, the membrane and the input "
              f"gradient in the backward) {ms(roof)} ms.\n")
    def peak_mib(v: float | None) -> str:
        return "-" if v is None else mib(v)

    rows = [[name, ms(r["triton"]), ms(r["eager"]), f"{r['eager'] / r['triton']:.1f}x",
             f"{roof / r['triton']:.0%}", peak_mib(r["triton_peak"]), peak_mib(r["eager_peak"])]
            for name, r in res.items()]
    md.append(table(["neuron", "triton ms", "eager ms", "eager / triton",
                     "of the LIF roofline", "triton peak MiB", "eager peak MiB"], rows) + "\n")
    md.append(f"Peak: GPU memory allocated during forward + backward above what was allocated "
              f"before (the input, {mib(4 * T * M)} MiB, and the upstream gradient excluded).\n")
    lif = res["leaky (hand-written kernels)"]
    frac, speed = roof / lif["triton"], lif["eager"] / lif["triton"]
    print(f"GPU {gpu}: triton LIF {ms(lif['triton'])} ms ({frac:.0%} of the copy bandwidth), "
          f"eager {ms(lif['eager'])} ms")
    targets = [f"| Triton LIF ({gpu}): >= 80% of the copy bandwidth (T=32, 4M neurons) | "
               f"{frac:.0%} | {check(frac >= 0.8 and not small)} |",
               f"| Triton LIF ({gpu}): >= 10x faster than eager | {speed:.1f}x | "
               f"{check(speed >= 10)} |"]
    for name, r in res.items():
        if name.startswith("leaky (hand"):
            continue
        sp = r["eager"] / r["triton"]
        targets.append(f"| {name} on {gpu}: generic Triton kernels >= 3x faster than eager | "
                       f"{sp:.1f}x | {check(sp >= 3)} |")
    return targets


def _timed(cont: dict[str, tuple[Callable, list[Tensor]]], repeats: int, warmup: int,
           memory: bool = True) -> dict[str, dict[str, Any]]:
    res = measure_times(cont, repeats, warmup)
    if memory:
        for name, (fn, params) in cont.items():
            res[name].update(measure_memory(fn, params))
    return res


def _rows(res: dict[str, dict[str, Any]], ref: str) -> list[list[str]]:
    return [[name, ms(r["fwd"]), ms(r["bwd"]), ms(r["total"]),
             f"{paired_ratio(r, res[ref]):.2f}x", mib(r.get("peak", float("nan")))]
            for name, r in res.items()]


_HEAD = ["", "forward", "backward", "total", "vs ref", "peak MiB"]


def more_sections(md: list[str], raw: dict[str, Any], repeats: int, warmup: int, quick: bool,
                  skip: set[str], T: int, M: int) -> list[str]:
    """Neuron families, record, dense floors, Synaptic, recurrent, conv, huge pages, buffers,
    multi-layer networks."""
    import workloads as wl

    targets: list[str] = []
    close = CLOSE_REPEATS * repeats
    md.append(f"Peers installed for this run: {wl.peer_versions()}.\n")
    if "families" not in skip:
        md.append(f"## 5. Every shipped neuron family, alone on [T={T}, {M}] fp32, forward + "
                  "backward (loss = sum of outputs)\n")
        md.append("Every family that runs fused, on the backend `auto` picks for it, against its "
                  "own step-by-step `eager` run. Both allocate the two [T, N] buffers of a "
                  "training step (the output and the input gradient); the fused loops take "
                  "them from snncore's buffer cache (reused memory, no page faults), the eager "
                  "run from PyTorch's allocator. The shipped neurons that run eager, and "
                  "why, are listed in [backends](backends.md#the-generic-backend-every-"
                  "elementwise-neuron-fused).\n")
        rows = []
        for name, (make, scale) in wl.family_neurons().items():
            cont = wl.family_contenders(make, scale, T, M)
            res = _timed(cont, repeats, warmup, memory=False)
            d, e = res["snncore (default)"], res["snncore (eager)"]
            chosen = _chosen(make)
            sp = paired_ratio(e, d)
            raw.setdefault("families", {})[name] = {"default": d, "eager": e, "backend": chosen}
            rows.append([name, chosen, ms(d["total"]), ms(e["total"]), f"{sp:.2f}x"])
            targets.append(f"| {name}: fused >= 3x faster than eager (LIF-alone shape) | "
                           f"{sp:.2f}x ({chosen}) | {check(sp >= 3 and chosen != 'eager')} |")
            print(f"family {name:24s} {chosen:8s} default {ms(d['total']):>8} eager "
                  f"{ms(e['total']):>8} ms  {sp:.2f}x")
        md.append(table(["neuron", "backend", "default ms", "eager ms", "eager / default"],
                        rows) + "\n")
    if "record" not in skip:
        md.append("## 6. Recording states on the fused path (`Neuron.record`) vs `trace()`\n")
        md.append("The demo's network (64-256-10, readout membrane recorded, loss on the "
                  "membrane), B=256, T=25; the demo's readout layer alone (cross-entropy on the "
                  "time-mean membrane); a regression step (1-128-1, T=100, B=64, membrane MSE); "
                  f"and a leaky integrator readout alone on [T={T}, {M}] with an MSE loss on "
                  "every membrane. In the whole demo network the readout is a small part of "
                  "the step (the hidden layers are shared by both contenders), so the whole "
                  "step cannot be 2x faster however fast the readout gets. Each row is timed "
                  f"over {close} repeats.\n")
        for label, cont in (("demo readout", wl.record_contenders()),
                            ("demo readout layer alone", wl.readout_contenders()),
                            ("membrane-loss step, 1-128-1", wl.regression_contenders()),
                            ("membrane loss, LIF alone", wl.long_record_contenders(T, M))):
            res = _timed(cont, close, warmup)
            raw.setdefault("record", {})[label] = res
            md.append(f"### {label}\n")
            md.append(table(_HEAD, _rows(res, "record (fused)")) + "\n")
            sp = paired_ratio(res["trace (eager)"], res["record (fused)"])
            targets.append(f"| record, {label}: >= 2x faster than trace() | {sp:.2f}x | "
                           f"{check(sp >= 2)} |")
            print(f"record {label}: {sp:.2f}x")
    if "dense" not in skip:
        md.append(f"## 7. Linear + neuron against the dense-gradient GEMM floor, B=16, T={T}\n")
        md.append("The floor is the `Linear` alone over all T·B rows with a dense (materialised) "
                  "upstream gradient, which is what a network's backward feeds it. The traffic "
                  "yardstick is the same `Linear` followed by the fewest bytes any neuron layer "
                  "that recomputes its states moves, done by plain torch ops (a copy forward, an "
                  "in-place product backward: `benchmarks/workloads.py: _CopyLayer`), with the "
                  "same loss (sum of the outputs) as snncore's row. The N=512 rows are timed "
                  f"over {close} repeats, N=2048 over {repeats}.\n")
        for kind, N, limit in (("leaky", 512, 1.05), ("leaky", 2048, 1.10),
                               ("synaptic", 512, 1.15)):
            if quick and N > 512:
                continue
            cont = wl.linear_dense_contenders(T, 16, N, kind)
            res = _timed(cont, close if N <= 512 else repeats, warmup)
            raw.setdefault("dense", {})[f"{kind}-{N}"] = res
            fl = "GEMM only, dense gradient (floor)"
            md.append(f"### {kind}, N = {N}\n")
            md.append(table(_HEAD, _rows(res, fl)) + "\n")
            r = paired_ratio(res[f"snncore Linear+{kind}"], res[fl])
            targets.append(f"| Linear+{kind} N={N}: within {limit}x of the dense floor | "
                           f"{r:.2f}x | {check(r <= limit)} |")
            ry = paired_ratio(res[f"snncore Linear+{kind}"],
                              res["GEMM + copy layer, same loss (traffic yardstick)"])
            md.append(f"snncore against the traffic yardstick: {ry:.2f}x.\n")
            print(f"dense {kind} N={N}: {r:.2f}x of the floor, {ry:.2f}x of the yardstick")
    if "recurrent" not in skip:
        Tr = 30 if quick else 100
        md.append(f"## 8. Recurrent all-to-all: Linear(256) + RLeaky(linear_features=256), "
                  f"B=32, T={Tr}\n")
        md.append("snncore runs the all-to-all RLeaky on `fused` (one autograd function over T: "
                  "the feedback GEMM between native element-wise steps, the weight gradient as "
                  "one GEMM over all steps); `snncore RLeaky (eager)` is the same network on "
                  "the eager reference. Peak = training peak (forward + backward).\n")
        res = _timed(wl.recurrent_contenders(T=Tr), repeats, warmup)
        raw["recurrent"] = res
        md.append(table(_HEAD, _rows(res, "snncore RLeaky")) + "\n")
        ours = res["snncore RLeaky"]
        for k in (k for k in res if not k.startswith("snncore")):
            sp = paired_ratio(res[k], ours)
            targets.append(f"| recurrent: faster than {k} | {sp:.2f}x | {check(sp > 1)} |")
        snt = [k for k in res if k.startswith("snnTorch")]
        if snt:
            pk, ref_pk = ours["peak"], res[snt[0]]["peak"]
            targets.append(f"| recurrent: training peak below {snt[0]} | {mib(pk)} vs "
                           f"{mib(ref_pk)} MiB | {check(pk < ref_pk)} |")
        for name, r in res.items():
            print(f"recurrent {name:32s} total {ms(r['total']):>8} ms peak {mib(r['peak'])}")
    if "conv" not in skip:
        Tc = 10 if quick else 25
        md.append(f"## 9. Conv network (snnTorch tutorial 6 shape), [T={Tc}, B=64, 1, 28, 28]\n")
        md.append("Conv2d(1,12,5)-MaxPool-LIF-Conv2d(12,64,5)-MaxPool-LIF-Linear(1024,10)-LIF; "
                  "the floors are the same network with the neurons replaced by identity, per "
                  "step, in 5-step chunks or folded, each in PyTorch's default (NCHW) and in "
                  "channels-last memory order. Every contender's backward starts from the same "
                  "dense upstream gradient on its [T, B, 10] output.\n")
        res = _timed(wl.conv_contenders(T=Tc), repeats, warmup)
        raw["conv"] = res
        md.append(table(_HEAD, _rows(res, "snncore Sequential")) + "\n")
        ours = res["snncore Sequential"]
        floors = [k for k in res if k.startswith("floor")]
        best = min(floors, key=lambda k: res[k]["total"])
        r = paired_ratio(ours, res[best])
        targets.append(f"| conv: within 1.10x of the best conv-only floor ({best}) | {r:.2f}x | "
                       f"{check(r <= 1.10)} |")
        peers = [k for k in res if not k.startswith(("floor", "snncore"))]
        for k in peers:
            sp = paired_ratio(res[k], ours)
            targets.append(f"| conv: faster than {k} | {sp:.2f}x | {check(sp > 1)} |")
        if "snnTorch (tutorial loop)" in res:
            pr = ours["peak"] / res["snnTorch (tutorial loop)"]["peak"]
            targets.append(f"| conv: training peak below snnTorch's (tutorial loop) | {pr:.2f}x "
                           f"({mib(ours['peak'])} MiB) | {check(pr < 1)} |")
        for name, rr in res.items():
            print(f"conv {name:28s} total {ms(rr['total']):>8} ms peak {mib(rr['peak'])}")
    if "hugepages" not in skip:
        N = 512 if quick else 2048
        pause = 0.5 if quick else 3.0
        md.append(f"## 10. Transparent huge pages: Linear+LIF N={N} training step\n")
        hp = wl.hugepage_measure(N=N, T=T, repeats=3 if quick else 5, pause=pause)
        raw["hugepages"] = hp
        md.append(table(["", "median step ms"], [[k, ms(v)] for k, v in hp.items()]) + "\n")
        for k, v in hp.items():
            print(f"hugepages {k:32s} {ms(v)} ms")
    if "buffers" not in skip:
        from snncore import _buffers

        md.append("## 11. Buffer cache: training steps with the cache on and off\n")
        md.append("The fused loops' large CPU buffers come from snncore's buffer cache (see "
                  "[backends](backends.md)); `cache off` takes every buffer from PyTorch's "
                  "allocator (`SNNCORE_BUFFER_CACHE_MB=0`). The two take turns step by step. "
                  f"LI and Leaky alone on [T={T}, {M}], Linear(512)+Leaky at B=16, T={T}.\n")
        real = _buffers.buffer_cache()
        rows = []
        try:
            for name, cont in wl.buffer_cache_contenders(T, M).items():
                res = _timed(cont, repeats, warmup, memory=False)
                on, off = res["cache on"], res["cache off"]
                sp = paired_ratio(off, on)
                raw.setdefault("buffers", {})[name] = {"on": on, "off": off}
                rows.append([name, ms(on["total"]), ms(off["total"]), f"{sp:.2f}x"])
                print(f"buffers {name:24s} on {ms(on['total']):>8} off {ms(off['total']):>8} ms"
                      f"  {sp:.2f}x")
        finally:
            _buffers._cache = real
        md.append(table(["step", "cache on ms", "cache off ms", "off / on"], rows) + "\n")
    if "mlp" not in skip:
        md.append("## 12. Multi-layer Linear + Leaky networks: training time and peak\n")
        md.append("`snn.Sequential` of `Linear` + `Leaky` layers against snnTorch's tutorial "
                  "loop over the same layers (loss = sum of the last layer's spikes). Between "
                  "two layers the spikes are kept for the next `Linear`'s weight gradient; the "
                  "runner lets go of them before their gradient is allocated "
                  "([backends](backends.md)).\n")
        shapes = ((25, 128, (784, 1000, 10)), (25, 128, (784, 1000, 1000, 10)),
                  (T, 16, (512, 512, 512)))
        for Tm, Bm, dims in shapes[:1] if quick else shapes:
            res = _timed(wl.mlp_contenders(Tm, Bm, dims), repeats, warmup)
            label = "-".join(map(str, dims))
            raw.setdefault("mlp", {})[label] = res
            md.append(f"### {label}, T={Tm}, B={Bm}\n")
            md.append(table(_HEAD, _rows(res, "snncore Sequential")) + "\n")
            ref = res.get("snnTorch (tutorial loop)")
            if ref is not None:
                ours = res["snncore Sequential"]
                pr = ours["peak"] / ref["peak"]
                targets.append(f"| {label} MLP: training peak below snnTorch's (tutorial loop) "
                               f"| {pr:.2f}x ({mib(ours['peak'])} MiB) | {check(pr < 1)} |")
            for name, r in res.items():
                print(f"mlp {label} {name:26s} total {ms(r['total']):>8} ms "
                      f"peak {mib(r['peak'])}")
    return targets


def _chosen(make: Callable) -> str:
    from snncore._backends import select_backend

    return select_backend(make(), torch.rand(4, 8)).name


# -- report ---------------------------------------------------------------------------------
def ms(s: float) -> str:
    return f"{s * 1e3:.1f}"


def mib(b: float) -> str:
    return f"{b / 2**20:.1f}"


def table(header: list[str], rows: list[list[str]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    lines += ["| " + " | ".join(r) + " |" for r in rows]
    return "\n".join(lines)


def check(ok: bool) -> str:
    return "met" if ok else "NOT met"


def _load() -> str:
    try:
        return f"{os.getloadavg()[0]:.2f}"
    except (OSError, AttributeError):
        return "unknown"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--quick", action="store_true", help="small sizes and few repeats (smoke run)")
    ap.add_argument("--threads", type=int, default=2, help="torch threads (default 2)")
    ap.add_argument("--repeats", type=int, default=None, help="timed repeats (default 7)")
    ap.add_argument("--out", default=None,
                    help="Markdown report path (default docs/benchmarks.md for a full run; "
                         "'-' to write nothing)")
    ap.add_argument("--json", default=None, help="also write the raw numbers as JSON here")
    ap.add_argument("--sizes", default=None,
                    help="comma-separated N for section 1 (default 512,2048; quick: 512)")
    ap.add_argument("--skip", default="",
                    help="comma-separated sections to skip: linear,lif,memory,families,"
                         "record,dense,recurrent,conv,hugepages,buffers,mlp,gpu")
    args = ap.parse_args(argv)

    torch.set_num_threads(args.threads)
    repeats = args.repeats or (3 if args.quick else 7)
    warmup = 1 if args.quick else 2
    T, B = (100, 16) if args.quick else (500, 16)
    out_path = args.out if args.out is not None else ("-" if args.quick else
                                                       str(ROOT / "docs" / "benchmarks.md"))
    sizes = (512,) if args.quick else (512, 2048)
    if args.sizes:
        sizes = tuple(int(v) for v in args.sizes.split(","))
    skip = {v.strip() for v in args.skip.split(",") if v.strip()}
    if skip:
        out_path = "-" if args.out is None else args.out
    mem_ts = (100,) if args.quick else (100, 500, 2000)
    from snncore.backends import _native as _fused_native

    raw: dict[str, Any] = {"linear": {}, "lif": {}, "memory": {}}
    md: list[str] = []
    cmd = "python benchmarks/run.py " + " ".join(
        _measuring_args(argv if argv is not None else sys.argv[1:]))
    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as fh:
            cpu = next(line.split(":", 1)[1].strip() for line in fh
                       if line.startswith("model name"))
    except (OSError, StopIteration):
        pass
    # the widest vector ISA PyTorch uses here (AVX2, AVX512, ...): GEMM and loop speeds follow it
    cpu += f" ({torch.backends.cpu.get_cpu_capability()})"
    info = (f"{cpu}, {args.threads} threads, torch {torch.__version__}, snncore "
            f"{snn.__version__}, snnTorch {getattr(snntorch, '__version__', 'not installed')}, "
            f"Python {platform.python_version()}; fused native loops: "
            f"{_fused_native.native_status().split(' (')[0]}")
    print(info)
    load_start = _load()

    # 1. Linear + LIF
    md.append(f"## 1. Linear(N, N) + LIF, B={B}, T={T}\n")
    md.append("Forward, backward (loss = sum of spikes) and total in ms (median of "
              f"{repeats} after {warmup} warm-up; the contenders take turns in every repeat, and "
              "ratios are medians of the per-repeat ratios); memory in MiB (held after forward "
              "minus the output, and training peak).\n")
    targets_lin: list[str] = []
    for N in sizes if "linear" not in skip else ():
        cont = linear_contenders(T, B, N)
        res = measure_times(cont, repeats, warmup)
        for name, (fn, params) in cont.items():
            r = res[name]
            r.update(measure_memory(fn, params))
            res[name] = r
            print(f"N={N:5d} {name:28s} fwd {ms(r['fwd']):>8} bwd {ms(r['bwd']):>8} total "
                  f"{ms(r['total']):>8} ms  held {mib(r['held']):>8} peak {mib(r['peak']):>8} MiB")
        raw["linear"][N] = res
        fl = res["GEMM only (floor)"]
        rows = [[name, ms(r["fwd"]), ms(r["bwd"]), ms(r["total"]),
                 f"{paired_ratio(r, fl):.2f}x", mib(r["held"]), mib(r["peak"])]
                for name, r in res.items()]
        md.append(f"### N = {N}\n")
        md.append(table(["", "forward", "backward", "total", "vs floor", "held MiB", "peak MiB"],
                        rows) + "\n")
        ours = res["snncore (default)"]
        limit = 1.15 if N >= 2048 else 1.5
        vs_floor = paired_ratio(ours, fl)
        targets_lin.append(f"| Linear+LIF N={N}: total within {limit}x of the GEMM floor | "
                           f"{vs_floor:.2f}x | {check(vs_floor <= limit)} |")
        if "snnTorch (tutorial style)" in res:
            sp = paired_ratio(res["snnTorch (tutorial style)"], ours)
            targets_lin.append(f"| Linear+LIF N={N}: >= 2x faster than snnTorch tutorial style | "
                               f"{sp:.2f}x | {check(sp >= 2)} |")
            pr = ours["peak"] / res["snnTorch (tutorial style)"]["peak"]
            targets_lin.append(f"| Linear+LIF N={N}: training peak below snnTorch tutorial style | "
                               f"{pr:.2f}x ({mib(ours['peak'])} MiB) | {check(pr < 1)} |")

    # 2. LIF alone vs roofline
    M = 16 * 2048
    targets_lif: list[str] = []
    bw = bandwidth(repeats)
    roof = 24 * T * M / bw
    md.append(f"## 2. LIF alone, [T={T}, {M}] fp32, forward + backward\n")
    md.append(f"Measured copy bandwidth: {bw / 1e9:.1f} GB/s; roofline for training (24 bytes "
              f"per neuron-step): {ms(roof)} ms.\n")
    cont = lif_contenders(T, M) if "lif" not in skip else {}
    res = measure_times(cont, repeats, warmup)
    for name, (fn, params) in cont.items():
        r = res[name]
        r.update(measure_memory(fn, params))
        print(f"LIF {name:28s} fwd {ms(r['fwd']):>8} bwd {ms(r['bwd']):>8} total "
              f"{ms(r['total']):>8} ms  held {mib(r['held']):>8} peak {mib(r['peak']):>8} MiB")
    raw["lif"] = {"bandwidth_Bps": bw, "roofline_s": roof, "results": res}
    in_bytes = T * M * 4
    rows = [[name, ms(r["fwd"]), ms(r["bwd"]), ms(r["total"]), f"{r['total'] / roof:.2f}x",
             f"{r['held'] / in_bytes:.2f}x", f"{r['peak'] / in_bytes:.2f}x"]
            for name, r in res.items()]
    md.append(table(["", "forward", "backward", "total", "vs roofline", "held / input",
                     "peak / input"], rows) + "\n")
    ours = res.get("snncore (default)")
    if ours is not None:
        targets_lif.append(f"| LIF alone: within 4x of the bandwidth roofline | "
                           f"{ours['total'] / roof:.2f}x | {check(ours['total'] / roof <= 4)} |")
    if ours is not None and "snnTorch (loop)" in res:
        st = res["snnTorch (loop)"]
        sp = paired_ratio(st, ours)
        targets_lif.append(f"| LIF alone: >= 3x faster than snnTorch's loop | {sp:.2f}x | "
                           f"{check(sp >= 3)} |")
        hr = ours["held"] / st["held"]
        pr = ours["peak"] / st["peak"]
        targets_lif.append(f"| LIF alone T={T}: held after forward <= 0.5x snnTorch | "
                           f"{hr:.2f}x | {check(hr <= 0.5)} |")
        targets_lif.append(f"| LIF alone T={T}: training peak <= 0.75x snnTorch | {pr:.2f}x | "
                           f"{check(pr <= 0.75)} |")
        targets_lif.append(f"| LIF alone T={T}: training peak <= 0.5x snnTorch | {pr:.2f}x | "
                           f"{check(pr <= 0.5)} (see the notes on memory) |")

    # 3. memory vs T
    md.append(f"## 3. Training memory vs T, LIF alone [T, {M}] fp32\n")
    rows = []
    for t in mem_ts if "memory" not in skip else ():
        for name, (fn, params) in lif_contenders(t, M).items():
            if name == "snncore (eager)":
                continue
            r = measure_memory(fn, params)
            raw["memory"].setdefault(t, {})[name] = r
            inb = t * M * 4
            rows.append([str(t), name, mib(inb), mib(r["held"]), mib(r["peak"]),
                         f"{r['held'] / inb:.2f}x", f"{r['peak'] / inb:.2f}x"])
            print(f"memory T={t:5d} {name:24s} held {mib(r['held']):>8} peak "
                  f"{mib(r['peak']):>8} MiB")
            gc.collect()
    md.append(table(["T", "", "input MiB", "held MiB", "peak MiB", "held / input",
                     "peak / input"], rows) + "\n")

    # 4. Triton on a GPU
    targets_gpu = gpu_section(md, raw, repeats, warmup, quick=args.quick) \
        if "gpu" not in skip else []
    # 5.-10. the other workloads
    targets_more = more_sections(md, raw, repeats, warmup, args.quick, skip, T, M)
    targets = "\n".join(["| target | measured | |", "|---|---|---|", *targets_lin, *targets_lif,
                         *targets_more, *targets_gpu])
    load_end = _load()
    print("\n" + targets)
    if args.json:
        Path(args.json).write_text(json.dumps(raw, indent=1, default=str), encoding="utf-8")
    if out_path != "-":
        now = _dt.datetime.now(_dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
        text = "\n".join([
            "# Benchmarks",
            "",
            "Produced by `" + cmd.strip() + "` (also `nox -s bench`) on " + now + ".",
            "",
            "Machine: " + info + ". " + ("No GPU was available for this run, so the "
                                          "`triton` backend's GPU targets are not measured "
                                          "here." if "gpu" not in raw else ""),
            "",
            f"System load average (1 min) at the start and end of the run: {load_start} and "
            f"{load_end}. On a machine shared with other jobs the numbers move from run to "
            "run: rerun the command on a quiet machine for stable numbers (the quick smoke run "
            "is `python benchmarks/run.py --quick`).",
            "",
            "What is compared (one process, the same input and weights for every contender): "
            "**snncore (default)** is `snn.Sequential(nn.Linear(N, N), snn.Leaky(...))` on "
            "the automatically selected backend (`fused` here), **snncore (eager)** the same "
            "model on the step-by-step reference backend, **GEMM only** the `Linear` layer alone "
            "over all T·B rows (the floor any implementation pays), **snnTorch (tutorial "
            "style)** the `Linear` applied inside the time loop as snnTorch's tutorials write "
            "it, and **snnTorch (best case)** one `Linear` over all steps followed by "
            "snnTorch's `Leaky` over `unbind(0)`. LIF: beta=0.95, threshold=1, subtract reset, "
            "atan surrogate; loss = sum of spikes. The roofline of section 2 is the time to move "
            "24 bytes per neuron-step (training in fp32) at the bandwidth of a large copy.",
            "",
            "## Targets",
            "",
            targets,
            "",
            *md,
            "Memory is counted from the allocations PyTorch makes during the measured pass "
            "(a dispatch-mode tracker); the input tensor itself is not included, and "
            "snncore's buffer cache is emptied before the pass, so that the blocks it "
            "holds count as allocations. snncore's "
            "fused backend keeps one tensor per layer for the backward (the pre-reset "
            "membrane) and writes the input gradient into that same buffer.",
            "",
        ])
        Path(out_path).write_text(text + _kept_notes(Path(out_path)), encoding="utf-8")
        print(f"wrote {out_path}")
    return 0


#: the hand-written notes of a report start at this line; a rerun keeps them
NOTES_MARK = "<!-- notes: written by hand, kept when benchmarks/run.py rewrites this page -->"


def _kept_notes(path: Path) -> str:
    """The hand-written notes of the report at ``path`` (from :data:`NOTES_MARK` on), or ""."""
    try:
        old = path.read_text(encoding="utf-8")
    except OSError:
        return ""
    at = old.find(NOTES_MARK)
    return "\n" + old[at:] if at >= 0 else ""


if __name__ == "__main__":
    raise SystemExit(main())
