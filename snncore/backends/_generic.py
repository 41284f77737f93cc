"""Generic fused loops: any neuron that :func:`snncore._kernel.describe` can describe.

One custom autograd function per layer over all time steps. The forward runs the neuron's
recorded step program in native code (``_kernel_vm.cpp``, built on first use) over tiles of
neurons with the time loop inside, writing the outputs, the requested per-step state fields
(``record``), the final state, and (when a gradient is needed) the state every
:data:`BLOCK` steps. The backward recomputes each block's states from those checkpoints and the
kept input, then runs the recorded vector-Jacobian program in reverse, accumulating parameter
gradients per neuron in float64. Nothing of size ``T`` is kept besides the input itself.

Environment: the same as the hand-written fused loops (``SNNCORE_FUSED_NATIVE=0`` disables
native code, ``SNNCORE_CACHE_DIR``, ``CXX``); ``SNNCORE_FUSED_CODEGEN=0`` runs every neuron's
programs in the interpreter instead of compiling them.
"""

from __future__ import annotations

import ctypes
import functools
import hashlib
import logging
import math
import os
import shutil
import subprocess
import tempfile
import threading
from pathlib import Path
from typing import Any, NamedTuple

import torch
from torch import Tensor

from .. import _env
from .._backends import Backend, once_differentiable, without_grad
from .._kernel import KernelDescription, NotFusable, Program, describe, plain_saved_tensors
from . import _codegen as codegen
from . import _fused, _pool
from . import _native as native

__all__ = ["GenericBackend", "generic_library", "generic_status", "generic_supports",
           "generic_run", "BLOCK"]

log = logging.getLogger("snncore.backends.fused")

#: steps between state checkpoints (the backward recomputes one block at a time)
BLOCK = 32
_SRC = native.SOURCE_DIR / "kernel_vm.cpp"
_HDR = native.SOURCE_DIR / "kernel_vm.h"
_STREAM_HDR = native.SOURCE_DIR / "streaming.h"
_lock = threading.Lock()
_lib: Any = None
_status = "not built yet"
_flags: list[str] = []
_cxx = ""
#: compiled kernels by source hash (a ctypes function, or None when the build failed)
_kernels: dict[str, Any] = {}

_p = ctypes.c_void_p
_i32, _i64 = ctypes.c_int32, ctypes.c_int64


class _Fwd(ctypes.Structure):
    _fields_ = [("code", _p), ("ncode", _i64), ("pre", _p), ("npre", _i64), ("nregs", _i32),
                ("consts", _p), ("nconst", _i32),
                ("T", _i64), ("M", _i64), ("nthreads", _i32), ("x", _p), ("rx", _i32),
                ("ns", _i32), ("rs_in", _p), ("rs_out", _p), ("state", _p), ("np", _i32),
                ("rp", _p), ("params", _p), ("pstride", _p), ("rout", _i32), ("out", _p),
                ("rec", _p), ("K", _i64), ("ckpt", _p), ("stream", _i32)]


class _Bwd(ctypes.Structure):
    _fields_ = [("fcode", _p), ("nfcode", _i64), ("fpre", _p), ("nfpre", _i64),
                ("fnregs", _i32), ("fconsts", _p),
                ("nfconst", _i32), ("frx", _i32), ("frs_in", _p), ("frs_out", _p), ("frp", _p),
                ("bcode", _p), ("nbcode", _i64), ("bpre", _p), ("nbpre", _i64),
                ("bnregs", _i32), ("bconsts", _p),
                ("nbconst", _i32), ("brx", _i32), ("brs_in", _p), ("brp", _p), ("brgout", _i32),
                ("brgs_out", _p), ("brgx", _i32), ("brgs_in", _p), ("brgp", _p), ("T", _i64),
                ("M", _i64), ("K", _i64), ("nthreads", _i32), ("ns", _i32), ("np", _i32),
                ("x", _p), ("ckpt", _p), ("params", _p), ("pstride", _p), ("gout", _p),
                ("gout_ts", _i64), ("grec", _p), ("grec_ts", _p), ("gstate", _p), ("gx", _p),
                ("gp", _p), ("stream", _i32)]


def _compile(cxx: str, out: Path, flags: list[str], source: Path = _SRC) -> str | None:
    out.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="snncore-build-") as tmp:
        so = Path(tmp) / "vm.so"
        proc = subprocess.run([cxx, *flags, f"-I{_SRC.parent}", "-shared", str(source), "-o",
                               str(so)], capture_output=True, text=True, timeout=600)
        if proc.returncode != 0:
            return (proc.stderr or proc.stdout).strip()[-2000:]
        staged = out.with_name(f"{out.name}.{os.getpid()}.tmp")
        shutil.copyfile(so, staged)
        os.replace(staged, out)
    return None


def generic_library() -> Any:
    """The loaded interpreter library (built on first use), or None (see :func:`generic_status`)."""
    global _lib, _status
    if _lib is not None:
        return _lib
    with _lock:
        if _lib is not None:
            return _lib
        if _status != "not built yet":
            return None
        cxx, why = native.find_compiler()
        if cxx is None:
            _status = why
            return None
        source = _SRC.read_text(encoding="utf-8") + _headers()
        errors: list[str] = []
        for extra in (["-march=native", "-fopenmp"], ["-fopenmp"], ["-march=native"], []):
            flags = native._BASE_FLAGS + extra
            key = hashlib.sha256("\0".join([source, cxx, *flags, native._cpu_tag()]).encode()
                                 ).hexdigest()[:20]
            path = native._cache_dir() / f"vm_{key}.so"
            try:
                if not path.exists():
                    log.info("fused: building the generic loops into %s (once)", path)
                    err = _compile(cxx, path, flags)
                    if err is not None:
                        errors.append(err)
                        continue
                lib = ctypes.CDLL(str(path))
                if lib.snncore_vm_abi_version() != 4:
                    errors.append(f"{path}: unexpected ABI version")
                    continue
            except (OSError, subprocess.SubprocessError, AttributeError) as exc:
                errors.append(f"{type(exc).__name__}: {exc}")
                continue
            for fn in (lib.snncore_vm_fwd, lib.snncore_vm_bwd):
                fn.restype = ctypes.c_int
                fn.argtypes = [ctypes.c_void_p]
            _lib = lib
            _status = f"native ({path})"
            global _flags, _cxx
            _flags, _cxx = flags, cxx
            return _lib
        _status = "build failed: " + " | ".join(errors)[-1500:]
        log.debug("fused: generic loops unavailable (%s)", _status)
        return None


@functools.cache
def _headers() -> str:
    """The headers every generic build includes (package data: read once, for the cache keys)."""
    return _HDR.read_text(encoding="utf-8") + _STREAM_HDR.read_text(encoding="utf-8")


def _codegen_enabled() -> bool:
    return _env.flag(_env.FUSED_CODEGEN, True)


def _kernel(source: str, symbol: str) -> Any:
    """The compiled function ``symbol`` of ``source`` (built once, cached on disk), or None."""
    key = hashlib.sha256("\0".join([source, _headers(), _cxx, *_flags,
                                     native._cpu_tag()]).encode()).hexdigest()[:24]
    if key in _kernels:
        return _kernels[key]
    with _lock:
        if key in _kernels:
            return _kernels[key]
        fn = None
        path = native._cache_dir() / f"gen_{key}.so"
        try:
            if not path.exists():
                with tempfile.TemporaryDirectory(prefix="snncore-gen-") as tmp:
                    src = Path(tmp) / "kernel.cpp"
                    src.write_text(source, encoding="utf-8")
                    log.info("fused: compiling a neuron's step into %s (once)", path)
                    err = _compile(_cxx, path, _flags, src)
                if err is not None:
                    log.warning("fused: compiling a neuron's step failed, using the "
                                "interpreter: %s", err[-300:])
            if path.exists():
                lib = ctypes.CDLL(str(path))
                fn = getattr(lib, symbol)
                fn.restype = ctypes.c_int
                fn.argtypes = [ctypes.c_void_p]
        except (OSError, subprocess.SubprocessError, AttributeError) as exc:
            log.warning("fused: loading a compiled step failed, using the interpreter: %s", exc)
            fn = None
        _kernels[key] = fn
        return fn


#: the C++ of a program (pair): generated once, not at every layer call
_forward_source = functools.lru_cache(maxsize=256)(codegen.forward_source)
_backward_source = functools.lru_cache(maxsize=256)(codegen.backward_source)


def _fwd_fn(desc: KernelDescription) -> Any:
    lib = generic_library()
    if _codegen_enabled():
        fn = _kernel(_forward_source(desc.forward, len(desc.fields), len(desc.params)),
                     "snncore_gen_fwd")
        if fn is not None:
            return fn
    return lib.snncore_vm_fwd


def _bwd_fn(desc: KernelDescription, b: Program) -> Any:
    lib = generic_library()
    if _codegen_enabled():
        fn = _kernel(_backward_source(desc.forward, b, len(desc.fields), len(desc.params)),
                     "snncore_gen_bwd")
        if fn is not None:
            return fn
    return lib.snncore_vm_bwd


def generic_status() -> str:
    generic_library()
    return _status


def generic_supports(neuron: Any, x_seq: Tensor) -> tuple[bool, str]:
    """Whether the generic loops can run ``neuron`` on ``x_seq`` (and why not)."""
    if x_seq.device.type != "cpu" or x_seq.dtype != torch.float32:
        return False, (f"the generic fused loops run float32 on CPU (got {x_seq.dtype} on "
                       f"{x_seq.device.type})")
    if not getattr(neuron.surrogate, "deterministic", False):
        return False, f"surrogate {neuron.surrogate!r} is not deterministic"
    try:
        describe(neuron)
    except NotFusable as exc:
        return False, str(exc)
    if generic_library() is None:
        return False, f"native generic loops unavailable: {_status}"
    return True, ""


# -- argument packing ------------------------------------------------------------------------------
def _ints(values: Any) -> Any:
    vals = list(values)
    return (ctypes.c_int32 * max(len(vals), 1))(*vals)


def _ptrs(tensors: Any) -> Any:
    vals = [0 if t is None else t.data_ptr() for t in tensors]
    return (ctypes.c_void_p * max(len(vals), 1))(*vals)


def _i64s(values: Any) -> Any:
    vals = list(values)
    return (ctypes.c_int64 * max(len(vals), 1))(*vals)


class _Packed:
    """A program's arrays as ctypes objects (kept alive while a call runs)."""

    def __init__(self, prog: Program) -> None:
        self.code = (ctypes.c_int32 * max(len(prog.code), 1))(*prog.code)
        self.pre = (ctypes.c_int32 * max(len(prog.pre), 1))(*prog.pre)
        self.npre = len(prog.pre) // 5
        self.consts = (ctypes.c_float * max(len(prog.consts), 1))(*prog.consts)
        self.n = len(prog)
        self.nregs = prog.nregs
        self.nconst = len(prog.consts)


_packed: dict[int, tuple[Program, _Packed]] = {}


def _pack(prog: Program) -> _Packed:
    hit = _packed.get(id(prog))
    if hit is None or hit[0] is not prog:
        hit = (prog, _Packed(prog))
        _packed[id(prog)] = hit
    return hit[1]


def _streams(T: int, M: int) -> bool:
    """Whether outputs of T steps of M float32 neurons are written with streaming stores (the
    outputs and the input gradient are fresh buffers, never the input itself)."""
    return T * M * 4 >= native.stream_bytes()


def _nthreads(work: int) -> int:
    if not native._use_openmp or work < native.SERIAL_WORK:
        return 1
    return native.threads()


def _param_rows(params: list[Tensor], shape: torch.Size) -> tuple[list[Tensor], list[int]]:
    rows, strides = [], []
    for p in params:
        v = p.detach().to(torch.float32)
        if v.numel() == 1:
            rows.append(v.reshape(1).contiguous())
            strides.append(0)
        else:
            rows.append(v.expand(shape).contiguous())
            strides.append(1)
    return rows, strides


def _rows(g: Tensor | None, M: int) -> tuple[Tensor | None, int]:
    if g is None:
        return None, 0
    if g.dtype != torch.float32:
        g = g.float()
    if g.dim() >= 1 and g.stride(0) == 0:
        return g[0].contiguous(), 0
    return g.contiguous(), M


def backward_plan(ctx: Any, desc: KernelDescription) -> tuple[bool, bool, bool]:
    """For a generic autograd function's forward (inputs: description, record mask, deps, x,
    states, parameters): whether any gradient is needed, whether the backward reads ``x``
    (also when it recomputes states from checkpoints) and whether it recomputes states (a
    linear step's backward reads none). Unused outputs' gradients arrive as None."""
    ctx.set_materialize_grads(False)
    need_grad = any(ctx.needs_input_grad[3:])
    if not need_grad:
        return False, False, False
    learn = tuple(bool(v) for v in ctx.needs_input_grad[4 + len(desc.fields):])
    keep_x, recompute = desc.backward_reads(bool(ctx.needs_input_grad[3]), learn)
    return True, keep_x or recompute, recompute


class ForwardBuffers(NamedTuple):
    """What a generic autograd function's forward works on (:func:`forward_buffers`)."""

    x: Tensor  # the input, detached and contiguous
    states: list[Tensor]  # the initial state fields as given
    params: list[Tensor]  # the raw parameters
    out: Tensor  # the output [T, *S]
    fin: list[Tensor]  # the state fields in float32, updated in place to the final state
    recs: list[Tensor | None]  # one [T, *S] buffer per recorded field
    ckpt: Tensor | None  # the state every BLOCK steps, when the backward recomputes
    prow: list[Tensor]  # parameter rows for the kernels (:func:`_param_rows`)
    pstr: list[int]  # their strides (0: one value for every neuron)

    def outputs(self) -> tuple[Tensor, ...]:
        """The autograd function's outputs: output, final states (in their dtypes), records."""
        return (self.out, *(s.to(self.states[i].dtype) for i, s in enumerate(self.fin)),
                *(r for r in self.recs if r is not None))


def forward_buffers(ctx: Any, desc: KernelDescription, rec: tuple[bool, ...],
                    deps: tuple[frozenset[int], ...], x: Tensor,
                    rest: tuple[Tensor, ...]) -> ForwardBuffers:
    """The forward set-up shared by the CPU and Triton generic autograd functions: splits
    ``rest`` into states and parameters, allocates the outputs (large CPU ones from the buffer
    cache), plans the backward (:func:`backward_plan`) and saves what it reads on ``ctx``."""
    ns = len(desc.fields)
    states, params = list(rest[:ns]), list(rest[ns:])
    T, shape = x.shape[0], x.shape[1:]
    x = x.detach().contiguous()
    _, keep_x, recompute = backward_plan(ctx, desc)
    out = native.empty_like(x)
    fin = [s.detach().to(torch.float32).contiguous().clone() for s in states]
    recs = [native.empty_like(x) if r else None for r in rec]
    ckpt = x.new_empty((-(-T // BLOCK), ns, *shape)) if recompute else None
    prow, pstr = _param_rows(params, shape)
    ctx.desc, ctx.rec, ctx.shape, ctx.T, ctx.deps, ctx.ckpt = desc, rec, shape, T, deps, ckpt
    ctx.had_ckpt = ckpt is not None
    ctx.save_for_backward(x if keep_x else None, *params)
    return ForwardBuffers(x, states, params, out, fin, recs, ckpt, prow, pstr)


class BackwardInputs(NamedTuple):
    """What a generic autograd function's backward works on (:func:`backward_inputs`)."""

    x: Tensor | None  # the input, when the backward reads it
    params: list[Tensor]  # the raw parameters
    T: int
    shape: torch.Size
    M: int
    need_x: bool  # whether the input's gradient is needed
    learn: tuple[bool, ...]  # per parameter: whether its gradient is needed
    gfin: list[Tensor | None]  # the final states' gradients as given
    grec_given: list[Tensor | None]  # the recorded fields' gradients as given
    gstate: list[Tensor]  # float32 carries of the states' gradients (updated in place)
    gx: Tensor | None  # the input gradient's buffer
    prow: list[Tensor]  # parameter rows (:func:`_param_rows`)
    pstr: list[int]
    g0: Tensor | None  # the output's gradient rows and their time stride (:func:`_rows`)
    gts: int
    grow: list[tuple[Tensor | None, int]]  # per recorded-or-not field, as g0 and gts


def backward_inputs(ctx: Any, gout: Tensor | None, grads: tuple[Tensor | None, ...],
                    device: torch.device) -> BackwardInputs:
    """The backward set-up shared by the CPU and Triton generic autograd functions."""
    ns = len(ctx.desc.fields)
    x, *params = ctx.saved_tensors
    T, shape = ctx.T, ctx.shape
    M = math.prod(shape)
    need_x = bool(ctx.needs_input_grad[3])
    learn = tuple(bool(v) for v in ctx.needs_input_grad[4 + ns:])
    gfin, grec_given = list(grads[:ns]), list(grads[ns:])
    it = iter(grec_given)
    grec = [next(it) if r else None for r in ctx.rec]
    gstate = [torch.zeros(shape, dtype=torch.float32, device=device) if g is None
              else g.to(torch.float32).contiguous().clone() for g in gfin]
    gx = None
    if need_x:  # x is not kept when the backward does not read it
        gx = native.empty_like(x if x is not None else torch.empty(
            (), dtype=torch.float32, device=device).expand(T, *shape))
    prow, pstr = _param_rows(params, shape)
    g0, gts = _rows(gout, M)
    return BackwardInputs(x, params, T, shape, M, need_x, learn, gfin, grec_given, gstate, gx,
                          prow, pstr, g0, gts, [_rows(g, M) for g in grec])


class _GenericFunction(torch.autograd.Function):
    """Inputs: description, record mask, parameter dependencies (:func:`eager_probe`),
    x [T, *S], state fields, parameters (raw tensors).
    Outputs: the output [T, *S], the final state fields, then one [T, *S] tensor per recorded
    field."""

    @staticmethod
    def forward(ctx: Any, desc: KernelDescription, rec: tuple[bool, ...],
                deps: tuple[frozenset[int], ...], x: Tensor,
                *rest: Tensor) -> tuple[Tensor, ...]:  # type: ignore[override]
        b = forward_buffers(ctx, desc, rec, deps, x, rest)
        x, out, fin, recs, ckpt = b.x, b.out, b.fin, b.recs, b.ckpt
        ns, T, M = len(desc.fields), x.shape[0], math.prod(x.shape[1:])
        f = desc.forward
        pk = _pack(f)
        rx, rs_in, rp = f.inputs[0], f.inputs[1:1 + ns], f.inputs[1 + ns:]
        arrays = dict(rs_in=_ints(rs_in), rs_out=_ints(f.outputs[1:]), state=_ptrs(fin),
                      rp=_ints(rp), params=_ptrs(b.prow), pstride=_i64s(b.pstr), rec=_ptrs(recs))
        ad = {k: ctypes.addressof(v) for k, v in arrays.items()}
        a = _Fwd(code=ctypes.addressof(pk.code), ncode=pk.n, pre=ctypes.addressof(pk.pre),
                 npre=pk.npre, nregs=pk.nregs,
                 consts=ctypes.addressof(pk.consts), nconst=pk.nconst, T=T, M=M,
                 nthreads=_nthreads(T * M), x=x.data_ptr(), rx=rx, ns=ns, np=len(b.params),
                 rout=f.outputs[0], out=out.data_ptr(), K=BLOCK,
                 ckpt=0 if ckpt is None else ckpt.data_ptr(), stream=_streams(T, M), **ad)
        rc = _fwd_fn(desc)(ctypes.byref(a))
        del arrays
        if rc != 0:
            raise RuntimeError(f"generic fused forward failed with code {rc}")
        return b.outputs()

    @staticmethod
    @once_differentiable("generic")
    def backward(ctx: Any, gout: Tensor | None, *grads: Tensor | None) -> tuple[Any, ...]:
        desc: KernelDescription = ctx.desc
        ns = len(desc.fields)
        if ctx.had_ckpt and ctx.ckpt is None:
            raise RuntimeError(
                "the generic backend's backward ran a second time (retain_graph=True): it "
                "releases the states it kept after the first one; run this neuron with "
                "backend='eager' to backpropagate through it more than once")
        i = backward_inputs(ctx, gout, grads, torch.device("cpu"))
        x, params, T, M, gstate, gx, g0, gts, grow = (i.x, i.params, i.T, i.M, i.gstate,
                                                      i.gx, i.g0, i.gts, i.grow)
        f, b = desc.forward, desc.backward(i.need_x, i.learn)
        fpk, bpk = _pack(f), _pack(b)
        accs = [torch.zeros(i.shape, dtype=torch.float64) if lr else None for lr in i.learn]
        bi = b.inputs
        brx, brs_in, brp = bi[0], bi[1:1 + ns], bi[1 + ns:1 + ns + len(params)]
        brgout, brgs_out = bi[1 + ns + len(params)], bi[2 + ns + len(params):]
        bo = b.outputs
        brgx, brgs_in, brgp = bo[0], bo[1:1 + ns], bo[1 + ns:]
        arrays = dict(
            frs_in=_ints(f.inputs[1:1 + ns]), frs_out=_ints(f.outputs[1:]),
            frp=_ints(f.inputs[1 + ns:]), brs_in=_ints(brs_in), brp=_ints(brp),
            brgs_out=_ints(brgs_out), brgs_in=_ints(brgs_in), brgp=_ints(brgp),
            params=_ptrs(i.prow), pstride=_i64s(i.pstr), grec=_ptrs([g for g, _ in grow]),
            grec_ts=_i64s([s for _, s in grow]), gstate=_ptrs(gstate), gp=_ptrs(accs))
        ad = {k: ctypes.addressof(v) for k, v in arrays.items()}
        a = _Bwd(fcode=ctypes.addressof(fpk.code), nfcode=fpk.n, fpre=ctypes.addressof(fpk.pre),
                 nfpre=fpk.npre, fnregs=fpk.nregs, fconsts=ctypes.addressof(fpk.consts),
                 nfconst=fpk.nconst, frx=f.inputs[0], bcode=ctypes.addressof(bpk.code),
                 nbcode=bpk.n, bpre=ctypes.addressof(bpk.pre), nbpre=bpk.npre,
                 bnregs=bpk.nregs, bconsts=ctypes.addressof(bpk.consts), nbconst=bpk.nconst,
                 brx=brx, brgout=brgout, brgx=brgx, T=T, M=M, K=BLOCK,
                 nthreads=_nthreads(T * M), ns=ns, np=len(params),
                 x=0 if x is None else x.data_ptr(),
                 ckpt=0 if ctx.ckpt is None else ctx.ckpt.data_ptr(),
                 gout=0 if g0 is None else g0.data_ptr(),
                 gout_ts=gts, gx=0 if gx is None else gx.data_ptr(), stream=_streams(T, M),
                 **ad)
        # nothing to loop over (a zero-size batch or feature axis): zero-size gradients and
        # zero parameter gradients, as eager gives
        rc = _bwd_fn(desc, b)(ctypes.byref(a)) if M > 0 else 0
        del arrays
        if rc != 0:
            raise RuntimeError(f"generic fused backward failed with code {rc}")
        ctx.ckpt = None
        gparams = parameter_grads(ctx, gout, i.gfin, i.grec_given, params, accs)
        return (None, None, None, gx, *gstate, *gparams)


def parameter_grads(ctx: Any, gout: Tensor | None, gfin: list[Tensor | None],
                    grec: list[Tensor | None], params: list[Tensor],
                    accs: list[Tensor | None]) -> list[Tensor | None]:
    """The parameter gradients from the per-neuron accumulators ``accs`` (None where not
    learned), following eager autograd's contract: a parameter no used output depends on
    (``ctx.deps``, ``ctx.rec``: see :class:`_GenericFunction`) gets None."""
    ns = len(gfin)
    used = [gout is not None, *(g is not None for g in gfin)]
    used += [g is not None for g in grec]
    rec_fields = [i for i, r in enumerate(ctx.rec) if r]
    deps = list(ctx.deps[:1 + ns]) + [ctx.deps[1 + i] for i in rec_fields]
    reached = set().union(*(d for d, u in zip(deps, used, strict=True) if u))
    gparams: list[Tensor | None] = []
    for j, (p, acc) in enumerate(zip(params, accs, strict=True)):
        if acc is None or j not in reached:
            gparams.append(None)
            continue
        red = acc.sum() if p.dim() == 0 else acc.sum_to_size(p.shape)
        gparams.append(red.reshape(p.shape).to(p.dtype))
    return gparams


_probe_cache: dict[tuple[Any, ...], tuple[tuple[bool, ...], tuple[frozenset[int], ...]]] = {}
_PROBE_CACHE_SIZE = 1024


def eager_probe(neuron: Any, key: Any, x_seq: Tensor, x_grad: bool, state: Any,
                params: list[Tensor] | None = None
                ) -> tuple[tuple[bool, ...], tuple[frozenset[int], ...]]:
    """What eager autograd does with a run of ``neuron`` over ``x_seq``, given whether its
    input requires grad (``x_grad``: the input may be made inside the caller's operation, e.g.
    by a fused ``Linear``), whether each initial state field does and which of the neuron's
    parameters do. Returns, for the output and each final state field:

    - whether it requires grad. A fused autograd function marks every output
      differentiable; its caller detaches the outputs flagged False (:func:`as_eager`), so
      that every backend gives what ``eager`` gives: the same ``requires_grad``, and the same
      error for a backward from such an output;
    - with ``params`` (the parameters a fused function takes, in its order), the indices of
      the learnable ones it depends on, so that the backward gives None, not zeros, to a
      parameter no used output depends on (empty sets without ``params``).

    Found from a short eager run of the neuron's step (only structure matters, not values: a
    step branches on no tensor value). Which fields are tracked after a step depends only on
    which were tracked before it, so the run stops when a set of tracked fields repeats (after
    at most ``2 ** fields + 1`` steps, usually 1-2) and the flags of all ``T`` steps follow from
    the cycle; the parameter dependencies can only grow and stop growing after ``fields + 1``
    steps. Cached per ``key`` (a hashable object that fixes the step's graph, e.g. the kernel
    description, kept alive by the cache), ``T`` and those flags."""
    T, ns = x_seq.shape[0], len(state)
    sflags = tuple(bool(s.requires_grad) for s in state)
    pflags = tuple((n, bool(p.requires_grad)) for n, p in neuron.named_parameters())
    idx = [i for i, p in enumerate(params or ()) if p.requires_grad]
    ck = (key, T, bool(x_grad), sflags, pflags, tuple(idx))
    # under inference_mode autograd tracks nothing: the answer holds for this call only
    cache = not torch.is_inference_mode_enabled()
    hit = _probe_cache.get(ck) if cache else None
    if hit is not None:
        return hit
    if not (x_grad or any(sflags) or any(f for _, f in pflags)):
        result = ((False,) * (1 + ns), (frozenset(),) * (1 + ns))
    else:
        result = _probe(neuron, x_seq, x_grad, state, sflags,
                        [params[i] for i in idx] if params else [], idx)
    if not cache:
        return result
    if len(_probe_cache) >= _PROBE_CACHE_SIZE:
        _probe_cache.clear()
    _probe_cache[ck] = result
    return result


def _probe(neuron: Any, x_seq: Tensor, x_grad: bool, state: Any, sflags: tuple[bool, ...],
           leaves: list[Tensor], idx: list[int]
           ) -> tuple[tuple[bool, ...], tuple[frozenset[int], ...]]:
    """The eager run of :func:`eager_probe` (a cache miss)."""
    T = x_seq.shape[0]
    need = min(T, len(state) + 1) if leaves else 0  # steps for the dependencies to settle
    seen = {sflags: 0}
    after = [sflags]  # the tracked fields after step t (t = 0: the initial state)
    cycle: tuple[int, int] | None = None  # (first step of the cycle, its period)
    outs = []
    with torch.enable_grad(), plain_saved_tensors():
        st = type(state)(*(s.detach().requires_grad_(f) for s, f in zip(state, sflags,
                                                                        strict=True)))
        for t in range(1, T + 1):
            o, st = neuron.step(x_seq[t - 1].detach().requires_grad_(bool(x_grad)), st)
            outs.append(o)
            now = tuple(bool(s.requires_grad) for s in st)
            after.append(now)
            if cycle is None and now in seen:  # every later step repeats one of these
                cycle = (seen[now], t - seen[now])
            seen.setdefault(now, t)
            if cycle is not None and t >= need:
                break
        targets = [torch.stack(outs), *st]
        deps = []
        for tgt in targets:
            if not leaves or not tgt.requires_grad:
                deps.append(frozenset())
                continue
            gs = torch.autograd.grad(tgt.sum(), leaves, allow_unused=True, retain_graph=True)
            deps.append(frozenset(i for i, g in zip(idx, gs, strict=True) if g is not None))
    if len(outs) == T:
        final = after[T]
    else:
        start, period = cycle  # type: ignore[misc]
        final = after[start + (T - start) % period]
    out_grad = any(bool(o.requires_grad) for o in outs)
    return (out_grad, *final), tuple(deps)


def as_eager(outputs: tuple[Tensor, ...], flags: tuple[bool, ...] | None) -> tuple[Tensor, ...]:
    """``outputs`` (the output, then the final state fields) with those that ``flags``
    (:func:`eager_probe`) marks False detached; None: all kept."""
    if flags is None:
        return outputs
    return tuple(o if f or not o.requires_grad else o.detach()
                 for o, f in zip(outputs, flags, strict=True))


def generic_run(neuron: Any, x_seq: Tensor, state: Any, record: tuple[str, ...] = (),
                function: Any = None) -> tuple[Tensor, Any, dict[str, Tensor]]:
    """Run ``neuron`` over ``x_seq`` in the generic fused loops (or in ``function``, an
    autograd function with :class:`_GenericFunction`'s inputs and outputs, such as the generic
    Triton kernels').

    Returns ``(output [T, ...], final state, {field: [T, ...] per recorded field})``.
    """
    desc = describe(neuron)
    for r in record:
        if r not in desc.fields:
            raise ValueError(f"{type(neuron).__name__}: record names state fields "
                             f"{desc.fields}, got {r!r}")
    mask = tuple(f in record for f in desc.fields)
    params = [getattr(neuron, n) for n in desc.params]
    flags: tuple[bool, ...] | None = None
    deps: tuple[frozenset[int], ...] = ()
    if torch.is_grad_enabled():
        flags, deps = eager_probe(neuron, desc, x_seq, x_seq.requires_grad, state, params)
    outs = (function or _GenericFunction).apply(*without_grad((desc, mask, deps, x_seq, *state,
                                                               *params)))
    ns = len(desc.fields)
    out, *fin = as_eager(outs[:1 + ns], flags)
    rec_flags = None if flags is None else tuple(g for g, m in zip(flags[1:], mask,
                                                                   strict=True) if m)
    recs = as_eager(outs[1 + ns:], rec_flags)
    recorded = dict(zip((f for f, m in zip(desc.fields, mask, strict=True) if m), recs,
                        strict=True))
    return out, neuron.State(*fin), recorded


#: the hand-written kinds of the ``fused`` backend (kept in step with snncore._fused)
_HAND_KINDS = tuple(native.KIND_IDS)


class GenericBackend(Backend):
    """The generic fused loops: one pass over T per layer for any neuron whose step can be
    described as elementwise programs (:func:`snncore.extend.describe`), float32 on CPU.

    ``"auto"`` prefers the hand-written ``fused`` loops for the kinds they cover; a neuron of such
    a kind with an option those loops do not take runs ``eager`` (as before), every other
    describable neuron runs here. Pass ``backend="generic"`` to use these loops for any neuron.
    """

    name = "generic"
    priority = 5

    @classmethod
    def available(cls) -> tuple[bool, str]:
        if generic_library() is None:
            return False, f"native generic loops unavailable: {_status}"
        return True, ""

    def supports(self, neuron: Any, x_seq: Tensor) -> tuple[bool, str]:
        if torch.compiler.is_compiling():
            return False, "inside torch.compile the step functions are traced instead"
        kind = getattr(neuron, "fused_kind", None)
        # a subclass whose overrides the hand-written loop does not follow runs from its step
        if kind in _HAND_KINDS and not _fused.kind_overridden(neuron) \
                and not _fused.kind_mismatch(neuron, x_seq):
            from .._backends import get_backend

            ok, why = get_backend("fused").supports(neuron, x_seq)
            if not ok:
                return False, (f"a neuron of the hand-written kind {kind!r} with an option the "
                               f"'fused' loops do not take ({why}) runs eager")
        return generic_supports(neuron, x_seq)

    def run(self, neuron: Any, x_seq: Tensor, state: Any) -> tuple[Tensor, Any]:
        out, fin, _ = generic_run(neuron, x_seq, state)
        return out, fin

    def run_stateless(self, layer: Any, z: Tensor) -> Tensor | None:
        """As the ``fused`` backend: native ``MaxPool2d`` (:mod:`snncore.backends._pool`)."""
        return _pool.run_stateless(layer, z)

    def record(self, neuron: Any, x_seq: Tensor, state: Any, fields: tuple[str, ...]
               ) -> tuple[Tensor, Any, dict[str, Tensor]]:
        return generic_run(neuron, x_seq, state, fields)
