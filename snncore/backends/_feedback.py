r"""All-to-all recurrent neurons on the ``fused`` backend: a feedback layer between the steps.

A neuron declares ``fused_kind = "rleaky_feedback"`` or ``"rsynaptic_feedback"`` and exposes its
feedback layer :math:`L` (an ``nn.Linear(F, F)`` or a shape-preserving ``nn.Conv2d(C, C, k)``) as
``fused_feedback``; its step must then be

``"rleaky_feedback"``
    :math:`U_t = \beta U_{t-1} + (X_t + L(S_{t-1})) - \text{reset}`
``"rsynaptic_feedback"``
    :math:`I_t = \alpha I_{t-1} + X_t + L(S_{t-1})`,
    :math:`U_t = \beta U_{t-1} + I_t - \text{reset}`

with :math:`S_t = H(U_t-\theta)\,g` and the reset rules of :class:`~snncore.Neuron`, in this
operation order (what :class:`snn_neurons_extra.RLeaky` and ``RSynaptic`` do with
``all_to_all=True``).

One ``torch.autograd.Function`` runs the whole sequence. Forward, per step: the feedback
:math:`L(S_{t-1})` with the same ``F.linear``/``F.conv2d`` call the eager step makes (so spikes
are bit-identical), then one step of the element-wise recurrent loop of :mod:`._fused` with
:math:`V = 1` and the feedback in place of the spike state (it computes
:math:`X_t + 1\cdot L(S_{t-1})`, exactly the eager sum). It stores the pre-reset membranes
(the backward overwrites them with the input gradient), the synaptic current where a learnable
parameter needs it, and nothing else: the weight gradient reads the spikes from the output.
Backward, per step in reverse: the gradient reaching :math:`S_t` through the next step's feedback
(one ``mm`` with :math:`W`, or the convolution's input gradient), then one reverse step of the
element-wise loop (surrogate derivative, reset rule, learnable :math:`\beta, \alpha, \theta, g`).
The weight and bias gradients :math:`\sum_t \delta_t^\top S_{t-1}` are one GEMM over all steps
at the end (the convolution's weight gradient over time chunks). On CPU in float32 the
element-wise steps run in the native loops; elsewhere in the same PyTorch arithmetic.
"""

from __future__ import annotations

import math
from typing import Any, NamedTuple

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from .._backends import once_differentiable
from . import _fused as fused
from . import _native as native

__all__ = ["FEEDBACK_KINDS", "feedback_supports", "feedback_run"]

#: fused kind -> the element-wise recurrent kind whose loop runs each step
FEEDBACK_KINDS = {"rleaky_feedback": "rleaky_elementwise",
                  "rsynaptic_feedback": "rsynaptic_elementwise"}
#: elements of ``T_chunk * B * C * k * k * H * W`` per chunk of the convolution weight gradient
_CONV_CHUNK_ELEMS = 1 << 22
_PARAMS = ("beta", "alpha", "thr", "g")
#: positions of the autograd function's inputs: x, then the initial state, the parameters and
#: the layer's weight and bias
_X, _BETA, _W = 3, 7, 11


class _Layer(NamedTuple):
    """The feedback layer's static configuration."""

    conv: bool
    stride: tuple[int, ...] = ()
    padding: tuple[int, ...] = ()
    dilation: tuple[int, ...] = ()
    groups: int = 1


def _layer_of(neuron: Any) -> Any:
    return getattr(neuron, "fused_feedback", None)


def feedback_supports(neuron: Any, x_seq: Tensor) -> tuple[bool, str]:
    """Whether the feedback path can run ``neuron`` (kind, layer and options), and why not."""
    layer = _layer_of(neuron)
    if type(layer) not in (nn.Linear, nn.Conv2d):
        return False, ("fused_feedback must be an nn.Linear or nn.Conv2d (exactly, not a "
                       f"subclass), got {type(layer).__name__}")
    if layer._forward_hooks or layer._forward_pre_hooks:
        return False, "the feedback layer has forward hooks (they run only step by step)"
    if isinstance(layer, nn.Conv2d):
        if layer.padding_mode != "zeros" or isinstance(layer.padding, str):
            return False, (f"conv feedback with padding_mode={layer.padding_mode!r}, "
                           f"padding={layer.padding!r} is not supported (zeros padding, ints)")
        if layer.in_channels != layer.out_channels:
            return False, "conv feedback must map C channels to C channels"
        if x_seq.dim() not in (4, 5):
            return False, f"conv feedback needs [T, (B,) C, H, W], got {tuple(x_seq.shape)}"
    else:
        if layer.in_features != layer.out_features or x_seq.shape[-1] != layer.in_features:
            return False, (f"linear feedback must be nn.Linear(F, F) with F the input's last "
                           f"dimension, got {layer} for input {tuple(x_seq.shape)}")
    for p in layer.parameters():
        if p.device != x_seq.device:
            return False, f"the feedback layer is on {p.device}, the input on {x_seq.device}"
    ok, why = fused.kind_supported(neuron, FEEDBACK_KINDS)
    if not ok:
        return ok, why
    return True, ""


# -- one step of the element-wise loop, native or PyTorch -----------------------------------------
class _Loop:
    """The element-wise steps of one layer: native loops on CPU float32, else PyTorch."""

    def __init__(self, cfg: Any, p: dict[str, Tensor], shape: torch.Size) -> None:
        self.cfg = cfg
        self.M = math.prod(shape)
        self.shape = shape
        if cfg.native:
            self.lib = native.native_library()
            full = {k: v.expand(shape).contiguous() for k, v in p.items()}
            full["V"] = torch.ones(shape, dtype=torch.float32)
            self.full = full
            self.ranges = native.parallel_ranges(self.M, native.threads())
            self.kind = native.KIND_IDS[cfg.kind]
            self.rid = native.RESET_IDS[cfg.reset]
            self.sg_code, self.sg_param = fused._native_surrogate(cfg.surrogate)
        else:
            self.p = {**p, "V": torch.ones((), dtype=p["beta"].dtype, device=p["beta"].device)}

    def _call(self, fn: Any, make_args: Any) -> None:
        """One native call over all neurons: directly on this thread below
        :data:`~._native.SERIAL_WORK` neurons (the loops would not split them anyway), else
        split over threads by :func:`~._native.call_parallel`."""
        if self.M < native.SERIAL_WORK:
            rc = fn(*make_args(0, self.M))
            if rc != 0:
                raise RuntimeError(f"fused native kernel failed with code {rc}")
            return
        native.call_parallel(fn, self.ranges, make_args, work=self.M)

    def forward(self, x: Tensor, t: int, spk: Tensor, h: Tensor | None, synseq: Tensor | None,
                state: dict[str, Tensor | None], fb: Tensor) -> None:
        """Step ``t``: reads ``x[t]`` and the feedback ``fb`` (overwritten), writes ``spk[t]``,
        ``h[t]``, ``synseq[t]`` and the new state (``state["spk"]`` becomes the spikes)."""
        cfg = self.cfg
        if not cfg.native:
            mem, syn, sst = fused._torch_forward(
                cfg, x[t:t + 1], state["mem"], state["syn"], fb, self.p, spk[t:t + 1],
                None if h is None else h[t:t + 1], None if synseq is None else synseq[t:t + 1])
            state.update(mem=mem, syn=syn, spk=sst)
            return
        off = t * self.M * 4

        def at(tt: Tensor | None) -> int | None:
            return None if tt is None else tt.data_ptr() + off
        full, ptr = self.full, native.ptr
        self._call(
            self.lib.snncore_fused_fwd_f32,
            lambda a, b: (self.kind, self.rid, int(cfg.delay), 1, self.M, a, b, at(x), at(spk),
                          at(h), at(synseq), ptr(state["mem"]), ptr(state["syn"]), ptr(fb),
                          ptr(full["beta"]), ptr(full.get("alpha")), ptr(full["V"]),
                          ptr(full["thr"]), ptr(full["g"]), fused._BLOCK, None, None,
                          None))
        state["spk"] = fb

    def backward(self, t: int, gspk: tuple[Tensor, int] | Tensor | None, h: Tensor,
                 synseq: Tensor | None, init: dict[str, Tensor | None],
                 carry: dict[str, Tensor | None], acc: dict[str, Tensor]) -> None:
        """Reverse step ``t``: ``carry["spk"]`` holds the gradient reaching ``S_t`` through the
        next step's feedback; writes the drive's gradient into ``h[t]``."""
        cfg = self.cfg
        if not cfg.native:
            if t > 0:
                hp = h[t - 1]
                if cfg.delay or cfg.reset == "none":
                    up = hp
                else:
                    r = fused.heaviside(hp - self.p["thr"])
                    up = hp - r * self.p["thr"] if cfg.reset == "subtract" else hp * (1 - r)
                step_init = {"mem": up, "spk": None,
                             "syn": synseq[t - 1] if synseq is not None else None}
            else:
                step_init = init
            g_t = None if gspk is None else gspk[t:t + 1]  # type: ignore[index]
            fused._torch_backward(cfg, g_t, h[t:t + 1], None, step_init, carry, acc, self.p)
            return
        rows, gts = gspk  # type: ignore[misc]
        gptr = rows.data_ptr() + t * gts * 4
        sg = None
        if not self.sg_code:
            sg = cfg.surrogate.derivative(h[t] - self.full["thr"]).to(h.dtype).contiguous()
        full, ptr = self.full, native.ptr
        accs = [acc.get(k) for k in ("beta", "alpha", "V", "thr", "g")] if acc else [None] * 5
        self._call(
            self.lib.snncore_fused_bwd_f32,
            lambda a, b: (self.kind, self.rid, int(cfg.delay), self.sg_code, self.M, a, b, t,
                          t + 1, 0, gptr, ptr(h), ptr(sg), ptr(synseq), ptr(init["mem"]),
                          ptr(init["syn"]), ptr(init["spk"]), ptr(h), ptr(carry["mem"]),
                          ptr(carry["syn"]), ptr(carry["spk"]), *(ptr(v) for v in accs),
                          ptr(full["beta"]), ptr(full.get("alpha")), ptr(full["V"]),
                          ptr(full["thr"]), ptr(full["g"]), self.sg_param, None, 0, None, 0,
                          None))


# -- the feedback layer and its gradients ---------------------------------------------------------
def _feedback(layer: _Layer, s: Tensor, W: Tensor, b: Tensor | None) -> Tensor:
    """``L(s)``, the same call as the eager step (``nn.Linear`` / ``nn.Conv2d`` forward)."""
    if layer.conv:
        return F.conv2d(s, W, b, layer.stride, layer.padding, layer.dilation, layer.groups)
    return F.linear(s, W, b)


def _as_rows(t: Tensor, layer: _Layer, W: Tensor) -> Tensor:
    """``t`` as a batch the layer's gradient functions take: ``[R, F]`` or ``[R, C, H, W]``."""
    return t.reshape(-1, *t.shape[-3:]) if layer.conv else t.reshape(-1, W.shape[1])


def _input_grad(layer: _Layer, gd: Tensor, W: Tensor, out: Tensor | None = None) -> Tensor:
    """The gradient reaching the layer's input ``s`` from the gradient ``gd`` of ``L(s)``."""
    if layer.conv:
        g4 = _as_rows(gd, layer, W)
        gi = torch.ops.aten.convolution_backward(
            g4, g4, W, None, list(layer.stride), list(layer.padding), list(layer.dilation),
            False, [0, 0], layer.groups, [True, False, False])[0]
        return gi.reshape(gd.shape)
    g2 = gd.reshape(-1, W.shape[0])
    if out is None:
        return torch.mm(g2, W).reshape(gd.shape)
    torch.mm(g2, W, out=out.view(-1, W.shape[1]))
    return out


def _weight_grads(layer: _Layer, gx: Tensor, spk: Tensor, spk0: Tensor, W: Tensor,
                  need_w: bool, need_b: bool) -> tuple[Tensor | None, Tensor | None]:
    """``sum_t`` of the weight and bias gradients of ``L(S_{t-1})`` (``S_{-1}`` = ``spk0``)."""
    T = gx.shape[0]
    if not layer.conv:
        n = W.shape[1]
        gW = None
        if need_w:
            gW = torch.mm(gx[0].reshape(-1, n).t(), spk0.reshape(-1, n))
            if T > 1:
                gW.addmm_(gx[1:].reshape(-1, n).t(), spk[:-1].reshape(-1, n))
        gb = gx.reshape(-1, n).sum(0) if need_b else None
        return gW, gb
    per_step = math.prod(gx.shape[1:]) * W.shape[1] * W.shape[2] * W.shape[3]
    chunk = max(1, _CONV_CHUNK_ELEMS // max(per_step, 1))
    gW = torch.zeros_like(W) if need_w else None
    gb = torch.zeros(W.shape[0], dtype=W.dtype, device=W.device) if need_b else None
    args = (list(layer.stride), list(layer.padding), list(layer.dilation), False, [0, 0],
            layer.groups, [False, need_w, need_b])
    for t0 in range(0, T, chunk):
        t1 = min(T, t0 + chunk)
        if t0 == 0:
            prev = torch.cat([spk0.reshape(1, *spk0.shape), spk[:t1 - 1]]) if t1 > 1 \
                else spk0.reshape(1, *spk0.shape)
        else:
            prev = spk[t0 - 1:t1 - 1]
        _, w, bb = torch.ops.aten.convolution_backward(
            _as_rows(gx[t0:t1], layer, W), _as_rows(prev, layer, W), W,
            [W.shape[0]] if need_b else None, *args)
        if gW is not None:
            gW += w
        if gb is not None:
            gb += bb
    return gW, gb


# -- the autograd function ------------------------------------------------------------------------
class _FeedbackFunction(torch.autograd.Function):
    """Inputs: config, layer, the state fields to record, x [T, *S], initial (mem, syn, spk),
    parameters (beta, alpha, thr, g), the layer's weight and bias. Outputs: spikes [T, *S], the
    final state fields and the recorded fields [T, *S]."""

    @staticmethod
    def forward(ctx: Any, cfg: Any, layer: _Layer, record: tuple[str, ...], x: Tensor,
                mem0: Tensor, syn0: Tensor | None, spk0: Tensor, beta: Tensor,
                alpha: Tensor | None, thr: Tensor, g: Tensor, W: Tensor,
                b: Tensor | None) -> tuple[Tensor, ...]:  # type: ignore[override]
        shape = x.shape[1:]
        x = x.contiguous()
        ctx.set_materialize_grads(False)
        raw = {"beta": beta, "alpha": alpha, "thr": thr, "g": g}
        p = {k: v.detach() for k, v in raw.items() if v is not None}
        Wd, bd = W.detach(), None if b is None else b.detach()
        need_grad = any(ctx.needs_input_grad[_X:])
        learn = {k: ctx.needs_input_grad[_BETA + i] for i, k in enumerate(_PARAMS)}
        T = x.shape[0]
        new = native.empty_like if cfg.native else torch.empty_like
        spk = new(x)
        h = new(x) if need_grad else None
        keep_syn = cfg.syn and (learn["alpha"] or (cfg.native and any(learn.values())))
        synseq = new(x) if (need_grad and keep_syn) else None
        state: dict[str, Tensor | None] = {
            "mem": mem0.detach().contiguous().clone(),
            "syn": syn0.detach().contiguous().clone() if cfg.syn else None}
        loop = _Loop(cfg, p, shape)
        prev = spk0.detach()
        rec = {f: new(x) for f in record}
        for t in range(T):
            fb = _feedback(layer, prev, Wd, bd)
            if t == 0 and fb.shape != shape:
                raise ValueError(
                    f"the feedback layer maps spikes of shape {tuple(shape)} to "
                    f"{tuple(fb.shape)}; it must keep the shape (nn.Linear(F, F), or "
                    "nn.Conv2d(C, C, k, stride=1, padding=k // 2) with odd k)")
            loop.forward(x, t, spk, h, synseq, state, fb.contiguous())
            prev = spk[t]
            for f, buf in rec.items():
                buf[t].copy_(state[f])  # type: ignore[arg-type]
        ctx.cfg, ctx.layer, ctx.T, ctx.learn, ctx.shape = cfg, layer, T, learn, shape
        ctx.record = record
        ctx.buffers = (h, synseq)
        keep_spk = ctx.needs_input_grad[_W] or ctx.needs_input_grad[_W + 1]
        ctx.save_for_backward(spk if keep_spk else None, mem0, syn0, spk0, W,
                              *(raw[k] for k in _PARAMS))
        fields = {"spk": state["spk"], "syn": state["syn"], "mem": state["mem"]}
        return (spk, *(fields[f] for f in fused._state_fields(cfg.kind)), *rec.values())

    @staticmethod
    @once_differentiable("fused")
    def backward(ctx: Any, gspk: Tensor | None, *gstate: Tensor | None) -> tuple[Any, ...]:
        cfg, layer, T, shape = ctx.cfg, ctx.layer, ctx.T, ctx.shape
        if ctx.buffers is None:
            raise RuntimeError(
                "the fused backend's backward ran a second time (retain_graph=True): it reuses its "
                "saved buffer for the gradient; run this layer with backend='eager' to "
                "backpropagate through it more than once")
        h, synseq = ctx.buffers
        ctx.buffers = None  # h is about to become the input gradient
        spk, mem0, syn0, spk0, W, *raw = ctx.saved_tensors
        raw_p = dict(zip(_PARAMS, raw, strict=True))
        p = {k: v.detach() for k, v in raw_p.items() if v is not None}
        Wd = W.detach()
        dtype, device = mem0.dtype, mem0.device
        fields = fused._state_fields(cfg.kind)
        given = dict(zip(fields, gstate[:len(fields)], strict=True))
        grec = {f: gr for f, gr in zip(ctx.record, gstate[len(fields):], strict=True)
                if gr is not None}
        carry: dict[str, Tensor | None] = {}
        for field in ("mem", "syn", "spk"):
            gfin = given.get(field)
            if field == "syn" and not cfg.syn:
                carry[field] = None
            elif gfin is None:
                carry[field] = torch.zeros(shape, dtype=dtype, device=device)
            else:
                carry[field] = gfin.to(dtype).contiguous().clone()
        acc_dtype = torch.float32 if device.type == "mps" else torch.float64
        learned = [k for k in _PARAMS if ctx.learn[k]]
        acc: dict[str, Tensor] = {}
        if learned:
            # the native loops take all five accumulators once any parameter is learned
            names = ("beta", "alpha", "V", "thr", "g") if cfg.native else learned
            acc = {k: torch.zeros(shape, dtype=acc_dtype, device=device) for k in names}
        init = {"mem": mem0.detach().contiguous(),
                "syn": syn0.detach().contiguous() if syn0 is not None else None,
                "spk": spk0.detach().contiguous()}
        if gspk is not None and gspk.dtype != dtype:
            gspk = gspk.to(dtype)
        loop = _Loop(cfg, p, shape)
        rows: Any = gspk
        if cfg.native:
            rows = fused._spike_grad_rows(gspk, loop.M, h)
        for t in range(T - 1, -1, -1):
            for f, gr in grec.items():  # the recorded state after step t
                carry[f].add_(gr[t])  # type: ignore[union-attr]
            loop.backward(t, rows, h, synseq, init, carry, acc)
            carry["spk"] = _input_grad(layer, h[t], Wd, carry["spk"] if cfg.native else None)
        gx = h
        gW, gb = _weight_grads(layer, gx, spk, init["spk"], Wd, ctx.needs_input_grad[_W],
                               ctx.needs_input_grad[_W + 1]) if spk is not None else (None, None)
        grads_p: list[Tensor | None] = []
        for k in _PARAMS:
            v = raw_p[k]
            if not ctx.learn[k] or v is None:
                grads_p.append(None)
                continue
            a = acc[k]
            red = a.sum() if v.dim() == 0 else a.sum_to_size(v.shape)
            grads_p.append(red.to(v.dtype))
        if T == 1:
            # one step: the run's spikes feed nothing back, so the states depend on the
            # parameters as in the element-wise kinds (the eager contract's None, not zeros)
            full5 = fused.unused_as_none(
                "synaptic" if cfg.syn else "leaky", cfg.reset, T,
                fused.used_outputs(gspk, given, grec),
                [grads_p[0], grads_p[1], None, grads_p[2], grads_p[3]])
            grads_p = [full5[0], full5[1], full5[3], full5[4]]
        need = ctx.needs_input_grad
        return (None, None, None, gx if need[_X] else None,
                carry["mem"] if need[_X + 1] else None, carry["syn"] if need[_X + 2] else None,
                carry["spk"] if need[_X + 3] else None, *grads_p, gW, gb)


def feedback_run(neuron: Any, x_seq: Tensor, state: Any, fields: tuple[str, ...] = (), *,
                 native_loops: bool | None = None) -> Any:
    """Run an all-to-all recurrent ``neuron`` (a kind of :data:`FEEDBACK_KINDS`) over ``x_seq``
    as one fused operation: ``(spikes, final state)``, or with state ``fields`` to record
    ``(spikes, final state, {field: [T, ...]})`` (gradients flow through the recorded states).
    ``native_loops=False`` forces the PyTorch element-wise steps."""
    kind = FEEDBACK_KINDS[neuron.fused_kind]
    module = neuron.fused_feedback
    cfg = fused._Config(kind, neuron.reset_mechanism, bool(neuron.reset_delay),
                        neuron.surrogate, fused.use_native_loops(x_seq, native_loops), False)
    if isinstance(module, nn.Conv2d):
        layer = _Layer(True, tuple(module.stride), tuple(module.padding),
                       tuple(module.dilation), module.groups)
    else:
        layer = _Layer(False)
    W, b = module.weight, module.bias
    if W.dtype != x_seq.dtype:  # as the eager step: the layer computes in the input's dtype
        W = W.to(x_seq.dtype)
        b = None if b is None else b.to(x_seq.dtype)
    syn = cfg.syn
    p = {"beta": neuron.param("beta", x_seq, clamp01=True),
         "alpha": neuron.param("alpha", x_seq, clamp01=True) if syn else None,
         "thr": neuron.param("threshold", x_seq),
         "g": neuron.param("graded_spikes_factor", x_seq)}
    st = state._asdict()
    fields = tuple(fields)
    flags = fused._eager_flags(neuron, x_seq, x_seq.requires_grad, state)
    outs = _FeedbackFunction.apply(cfg, layer, fields, x_seq, st["mem"], st.get("syn"),
                                   st["spk"], p["beta"], p["alpha"], p["thr"], p["g"], W, b)
    names = fused._state_fields(kind)
    spk, fin, recorded = fused._split_eager(outs, names, fields, flags)
    final = neuron.State(**dict(zip(names, fin, strict=True)))
    if not fields:
        return spk, final
    return spk, final, dict(zip(fields, recorded, strict=True))
