"""The ``triton`` backend: one GPU kernel launch per layer and pass, time loop inside the kernel.

Each program owns a block of neurons and runs all T steps for them, keeping the state in
registers; the forward stores the pre-reset membrane ``h`` (and the synaptic current when a
learnable parameter needs it), the backward runs the reverse loop over it and writes the input
gradient into the same buffer. Per-neuron parameter gradients are accumulated in registers over
time and reduced afterwards. Floating-point contraction is disabled so that the arithmetic is the
eager step functions' operation by operation (spikes identical to ``eager`` on the same device).

Hand-written kernels: the ``fused`` backend's neuron kinds and options (see
:mod:`snncore.backends._fused`), float32, with the ``atan`` and ``fast_sigmoid`` surrogates
built into the kernels; every other describable neuron runs in the generic kernels of
:mod:`snncore.backends._triton_generic`. Needs ``triton`` and a CUDA device;
:func:`triton_run` also runs under Triton's interpreter (``TRITON_INTERPRET=1``) on CPU tensors,
which is how its correctness is tested without a GPU.
"""

from __future__ import annotations

import functools
import math
import os
import sys
from typing import Any

import torch
from torch import Tensor

from .._backends import Backend, once_differentiable
from . import _native as native
from ._fused import (
    _REC_KINDS,
    _SYN_KINDS,
    _eager_flags,
    _params_of,
    _split_eager,
    _state_fields,
    kind_supported,
    unused_as_none,
    used_outputs,
)
from ._triton_generic import triton_generic_run, triton_generic_supports

__all__ = ["TritonBackend", "triton_run"]

_PARAMS = ("beta", "alpha", "V", "thr", "g")
_BLOCK = 1024


def _interpreter() -> bool:
    return os.environ.get("TRITON_INTERPRET", "0") not in ("", "0")


@functools.lru_cache(maxsize=1)
def _kernels() -> tuple[Any, Any]:
    """The two kernels (imports triton on first use)."""
    from ._triton_kernels import bwd_kernel, fwd_kernel

    return fwd_kernel, bwd_kernel


def _launch_options() -> dict[str, Any]:
    # no fused multiply-add: the arithmetic must round like the eager step functions
    return {} if _interpreter() else {"enable_fp_fusion": False}


class _TritonFunction(torch.autograd.Function):
    @staticmethod
    def forward(ctx: Any, cfg: tuple, x: Tensor, mem0: Tensor, syn0: Tensor | None,
                spk0: Tensor | None, beta: Tensor, alpha: Tensor | None, V: Tensor | None,
                thr: Tensor, g: Tensor) -> tuple[Tensor, ...]:  # type: ignore[override]
        kind, reset, delay, sg_code, sg_param = cfg
        ctx.set_materialize_grads(False)  # an unused output's gradient arrives as None
        syn_k, rec_k = kind in _SYN_KINDS, kind in _REC_KINDS
        shape = x.shape[1:]
        T, M = x.shape[0], math.prod(shape)
        x = x.contiguous()
        raw = {"beta": beta, "alpha": alpha, "V": V, "thr": thr, "g": g}
        full = {k: v.detach().expand(shape).contiguous() for k, v in raw.items() if v is not None}
        need_grad = any(ctx.needs_input_grad[1:])
        learn = any(ctx.needs_input_grad[5:])
        spk = torch.empty_like(x)
        h = torch.empty_like(x) if need_grad else None
        isq = torch.empty_like(x) if (need_grad and syn_k and learn) else None
        mem = mem0.detach().contiguous().clone()
        syn = syn0.detach().contiguous().clone() if syn_k else None
        sst = spk0.detach().contiguous().clone() if rec_k else None
        dummy = mem  # stands in for pointers a variant does not read
        fwd_kernel, _ = _kernels()
        rid = native.RESET_IDS[reset]
        fwd_kernel[(triton_cdiv(M, _BLOCK),)](
            x, spk, h if h is not None else dummy, isq if isq is not None else dummy, mem,
            syn if syn is not None else dummy, sst if sst is not None else dummy, full["beta"],
            full.get("alpha", dummy), full.get("V", dummy), full["thr"], full["g"], T, M,
            SYN=syn_k, REC=rec_k, RESET=rid, DELAYED=delay and rid != 2,
            POST=(not delay) and rid != 2, STORE_H=h is not None, STORE_I=isq is not None,
            BLOCK=_BLOCK, **_launch_options())
        ctx.cfg = cfg
        ctx.shape = shape
        ctx.learn = learn
        ctx.buffers = (h, isq)
        ctx.save_for_backward(mem0, syn0, spk0, *(raw[k] for k in _PARAMS))
        return (spk, *({"mem": mem, "syn": syn, "spk": sst}[f] for f in _state_fields(kind)))

    @staticmethod
    @once_differentiable("triton")
    def backward(ctx: Any, gspk: Tensor | None, *gstate: Tensor | None) -> tuple[Any, ...]:
        kind, reset, delay, sg_code, sg_param = ctx.cfg
        if ctx.buffers is None:
            raise RuntimeError("the triton backend's backward ran a second time "
                               "(retain_graph=True); use backend='eager' for that")
        h, isq = ctx.buffers
        ctx.buffers = None
        syn_k, rec_k = kind in _SYN_KINDS, kind in _REC_KINDS
        mem0, syn0, spk0, *raw = ctx.saved_tensors
        raw_p = dict(zip(_PARAMS, raw, strict=True))
        shape = ctx.shape
        T, M = h.shape[0], math.prod(shape)
        full = {k: v.detach().expand(shape).contiguous() for k, v in raw_p.items()
                if v is not None}
        given = dict(zip(_state_fields(kind), gstate, strict=True))
        carry = {}
        for f in ("mem", "syn", "spk"):
            if f not in given:
                carry[f] = None
            else:
                gf = given[f]
                carry[f] = torch.zeros(shape, dtype=h.dtype, device=h.device) if gf is None \
                    else gf.to(h.dtype).contiguous().clone()
        if gspk is None:
            gs, gts = h.new_zeros(M), 0
        elif gspk.stride(0) == 0:
            gs, gts = gspk[0].to(h.dtype).contiguous(), 0
        else:
            gs, gts = gspk.to(h.dtype).contiguous(), M
        acc = h.new_zeros((5, M)) if ctx.learn else h.new_zeros(1)
        dummy = carry["mem"]
        _, bwd_kernel = _kernels()
        bwd_kernel[(triton_cdiv(M, _BLOCK),)](
            gs, gts, h, isq if isq is not None else dummy, mem0.detach().contiguous(),
            syn0.detach().contiguous() if syn0 is not None else dummy,
            spk0.detach().contiguous() if spk0 is not None else dummy, h, carry["mem"],
            carry["syn"] if carry["syn"] is not None else dummy,
            carry["spk"] if carry["spk"] is not None else dummy, acc, full["beta"],
            full.get("alpha", dummy), full.get("V", dummy), full["thr"], full["g"], sg_param,
            T, M, SYN=syn_k, REC=rec_k, RESET=native.RESET_IDS[reset], DELAY=bool(delay),
            SG=sg_code, LEARN=ctx.learn, BLOCK=_BLOCK, **_launch_options())
        grads = []
        for i, k in enumerate(_PARAMS):
            v = raw_p[k]
            if v is None or not ctx.needs_input_grad[5 + i]:
                grads.append(None)
                continue
            a = acc[i].reshape(shape).double()
            red = a.sum() if v.dim() == 0 else a.sum_to_size(v.shape)
            grads.append(red.to(v.dtype))
        grads = unused_as_none(kind, reset, T, used_outputs(gspk, given), grads)
        return (None, h, carry["mem"], carry["syn"], carry["spk"], *grads)


def triton_cdiv(a: int, b: int) -> int:
    return -(-a // b)


def triton_run(neuron: Any, x_seq: Tensor, state: Any) -> tuple[Tensor, Any]:
    """Run ``neuron`` over ``x_seq`` with the Triton kernels (CUDA tensors, or CPU tensors under
    ``TRITON_INTERPRET=1``). Checks as :meth:`TritonBackend.supports`."""
    ok, why = _check(neuron, x_seq, require_cuda=not _interpreter())
    if not ok:
        raise ValueError(f"triton_run: {why}")
    kind = neuron.fused_kind
    code = native.SURROGATE_IDS[type(neuron.surrogate).__name__]
    param = float(neuron.surrogate.alpha if code == 1 else neuron.surrogate.slope)
    cfg = (kind, neuron.reset_mechanism, bool(neuron.reset_delay), code, param)
    p = _params_of(neuron, x_seq, kind)
    st = state._asdict()
    flags = _eager_flags(neuron, x_seq, x_seq.requires_grad, state)
    outs = _TritonFunction.apply(cfg, x_seq, st["mem"], st.get("syn"), st.get("spk"),
                                 p["beta"], p["alpha"], p["V"], p["thr"], p["g"])
    fields = _state_fields(kind)
    spk, fin, _ = _split_eager(outs, fields, (), flags)
    return spk, neuron.State(**dict(zip(fields, fin, strict=True)))


def _check(neuron: Any, x_seq: Tensor, require_cuda: bool) -> tuple[bool, str]:
    ok, why = kind_supported(neuron, x_seq=x_seq)
    if not ok:
        return ok, why
    surrogate = neuron.surrogate
    if type(surrogate).__module__ != "snncore._surrogate" or \
            type(surrogate).__name__ not in native.SURROGATE_IDS:
        return False, f"surrogate {surrogate!r} is not built into the kernels (atan, fast_sigmoid)"
    if neuron.reset_mechanism not in native.RESET_IDS:
        return False, f"reset {neuron.reset_mechanism!r} is not supported"
    if x_seq.dtype != torch.float32:
        return False, f"dtype {x_seq.dtype} is not supported (float32 only)"
    if require_cuda and x_seq.device.type != "cuda":
        return False, f"input is on {x_seq.device}, the kernels need a CUDA device"
    return True, ""


#: why ``import triton`` failed ("" when it worked; None before the first try)
_import_failure: str | None = None


class TritonBackend(Backend):
    """Triton GPU kernels (one launch per layer and pass). Needs ``triton`` and CUDA.

    The hand-written kernels above run the ``fused`` kinds and options; every other neuron that
    :func:`snncore.extend.describe` can describe (any ``fused_kind`` with another option, the
    other shipped families, third-party neurons) runs in the generic kernels generated from its
    description (:mod:`snncore.backends._triton_generic`), and so does :meth:`record`.
    """

    name = "triton"
    priority = 20

    @classmethod
    def available(cls) -> tuple[bool, str]:
        global _import_failure
        # a failed import is not cached by Python, and automatic selection asks on every run:
        # remember the failure (until something puts a triton module in sys.modules)
        if _import_failure is None or "triton" in sys.modules:
            try:
                import triton  # noqa: F401
            except ImportError:
                _import_failure = "triton is not installed (pip install triton)"
            except Exception as exc:  # a broken install must not break backend listing
                _import_failure = f"triton failed to import: {type(exc).__name__}: {exc}"
            else:
                _import_failure = ""
        if _import_failure:
            return False, _import_failure
        if not torch.cuda.is_available():
            return False, "no CUDA device (the triton backend runs on NVIDIA GPUs)"
        return True, ""

    def supports(self, neuron: Any, x_seq: Tensor) -> tuple[bool, str]:
        if torch.compiler.is_compiling():
            return False, "inside torch.compile the step functions are traced instead"
        ok, why = _check(neuron, x_seq, require_cuda=True)
        if ok:
            return ok, why
        ok, generic_why = triton_generic_supports(neuron, x_seq)
        if ok:
            return ok, ""
        if getattr(neuron, "fused_kind", None) is None:
            return False, generic_why
        return False, f"{why}; generic kernels: {generic_why}"

    def run(self, neuron: Any, x_seq: Tensor, state: Any) -> tuple[Tensor, Any]:
        if _check(neuron, x_seq, require_cuda=not _interpreter())[0]:
            return triton_run(neuron, x_seq, state)
        out, fin, _ = triton_generic_run(neuron, x_seq, state)
        return out, fin

    def record(self, neuron: Any, x_seq: Tensor, state: Any, fields: tuple[str, ...]
               ) -> tuple[Tensor, Any, dict[str, Tensor]]:
        if triton_generic_supports(neuron, x_seq, require_cuda=not _interpreter())[0]:
            return triton_generic_run(neuron, x_seq, state, fields)
        return super().record(neuron, x_seq, state, fields)
