"""Workloads of the benchmark beyond Linear+LIF: neuron families, recording, Synaptic,
recurrent all-to-all, the tutorial-6 conv network, dense-gradient floors and huge pages.

Every workload builds a dict ``name -> (forward, params)``; ``forward()`` returns
``(output, loss)`` where ``loss.backward()`` runs the backward. Peers (snnTorch, Norse,
SpikingJelly, Sinabs) are included when they import.
"""

from __future__ import annotations

import importlib
import math
import time
from collections.abc import Callable
from functools import partial
from typing import Any

import torch
from torch import Tensor, nn

import snncore as snn

BETA, THR = 0.95, 1.0
Contenders = dict[str, tuple[Callable[[], tuple[Tensor, Any]], list[Tensor]]]


def optional(name: str) -> Any:
    try:
        return importlib.import_module(name)
    except Exception:  # a peer that does not import here is simply left out
        return None


snntorch = optional("snntorch")
norse = optional("norse.torch")
sj_neuron = optional("spikingjelly.activation_based.neuron")
sj_layer = optional("spikingjelly.activation_based.layer")
sj_surrogate = optional("spikingjelly.activation_based.surrogate")
sj_functional = optional("spikingjelly.activation_based.functional")
sinabs_layers = optional("sinabs.layers")


def peer_versions() -> str:
    out = []
    for dist in ("snntorch", "norse", "spikingjelly", "sinabs"):
        try:
            from importlib.metadata import version

            out.append(f"{dist} {version(dist)}")
        except Exception:
            out.append(f"{dist} not installed")
    return ", ".join(out)


class DenseLoss:
    """``out.backward(grad)`` with a dense (materialised, non-expanded) upstream gradient."""

    def __init__(self, out: Tensor, grad: Tensor) -> None:
        self.out, self.grad = out, grad

    def backward(self) -> None:
        self.out.backward(self.grad)


# -- neuron families on the LIF-alone shape ---
def family_neurons() -> dict[str, tuple[Callable[[], nn.Module], float]]:
    """Every shipped neuron family that runs fused: name -> (factory, input scale).

    The families that run eager (their steps mix neurons: LSTM gates, associative memory, the
    projection inside LeakyParallel/LinearLeaky; and the stateless layers BatchNormTT and
    GradedSpikes) are listed with the reason in docs/backends.md; all-to-all recurrent
    RLeaky/RSynaptic are timed in the recurrent section."""
    fams: dict[str, tuple[Callable[[], nn.Module], float]] = {
        "leaky": (lambda: snn.Leaky(beta=BETA), 0.6)}
    sx = optional("snn_neurons_extra")
    if sx is None:
        return fams
    fams.update({
        "synaptic": (lambda: sx.Synaptic(alpha=0.9, beta=0.9), 0.4),
        "alpha": (lambda: sx.Alpha(alpha=0.9, beta=0.8), 0.6),
        "lapicque": (lambda: sx.Lapicque(beta=BETA), 0.6),
        "if": (lambda: sx.IF(), 0.4),
        "li": (lambda: sx.LI(beta=BETA), 0.6),
        "alif": (lambda: sx.ALIF(beta=BETA), 0.6),
        "izhikevich": (lambda: sx.Izhikevich(), 12.0),
        "adex": (lambda: sx.AdEx(), 1500.0),
        "rleaky (element-wise)": (lambda: sx.RLeaky(beta=BETA, all_to_all=False), 0.6),
        "rsynaptic (element-wise)": (lambda: sx.RSynaptic(alpha=0.9, beta=0.9, all_to_all=False),
                                     0.4),
        "delta_leaky": (lambda: sx.DeltaLeaky(beta=BETA, delta_threshold=0.3), 0.6),
        "state_leaky": (lambda: sx.StateLeaky(beta=BETA), 0.6),
    })
    return fams


def family_contenders(make: Callable[[], nn.Module], scale: float, T: int, M: int
                      ) -> Contenders:
    torch.manual_seed(3)
    x = (torch.rand(T, M) * scale).requires_grad_(True)
    neuron = make()
    params = [x, *neuron.parameters()]

    def default() -> tuple[Tensor, Tensor]:
        out, _ = neuron.run(x)
        return out, out.sum()

    def eager() -> tuple[Tensor, Tensor]:
        out, _ = neuron.run(x, backend="eager")
        return out, out.sum()

    return {"snncore (default)": (default, params), "snncore (eager)": (eager, params)}


# -- recording: the demo's readout and a membrane-loss step ---
def record_contenders(T: int = 25, B: int = 256) -> Contenders:
    torch.manual_seed(4)
    x = torch.rand(T, B, 64)
    fc1, fc2 = nn.Linear(64, 256), nn.Linear(256, 10)
    lif = snn.Leaky(beta=0.9)
    readout = snn.Leaky(beta=0.9, reset="none")
    target = torch.rand(T, B, 10)
    params = [*fc1.parameters(), *fc2.parameters()]

    def with_record() -> tuple[Tensor, Tensor]:
        spk, _ = lif.run(fc1(x))
        _, _, rec = readout.record(fc2(spk), "mem")
        mem = rec["mem"]
        return mem, ((mem - target) ** 2).mean()

    def with_trace() -> tuple[Tensor, Tensor]:
        spk, _ = lif.run(fc1(x))
        _, states = readout.trace(fc2(spk))
        mem = states.mem
        return mem, ((mem - target) ** 2).mean()

    return {"record (fused)": (with_record, params), "trace (eager)": (with_trace, params)}


def readout_contenders(T: int = 25, B: int = 256) -> Contenders:
    """The demo's readout layer alone ([T, B, 10], reset none), cross-entropy on the time-mean
    membrane: the part of the demo's step that ``record`` replaces."""
    torch.manual_seed(4)
    x = torch.rand(T, B, 10, requires_grad=True)
    y = torch.randint(0, 10, (B,))
    ro = snn.Leaky(beta=0.9, reset="none")

    def with_record() -> tuple[Tensor, Tensor]:
        _, _, rec = ro.record(x, "mem")
        return rec["mem"], nn.functional.cross_entropy(rec["mem"].mean(0), y)

    def with_trace() -> tuple[Tensor, Tensor]:
        _, st = ro.trace(x)
        return st.mem, nn.functional.cross_entropy(st.mem.mean(0), y)

    return {"record (fused)": (with_record, [x]), "trace (eager)": (with_trace, [x])}


def regression_contenders(T: int = 100, B: int = 64) -> Contenders:
    """A regression training step (1-128-1, membrane MSE on the readout; snnTorch's regression
    tutorials): hidden layer fused, readout recorded or traced."""
    torch.manual_seed(9)
    fc1, fc2 = nn.Linear(1, 128), nn.Linear(128, 1)
    hidden, ro = snn.Leaky(beta=0.9), snn.Leaky(beta=0.9, reset="none")
    x, target = torch.rand(T, B, 1), torch.rand(T, B, 1)
    params = [*fc1.parameters(), *fc2.parameters()]

    def with_record() -> tuple[Tensor, Tensor]:
        s, _ = hidden.run(fc1(x))
        _, _, rec = ro.record(fc2(s), "mem")
        return rec["mem"], ((rec["mem"] - target) ** 2).mean()

    def with_trace() -> tuple[Tensor, Tensor]:
        s, _ = hidden.run(fc1(x))
        _, st = ro.trace(fc2(s))
        return st.mem, ((st.mem - target) ** 2).mean()

    return {"record (fused)": (with_record, params), "trace (eager)": (with_trace, params)}


def long_record_contenders(T: int, M: int) -> Contenders:
    torch.manual_seed(5)
    x = (torch.rand(T, M) * 0.6).requires_grad_(True)
    lif = snn.Leaky(beta=BETA, reset="none")
    target = torch.rand(T, M)

    def with_record() -> tuple[Tensor, Tensor]:
        _, _, rec = lif.record(x, "mem")
        return rec["mem"], ((rec["mem"] - target) ** 2).mean()

    def with_trace() -> tuple[Tensor, Tensor]:
        _, st = lif.trace(x)
        return st.mem, ((st.mem - target) ** 2).mean()

    return {"record (fused)": (with_record, [x]), "trace (eager)": (with_trace, [x])}


# -- Linear + neuron against a dense-gradient GEMM floor ---
class _CopyLayer(torch.autograd.Function):
    """The memory traffic of the cheapest neuron layer that recomputes its states: the forward
    reads its input and writes an output of the same size, the backward reads the input and
    writes the input gradient over it. No dynamics: a yardstick, not a neuron."""

    @staticmethod
    def forward(ctx: Any, y: Tensor) -> Tensor:
        ctx.save_for_backward(y)
        return y.clone()

    @staticmethod
    def backward(ctx: Any, g: Tensor) -> Tensor:
        (y,) = ctx.saved_tensors
        return torch.mul(y, g, out=y)


def linear_dense_contenders(T: int, B: int, N: int, kind: str) -> Contenders:
    torch.manual_seed(0)
    x = torch.rand(T, B, N)
    fc = nn.Linear(N, N)
    with torch.no_grad():
        fc.weight.mul_(2.0)
    params = list(fc.parameters())
    if kind == "synaptic":
        sx = optional("snn_neurons_extra")
        neuron = sx.Synaptic(alpha=0.9, beta=BETA)
    else:
        neuron = snn.Leaky(beta=BETA)
    net = snn.Sequential(fc, neuron)
    g = torch.rand(T * B, N)

    def ours() -> tuple[Tensor, Tensor]:
        spk, _ = net(x)
        return spk, spk.sum()

    def floor() -> tuple[Tensor, DenseLoss]:
        y = fc(x.reshape(T * B, N))
        return y, DenseLoss(y, g)

    def copy() -> tuple[Tensor, Tensor]:
        out = _CopyLayer.apply(fc(x.reshape(T * B, N)))
        return out, out.sum()

    out: Contenders = {f"snncore Linear+{kind}": (ours, params),
                       "GEMM only, dense gradient (floor)": (floor, params),
                       "GEMM + copy layer, same loss (traffic yardstick)": (copy, params)}
    if snntorch is not None:
        from snntorch import surrogate as sg

        if kind == "synaptic":
            cell = snntorch.Synaptic(alpha=0.9, beta=BETA, spike_grad=sg.atan())
        else:
            cell = snntorch.Leaky(beta=BETA, spike_grad=sg.atan())

        def snt() -> tuple[Tensor, Tensor]:
            st = cell.init_synaptic() if kind == "synaptic" else (cell.init_leaky(),)
            rec = []
            for step in range(T):
                spk, *st = cell(fc(x[step]), *st)
                rec.append(spk)
            spk = torch.stack(rec)
            return spk, spk.sum()

        out["snnTorch (tutorial loop)"] = (snt, params)
    if norse is not None and kind == "synaptic":
        lif = norse.LIF()

        def nor() -> tuple[Tensor, Tensor]:
            spk, _ = lif(fc(x))
            return spk, spk.sum()

        out["Norse LIF (current-based)"] = (nor, params)
    return out


# -- recurrent all-to-all RLeaky ---
def mlp_contenders(T: int, B: int, dims: tuple[int, ...]) -> Contenders:
    """A multi-layer network of ``Linear`` + Leaky layers (widths ``dims``, input first), loss
    = sum of the last layer's spikes: ``snn.Sequential`` against snnTorch's tutorial loop (the
    same weights)."""
    torch.manual_seed(8)
    x = torch.rand(T, B, dims[0])
    lins = [nn.Linear(a, b) for a, b in zip(dims[:-1], dims[1:], strict=False)]
    params = [p for lin in lins for p in lin.parameters()]
    net = snn.Sequential(*(m for lin in lins for m in (lin, snn.Leaky(beta=BETA))))

    def ours() -> tuple[Tensor, Tensor]:
        spk, _ = net(x)
        return spk, spk.sum()

    out: Contenders = {"snncore Sequential": (ours, params)}
    if snntorch is not None:
        from snntorch import surrogate as sg

        cells = [snntorch.Leaky(beta=BETA, spike_grad=sg.atan()) for _ in lins]

        def snt() -> tuple[Tensor, Tensor]:
            mems = [c.init_leaky() for c in cells]
            rec = []
            for step in range(T):
                h = x[step]
                for i, (lin, cell) in enumerate(zip(lins, cells, strict=True)):
                    h, mems[i] = cell(lin(h), mems[i])
                rec.append(h)
            s = torch.stack(rec)
            return s, s.sum()

        out["snnTorch (tutorial loop)"] = (snt, params)
    return out


def recurrent_contenders(T: int = 100, B: int = 32, N: int = 256) -> Contenders:
    sx = optional("snn_neurons_extra")
    torch.manual_seed(6)
    x = torch.rand(T, B, N)
    fc = nn.Linear(N, N)
    rl = sx.RLeaky(beta=BETA, linear_features=N)
    params = [*fc.parameters(), *rl.parameters()]
    net = snn.Sequential(fc, rl)

    def ours() -> tuple[Tensor, Tensor]:
        spk, _ = net(x)
        return spk, spk.sum()

    out: Contenders = {"snncore RLeaky": (ours, params)}
    net_eager = snn.Sequential(fc, rl, backend="eager")

    def ours_eager() -> tuple[Tensor, Tensor]:
        spk, _ = net_eager(x)
        return spk, spk.sum()

    out["snncore RLeaky (eager)"] = (ours_eager, params)
    if snntorch is not None:
        from snntorch import surrogate as sg

        srl = snntorch.RLeaky(beta=BETA, linear_features=N, spike_grad=sg.atan())
        with torch.no_grad():
            srl.recurrent.weight.copy_(rl.recurrent.weight)
            srl.recurrent.bias.copy_(rl.recurrent.bias)
        sparams = [*fc.parameters(), *srl.parameters()]

        def snt() -> tuple[Tensor, Tensor]:
            spk, mem = srl.init_rleaky()
            rec = []
            for step in range(T):
                spk, mem = srl(fc(x[step]), spk, mem)
                rec.append(spk)
            s = torch.stack(rec)
            return s, s.sum()

        out["snnTorch RLeaky (tutorial loop)"] = (snt, sparams)
    if norse is not None:
        cell = norse.LIFRecurrentCell(N, N)
        nparams = [*fc.parameters(), *cell.parameters()]

        def nor() -> tuple[Tensor, Tensor]:
            cur = fc(x)
            st = None
            rec = []
            for step in range(T):
                z, st = cell(cur[step], st)
                rec.append(z)
            s = torch.stack(rec)
            return s, s.sum()

        out["Norse LIFRecurrentCell"] = (nor, nparams)
    return out


# -- the snnTorch tutorial-6 conv network ---
class _Identity(nn.Module):
    def forward(self, x: Tensor) -> Tensor:
        return x


def conv_layers(seed: int = 7) -> tuple[nn.Module, nn.Module, nn.Module]:
    torch.manual_seed(seed)
    return nn.Conv2d(1, 12, 5), nn.Conv2d(12, 64, 5), nn.Linear(64 * 4 * 4, 10)


def _channels_last(z: Tensor) -> Tensor:
    """``[N, C, H, W]`` in channels-last memory order (a view for ``C == 1``)."""
    n, c, h, w = z.shape
    if c == 1:
        return z.reshape(n, h, w, 1).permute(0, 3, 1, 2)
    return z.contiguous(memory_format=torch.channels_last)


def conv_network(c1: nn.Module, c2: nn.Module, fc: nn.Module,
                 time_chunk: int | str = "auto") -> snn.Sequential:
    """The tutorial-6 network around the given layers, with ``Leaky(beta=0.5)`` neurons."""
    pool = nn.MaxPool2d(2)

    def lif() -> nn.Module:
        return snn.Leaky(beta=0.5)

    return snn.Sequential(c1, pool, lif(), c2, pool, lif(), nn.Flatten(), fc, lif(),
                          time_chunk=time_chunk)


def conv_contenders(T: int = 25, B: int = 64, time_chunks: tuple[int, ...] = (),
                    peers: bool = True, floor_chunk: int = 5) -> Contenders:
    """The tutorial-6 conv network: snncore, the conv-only floors and the peers. Every
    contender's loss is the same dense upstream gradient on its ``[T, B, 10]`` output (what a
    real loss feeds back), so the floors and the networks do the same backward work.
    ``time_chunks`` adds snncore with those fixed time-block lengths; ``floor_chunk`` is the
    chunk length of the chunked floors; ``peers=False`` leaves the peers out."""
    c1, c2, fc = conv_layers()
    params = [*c1.parameters(), *c2.parameters(), *fc.parameters()]
    x = (torch.rand(T, B, 1, 28, 28) > 0.7).float()
    grad = torch.rand(T, B, 10)
    pool = nn.MaxPool2d(2)

    def dense(y: Tensor) -> tuple[Tensor, DenseLoss]:
        return y, DenseLoss(y, grad)

    def ours(net: snn.Sequential) -> tuple[Tensor, DenseLoss]:
        return dense(net(x)[0])

    out: Contenders = {"snncore Sequential": (partial(ours, conv_network(c1, c2, fc)), params)}
    for k in time_chunks:
        out[f"snncore Sequential, time_chunk={k}"] = (
            partial(ours, conv_network(c1, c2, fc, time_chunk=k)), params)

    # the conv-only floor: neurons replaced by identity, in six arrangements
    def stages(z: Tensor, cl: bool) -> Tensor:
        if cl:
            z = _channels_last(z)
        z = pool(c1(z))
        z = pool(c2(z))
        return fc(z.flatten(1))

    def floor_step(cl: bool) -> tuple[Tensor, DenseLoss]:
        return dense(torch.stack([stages(x[t], cl) for t in range(T)]))

    def floor_folded(cl: bool) -> tuple[Tensor, DenseLoss]:
        return dense(stages(x.reshape(T * B, 1, 28, 28), cl).reshape(T, B, 10))

    def floor_chunked(cl: bool, k: int = floor_chunk) -> tuple[Tensor, DenseLoss]:
        parts = [stages(x[t:t + k].reshape(-1, 1, 28, 28), cl).reshape(-1, B, 10)
                 for t in range(0, T, k)]
        return dense(torch.cat(parts))

    for cl, tag in ((False, ""), (True, ", channels-last")):
        out[f"floor: per step{tag}"] = (lambda cl=cl: floor_step(cl), params)
        out[f"floor: {floor_chunk}-step chunks{tag}"] = (lambda cl=cl: floor_chunked(cl), params)
        out[f"floor: folded{tag}"] = (lambda cl=cl: floor_folded(cl), params)
    if not peers:
        return out
    if snntorch is not None:
        from snntorch import surrogate as sg

        l1, l2, l3 = (snntorch.Leaky(beta=0.5, spike_grad=sg.atan()) for _ in range(3))

        def snt() -> tuple[Tensor, DenseLoss]:
            m1, m2, m3 = l1.init_leaky(), l2.init_leaky(), l3.init_leaky()
            rec = []
            for t in range(T):
                s1, m1 = l1(pool(c1(x[t])), m1)
                s2, m2 = l2(pool(c2(s1)), m2)
                s3, m3 = l3(fc(s2.flatten(1)), m3)
                rec.append(s3)
            return dense(torch.stack(rec))

        out["snnTorch (tutorial loop)"] = (snt, params)
    if norse is not None:
        n1, n2, n3 = norse.LIFBoxCell(), norse.LIFBoxCell(), norse.LIFBoxCell()

        def nor() -> tuple[Tensor, DenseLoss]:
            s1 = s2 = s3 = None
            rec = []
            for t in range(T):
                z, s1 = n1(pool(c1(x[t])), s1)
                z, s2 = n2(pool(c2(z)), s2)
                z, s3 = n3(fc(z.flatten(1)), s3)
                rec.append(z)
            return dense(torch.stack(rec))

        out["Norse (LIFBoxCell loop)"] = (nor, params)
    if sj_neuron is not None and sj_layer is not None:
        def sjl() -> nn.Module:
            return sj_neuron.LIFNode(tau=2.0, step_mode="m", surrogate_function=sj_surrogate.ATan(),
                                     detach_reset=True)

        sj = nn.Sequential(sj_layer.SeqToANNContainer(c1, pool), sjl(),
                           sj_layer.SeqToANNContainer(c2, pool), sjl(),
                           sj_layer.SeqToANNContainer(nn.Flatten(), fc), sjl())

        def sjr() -> tuple[Tensor, DenseLoss]:
            sj_functional.reset_net(sj)
            return dense(sj(x))

        out["SpikingJelly (multi-step)"] = (sjr, params)
    if sinabs_layers is not None:
        from sinabs.activation import SingleSpike

        def sinabs_lif() -> nn.Module:
            # beta = exp(-1 / tau_mem) = 0.5; no input scaling, like the others
            return sinabs_layers.LIFSqueeze(batch_size=B, tau_mem=1.0 / math.log(2.0),
                                            spike_fn=SingleSpike, norm_input=False)

        sb = nn.Sequential(c1, pool, sinabs_lif(), c2, pool, sinabs_lif(), nn.Flatten(), fc,
                           sinabs_lif())

        def sbr() -> tuple[Tensor, DenseLoss]:
            for m in sb.modules():
                if hasattr(m, "reset_states"):
                    m.reset_states()
            # Sinabs folds time batch-major: [B*T, ...]
            y = sb(x.transpose(0, 1).reshape(B * T, 1, 28, 28))
            return dense(y.reshape(B, T, 10).transpose(0, 1))

        out["Sinabs (LIFSqueeze)"] = (sbr, params)
    return out


# -- huge pages ------------------------------------------------------------------------------------
def buffer_cache_contenders(T: int, M: int, B: int = 16, N: int = 512
                            ) -> dict[str, Contenders]:
    """Training steps with snncore's buffer cache on (the default) and off (every buffer from
    PyTorch's allocator, as with ``SNNCORE_BUFFER_CACHE_MB=0``): LI and Leaky alone on
    ``[T, M]`` and Linear(N)+Leaky at batch ``B``. Each contender switches the process's cache
    before its step; blocks handed out by the real cache return to it whichever is active."""
    from snncore import _buffers

    real, off = _buffers.buffer_cache(), _buffers.BufferCache(0)
    sx = optional("snn_neurons_extra")
    torch.manual_seed(6)
    x = (torch.rand(T, M) * 0.6).requires_grad_(True)
    xl = torch.rand(T, B, N)
    fc = nn.Linear(N, N)
    pair = snn.Sequential(fc, snn.Leaky(beta=BETA))

    def alone(neuron: nn.Module) -> Callable[[], tuple[Tensor, Tensor]]:
        def step() -> tuple[Tensor, Tensor]:
            out, _ = neuron.run(x)
            return out, out.sum()
        return step

    def linear() -> tuple[Tensor, Tensor]:
        spk, _ = pair(xl)
        return spk, spk.sum()

    steps = {"Leaky alone": (alone(snn.Leaky(beta=BETA)), [x]),
             f"Linear({N})+Leaky": (linear, list(fc.parameters()))}
    if sx is not None:
        steps = {"LI alone": (alone(sx.LI(beta=BETA)), [x]), **steps}

    def switched(cache: Any, fn: Callable[[], tuple[Tensor, Tensor]]
                 ) -> Callable[[], tuple[Tensor, Tensor]]:
        def run() -> tuple[Tensor, Tensor]:
            _buffers._cache = cache
            return fn()
        return run

    return {name: {"cache on": (switched(real, fn), params),
                   "cache off": (switched(off, fn), params)}
            for name, (fn, params) in steps.items()}


def hugepage_measure(N: int = 2048, T: int = 500, B: int = 16, repeats: int = 5,
                     pause: float = 3.0) -> dict[str, float]:
    """Median seconds of a Linear+LIF training step at ``N`` with and without the huge-page
    advice (``SNNCORE_HUGEPAGES``) for the fused loops' buffers, back to back and with
    ``pause`` seconds of idling before each step; the two settings take turns step by step
    (so that a busy spell of the machine hits both)."""
    import os

    from snncore.backends import _native as _fused_native

    torch.manual_seed(8)
    x = torch.rand(T, B, N)
    fc = nn.Linear(N, N)
    net = snn.Sequential(fc, snn.Leaky(beta=BETA))
    saved = _fused_native._madvise
    saved_env = os.environ.get("SNNCORE_HUGEPAGES")
    try:
        # the switch is read when the advice function is first resolved
        os.environ["SNNCORE_HUGEPAGES"] = "1"
        _fused_native._madvise = None
        _fused_native.empty_like(x.new_empty(8 << 20))
        advise = _fused_native._madvise
    finally:
        if saved_env is None:
            os.environ.pop("SNNCORE_HUGEPAGES", None)
        else:
            os.environ["SNNCORE_HUGEPAGES"] = saved_env
    on = "THP advice" if advise else "THP advice unavailable here (not Linux madvise mode)"
    res: dict[str, float] = {}
    try:
        for mode, wait in (("back-to-back", 0.0), (f"{pause:g} s pauses", pause)):
            ts: dict[str, list[float]] = {on: [], "no advice": []}
            for _ in range(repeats + 1):
                for label, fn in ((on, advise), ("no advice", False)):
                    _fused_native._madvise = fn
                    if wait:
                        time.sleep(wait)
                    t0 = time.perf_counter()
                    spk, _ = net(x)
                    spk.sum().backward()
                    ts[label].append(time.perf_counter() - t0)
                    del spk
            for label, v in ts.items():
                v = sorted(v[1:])
                res[f"{label}, {mode}"] = v[len(v) // 2]
    finally:
        _fused_native._madvise = saved
    return res
