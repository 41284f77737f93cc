"""Triton source for one neuron's programs: the generic time loops as GPU kernels.

The counterpart of :mod:`snncore.backends._codegen` (which writes the same loops as C++): the
forward and gradient programs of a :class:`~snncore._kernel.KernelDescription` become the bodies
of two ``@triton.jit`` kernels, sharing that module's walk over the instructions
(``_codegen._lines``) with a Triton spelling of every operation. Each kernel program owns
``BLOCK`` neurons and runs the whole time loop for them with every register a ``[BLOCK]`` value
(the state stays in registers between steps):

- **forward** ``(x, *state, *params) -> (output, *new state)`` over ``t = 0 .. T-1``, writing the
  output, the requested per-step state fields, the final state, and (when a gradient is needed)
  the state every ``K`` steps (the checkpoints);
- **backward**: the reverse loop over ``t = T-1 .. 0``; on entering a block of ``K`` steps (from
  its end) the block's states are recomputed from its checkpoint into a scratch buffer, then the
  gradient program runs step by step, carrying the state gradients in registers and accumulating
  the per-neuron parameter gradients in float64 (reduced over neurons afterwards by PyTorch).

The arithmetic is the C++ loops' operation by operation: comparisons give 0.0/1.0, ``min``/``max``
propagate NaN, division and square root are correctly rounded (``div_rn``, ``sqrt_rn``), and the
kernels are compiled without floating-point contraction. Transcendental functions come from the
namespace ``_m``: CUDA's libdevice on a GPU, NumPy's under Triton's interpreter.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

from .._kernel import Program
from ._codegen import _lines, _pre_regs

__all__ = ["TRITON_EXPR", "KernelSource", "forward_kernel", "backward_kernel", "untranslated"]

#: one Triton expression per operation (registers ``{a}``, ``{b}``, ``{c}``); no bitwise
#: operations on masks (the interpreter lacks them for mixed shapes), nested ``where`` instead
TRITON_EXPR = {
    "COPY": "{a}", "ADD": "{a} + {b}", "SUB": "{a} - {b}", "MUL": "{a} * {b}",
    "DIV": "tl.math.div_rn({a}, {b})", "NEG": "-{a}", "EXP": "_m.exp({a})",
    "LOG": "_m.log({a})", "SQRT": "tl.math.sqrt_rn({a})", "RECIP": "tl.math.div_rn(1.0, {a})",
    "ABS": "tl.abs({a})", "SIGMOID": "tl.math.div_rn(1.0, 1.0 + _m.exp(-{a}))",
    "TANH": "_m.tanh({a})", "ERF": "_m.erf({a})", "ATAN": "_m.atan({a})",
    "SIN": "_m.sin({a})", "COS": "_m.cos({a})", "FLOOR": "tl.floor({a})",
    "CEIL": "tl.ceil({a})", "ROUND": "_m.rint({a})", "TRUNC": "_m.trunc({a})",
    "SIGN": "tl.where({a} > 0.0, 1.0, 0.0) - tl.where({a} < 0.0, 1.0, 0.0)",
    "RELU": "tl.where({a} > 0.0, {a}, tl.where({a} != {a}, {a}, 0.0))",
    "MIN": "tl.where({a} != {a}, {a}, tl.where({b} != {b}, {b}, tl.where({a} < {b}, {a}, {b})))",
    "MAX": "tl.where({a} != {a}, {a}, tl.where({b} != {b}, {b}, tl.where({a} > {b}, {a}, {b})))",
    "POW": "_m.pow({a}, {b})", "GT": "tl.where({a} > {b}, 1.0, 0.0)",
    "GE": "tl.where({a} >= {b}, 1.0, 0.0)", "LT": "tl.where({a} < {b}, 1.0, 0.0)",
    "LE": "tl.where({a} <= {b}, 1.0, 0.0)", "EQ": "tl.where({a} == {b}, 1.0, 0.0)",
    "NE": "tl.where({a} != {b}, 1.0, 0.0)",
    "AND": "tl.where({a} != 0.0, tl.where({b} != 0.0, 1.0, 0.0), 0.0)",
    "OR": "tl.where({a} != 0.0, 1.0, tl.where({b} != 0.0, 1.0, 0.0))",
    "XOR": "tl.where({a} != 0.0, tl.where({b} != 0.0, 0.0, 1.0), tl.where({b} != 0.0, 1.0, 0.0))",
    "NOT": "tl.where({a} == 0.0, 1.0, 0.0)", "WHERE": "tl.where({a} != 0.0, {b}, {c})",
    "SIGMOID_BWD": "{a} * (1.0 - {b}) * {b}", "TANH_BWD": "{a} * (1.0 - {b} * {b})",
    "NE0": "tl.where({a} != 0.0, 1.0, 0.0)", "EXPM1": "_m.expm1({a})",
    "LOG1P": "_m.log1p({a})", "RSQRT": "tl.math.div_rn(1.0, tl.math.sqrt_rn({a}))",
}


def untranslated(*progs: Program) -> set[str]:
    """Operations of ``progs`` that :data:`TRITON_EXPR` cannot spell (empty when all can)."""
    return {op for p in progs for op in p.ops if op not in TRITON_EXPR}


_HEAD = "import triton\nimport triton.language as tl\n\n\n@triton.jit\n"
_PROLOGUE = [
    "    pid = tl.program_id(0)",
    "    offs = pid.to(tl.int64) * BLOCK + tl.arange(0, BLOCK)",
    "    mask = offs < M",
    "    Mw = offs * 0 + M  # M as an int64 vector: step offsets t * M never overflow int32",
]


@dataclass(frozen=True)
class KernelSource:
    """A generated kernel: its source text, function name, and argument names with Triton
    signature types (``*fp32``, ``*fp64``, ``i32``, ``constexpr``) in call order."""

    name: str
    text: str
    args: tuple[tuple[str, str], ...]


def _invariant(prog: Program, ns: int, npar: int) -> set[int]:
    """Registers that hold constants, parameters or loop-invariant values (scalars when every
    parameter they depend on is a scalar)."""
    return (set(range(len(prog.consts))) | set(prog.inputs[1 + ns:1 + ns + npar])
            | set(_pre_regs(prog)))


def _block(prog: Program, r: int, ns: int, npar: int, p: str) -> str:
    """Register ``r`` as a ``[BLOCK]`` value (loop-carried values must keep one shape)."""
    name = f"{p}{r}"
    return f"tl.broadcast_to({name}, [BLOCK])" if r in _invariant(prog, ns, npar) else name


def _setup(prog: Program, ns: int, npar: int, p: str, coff: int, pstride: tuple[int, ...]
           ) -> list[str]:
    """Load the constants and parameters into registers and run the loop-invariant code."""
    out = [f"    {p}{k} = tl.load(C + {coff + k})" for k in range(len(prog.consts))]
    for k, r in enumerate(prog.inputs[1 + ns:1 + ns + npar]):
        if pstride[k]:
            out.append(f"    {p}{r} = tl.load(P{k} + offs, mask=mask, other=1.0)")
        else:
            out.append(f"    {p}{r} = tl.load(P{k})")
    out += _lines(prog.pre, "    ", TRITON_EXPR, p, "")
    return out


def _sig(args: list[tuple[str, str]]) -> str:
    return ", ".join(n + (": tl.constexpr" if t == "constexpr" else "") for n, t in args)


@functools.lru_cache(maxsize=256)
def forward_kernel(f: Program, ns: int, npar: int, pstride: tuple[int, ...],
                   rec: tuple[bool, ...], ckpt: bool) -> KernelSource:
    """The forward kernel of program ``f`` (``pstride[k]``: parameter ``k`` per neuron (1) or
    scalar (0); ``rec[k]``: write state field ``k`` at every step; ``ckpt``: write the
    checkpoints ``CK[t // K, k]`` every ``K`` steps)."""
    rx, rs_in, rs_out, rout = f.inputs[0], f.inputs[1:1 + ns], f.outputs[1:], f.outputs[0]
    args = [("X", "*fp32"), ("OUT", "*fp32")] + [(f"S{k}", "*fp32") for k in range(ns)]
    args += [(f"P{k}", "*fp32") for k in range(npar)]
    args += [(f"R{k}", "*fp32") for k in range(ns) if rec[k]]
    args += [("CK", "*fp32")] if ckpt else []
    args += [("C", "*fp32"), ("T", "i32"), ("M", "i32"), ("K", "i32"), ("BLOCK", "constexpr")]
    L = [f"def snncore_fwd({_sig(args)}):", *_PROLOGUE]
    L += _setup(f, ns, npar, "f", 0, pstride)
    L += [f"    s{k} = tl.load(S{k} + offs, mask=mask, other=0.0)" for k in range(ns)]
    L.append("    for t in range(T):")
    if ckpt:
        L.append("        if t % K == 0:")
        L += [f"            tl.store(CK + ((t // K) * {ns} + {k}) * Mw + offs, s{k}, mask=mask)"
              for k in range(ns)]
    L.append(f"        f{rx} = tl.load(X + t * Mw + offs, mask=mask, other=0.0)")
    L += [f"        f{r} = s{k}" for k, r in enumerate(rs_in)]
    L += _lines(f.code, "        ", TRITON_EXPR, "f", "")
    L.append(f"        tl.store(OUT + t * Mw + offs, {_block(f, rout, ns, npar, 'f')}, mask=mask)")
    L += [f"        tl.store(R{k} + t * Mw + offs, {_block(f, r, ns, npar, 'f')}, mask=mask)"
          for k, r in enumerate(rs_out) if rec[k]]
    L += [f"        s{k} = {_block(f, r, ns, npar, 'f')}" for k, r in enumerate(rs_out)]
    L += [f"    tl.store(S{k} + offs, s{k}, mask=mask)" for k in range(ns)]
    return KernelSource("snncore_fwd", _HEAD + "\n".join(L) + "\n", tuple(args))


@functools.lru_cache(maxsize=256)
def backward_kernel(f: Program, b: Program, ns: int, npar: int, pstride: tuple[int, ...],
                    gout: bool, grec: tuple[bool, ...]) -> KernelSource:
    """The backward kernel of forward ``f`` and gradient program ``b`` (``gout``: an output
    gradient is given; ``grec[k]``: a gradient of recorded field ``k`` is given; the input
    gradient and the parameter gradients are computed where ``b`` has them). When ``b`` reads
    no state field (a linear step), there is nothing to recompute: the kernel takes no
    checkpoints and no scratch, and the input only when ``b`` reads it."""
    bi, bo = b.inputs, b.outputs
    brx, brs_in = bi[0], bi[1:1 + ns]
    brgout, brgs_out = bi[1 + ns + npar], bi[2 + ns + npar:]
    brgx, brgs_in, brgp = bo[0], bo[1:1 + ns], bo[1 + ns:]
    learned = [k for k, r in enumerate(brgp) if r >= 0]
    recompute = any(b.reads(r) for r in brs_in)
    args = [("X", "*fp32")] if recompute or b.reads(brx) else []
    args += [("CK", "*fp32"), ("SCR", "*fp32")] if recompute else []
    args += [(f"P{k}", "*fp32") for k in range(npar)]
    args += [("GOUT", "*fp32"), ("GTS", "i32")] if gout else []
    for k in range(ns):
        if grec[k]:
            args += [(f"GR{k}", "*fp32"), (f"GRTS{k}", "i32")]
    args += [(f"GS{k}", "*fp32") for k in range(ns)]
    args += [("GX", "*fp32")] if brgx >= 0 else []
    args += [(f"A{k}", "*fp64") for k in learned]
    args += [("C", "*fp32"), ("T", "i32"), ("M", "i32"), ("K", "i32"), ("BLOCK", "constexpr")]
    L = [f"def snncore_bwd({_sig(args)}):", *_PROLOGUE]
    L += _setup(f, ns, npar, "f", 0, pstride) if recompute else []
    L += _setup(b, ns, npar, "b", len(f.consts), pstride)
    L += [f"    g{k} = tl.load(GS{k} + offs, mask=mask, other=0.0)" for k in range(ns)]
    L += [f"    a{k} = tl.zeros([BLOCK], dtype=tl.float64)" for k in learned]
    if gout:
        L.append("    GTSw = offs * 0 + GTS")
    L += [f"    GRTSw{k} = offs * 0 + GRTS{k}" for k in range(ns) if grec[k]]
    L += ["    for i in range(T):",
          "        t = T - 1 - i"]
    if recompute:
        L += _recompute_block(f, ns, npar)
    if b.reads(brx):
        L.append(f"        b{brx} = tl.load(X + t * Mw + offs, mask=mask, other=0.0)")
    if recompute:
        L += [f"        b{r} = tl.load(SCR + ((t - t0) * {ns} + {k}) * Mw + offs, mask=mask, "
              "other=0.0)" for k, r in enumerate(brs_in)]
    if gout:
        L.append(f"        b{brgout} = tl.load(GOUT + t * GTSw + offs, mask=mask, other=0.0)")
    else:
        L.append(f"        b{brgout} = tl.zeros([BLOCK], dtype=tl.float32)")
    for k, r in enumerate(brgs_out):
        extra = (f" + tl.load(GR{k} + t * GRTSw{k} + offs, mask=mask, other=0.0)"
                 if grec[k] else "")
        L.append(f"        b{r} = g{k}{extra}")
    L += _lines(b.code, "        ", TRITON_EXPR, "b", "")
    if brgx >= 0:
        gx = _block(b, brgx, ns, npar, "b")
        L.append(f"        tl.store(GX + t * Mw + offs, {gx}, mask=mask)")
    L += [f"        a{k} += {_block(b, brgp[k], ns, npar, 'b')}.to(tl.float64)" for k in learned]
    L += [f"        g{k} = {_block(b, r, ns, npar, 'b')}" for k, r in enumerate(brgs_in)]
    L += [f"    tl.store(GS{k} + offs, g{k}, mask=mask)" for k in range(ns)]
    L += [f"    tl.store(A{k} + offs, a{k}, mask=mask)" for k in learned]
    return KernelSource("snncore_bwd", _HEAD + "\n".join(L) + "\n", tuple(args))


def _recompute_block(f: Program, ns: int, npar: int) -> list[str]:
    """On entering a block of ``K`` steps from its end: its states from the checkpoint, one
    step of ``f`` at a time, into the scratch buffer ``SCR``."""
    frx, frs_in, frs_out = f.inputs[0], f.inputs[1:1 + ns], f.outputs[1:]
    L = ["        t0 = (t // K) * K",
         "        if t % K == K - 1 or t == T - 1:  # entering a block: recompute its states"]
    L += [f"            s{k} = tl.load(CK + ((t // K) * {ns} + {k}) * Mw + offs, mask=mask, "
          "other=0.0)" for k in range(ns)]
    L.append("            for u in range(t0, t):")
    L += [f"                tl.store(SCR + ((u - t0) * {ns} + {k}) * Mw + offs, s{k}, mask=mask)"
          for k in range(ns)]
    L.append(f"                f{frx} = tl.load(X + u * Mw + offs, mask=mask, other=0.0)")
    L += [f"                f{r} = s{k}" for k, r in enumerate(frs_in)]
    L += _lines(f.code, "                ", TRITON_EXPR, "f", "")
    L += [f"                s{k} = {_block(f, r, ns, npar, 'f')}" for k, r in enumerate(frs_out)]
    L += [f"            tl.store(SCR + ((t - t0) * {ns} + {k}) * Mw + offs, s{k}, mask=mask)"
          for k in range(ns)]
    return L
