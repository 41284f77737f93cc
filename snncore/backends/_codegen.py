"""C++ source for one neuron's programs: the generic fused loops with the step compiled in.

The interpreter in ``native/kernel_vm.cpp`` runs any program at once; for speed, the programs of a
description are also turned into straight-line C++ (every register a local float, one loop over
the neurons of a tile per time step, so the compiler keeps the whole step in vector registers)
and compiled once per program pair, cached on disk like the other native loops. Tiles hold up
to 2048 neurons in the forward and 1024 in the backward (measured: 5-10% faster training than
512/256 for LI, ALIF and AdEx on [500, 32768]), narrower when a layer is too small to give
every thread a tile. The arithmetic is the interpreter's, operation by operation, so both give
the same bits.
"""

from __future__ import annotations

import struct

from .._kernel import _OPS, Program

__all__ = ["forward_source", "backward_source"]

_EXPR = {
    "COPY": "{a}", "ADD": "{a} + {b}", "SUB": "{a} - {b}", "MUL": "{a} * {b}",
    "DIV": "{a} / {b}", "NEG": "-{a}", "EXP": "snn_expf({a})", "LOG": "std::log({a})",
    "SQRT": "std::sqrt({a})", "RECIP": "1.0f / {a}", "ABS": "std::fabs({a})",
    "SIGMOID": "1.0f / (1.0f + snn_expf(-{a}))", "TANH": "std::tanh({a})",
    "ERF": "std::erf({a})", "ATAN": "std::atan({a})", "SIN": "std::sin({a})",
    "COS": "std::cos({a})", "FLOOR": "std::floor({a})", "CEIL": "std::ceil({a})",
    "ROUND": "std::nearbyint({a})", "TRUNC": "std::trunc({a})",
    "SIGN": "float(({a} > 0.0f) - ({a} < 0.0f))",
    "RELU": "({a} > 0.0f ? {a} : (std::isnan({a}) ? {a} : 0.0f))",
    "MIN": "((std::isnan({a}) || std::isnan({b})) ? NAN : ({a} < {b} ? {a} : {b}))",
    "MAX": "((std::isnan({a}) || std::isnan({b})) ? NAN : ({a} > {b} ? {a} : {b}))",
    "POW": "std::pow({a}, {b})", "GT": "({a} > {b} ? 1.0f : 0.0f)",
    "GE": "({a} >= {b} ? 1.0f : 0.0f)", "LT": "({a} < {b} ? 1.0f : 0.0f)",
    "LE": "({a} <= {b} ? 1.0f : 0.0f)", "EQ": "({a} == {b} ? 1.0f : 0.0f)",
    "NE": "({a} != {b} ? 1.0f : 0.0f)",
    "AND": "(({a} != 0.0f && {b} != 0.0f) ? 1.0f : 0.0f)",
    "OR": "(({a} != 0.0f || {b} != 0.0f) ? 1.0f : 0.0f)",
    "XOR": "((({a} != 0.0f) != ({b} != 0.0f)) ? 1.0f : 0.0f)",
    "NOT": "({a} == 0.0f ? 1.0f : 0.0f)", "WHERE": "({a} != 0.0f ? {b} : {c})",
    "SIGMOID_BWD": "{a} * (1.0f - {b}) * {b}", "TANH_BWD": "{a} * (1.0f - {b} * {b})",
    "NE0": "({a} != 0.0f ? 1.0f : 0.0f)", "EXPM1": "std::expm1({a})",
    "LOG1P": "std::log1p({a})", "RSQRT": "1.0f / std::sqrt({a})",
}
assert set(_EXPR) == set(_OPS)

_HEAD = """#include <cmath>
#include <cstdint>
#include <cstring>
#include <vector>

#include "kernel_vm.h"

namespace {
constexpr int64_t TILE = 2048;
}
"""

#: the tile width TW: up to TILE neurons, narrower when that keeps every thread busy; whether
#: the outputs are written with streaming stores (streaming.h)
_TILES = ["  const int64_t M = A->M, T = A->T;",
          "  const bool stream = SNN_CAN_STREAM && A->stream;",
          "  const int64_t per = (M + A->nthreads - 1) / A->nthreads;",
          "  const int64_t TW = (A->nthreads > 1 && per < TILE) ? (per + 15) / 16 * 16 : TILE;",
          "  const int64_t ntiles = (M + TW - 1) / TW;"]


def _flit(v: float) -> str:
    """A C float literal that is exactly the float32 value ``v``."""
    f = struct.unpack("f", struct.pack("f", v))[0]
    if f != f:
        return "NAN"
    if f in (float("inf"), float("-inf")):
        return "INFINITY" if f > 0 else "-INFINITY"
    return f"{float(f).hex()}f"


def _lines(code: tuple[int, ...], indent: str, table: dict[str, str] | None = None,
           reg: str = "r", end: str = ";") -> list[str]:
    """One assignment per instruction of ``code``: register ``k`` is named ``{reg}{k}``, each
    operation is spelled by ``table`` (default: the C++ one; the Triton kernels pass theirs)."""
    table = _EXPR if table is None else table
    out = []
    for i in range(0, len(code), 5):
        op, d, a, b, c = code[i:i + 5]
        expr = table[_OPS[op]].format(a=f"{reg}{a}", b=f"{reg}{b}", c=f"{reg}{c}")
        out.append(f"{indent}{reg}{d} = {expr}{end}")
    return out


def _consts(prog: Program, indent: str) -> list[str]:
    return [f"{indent}const float r{k} = {_flit(v)};" for k, v in enumerate(prog.consts)]


def _decl(prog: Program, pinned: set[int], indent: str) -> str:
    regs = [f"r{k}" for k in range(len(prog.consts), prog.nregs) if k not in pinned]
    return f"{indent}float {', '.join(regs)};" if regs else ""


def _pre_regs(prog: Program) -> list[int]:
    return [prog.pre[i + 1] for i in range(0, len(prog.pre), 5)]


def _invariant_loads(prog: Program, ns: int, npar: int, tag: str, indent: str) -> list[str]:
    rp = prog.inputs[1 + ns:1 + ns + npar]
    return [f"{indent}const float r{r} = {tag}{r}[j];" for r in list(rp) + _pre_regs(prog)]


def _prologue(prog: Program, ns: int, npar: int, pinned: set[int], tag: str, indent: str
              ) -> list[str]:
    """The start of the loop body over a tile's neurons: constants, the parameters and hoisted
    values of neuron ``j``, and the declaration of the program's temporaries."""
    out = _consts(prog, indent) + _invariant_loads(prog, ns, npar, tag, indent)
    decl = _decl(prog, pinned, indent)
    return out + [decl] if decl else out


def forward_source(f: Program, ns: int, npar: int) -> str:
    """C++ of ``snncore_gen_fwd(const SnnVmFwd*)`` for forward program ``f``."""
    rx, rs_in, rs_out, rout = f.inputs[0], f.inputs[1:1 + ns], f.outputs[1:], f.outputs[0]
    pinned = set(f.inputs[1 + ns:]) | set(_pre_regs(f))
    L = [_HEAD, 'extern "C" int snncore_gen_fwd(const SnnVmFwd* A) {',
         *_TILES,
         "#ifdef _OPENMP",
         "#pragma omp parallel for schedule(static) num_threads(A->nthreads) if (A->nthreads > 1)",
         "#endif",
         "  for (int64_t tile = 0; tile < ntiles; ++tile) {",
         "    const int64_t a = tile * TW, w = (a + TW <= M) ? TW : M - a;"]
    L += _tile_prologue(f, ns, npar, "PF", "    ")
    L.append("    alignas(64) float obuf[TILE];")
    for k in range(ns):
        L.append(f"    alignas(64) float S{k}[TILE], scratch{k}[TILE];")
        L.append(f"    std::memcpy(S{k}, A->state[{k}] + a, 4 * w);")
    L += ["    for (int64_t t = 0; t < T; ++t) {",
          "      if (A->ckpt && t % A->K == 0) {",
          "        float* c = A->ckpt + (t / A->K) * A->ns * M;"]
    L += [f"        std::memcpy(c + {k} * M + a, S{k}, 4 * w);" for k in range(ns)]
    L += ["      }",
          "      const float* X = A->x + t * M + a;",
          "      float* O = stream ? obuf : A->out + t * M + a;"]
    for k in range(ns):
        L.append(f"      float* R{k} = (A->rec[{k}] && !stream) ? A->rec[{k}] + t * M + a"
                 f" : scratch{k};")
    L.append("#pragma GCC ivdep")
    L.append("      for (int64_t j = 0; j < w; ++j) {")
    L += _prologue(f, ns, npar, pinned, "PF", "        ")
    L.append(f"        r{rx} = X[j];")
    L += [f"        r{r} = S{k}[j];" for k, r in enumerate(rs_in)]
    L += _lines(f.code, "        ")
    L.append(f"        O[j] = r{rout};")
    for k, r in enumerate(rs_out):
        L.append(f"        R{k}[j] = r{r};")
    L += [f"        S{k}[j] = r{r};" for k, r in enumerate(rs_out)]
    L += ["      }",
          "      if (stream) {",
          "        snn_stream_row(A->out + t * M + a, obuf, w);"]
    L += [f"        if (A->rec[{k}]) snn_stream_row(A->rec[{k}] + t * M + a, scratch{k}, w);"
          for k in range(ns)]
    L += ["      }", "    }"]
    L += [f"    std::memcpy(A->state[{k}] + a, S{k}, 4 * w);" for k in range(ns)]
    L += ["    if (stream) snn_stream_fence();", "  }", "  return 0;", "}", ""]
    return "\n".join(L)


def backward_source(f: Program, b: Program, ns: int, npar: int) -> str:
    """C++ of ``snncore_gen_bwd(const SnnVmBwd*)`` for forward ``f`` and gradient program
    ``b``: recompute every block from its checkpoint, then the reverse loop; when ``b`` reads no
    state field (a linear step), only the reverse loop (no checkpoints, and the input only when
    ``b`` reads it)."""
    frx, frs_in, frs_out = f.inputs[0], f.inputs[1:1 + ns], f.outputs[1:]
    bi, bo = b.inputs, b.outputs
    brx, brs_in = bi[0], bi[1:1 + ns]
    brgout, brgs_out = bi[1 + ns + npar], bi[2 + ns + npar:]
    brgx, brgs_in, brgp = bo[0], bo[1:1 + ns], bo[1 + ns:]
    recompute = any(b.reads(r) for r in brs_in)
    reads_x = recompute or b.reads(brx)
    fpinned = set(f.inputs[1 + ns:]) | set(_pre_regs(f))
    bpinned = set(b.inputs[1 + ns:1 + ns + npar]) | set(_pre_regs(b))
    L = [_HEAD.replace("TILE = 2048", "TILE = 1024"),
         'extern "C" int snncore_gen_bwd(const SnnVmBwd* A) {',
         *_TILES]
    if recompute:
        L += ["  const int64_t K = A->K, nblk = (T + K - 1) / K;",
              "  if (!A->ckpt || !A->x) return 2;"]
    elif reads_x:
        L.append("  if (!A->x) return 2;")
    L += ["#ifdef _OPENMP",
          "#pragma omp parallel num_threads(A->nthreads) if (A->nthreads > 1)",
          "#endif",
          "  {"]
    if recompute:
        L.append(f"  std::vector<float> sbuf(size_t(K) * {max(ns, 1)} * TILE);")
    L += ["#ifdef _OPENMP",
          "#pragma omp for schedule(static)",
          "#endif",
          "  for (int64_t tile = 0; tile < ntiles; ++tile) {",
          "    const int64_t a = tile * TW, w = (a + TW <= M) ? TW : M - a;"]
    if recompute:
        L += _tile_prologue(f, ns, npar, "PF", "    ")
    L += _tile_prologue(b, ns, npar, "PB", "    ")
    L.append("    alignas(64) float zeros[TILE] = {0}, scratch[TILE], gxbuf[TILE];")
    for k in range(ns):
        if recompute:
            L.append(f"    alignas(64) float S{k}[TILE];")
        L.append(f"    alignas(64) float GS{k}[TILE];")
        L.append(f"    std::memcpy(GS{k}, A->gstate[{k}] + a, 4 * w);")
    if recompute:
        L += ["    for (int64_t blk = nblk - 1; blk >= 0; --blk) {",
              "      const int64_t t0 = blk * K, t1 = (t0 + K < T) ? t0 + K : T;",
              "      const float* c = A->ckpt + blk * A->ns * M;"]
        L += [f"      std::memcpy(S{k}, c + {k} * M + a, 4 * w);" for k in range(ns)]
        L += ["      for (int64_t t = t0; t < t1; ++t) {",
              f"        float* sb = sbuf.data() + (t - t0) * {max(ns, 1)} * TILE;"]
        L += [f"        std::memcpy(sb + {k} * TILE, S{k}, 4 * w);" for k in range(ns)]
        L += ["        if (t + 1 == t1) break;",
              "        const float* X = A->x + t * M + a;",
              "#pragma GCC ivdep",
              "        for (int64_t j = 0; j < w; ++j) {"]
        L += _prologue(f, ns, npar, fpinned, "PF", "          ")
        L.append(f"          r{frx} = X[j];")
        L += [f"          r{r} = S{k}[j];" for k, r in enumerate(frs_in)]
        L += _lines(f.code, "          ")
        L += [f"          S{k}[j] = r{r};" for k, r in enumerate(frs_out)]
        L += ["        }", "      }",
              "      for (int64_t t = t1 - 1; t >= t0; --t) {",
              f"        const float* sb = sbuf.data() + (t - t0) * {max(ns, 1)} * TILE;"]
    else:
        L += ["    {", "      for (int64_t t = T - 1; t >= 0; --t) {"]
    if reads_x:
        L.append("        const float* X = A->x + t * M + a;")
    L += ["        const float* G = A->gout ? A->gout + t * A->gout_ts + a : zeros;",
          "        float* GX = A->gx ? (stream ? gxbuf : A->gx + t * M + a) : scratch;"]
    for k in range(ns):
        L.append(f"        const float* GR{k} = A->grec[{k}] ? A->grec[{k}] + t * A->grec_ts[{k}]"
                 f" + a : zeros;")
    for k, r in enumerate(brgp):
        if r >= 0:
            L.append(f"        double* GP{k} = A->gp[{k}] + a;")
    L += ["#pragma GCC ivdep", "        for (int64_t j = 0; j < w; ++j) {"]
    L += _prologue(b, ns, npar, bpinned, "PB", "          ")
    L.append(f"          r{brx} = {'X[j]' if reads_x else '0.0f'};")
    L += [f"          r{r} = {f'sb[{k} * TILE + j]' if recompute else '0.0f'};"
          for k, r in enumerate(brs_in)]
    L.append(f"          r{brgout} = G[j];")
    L += [f"          r{r} = GS{k}[j] + GR{k}[j];" for k, r in enumerate(brgs_out)]
    L += _lines(b.code, "          ")
    if brgx >= 0:
        L.append(f"          GX[j] = r{brgx};")
    for k, r in enumerate(brgp):
        if r >= 0:
            L.append(f"          GP{k}[j] += double(r{r});")
    L += [f"          GS{k}[j] = r{r};" for k, r in enumerate(brgs_in)]
    L += ["        }",
          "        if (stream && A->gx) snn_stream_row(A->gx + t * M + a, gxbuf, w);",
          "      }", "    }"]
    L += [f"    std::memcpy(A->gstate[{k}] + a, GS{k}, 4 * w);" for k in range(ns)]
    L += ["    if (stream) snn_stream_fence();", "  }", "  }", "  return 0;", "}", ""]
    return "\n".join(L)


def _tile_prologue(prog: Program, ns: int, npar: int, tag: str, indent: str) -> list[str]:
    """Load the parameters into tile arrays and run the loop-invariant instructions."""
    rp = prog.inputs[1 + ns:1 + ns + npar]
    pre = _pre_regs(prog)
    out = [f"{indent}alignas(64) float {tag}{r}[TILE];" for r in list(rp) + pre]
    for k, r in enumerate(rp):
        out.append(f"{indent}{{ const float* src = A->params[{k}] + a * A->pstride[{k}];")
        out.append(f"{indent}  for (int64_t j = 0; j < w; ++j) "
                   f"{tag}{r}[j] = src[A->pstride[{k}] * j]; }}")
    if pre:
        out.append(f"{indent}for (int64_t j = 0; j < w; ++j) {{")
        out += _consts(prog, indent + "  ")
        out.append(f"{indent}  float {', '.join(f'r{r}' for r in pre)};")
        out += [f"{indent}  const float r{r} = {tag}{r}[j];" for r in rp]
        out += _lines(prog.pre, indent + "  ")
        out += [f"{indent}  {tag}{r}[j] = r{r};" for r in pre]
        out.append(f"{indent}}}")
    return out
