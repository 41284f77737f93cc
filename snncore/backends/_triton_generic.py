"""Generic Triton kernels: any neuron that :func:`snncore._kernel.describe` can describe, on GPU.

The GPU counterpart of :mod:`snncore.backends._generic`, with the same contract and memory
strategy: one custom autograd function per layer over all time steps; the forward kernel runs the
neuron's recorded step program over blocks of neurons with the time loop inside (state in
registers), writing the output, the recorded state fields, the final state and, when a gradient
is needed, the state every :data:`~snncore.backends._generic.BLOCK` steps. The backward kernel
recomputes each block's states from those checkpoints into a scratch buffer of one block's size
and runs the recorded vector-Jacobian program in reverse, accumulating per-neuron parameter
gradients in float64. The kernels are generated as Triton source
(:mod:`snncore.backends._triton_codegen`), compiled by Triton on first use per configuration
(cached by Triton on disk) and run on CUDA tensors, or on CPU tensors under Triton's interpreter
(``TRITON_INTERPRET=1``), which is how they are tested without a GPU.
"""

from __future__ import annotations

import functools
import hashlib
import linecache
import math
import os
import threading
import types
from typing import Any

import torch
from torch import Tensor

from .._backends import once_differentiable
from .._kernel import KernelDescription, NotFusable, describe, parameter_names
from . import _triton_codegen as tcg
from ._generic import (
    BLOCK,
    _param_rows,
    backward_inputs,
    forward_buffers,
    generic_run,
    parameter_grads,
)

__all__ = ["triton_generic_supports", "triton_generic_run", "kernel_sources", "NEURONS_PER_PROGRAM"]

#: neurons per Triton program (one block of lanes; every register is a vector of this length)
NEURONS_PER_PROGRAM = 256
_lock = threading.Lock()
_kernels: dict[tuple[str, bool], Any] = {}


def _interpreter() -> bool:
    return os.environ.get("TRITON_INTERPRET", "0") not in ("", "0")


def _numpy_op(fn: Any) -> Any:
    """An elementwise operation for the interpreter from a NumPy ufunc (the interpreter's
    ``triton.language`` has no tanh, atan, pow, expm1, log1p, rint or trunc)."""

    def op(*args: Any) -> Any:
        import numpy as np
        import triton.language as tl
        from triton.runtime.interpreter import TensorHandle

        shaped = max(args, key=lambda a: len(getattr(a, "shape", ())))
        with np.errstate(all="ignore"):
            data = fn(*(a.handle.data for a in args)).astype(np.float32)
        return tl.tensor(TensorHandle(data, tl.float32), shaped.type)

    return op


@functools.lru_cache(maxsize=2)
def _math(interpret: bool) -> Any:
    """The ``_m`` namespace of the generated kernels: libdevice on a GPU; under
    ``TRITON_INTERPRET=1`` NumPy, evaluated in float64 and rounded to float32 (so the result is
    the correctly rounded one, as PyTorch's CPU functions give in all but rare cases)."""
    if not interpret:
        from triton.language.extra import libdevice

        return libdevice
    import numpy as np
    import triton.language as tl

    def f64(fn: Any) -> Any:  # evaluated in float64, rounded once to float32
        return _numpy_op(lambda *a: fn(*(v.astype(np.float64) for v in a)))

    return types.SimpleNamespace(
        exp=f64(np.exp), log=f64(np.log), sin=f64(np.sin), cos=f64(np.cos),
        erf=lambda x: tl.erf(x), tanh=f64(np.tanh), atan=f64(np.arctan), pow=f64(np.power),
        expm1=f64(np.expm1), log1p=f64(np.log1p), rint=_numpy_op(np.rint),
        trunc=_numpy_op(np.trunc))


def _load(src: tcg.KernelSource) -> Any:
    """The ``@triton.jit`` function of a generated kernel (one per source text and mode)."""
    interpret = _interpreter()
    key = (src.text, interpret)
    with _lock:
        fn = _kernels.get(key)
        if fn is not None:
            return fn
        import triton.language as tl

        digest = hashlib.sha256(src.text.encode()).hexdigest()[:20]
        filename = f"<snncore-triton-{src.name}-{digest}>"
        # the source must be visible to inspect.getsource (Triton reads it to compile)
        linecache.cache[filename] = (len(src.text), None, src.text.splitlines(True), filename)
        scope: dict[str, Any] = {"__name__": f"snncore_triton_{digest}", "tl": tl,
                                 "_m": _math(interpret)}
        exec(compile(src.text, filename, "exec"), scope)  # noqa: S102 - our generated source
        fn = scope[src.name]
        _kernels[key] = fn
        return fn


def kernel_sources(neuron: Any, x_seq: Tensor, record: tuple[str, ...] = (),
                   learn: tuple[bool, ...] | None = None) -> tuple[tcg.KernelSource, ...]:
    """The forward and backward kernels that :func:`triton_generic_run` would generate for
    ``neuron`` on ``x_seq`` (every gradient given; ``learn``: which parameters are learned,
    default: those that require a gradient). For inspection and ahead-of-time compilation."""
    desc = describe(neuron)
    ns, npar = len(desc.fields), len(desc.params)
    params = [getattr(neuron, n) for n in desc.params]
    _, pstride = _param_rows(params, x_seq.shape[1:])
    rec = tuple(f in record for f in desc.fields)
    if learn is None:
        learn = tuple(bool(p.requires_grad) for p in params)
    fwd = tcg.forward_kernel(desc.forward, ns, npar, tuple(pstride), rec, True)
    bwd = tcg.backward_kernel(desc.forward, desc.backward(True, learn), ns, npar,
                              tuple(pstride), True, rec)
    return fwd, bwd


def _launch(src: tcg.KernelSource, M: int, *args: Any) -> None:
    fn = _load(src)
    grid = (-(-M // NEURONS_PER_PROGRAM),)
    opts: dict[str, Any] = {} if _interpreter() else {"enable_fp_fusion": False}
    fn[grid](*args, BLOCK=NEURONS_PER_PROGRAM, **opts)


_const_cache: dict[tuple[Any, ...], tuple[tuple[Any, ...], Tensor]] = {}


def _consts(*progs: Any, device: torch.device) -> Tensor:
    """The programs' constants as one float32 tensor on ``device``, made once per programs and
    device (a host-to-device copy on every call would wait for the GPU)."""
    key = (*(id(p) for p in progs), str(device))
    hit = _const_cache.get(key)
    if hit is not None and all(a is b for a, b in zip(hit[0], progs, strict=True)):
        return hit[1]
    vals = [v for p in progs for v in p.consts] or [0.0]
    t = torch.tensor(vals, dtype=torch.float32, device=device)
    if len(_const_cache) > 512:
        _const_cache.clear()
    _const_cache[key] = (progs, t)
    return t


class _TritonGenericFunction(torch.autograd.Function):
    """Inputs and outputs as :class:`snncore.backends._generic._GenericFunction`'s."""

    @staticmethod
    def forward(ctx: Any, desc: KernelDescription, rec: tuple[bool, ...],
                deps: tuple[frozenset[int], ...], x: Tensor,
                *rest: Tensor) -> tuple[Tensor, ...]:  # type: ignore[override]
        b = forward_buffers(ctx, desc, rec, deps, x, rest)
        x, ckpt = b.x, b.ckpt
        T, M = x.shape[0], math.prod(x.shape[1:])
        f = desc.forward
        src = tcg.forward_kernel(f, len(desc.fields), len(desc.params), tuple(b.pstr), rec,
                                 ckpt is not None)
        if M > 0 and T > 0:
            _launch(src, M, x, b.out, *b.fin, *b.prow, *(r for r in b.recs if r is not None),
                    *([ckpt] if ckpt is not None else []), _consts(f, device=x.device),
                    T, M, BLOCK)
        ctx.done, ctx.device = False, x.device
        return b.outputs()

    @staticmethod
    @once_differentiable("triton")
    def backward(ctx: Any, gout: Tensor | None, *grads: Tensor | None) -> tuple[Any, ...]:
        desc: KernelDescription = ctx.desc
        if ctx.done:
            raise RuntimeError("the triton backend's backward ran a second time "
                               "(retain_graph=True); use backend='eager' for that")
        ns, npar = len(desc.fields), len(desc.params)
        dev = ctx.device
        i = backward_inputs(ctx, gout, grads, dev)
        x, T, shape, M, gstate, gx, g0, grow = (i.x, i.T, i.shape, i.M, i.gstate, i.gx, i.g0,
                                                i.grow)
        f, b = desc.forward, desc.backward(i.need_x, i.learn)
        learned = [k for k, r in enumerate(b.outputs[1 + ns:]) if r >= 0]
        accs = {k: torch.zeros(shape, dtype=torch.float64, device=dev) for k in learned}
        src = tcg.backward_kernel(f, b, ns, npar, tuple(i.pstr), g0 is not None,
                                  tuple(g is not None for g, _ in grow))
        args: list[Any] = [] if x is None else [x]
        if ctx.ckpt is not None:  # the states are recomputed block by block into the scratch
            args += [ctx.ckpt, torch.empty((min(BLOCK, T), ns, *shape), dtype=torch.float32,
                                           device=dev)]
        args += i.prow
        if g0 is not None:
            args += [g0, i.gts]
        for g, ts in grow:
            if g is not None:
                args += [g, ts]
        args += gstate
        args += [gx] if gx is not None else []
        args += [accs[k] for k in learned]
        if M > 0 and T > 0:
            _launch(src, M, *args, _consts(f, b, device=dev), T, M, BLOCK)
        ctx.ckpt, ctx.done = None, True
        gparams = parameter_grads(ctx, gout, i.gfin, i.grec_given, i.params,
                                  [accs.get(j) if i.learn[j] else None for j in range(npar)])
        return (None, None, None, gx, *gstate, *gparams)


def triton_generic_supports(neuron: Any, x_seq: Tensor, require_cuda: bool = True
                            ) -> tuple[bool, str]:
    """Whether the generic Triton kernels can run ``neuron`` on ``x_seq`` (and why not)."""
    if x_seq.dtype != torch.float32:
        return False, f"the generic Triton kernels run float32 (got {x_seq.dtype})"
    if require_cuda and x_seq.device.type != "cuda":
        return False, f"input is on {x_seq.device}, the kernels need a CUDA device"
    if not getattr(neuron.surrogate, "deterministic", False):
        return False, f"surrogate {neuron.surrogate!r} is not deterministic"
    try:
        desc = describe(neuron)
    except NotFusable as exc:
        return False, str(exc)
    full = desc.backward(True, tuple(True for _ in desc.params))
    missing = tcg.untranslated(desc.forward, full)
    if missing:
        return False, f"the Triton kernels cannot spell the operations {sorted(missing)}"
    return True, ""


def triton_generic_run(neuron: Any, x_seq: Tensor, state: Any, record: tuple[str, ...] = ()
                       ) -> tuple[Tensor, Any, dict[str, Tensor]]:
    """Run ``neuron`` over ``x_seq`` in the generic Triton kernels (CUDA tensors, or CPU tensors
    under ``TRITON_INTERPRET=1``).

    Returns ``(output [T, ...], final state, {field: [T, ...] per recorded field})``.

    Raises:
        ValueError: when the kernels cannot run this neuron or input (the reason is given).
    """
    tensors = [(f"state.{f}", s) for f, s in zip(state._fields, state, strict=True)]
    tensors += [(n, getattr(neuron, n)) for n in parameter_names(neuron)]
    for name, t in tensors:  # the kernels read raw pointers: a tensor elsewhere would crash
        if t.device != x_seq.device:
            raise ValueError(f"triton_generic_run: {type(neuron).__name__}.{name} is on "
                             f"{t.device} but the input is on {x_seq.device}; move the neuron "
                             f"and its state to the input's device (neuron.to(x.device))")
    ok, why = triton_generic_supports(neuron, x_seq, require_cuda=not _interpreter())
    if not ok:
        raise ValueError(f"triton_generic_run: {why}")
    return generic_run(neuron, x_seq, state, record, function=_TritonGenericFunction)
