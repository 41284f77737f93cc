"""The ``fused`` backend: one custom autograd function per neuron layer over all time steps.

The forward runs the time loop without autograd and keeps only what the backward needs: the
pre-reset membrane ``h_t`` (plus the synaptic current when a learnable parameter needs it), or,
when the input stays alive anyway, just the state every few steps from which ``h`` is recomputed;
spikes, reset signals and the previous state are recomputed in the backward, which is a
hand-written reverse loop using the surrogate's ``derivative``. On CPU in float32 the loops run
in native code built on first use (see :mod:`snncore.backends._native`); elsewhere, or when no
compiler is available, they run as a PyTorch loop with the same arithmetic.

Neuron kinds are declared by the neuron's ``fused_kind`` attribute:

``"leaky"``
    :math:`U_t = \\beta U_{t-1} + X_t - \\text{reset}`
``"synaptic"``
    :math:`I_t = \\alpha I_{t-1} + X_t`, :math:`U_t = \\beta U_{t-1} + I_t - \\text{reset}`
``"rleaky_elementwise"``
    :math:`U_t = \\beta U_{t-1} + (X_t + V S_{t-1}) - \\text{reset}`
``"rsynaptic_elementwise"``
    :math:`I_t = \\alpha I_{t-1} + X_t + V S_{t-1}`,
    :math:`U_t = \\beta U_{t-1} + I_t - \\text{reset}`

with spikes :math:`S_t = H(U_t - \\theta)\\,g` and the reset rules of :class:`~snncore.Neuron`.
The all-to-all recurrent kinds ``"rleaky_feedback"`` and ``"rsynaptic_feedback"`` (a feedback
layer :math:`L(S_{t-1})` in place of :math:`V S_{t-1}`) run in :mod:`._feedback`.
"""

from __future__ import annotations

import logging
import math
import warnings
from collections.abc import Callable
from typing import Any, NamedTuple

import torch
from torch import Tensor

from .._backends import (
    Backend,
    HeldInput,
    input_donated,
    module_hooked,
    once_differentiable,
    saved_tensor_hooks_active,
    without_grad,
)
from .._buffers import buffer_cache_info
from .._errors import BackendFallbackWarning
from .._surrogate import heaviside
from . import _feedback, _pool
from . import _generic as generic
from . import _native as native

__all__ = ["FusedBackend", "FUSED_KINDS", "fused_run", "fused_record", "fused_linear_run",
           "kind_supported", "kind_mismatch", "linear_unfusable", "record_fields"]

log = logging.getLogger("snncore.backends.fused")

FUSED_KINDS = tuple(native.KIND_IDS)
_SYN_KINDS = ("synaptic", "rsynaptic_elementwise")
_REC_KINDS = ("rleaky_elementwise", "rsynaptic_elementwise")
#: elements per time chunk in the backward when the surrogate derivative is computed by PyTorch
_CHUNK_ELEMS = 1 << 18


class _Config(NamedTuple):
    kind: str
    reset: str
    delay: bool
    surrogate: Any
    native: bool
    recompute: bool
    #: the input is a temporary lent by the runner: the stored membrane overwrites it
    donate: bool = False
    #: state fields recorded at every step (native loops only: "mem", and "syn" where it exists)
    record: tuple[str, ...] = ()

    @property
    def syn(self) -> bool:
        return self.kind in _SYN_KINDS

    @property
    def rec(self) -> bool:
        return self.kind in _REC_KINDS


def _state_fields(kind: str) -> tuple[str, ...]:
    return {"leaky": ("mem",), "synaptic": ("syn", "mem"), "rleaky_elementwise": ("spk", "mem"),
            "rsynaptic_elementwise": ("spk", "syn", "mem")}[kind]


def unused_as_none(kind: str, reset: str, T: int, used: set[str], grads: list[Any]
                   ) -> list[Any]:
    """The gradient contract of eager autograd for the parameters (beta, alpha, V, thr, g):
    a parameter that no used output depends on gets None, not zeros. ``used``: the outputs
    whose gradient reaches the loss, ``"spikes"`` and the state fields ``"mem"``, ``"syn"``,
    ``"spk"`` (final or recorded). The spikes depend on every parameter; the membrane on the
    decays and the feedback weight, and on the threshold through a ``"subtract"`` reset; the
    current on ``alpha`` and the feedback weight. In recurrent kinds the spikes of the run
    feed back into the states from the second step on, so then every state depends on
    every parameter."""
    every = set(_PARAMS)
    if "spikes" in used or "spk" in used or (kind in _REC_KINDS and T >= 2 and used):
        deps = every
    else:
        deps = set()
        if "mem" in used:
            deps |= {"beta", "alpha", "V"} | ({"thr"} if reset == "subtract" else set())
        if "syn" in used:
            deps |= {"alpha", "V"}
    return [g if k in deps else None for k, g in zip(_PARAMS, grads, strict=True)]


def used_outputs(gspk: Tensor | None, *named: dict[str, Tensor | None]) -> set[str]:
    """The outputs with a gradient: ``"spikes"`` and the names whose value is not None."""
    used = {"spikes"} if gspk is not None else set()
    for grads in named:
        used |= {k for k, v in grads.items() if v is not None}
    return used


def _native_surrogate(surrogate: Any) -> tuple[int, float]:
    """Code and parameter of a surrogate whose derivative the native loop computes itself."""
    code = native.SURROGATE_IDS.get(type(surrogate).__name__, 0)
    if code and type(surrogate).__module__ != "snncore._surrogate":
        return 0, 0.0
    param = {1: "alpha", 2: "slope"}.get(code)
    return code, float(getattr(surrogate, param)) if param else 0.0


# -- the PyTorch loops (any device and dtype) ------------------------------------------------------
def _torch_forward(cfg: _Config, x: Tensor, mem: Tensor, syn: Tensor | None, sst: Tensor | None,
                   p: dict[str, Tensor], spk: Tensor, h: Tensor | None,
                   synseq: Tensor | None) -> tuple[Tensor, Tensor | None, Tensor | None]:
    beta, thr, g = p["beta"], p["thr"], p["g"]
    for t in range(x.shape[0]):
        xt = x[t]
        if cfg.syn:
            cur = p["alpha"] * syn + xt
            if cfg.rec:
                cur = cur + p["V"] * sst
            syn = cur
            if synseq is not None:
                synseq[t] = cur
            d = cur
        elif cfg.rec:
            d = xt + p["V"] * sst
        else:
            d = xt
        if cfg.delay and cfg.reset != "none":
            r = heaviside(mem - thr)
            hv = beta * mem + d - r * thr if cfg.reset == "subtract" else beta * ((1 - r) * mem) + d
        else:
            hv = beta * mem + d
        s = heaviside(hv - thr)
        o = s * g
        spk[t] = o
        if h is not None:
            h[t] = hv
        if not cfg.delay and cfg.reset != "none":
            hv = hv - s * thr if cfg.reset == "subtract" else hv * (1 - s)
        mem = hv
        if cfg.rec:
            sst = o
    return mem, syn, sst


def _torch_backward(cfg: _Config, gspk: Tensor | None, h: Tensor, synseq: Tensor | None,
                    init: dict[str, Tensor | None], carry: dict[str, Tensor | None],
                    acc: dict[str, Tensor], p: dict[str, Tensor]) -> None:
    """Reverse loop; writes the input gradient into ``h`` in place, updates ``carry``/``acc``."""
    beta, thr, g = p["beta"], p["thr"], p["g"]
    gmem, gsyn, gsst = carry["mem"], carry["syn"], carry["spk"]
    for t in range(h.shape[0] - 1, -1, -1):
        hv = h[t]
        xs = hv - thr
        s = heaviside(xs)
        sgv = cfg.surrogate.derivative(xs)
        if t > 0:
            hp = h[t - 1]
            spb = heaviside(hp - thr)
            if cfg.delay or cfg.reset == "none":
                up = hp
            elif cfg.reset == "subtract":
                up = hp - spb * thr
            else:
                up = hp * (1 - spb)
            sp = spb * g if cfg.rec else None
            iprev = synseq[t - 1] if synseq is not None else None
        else:
            up = init["mem"]
            sp = init["spk"]
            iprev = init["syn"]
        gS = gspk[t] if gspk is not None else torch.zeros_like(hv)
        if cfg.rec:
            gS = gS + gsst
        if "g" in acc:
            acc["g"] += gS * s
        gfire = gS * g * sgv
        gth = -gfire
        keep = None
        if cfg.delay:
            gh = gmem + gfire
            if cfg.reset == "subtract":
                gth = gth - gh * heaviside(up - thr)
            elif cfg.reset == "zero":
                keep = 1 - heaviside(up - thr)
        else:
            gh = (gmem * (1 - s) if cfg.reset == "zero" else gmem) + gfire
            if cfg.reset == "subtract":
                gth = gth - gmem * s
        if "thr" in acc:
            acc["thr"] += gth
        if "beta" in acc:
            acc["beta"] += gh * (up if keep is None else keep * up)
        gmem = gh * beta if keep is None else gh * beta * keep
        gd = gh + gsyn if cfg.syn else gh
        if cfg.syn:
            if "alpha" in acc:
                acc["alpha"] += gd * iprev
            gsyn = gd * p["alpha"]
        if cfg.rec:
            if "V" in acc:
                acc["V"] += gd * sp
            gsst = gd * p["V"]
        h[t] = gd
    carry["mem"], carry["syn"], carry["spk"] = gmem, gsyn, gsst


#: scalar parameters expanded to one step's shape, by (value, shape): the native loops read
#: per-neuron arrays, and a run in time chunks would otherwise rebuild them for every chunk
_FULL: dict[tuple[float, tuple[int, ...]], Tensor] = {}
_FULL_MAX_ENTRIES, _FULL_MAX_ELEMS = 16, 1 << 18


def _full(v: Tensor, shape: torch.Size) -> Tensor:
    """``v`` expanded to ``shape`` as a contiguous array (read only by the native loops)."""
    if v.numel() != 1 or v.device.type != "cpu" or math.prod(shape) > _FULL_MAX_ELEMS:
        return v.expand(shape).contiguous()
    key = (v.item(), tuple(shape))
    t = _FULL.get(key)
    if t is None or t.dtype != v.dtype:
        if len(_FULL) >= _FULL_MAX_ENTRIES:
            _FULL.pop(next(iter(_FULL)))
        t = _FULL[key] = v.expand(shape).contiguous()
    return t


# -- the autograd function -------------------------------------------------------------------------
_PARAMS = ("beta", "alpha", "V", "thr", "g")
#: steps between state checkpoints in the recomputing backward
_BLOCK = 32


class _FusedFunction(torch.autograd.Function):
    """Inputs: config, x [T, *S], initial (mem, syn, spk), parameters (beta, alpha, V, thr, g).
    Outputs: spikes [T, *S] and the final state fields that exist for the kind.

    Two ways to keep what the backward needs: ``store`` keeps the pre-reset membrane ``h``
    (one tensor the size of the input; the backward writes the input gradient into it), and
    ``recompute`` (native loops, when the input is kept alive by its owner anyway: a leaf or a
    tensor without gradient) keeps a reference to the input plus the state every
    :data:`_BLOCK` steps and recomputes ``h`` block by block inside the reverse loop.
    """

    @staticmethod
    def forward(ctx: Any, cfg: _Config, x: Tensor, mem0: Tensor, syn0: Tensor | None,
                spk0: Tensor | None, beta: Tensor, alpha: Tensor | None, V: Tensor | None,
                thr: Tensor, g: Tensor) -> tuple[Tensor, ...]:  # type: ignore[override]
        xc = x.contiguous()
        # a copy made here (e.g. of an input expanded over time) is a buffer nobody else reads:
        # the native loops may overwrite it like a lent input
        own = cfg.native and not cfg.recompute and xc is not x
        x = xc
        ctx.set_materialize_grads(False)  # an unused output's gradient arrives as None
        raw = {"beta": beta, "alpha": alpha, "V": V, "thr": thr, "g": g}
        need_grad = any(ctx.needs_input_grad[1:])
        learn = {k: ctx.needs_input_grad[5 + i] for i, k in enumerate(_PARAMS)}
        recompute = need_grad and cfg.recompute
        outs = _forward_loops(ctx, cfg, x, mem0, syn0, spk0, raw, learn, need_grad, recompute,
                              in_place=cfg.donate or own)
        ctx.save_for_backward(x if recompute else None, mem0, syn0, spk0,
                              *(raw[k] for k in _PARAMS))
        return outs

    @staticmethod
    @once_differentiable("fused")
    def backward(ctx: Any, gspk: Tensor | None, *grads: Tensor | None) -> tuple[Any, ...]:
        x, mem0, syn0, spk0, *raw = ctx.saved_tensors
        nf = len(_state_fields(ctx.cfg.kind))
        gstate, grec = grads[:nf], dict(zip(ctx.cfg.record, grads[nf:], strict=True))
        gx, carry, grads_p = _backward_loops(ctx, gspk, gstate, x, mem0, syn0, spk0, raw,
                                             grec=grec)
        return (None, gx, carry["mem"], carry["syn"], carry["spk"], *grads_p)


def _forward_loops(ctx: Any, cfg: _Config, x: Tensor, mem0: Tensor, syn0: Tensor | None,
                   spk0: Tensor | None, raw: dict[str, Tensor | None], learn: dict[str, bool],
                   need_grad: bool, recompute: bool, in_place: bool = False
                   ) -> tuple[Tensor, ...]:
    """The forward time loop over contiguous ``x`` [T, *S]; keeps in ``ctx`` what the backward
    needs and returns (spikes, final state fields). ``in_place``: ``x`` is a buffer of the
    caller's that nobody else reads; it is overwritten with the stored membrane ``h`` (or with
    the spikes when nothing is kept for the backward), or, recomputing, kept and overwritten
    with the input gradient in the backward: a buffer the size of the input fewer."""
    return _plan_forward(ctx, cfg, x, mem0, syn0, spk0, raw, learn, need_grad, recompute,
                         in_place)()


def _plan_forward(ctx: Any, cfg: _Config, x: Tensor, mem0: Tensor, syn0: Tensor | None,
                  spk0: Tensor | None, raw: dict[str, Tensor | None], learn: dict[str, bool],
                  need_grad: bool, recompute: bool, in_place: bool = False
                  ) -> Callable[[], tuple[Tensor, ...]]:
    """:func:`_forward_loops` in two parts: everything but the loop itself now (buffers, the
    state copies, the loop's arguments, what ``ctx`` keeps), which does not read ``x``'s
    values; the returned function runs the loop and returns the outputs. A caller that
    computes ``x`` (the fused ``Linear``) does this part first: Python work right after a
    large product runs with the product's data in the caches instead of its own, measured
    several times slower (``benchmarks/pair_overhead.py``)."""
    shape = x.shape[1:]
    p = {k: v.detach() for k, v in raw.items() if v is not None}
    store = need_grad and not recompute
    T = x.shape[0]
    new = native.empty_like if cfg.native else torch.empty_like
    if in_place and store:
        spk, h = new(x), x
    elif in_place and not need_grad:
        spk, h = x, None
    else:
        spk = new(x)
        h = new(x) if store else None
    # the current is needed by the native reverse loop whenever a parameter is learned
    keep_syn = learn["alpha"] or (cfg.native and any(learn.values()))
    synseq = new(x) if (store and cfg.syn and keep_syn) else None
    ckpt = x.new_empty((-(-T // _BLOCK), 1 + cfg.syn + cfg.rec, *shape)) if recompute \
        else None
    mem = mem0.detach().contiguous().clone()
    syn = syn0.detach().contiguous().clone() if cfg.syn else None
    sst = spk0.detach().contiguous().clone() if cfg.rec else None
    recs = {f: new(x) for f in cfg.record}
    ctx.cfg = cfg
    ctx.shape = shape
    ctx.T = T
    ctx.learn = learn
    ctx.recompute = recompute
    ctx.buffers = (h, synseq, ckpt)
    ctx.in_place = in_place
    fields = _state_fields(cfg.kind)

    def outputs(m: Tensor, sy: Tensor | None, ss: Tensor | None) -> tuple[Tensor, ...]:
        final = {"mem": m, "syn": sy, "spk": ss}
        return (spk, *(final[f] for f in fields), *(recs[f] for f in cfg.record))

    if not cfg.native:
        def run_torch() -> tuple[Tensor, ...]:
            return outputs(*_torch_forward(cfg, x, mem, syn, sst, p, spk, h, synseq))
        return run_torch
    lib = native.native_library()
    full = {k: _full(v, shape) for k, v in p.items()}
    M = mem.numel()
    kind, rid = native.KIND_IDS[cfg.kind], native.RESET_IDS[cfg.reset]
    ptr = native.ptr
    ranges = native.parallel_ranges(M, native.threads())

    def run_native() -> tuple[Tensor, ...]:
        # x may alias spk or h: every element of x is read before the same element is written
        native.call_parallel(
            lib.snncore_fused_fwd_f32, ranges,
            lambda a, b: (kind, rid, int(cfg.delay), T, M, a, b, ptr(x), ptr(spk), ptr(h),
                          ptr(synseq), ptr(mem), ptr(syn), ptr(sst), ptr(full["beta"]),
                          ptr(full.get("alpha")), ptr(full.get("V")), ptr(full["thr"]),
                          ptr(full["g"]), _BLOCK, ptr(ckpt), ptr(recs.get("mem")),
                          ptr(recs.get("syn"))), work=T * M)
        return outputs(mem, syn, sst)  # updated in place by the loop
    return run_native


def _backward_loops(ctx: Any, gspk: Tensor | None, gstate: tuple[Tensor | None, ...],
                    x: Tensor | None, mem0: Tensor, syn0: Tensor | None, spk0: Tensor | None,
                    raw: list[Tensor | None], gsum: Tensor | None = None,
                    grec: dict[str, Tensor | None] | None = None
                    ) -> tuple[Tensor, dict[str, Tensor | None], list[Any]]:
    """The reverse loop for what :func:`_forward_loops` kept: (input gradient, gradients of the
    initial state, gradients of the parameters). ``gsum`` (native loops): float64 per neuron,
    receives the input gradient summed over time; ``grec``: gradients of the recorded
    fields."""
    cfg: _Config = ctx.cfg
    if ctx.buffers is None:
        raise RuntimeError(
            "the fused backend's backward ran a second time (retain_graph=True): it reuses its "
            "saved buffer for the gradient; run this layer with backend='eager' to "
            "backpropagate through it more than once"
        )
    h, synseq, ckpt = ctx.buffers
    if not ctx.recompute or ctx.in_place:
        ctx.buffers = None  # h (or the input) is about to become the input gradient
    raw_p = dict(zip(_PARAMS, raw, strict=True))
    p = {k: v.detach() for k, v in raw_p.items() if v is not None}
    shape = ctx.shape
    dtype, device = mem0.dtype, mem0.device
    fields = _state_fields(cfg.kind)
    given = dict(zip(fields, gstate, strict=True))
    carry: dict[str, Tensor | None] = {}
    for field in ("mem", "syn", "spk"):
        if field not in fields:
            carry[field] = None
            continue
        gfin = given.get(field)
        carry[field] = torch.zeros(shape, dtype=dtype, device=device) if gfin is None \
            else gfin.to(dtype).contiguous().clone()
    # per-neuron gradient sums over time in float64 (float32 where a device has no float64)
    acc_dtype = torch.float32 if device.type == "mps" else torch.float64
    acc = {k: torch.zeros(shape, dtype=acc_dtype, device=device)
           for k in _PARAMS if ctx.learn[k]}
    init = {"mem": mem0.detach(), "syn": syn0.detach() if syn0 is not None else None,
            "spk": spk0.detach() if spk0 is not None else None}
    if gspk is not None and gspk.dtype != dtype:
        gspk = gspk.to(dtype)
    grec = {k: (v.to(dtype) if v is not None else None) for k, v in (grec or {}).items()}
    if ctx.recompute:
        gx = _native_backward_recompute(cfg, gspk, x, ckpt, carry, acc, p, shape, ctx.T,
                                        gsum, x if ctx.in_place else None, grec)
    elif cfg.native:
        _native_backward(cfg, gspk, h, synseq, init, carry, acc, p, shape, gsum, grec)
        gx = h
    else:
        _torch_backward(cfg, gspk, h, synseq, init, carry, acc, p)
        gx = h
    grads_p = []
    for k in _PARAMS:
        v = raw_p[k]
        if k not in acc or v is None:
            grads_p.append(None)
            continue
        a = acc[k]
        red = a.sum() if v.dim() == 0 else a.sum_to_size(v.shape)
        grads_p.append(red.to(v.dtype))
    grads_p = unused_as_none(cfg.kind, cfg.reset, ctx.T, used_outputs(gspk, given, grec),
                             grads_p)
    return gx, carry, grads_p


class _FusedLinearFunction(torch.autograd.Function):
    """``nn.Linear`` over every step followed by a fused neuron layer, as one operation.

    Inputs: config, x [T*B, in], weight [N, in], bias [N] or None, T, then the initial state and
    the parameters as in :class:`_FusedFunction`. Outputs: spikes [T, B, N] and the final state.

    The linear layer's output is computed exactly as ``nn.Linear`` computes it and then
    becomes the neuron loop's buffer: with a surrogate built into the native loops it is kept
    (plus the state every :data:`_BLOCK` steps) and the backward recomputes the membranes from
    it block by block, else it is overwritten with the pre-reset membrane; without gradients it
    receives the spikes. The backward writes the neuron layer's input gradient into it and sums
    that gradient over time for the bias in the same reverse loop. So the pair keeps one buffer
    the size of the linear layer's output instead of two, writes no membranes in the forward,
    and makes no separate pass over the gradient for the bias.
    """

    @staticmethod
    def forward(ctx: Any, cfg: _Config, x2: Tensor, weight: Tensor, bias: Tensor | None,
                T: int, mem0: Tensor, syn0: Tensor | None, spk0: Tensor | None, beta: Tensor,
                alpha: Tensor | None, V: Tensor | None, thr: Tensor,
                g: Tensor) -> tuple[Tensor, ...]:  # type: ignore[override]
        ctx.set_materialize_grads(False)
        # the product nn.Linear computes (addmm / mm for 2-D input), into a cached buffer
        y2 = native.empty((x2.shape[0], weight.shape[0]), x2.dtype)
        y = y2.view(T, *mem0.shape)
        raw = {"beta": beta, "alpha": alpha, "V": V, "thr": thr, "g": g}
        nig = ctx.needs_input_grad
        need_grad = any(nig[1:4]) or any(nig[5:])
        learn = {k: nig[8 + i] for i, k in enumerate(_PARAMS)}
        recompute = need_grad and cfg.recompute
        # everything but the loop before the product (see _plan_forward)
        loop = _plan_forward(ctx, cfg, y, mem0, syn0, spk0, raw, learn, need_grad, recompute,
                             in_place=True)
        ctx.y = y if recompute else None
        ctx.has_bias = bias is not None
        # the input is held, not saved: the backward lets go of it once the weight gradient
        # is computed, before it allocates the input gradient (the same size when the input is
        # a previous layer's spikes), so that the two never exist at once
        hold = nig[2] and not saved_tensor_hooks_active()
        ctx.x2 = HeldInput(x2) if hold else None
        ctx.save_for_backward(x2 if nig[2] and not hold else None, weight if nig[1] else None,
                              mem0, syn0, spk0, *(raw[k] for k in _PARAMS))
        if bias is not None:
            torch.addmm(bias, x2, weight.t(), out=y2)
        else:
            torch.mm(x2, weight.t(), out=y2)
        return loop()

    @staticmethod
    @once_differentiable("fused")
    def backward(ctx: Any, gspk: Tensor | None, *gstate: Tensor | None) -> tuple[Any, ...]:
        x2, weight, mem0, syn0, spk0, *raw = ctx.saved_tensors
        nig = ctx.needs_input_grad
        gsum = torch.zeros(ctx.shape, dtype=torch.float64) if ctx.has_bias and nig[3] else None
        y, ctx.y = ctx.y, None
        gy, carry, grads_p = _backward_loops(ctx, gspk, gstate, y, mem0, syn0, spk0, raw,
                                             gsum)
        gy2 = gy.view(math.prod(gy.shape[:-1]), gy.shape[-1])  # explicit: N may be 0
        # the same products as the backward of nn.Linear (addmm); the weight gradient first,
        # so that the input is released before the input gradient is allocated
        gw = None
        if nig[2]:
            if x2 is None:
                x2 = ctx.x2.take("the input of a Linear fused with a neuron")
            gw = gy2.t().mm(x2)
            del x2
        gx = None
        if nig[1]:
            gx = torch.mm(gy2, weight, out=native.empty((gy2.shape[0], weight.shape[1]),
                                                        gy2.dtype))
        gb = None
        if gsum is not None:
            gb = gsum.view(math.prod(gsum.shape[:-1]), gsum.shape[-1]).sum(0).to(gy.dtype)
        return (None, gx, gw, gb, None, carry["mem"], carry["syn"], carry["spk"], *grads_p)


def linear_unfusable(linear: Any, neuron: Any, x_seq: Tensor) -> str:
    """Why ``linear`` followed by ``neuron`` cannot run as one fused operation on
    ``x_seq`` [T, B, in] ("" when it can): a plain ``nn.Linear`` without hooks, float32 on
    CPU with the native loops, no autocast, a neuron whose ``run`` is the base class's."""
    from .._neuron import Neuron

    if type(linear) is not torch.nn.Linear:
        return "not a plain nn.Linear"
    if module_hooked(linear):
        return "hooks are registered"
    if type(neuron).run is not Neuron.run:
        return "the neuron overrides run()"
    if "run" in vars(neuron):  # run hooks (e.g. a Monitor) shadow run() on this instance
        return "the neuron's run() is hooked (a Monitor or snncore.register_run_hook)"
    if getattr(neuron, "fused_kind", None) not in native.KIND_IDS:
        return f"fused_kind {getattr(neuron, 'fused_kind', None)!r} has no element-wise loop"
    why = kind_overridden(neuron)
    if why:
        return why
    w, b = linear.weight, linear.bias
    if x_seq.dim() != 3 or x_seq.shape[-1] != linear.in_features:
        return "the input is not [T, B, in_features]"
    for t in (x_seq, w, b):
        if t is not None and (t.dtype != torch.float32 or t.device.type != "cpu"
                              or t.layout != torch.strided):
            return "not float32 strided tensors on CPU"
    if torch.is_autocast_enabled("cpu"):
        return "autocast is enabled"
    if native.native_library() is None:
        return "the native loops are unavailable"
    return ""  # the neuron's options and declared kind: FusedBackend.supports, checked first


def fused_linear_run(linear: Any, neuron: Any, x_seq: Tensor, state: Any
                     ) -> tuple[Tensor, Any]:
    """``neuron.run(linear(x_seq))`` for ``x_seq`` [T, B, in] as one fused operation (see
    :class:`_FusedLinearFunction`); the caller checks :func:`linear_unfusable` first."""
    kind = neuron.fused_kind
    T, B = x_seq.shape[0], x_seq.shape[1]
    cfg = _Config(kind, neuron.reset_mechanism, bool(neuron.reset_delay), neuron.surrogate,
                  True, _native_surrogate(neuron.surrogate)[0] != 0)
    p = _params_of(neuron, x_seq, kind)
    st = state._asdict()
    x_grad = any(t is not None and t.requires_grad for t in (x_seq, linear.weight, linear.bias))
    # the neuron's input is made inside the operation: its values do not matter, its steps do
    flags = _eager_flags(neuron, x_seq.new_zeros(()).expand(T, *st["mem"].shape), x_grad,
                         state)
    outs = _FusedLinearFunction.apply(*without_grad((
        cfg, x_seq.reshape(T * B, x_seq.shape[2]), linear.weight, linear.bias, T, st["mem"],
        st.get("syn"), st.get("spk"), p["beta"], p["alpha"], p["V"], p["thr"], p["g"])))
    fields = _state_fields(kind)
    spk, fin, _ = _split_eager(outs, fields, (), flags)
    return spk, neuron.State(**dict(zip(fields, fin, strict=True)))


def _spike_grad_rows(gspk: Tensor | None, M: int, like: Tensor) -> tuple[Tensor, int]:
    """The spike gradient as (contiguous tensor, time stride): a single row with stride 0 when
    it is the same at every step (e.g. from ``spikes.sum()``) or absent (zeros)."""
    if gspk is None:
        return like.new_zeros(M), 0
    if gspk.stride(0) == 0:
        return gspk[0].contiguous(), 0
    return gspk.contiguous(), M


def _rec_rows(g: Tensor | None, M: int) -> tuple[Tensor | None, int]:
    """The gradient of a recorded field as (contiguous tensor or None, time stride)."""
    if g is None:
        return None, 0
    if g.stride(0) == 0:
        return g[0].contiguous(), 0
    return g.contiguous(), M


def _acc_list(acc: dict[str, Tensor], shape: torch.Size, device: torch.device
              ) -> list[Tensor | None]:
    """Accumulators in kernel order (beta, alpha, V, thr, g): none at all when no parameter
    is learned, else all five (zero scratch for the ones not asked for)."""
    if not acc:
        return [None] * 5
    return [acc[k] if k in acc else torch.zeros(shape, dtype=torch.float64, device=device)
            for k in _PARAMS]


def _native_backward_recompute(cfg: _Config, gspk: Tensor | None, x: Tensor, ckpt: Tensor,
                               carry: dict[str, Tensor | None], acc: dict[str, Tensor],
                               p: dict[str, Tensor], shape: torch.Size, T: int,
                               gsum: Tensor | None = None, out: Tensor | None = None,
                               grec: dict[str, Tensor | None] | None = None) -> Tensor:
    """The reverse loop recomputing the membranes from ``x`` and the checkpoints; the input
    gradient goes to ``out`` (which may be ``x`` itself) or a new buffer; ``gsum`` as in
    :func:`_native_backward`."""
    lib = native.native_library()
    full = {k: _full(v, shape) for k, v in p.items()}
    M = math.prod(shape)
    sg_code, sg_param = _native_surrogate(cfg.surrogate)
    kind, rid = native.KIND_IDS[cfg.kind], native.RESET_IDS[cfg.reset]
    gs, gts = _spike_grad_rows(gspk, M, x)
    gx = native.empty_like(x) if out is None else out
    accs = _acc_list(acc, shape, x.device)
    rm, rmts = _rec_rows((grec or {}).get("mem"), M)
    rs, rsts = _rec_rows((grec or {}).get("syn"), M)
    ptr = native.ptr
    native.call_parallel(
        lib.snncore_fused_bwd_rc_f32, native.parallel_ranges(M, native.threads()),
        lambda a, b: (kind, rid, int(cfg.delay), sg_code, T, M, a, b, _BLOCK, ptr(x), ptr(ckpt),
                      gts, ptr(gs), ptr(gx), ptr(carry["mem"]), ptr(carry["syn"]),
                      ptr(carry["spk"]), *(ptr(t) for t in accs), ptr(full["beta"]),
                      ptr(full.get("alpha")), ptr(full.get("V")), ptr(full["thr"]),
                      ptr(full["g"]), sg_param, ptr(gsum), rmts, ptr(rm), rsts, ptr(rs)),
        work=T * M)
    return gx


def _native_backward(cfg: _Config, gspk: Tensor | None, h: Tensor, synseq: Tensor | None,
                     init: dict[str, Tensor | None], carry: dict[str, Tensor | None],
                     acc: dict[str, Tensor], p: dict[str, Tensor], shape: torch.Size,
                     gsum: Tensor | None = None,
                     grec: dict[str, Tensor | None] | None = None) -> None:
    """The reverse loop over the stored membranes ``h``, writing the input gradient into ``h``;
    with ``gsum`` (float64, one per neuron) it also adds up the input gradient over time."""
    lib = native.native_library()
    full = {k: _full(v, shape) for k, v in p.items()}
    inits = {k: (v.contiguous() if v is not None else None) for k, v in init.items()}
    T, M = h.shape[0], math.prod(shape)
    sg_code, sg_param = _native_surrogate(cfg.surrogate)
    kind, rid = native.KIND_IDS[cfg.kind], native.RESET_IDS[cfg.reset]
    ranges = native.parallel_ranges(M, native.threads())
    ptr = native.ptr
    accs = _acc_list(acc, shape, h.device)
    whole = sg_code != 0 and (gspk is None or gspk.stride(0) == 0 or gspk.is_contiguous())
    step = T if whole else max(1, _CHUNK_ELEMS // max(M, 1))
    for t1 in range(T, 0, -step):
        t0 = max(0, t1 - step)
        gs, gts = _spike_grad_rows(None if gspk is None else gspk[t0:t1], M, h)
        gm = (grec or {}).get("mem")
        gy = (grec or {}).get("syn")
        rm, rmts = _rec_rows(None if gm is None else gm[t0:t1], M)
        rs, rsts = _rec_rows(None if gy is None else gy[t0:t1], M)
        sg = None if sg_code else cfg.surrogate.derivative(h[t0:t1] - p["thr"]).to(
            h.dtype).contiguous()
        native.call_parallel(
            lib.snncore_fused_bwd_f32, ranges,
            lambda a, b, t0=t0, t1=t1, gs=gs, gts=gts, sg=sg, rm=rm, rs=rs, rmts=rmts,
            rsts=rsts: (
                kind, rid, int(cfg.delay), sg_code, M, a, b, t0, t1, gts, ptr(gs), ptr(h),
                ptr(sg), ptr(synseq), ptr(inits["mem"]), ptr(inits["syn"]), ptr(inits["spk"]),
                ptr(h), ptr(carry["mem"]), ptr(carry["syn"]), ptr(carry["spk"]),
                *(ptr(t) for t in accs), ptr(full["beta"]),
                ptr(full.get("alpha")), ptr(full.get("V")), ptr(full["thr"]), ptr(full["g"]),
                sg_param, ptr(gsum), rmts, ptr(rm), rsts, ptr(rs)), work=(t1 - t0) * M)


# -- backend -------------------------------------------------------------------------------------
def _params_of(neuron: Any, x: Tensor, kind: str) -> dict[str, Tensor | None]:
    """The neuron's effective parameters in ``x``'s dtype, as autograd sees them in ``step``."""
    return {
        "beta": neuron.param("beta", x, clamp01=True),
        "alpha": neuron.param("alpha", x, clamp01=True) if kind in _SYN_KINDS else None,
        "V": neuron.param("V", x) if kind in _REC_KINDS else None,
        "thr": neuron.param("threshold", x),
        "g": neuron.param("graded_spikes_factor", x),
    }


def use_native_loops(x_seq: Tensor, native_loops: bool | None) -> bool:
    """Whether the native loops run ``x_seq`` (CPU float32, built; ``native_loops=False``
    forces the PyTorch loop)."""
    if native_loops is False or x_seq.device.type != "cpu" or x_seq.dtype != torch.float32:
        return False
    return native.native_library() is not None


def fused_record(neuron: Any, x_seq: Tensor, state: Any, fields: tuple[str, ...]
                 ) -> tuple[Tensor, Any, dict[str, Tensor]]:
    """:func:`fused_run` that also returns ``{field: [T, ...]}`` for ``fields`` (a subset of
    :func:`record_fields`), each field's value after every step, with gradients through it."""
    return fused_run(neuron, x_seq, state, record=tuple(fields))  # type: ignore[return-value]


def record_fields(neuron: Any, x_seq: Tensor) -> tuple[str, ...]:
    """The state fields the hand-written loops record for ``neuron`` on ``x_seq`` (none
    without the native loops: float32 on CPU)."""
    kind = getattr(neuron, "fused_kind", None)
    if kind not in native.KIND_IDS or x_seq.device.type != "cpu" \
            or x_seq.dtype != torch.float32 or native.native_library() is None:
        return ()
    return tuple(f for f in _state_fields(kind) if f in ("mem", "syn"))


def fused_run(neuron: Any, x_seq: Tensor, state: Any, *, native_loops: bool | None = None,
              recompute: bool | None = None, record: tuple[str, ...] = ()
              ) -> tuple[Any, ...]:
    """Run ``neuron`` (with a supported ``fused_kind``) over ``x_seq`` as one fused operation.

    ``native_loops=None`` uses the native loops where possible (CPU, float32); False forces the
    PyTorch loop. ``recompute=None`` recomputes the membrane in the backward (instead of storing
    it) when the native loops run, the surrogate's derivative is built into them, and ``x_seq``
    is a leaf or needs no gradient (so it is kept alive by its owner anyway).
    """
    kind = neuron.fused_kind
    use_native = use_native_loops(x_seq, native_loops)
    can_recompute = use_native and _native_surrogate(neuron.surrogate)[0] != 0
    if recompute is None:
        recompute = can_recompute and x_seq.grad_fn is None
    elif recompute and not can_recompute:
        raise ValueError("fused_run: recompute=True needs the native loops and a surrogate "
                         f"built into them ({sorted(native.SURROGATE_IDS)})")
    if record and (not use_native or not set(record) <= set(record_fields(neuron, x_seq))):
        raise ValueError(f"fused_run: record={record!r}: the native loops record "
                         f"{record_fields(neuron, x_seq)} here")
    # a lent temporary (snn.Sequential's stateless-layer output) holds the stored membrane:
    # the native loop reads x[t] before writing h[t] at the same place
    donate = (use_native and not recompute and x_seq.is_contiguous()
              and input_donated(x_seq))
    cfg = _Config(kind, neuron.reset_mechanism, bool(neuron.reset_delay), neuron.surrogate,
                  use_native, bool(recompute), donate, tuple(record))
    p = _params_of(neuron, x_seq, kind)
    st = state._asdict()
    flags = _eager_flags(neuron, x_seq, x_seq.requires_grad, state)
    outs = _FusedFunction.apply(*without_grad((cfg, x_seq, st["mem"], st.get("syn"),
                                               st.get("spk"), p["beta"], p["alpha"], p["V"],
                                               p["thr"], p["g"])))
    fields = _state_fields(kind)
    spk, fin, recs = _split_eager(outs, fields, record, flags)
    final = neuron.State(**dict(zip(fields, fin, strict=True)))
    if record:
        return spk, final, dict(zip(record, recs, strict=True))
    return spk, final


def _eager_flags(neuron: Any, x_seq: Tensor, x_grad: bool, state: Any
                 ) -> dict[str, bool] | None:
    """:func:`generic.eager_probe`'s flags for a hand-written kind (its graph is fixed by the
    kind and the reset options) by name: ``""`` for the spikes, then each state field; None
    without gradients. (Its parameters' gradients follow :func:`unused_as_none`.)"""
    if not torch.is_grad_enabled():
        return None
    key = ("fused", neuron.fused_kind, neuron.reset_mechanism, bool(neuron.reset_delay))
    flags, _ = generic.eager_probe(neuron, key, x_seq, x_grad, state)
    return dict(zip(("", *state._fields), flags, strict=True))


def _split_eager(outs: tuple[Tensor, ...], fields: tuple[str, ...], record: tuple[str, ...],
                 flags: dict[str, bool] | None) -> tuple[Tensor, list[Tensor], list[Tensor]]:
    """A fused function's outputs as (spikes, final state fields in ``fields`` order, recorded
    fields), each detached where eager autograd would not track it (:func:`_eager_flags`)."""
    n = len(fields)
    spk, fin, recs = outs[0], list(outs[1:1 + n]), list(outs[1 + n:])
    if flags is None:
        return spk, fin, recs
    (spk,) = generic.as_eager((spk,), (flags[""],))
    fin = list(generic.as_eager(tuple(fin), tuple(flags[f] for f in fields)))
    recs = list(generic.as_eager(tuple(recs), tuple(flags[f] for f in record)))
    return spk, fin, recs


#: the methods a hand-written kind's loop stands for: a subclass that overrides one of them
#: below the class declaring ``fused_kind`` computes something the loop does not
_KIND_METHODS = ("step", "fire", "integrate", "fire_and_reset", "reset_signal", "quantize",
                 "param")


def _kind_owner(cls: type) -> type:
    """The class in ``cls``'s MRO that declares ``fused_kind`` (``cls`` when none does)."""
    return next((c for c in cls.__mro__ if "fused_kind" in vars(c)), cls)


def kind_overridden(neuron: Any) -> str:
    """Why ``neuron``'s declared ``fused_kind`` does not describe its dynamics ("" when it
    does): a subclass below the class that declares the kind overrides one of its step's
    methods, or its surrogate overrides the spike function ``__call__``."""
    from .._surrogate import Surrogate

    cls = type(neuron)
    owner = _kind_owner(cls)
    for name in _KIND_METHODS:
        mine, theirs = getattr(cls, name, None), getattr(owner, name, None)
        if mine is not theirs:
            return (f"{cls.__name__}.{name} overrides the one of {owner.__name__}, which "
                    f"declares fused_kind {getattr(neuron, 'fused_kind', None)!r} (declare "
                    f"fused_kind on {cls.__name__} if its dynamics are the same)")
    surrogate = getattr(neuron, "surrogate", None)
    if surrogate is not None and type(surrogate).__call__ is not Surrogate.__call__:
        return (f"surrogate {type(neuron.surrogate).__name__} overrides __call__ (its own "
                "spike function)")
    return ""


def _option_unsupported(neuron: Any) -> str:
    """Why the hand-written loops cannot run ``neuron``'s options ("" when they can)."""
    if getattr(neuron, "state_quant", None) is not None:
        return "state_quant is not supported"
    if getattr(neuron, "inhibition", False):
        return "inhibition is not supported"
    if not getattr(neuron, "detach_reset", True):
        return "detach_reset=False is not supported"
    return ""


#: (class, reset, reset_delay) -> why the class's declared kind failed its probe ("" passed)
_PROBED: dict[tuple[type, str, bool], str] = {}
_PROBE_STEPS = 4


def kind_mismatch(neuron: Any, x_seq: Tensor | None = None) -> str:
    """Why ``neuron``'s declared element-wise ``fused_kind`` does not describe it ("" when
    it does), beyond :func:`kind_overridden`: its ``State`` must have the kind's fields, and a
    class declared outside snncore must match the kind's loop on a probe (a few steps of
    seeded random input and state shaped like a step of ``x_seq``, run through its ``step``
    and through the loop; checked once per class, reset rule and ``reset_delay``). A neuron
    with an option the loops do not take (:func:`kind_supported`) is not probed."""
    kind = getattr(neuron, "fused_kind", None)
    if kind not in FUSED_KINDS:
        return ""
    cls = type(neuron)
    fields = _state_fields(kind)
    have = tuple(getattr(getattr(neuron, "State", None), "_fields", ()))
    if set(have) != set(fields):
        return (f"{cls.__name__} declares fused_kind {kind!r}, whose state is {fields}, but "
                f"its State has the fields {have}")
    if x_seq is None or _kind_owner(cls).__module__.split(".")[0] == "snncore" \
            or _option_unsupported(neuron):
        return ""
    key = (cls, str(neuron.reset_mechanism), bool(neuron.reset_delay))
    if key not in _PROBED:
        why = _probe_kind(neuron, x_seq, kind, fields)
        _PROBED[key] = why
        if why:
            warnings.warn(f"{why}; it runs from its own step (backend 'generic' or 'eager') "
                          "instead", BackendFallbackWarning, stacklevel=2)
    return _PROBED[key]


def _probe_kind(neuron: Any, x_seq: Tensor, kind: str, fields: tuple[str, ...]) -> str:
    """"" when ``neuron.step`` and the loop of ``kind`` agree on a seeded random probe."""
    cls = type(neuron).__name__
    gen = torch.Generator().manual_seed(0)
    shape = (_PROBE_STEPS, *x_seq.shape[1:])
    dtype = x_seq.dtype if x_seq.is_floating_point() else torch.float32
    try:
        with torch.no_grad():
            thr = neuron.param("threshold", x_seq[:1].to(dtype)).abs().max().item() or 1.0
            x = ((torch.rand(shape, generator=gen, dtype=torch.float64) * 2.5 - 0.5)
                 * thr).to(dtype=dtype, device=x_seq.device)
            start = {}
            for f in fields:
                v = torch.rand(shape[1:], generator=gen, dtype=torch.float64)
                if f == "spk":
                    v = (v > 0.5).double()
                else:
                    v = v * thr
                start[f] = v.to(dtype=dtype, device=x_seq.device)
            state = neuron.State(**start)
            spk_f, fin_f = fused_run(neuron, x, state)
            spikes, st = [], state
            for t in range(_PROBE_STEPS):
                out, st = neuron.step(x[t], st)
                spikes.append(out)
            spk_e = torch.stack(spikes)
    except Exception as exc:  # noqa: BLE001 - any failure means the declaration is unusable
        return (f"{cls} declares fused_kind {kind!r} but the {kind!r} loop cannot run it "
                f"({type(exc).__name__}: {exc})")
    bad = []
    if spk_e.shape != spk_f.shape or not torch.equal(spk_e, spk_f):
        bad.append("spikes")
    for f in fields:
        a, b = getattr(st, f), getattr(fin_f, f)
        if a.shape != b.shape or not torch.allclose(a, b, rtol=1e-5, atol=1e-6 * thr):
            bad.append(f)
    if bad:
        return (f"{cls} declares fused_kind {kind!r} but its step differs from the "
                f"{kind!r} loop ({', '.join(bad)} differ on a seeded probe of "
                f"{_PROBE_STEPS} steps): remove fused_kind (the 'generic' backend then "
                f"runs its step fused) or make its step follow the {kind!r} equations")
    return ""


def kind_supported(neuron: Any, kinds: Any = FUSED_KINDS, x_seq: Tensor | None = None
                   ) -> tuple[bool, str]:
    """Whether ``neuron`` declares a kernel kind (one of ``kinds``) that describes its dynamics
    (:func:`kind_overridden`, :func:`kind_mismatch` with a probe shaped like ``x_seq``) and
    options that the fused loops implement (shared by the ``fused`` and ``triton``
    backends)."""
    kind = getattr(neuron, "fused_kind", None)
    if kind not in kinds:
        return False, f"fused_kind {kind!r} is not one of {tuple(kinds)}"
    why = kind_overridden(neuron) or _option_unsupported(neuron) or kind_mismatch(neuron, x_seq)
    if why:
        return False, why
    return True, ""


class FusedBackend(Backend):
    """One custom autograd function per neuron layer over all T steps (native loop on CPU).

    Supports neurons whose ``fused_kind`` is one of :data:`FUSED_KINDS` or an all-to-all kind of
    :data:`~snncore.backends._feedback.FEEDBACK_KINDS`, with any reset rule,
    ``reset_delay``, scalar or per-neuron (learnable) parameters and any deterministic surrogate.
    Falls back to ``eager`` for ``state_quant``, ``inhibition``, ``detach_reset=False``,
    stochastic surrogates and other neuron kinds (every other describable neuron runs on the
    ``generic`` backend, :mod:`snncore.backends._generic`). :meth:`record` runs in the generic
    loops (all-to-all recurrent kinds: in their own fused loop).
    """

    name = "fused"
    priority = 10

    @classmethod
    def status(cls) -> str:
        """The native loops (loaded, cached, to be built on first use, or why not), the
        buffer cache's limit and idle bytes, and the streaming-store threshold."""
        info = buffer_cache_info()
        cache = (f"buffer cache: up to {info['limit_bytes'] / 2**20:g} MiB idle, "
                 f"{info['cached_bytes'] / 2**20:.1f} MiB now" if info["limit_bytes"]
                 else "buffer cache: off (SNNCORE_BUFFER_CACHE_MB=0)")
        sb = native.stream_bytes()
        stream = (f"streaming stores from {sb / 2**20:g} MiB" if sb < native.NEVER
                  else "streaming stores: off (SNNCORE_STREAM_STORES_MB=0)")
        return f"native loops: {native.native_status(build=False)}; {cache}; {stream}"

    def supports(self, neuron: Any, x_seq: Tensor) -> tuple[bool, str]:
        kind = getattr(neuron, "fused_kind", None)
        if kind in _feedback.FEEDBACK_KINDS:
            ok, why = _feedback.feedback_supports(neuron, x_seq)
        elif kind not in FUSED_KINDS:
            return False, (f"{type(neuron).__name__} declares no hand-written kind (fused_kind "
                           f"{kind!r}; the kinds are "
                           f"{', '.join(FUSED_KINDS + tuple(_feedback.FEEDBACK_KINDS))}); the "
                           "'generic' backend runs a neuron from its step (automatic "
                           "selection picks it where it can)")
        else:
            ok, why = kind_supported(neuron, x_seq=x_seq)
        if not ok:
            return ok, why
        if not getattr(neuron.surrogate, "deterministic", False):
            return False, f"surrogate {neuron.surrogate!r} is not deterministic"
        if neuron.reset_mechanism not in native.RESET_IDS:
            return False, f"reset {neuron.reset_mechanism!r} is not supported"
        if x_seq.is_complex() or not x_seq.is_floating_point():
            return False, f"dtype {x_seq.dtype} is not supported"
        if torch.compiler.is_compiling():
            return False, "inside torch.compile the step functions are traced instead"
        return True, ""

    def run(self, neuron: Any, x_seq: Tensor, state: Any) -> tuple[Tensor, Any]:
        if neuron.fused_kind in _feedback.FEEDBACK_KINDS:
            return _feedback.feedback_run(neuron, x_seq, state)
        return fused_run(neuron, x_seq, state)

    def run_linear(self, linear: Any, neuron: Any, x_seq: Tensor, state: Any
                   ) -> tuple[Tensor, Any] | None:
        if linear_unfusable(linear, neuron, x_seq):
            return None
        return fused_linear_run(linear, neuron, x_seq, state)

    def run_stateless(self, layer: Any, z: Tensor) -> Tensor | None:
        """A training-mode ``nn.MaxPool2d`` on channels-last float32 CPU input runs natively
        (:mod:`snncore.backends._pool`)."""
        return _pool.run_stateless(layer, z)

    def record(self, neuron: Any, x_seq: Tensor, state: Any, fields: tuple[str, ...]
               ) -> tuple[Tensor, Any, dict[str, Tensor]]:
        if getattr(neuron, "fused_kind", None) in _feedback.FEEDBACK_KINDS:
            return _feedback.feedback_run(neuron, x_seq, state, fields)
        if fields and set(fields) <= set(record_fields(neuron, x_seq)):
            return fused_record(neuron, x_seq, state, fields)
        if generic.generic_supports(neuron, x_seq)[0]:
            return generic.generic_run(neuron, x_seq, state, fields)
        return super().record(neuron, x_seq, state, fields)
