"""Native (C++) time loops for the ``fused`` backend, built on first use and cached.

The kernels are plain ``extern "C"`` functions over raw pointers, compiled once with the system
C++ compiler (no PyTorch headers, so the build takes a few seconds) and loaded with
:mod:`ctypes`. ctypes releases the GIL during a call, so neurons are split into ranges that run on
a small thread pool in parallel; each range is processed in tiles of neurons with the time loop
inside, keeping the state of a tile in L1 cache.

The per-neuron float arithmetic uses exactly the operation order of the eager step functions and is
compiled without floating-point contraction (``-ffp-contract=off``) or fast-math, so membranes
and spikes are bit-identical to ``eager``.

Environment:
    ``SNNCORE_FUSED_NATIVE=0`` disables the native loops (the fused backend then uses its
    PyTorch loop). ``SNNCORE_CACHE_DIR`` sets the build cache folder (default:
    ``$XDG_CACHE_HOME/snncore`` or ``~/.cache/snncore``). ``CXX`` picks the compiler.
"""

from __future__ import annotations

import ctypes
import hashlib
import logging
import os
import platform
import shutil
import subprocess
import tempfile
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import torch
from torch import Tensor

__all__ = ["native_library", "native_status", "parallel_ranges", "call_parallel", "SURROGATE_IDS"]

log = logging.getLogger("snncore.backends.fused")

#: kind name -> code used by the kernels
KIND_IDS = {"leaky": 0, "synaptic": 1, "rleaky_elementwise": 2, "rsynaptic_elementwise": 3}
RESET_IDS = {"subtract": 0, "zero": 1, "none": 2}
#: surrogate class name -> code of its derivative implemented natively (0 = precomputed array)
SURROGATE_IDS = {"ATan": 1, "FastSigmoid": 2}

_SOURCE = r"""
#include <cstdint>
#include <cmath>

namespace {

constexpr int64_t TILE = 256;

template <typename F>
inline F step_fn(F x) { return x > F(0) ? F(1) : F(0); }

template <typename F, int SG>
inline F surrogate(F x, F a) {
    if (SG == 1) {  // atan: (alpha/2) / (1 + (pi/2*alpha*x)^2); a = alpha
        F c = F(1.5707963267948966) * a * x;
        return (a / F(2)) / (F(1) + c * c);
    } else {  // SG == 2, fast sigmoid: 1 / (k|x| + 1)^2
        F d = a * std::fabs(x) + F(1);
        return F(1) / (d * d);
    }
}

// Forward over neurons [m0, m1) and all T steps. KIND: 0 leaky, 1 synaptic, 2 rleaky, 3 rsynaptic.
// RESET: 0 subtract, 1 zero, 2 none. DELAY: reset_delay.
template <typename F, int KIND, int RESET, int DELAY>
void fwd(int64_t T, int64_t M, int64_t m0, int64_t m1, const F* x, F* spk, F* h, F* synseq,
         F* mem, F* syn, F* sst, const F* beta, const F* alpha, const F* V, const F* thr,
         const F* g) {
    constexpr bool SYN = KIND == 1 || KIND == 3;
    constexpr bool REC = KIND == 2 || KIND == 3;
    for (int64_t a = m0; a < m1; a += TILE) {
        const int64_t b = a + TILE < m1 ? a + TILE : m1;
        for (int64_t t = 0; t < T; ++t) {
            const F* xt = x + t * M;
            F* st = spk + t * M;
            F* ht = h ? h + t * M : nullptr;
            F* it = synseq ? synseq + t * M : nullptr;
            for (int64_t i = a; i < b; ++i) {
                const F th = thr[i];
                const F u = mem[i];
                F d;
                if (SYN) {
                    F cur = alpha[i] * syn[i] + xt[i];
                    if (REC) cur = cur + V[i] * sst[i];
                    syn[i] = cur;
                    if (it) it[i] = cur;
                    d = cur;
                } else if (REC) {
                    d = xt[i] + V[i] * sst[i];
                } else {
                    d = xt[i];
                }
                F hv;
                if (DELAY && RESET != 2) {
                    const F r = step_fn(u - th);
                    if (RESET == 0) hv = beta[i] * u + d - r * th;
                    else hv = beta[i] * ((F(1) - r) * u) + d;
                } else {
                    hv = beta[i] * u + d;
                }
                const F s = step_fn(hv - th);
                const F o = s * g[i];
                st[i] = o;
                if (ht) ht[i] = hv;
                if (!DELAY && RESET != 2) {
                    if (RESET == 0) hv = hv - s * th;
                    else hv = hv * (F(1) - s);
                }
                mem[i] = hv;
                if (REC) sst[i] = o;
            }
        }
    }
}

// Reverse loop over steps [t0, t1) (descending) for neurons [m0, m1). h, synseq and gx are
// indexed by absolute step, gspk and sgarr relative to t0 (chunks). gx may alias h: each
// element of h is read before the same element of gx is written, and h[t-1] is read at step t
// before step t-1 overwrites it.
template <typename F, int KIND, int RESET, int DELAY, int SG>
void bwd(int64_t M, int64_t m0, int64_t m1, int64_t t0, int64_t t1, const F* gspk, const F* h,
         const F* sgarr, const F* synseq, const F* mem0, const F* syn0, const F* spk0, F* gx,
         F* gmem, F* gsyn, F* gsst, double* gbeta, double* galpha, double* gV, double* gthr,
         double* gg, const F* beta, const F* alpha, const F* V, const F* thr, const F* g,
         F sa) {
    constexpr bool SYN = KIND == 1 || KIND == 3;
    constexpr bool REC = KIND == 2 || KIND == 3;
    for (int64_t a = m0; a < m1; a += TILE) {
        const int64_t b = a + TILE < m1 ? a + TILE : m1;
        for (int64_t t = t1 - 1; t >= t0; --t) {
            const F* ht = h + t * M;
            const F* hp = t > 0 ? h + (t - 1) * M : nullptr;
            const F* gt = gspk ? gspk + (t - t0) * M : nullptr;
            const F* sgt = SG == 0 ? sgarr + (t - t0) * M : nullptr;
            const F* ip = (SYN && synseq && t > 0) ? synseq + (t - 1) * M : nullptr;
            F* gxt = gx + t * M;
            for (int64_t i = a; i < b; ++i) {
                const F th = thr[i];
                const F gf = g[i];
                const F hv = ht[i];
                const F xs = hv - th;
                const F s = step_fn(xs);
                const F sgv = SG == 0 ? sgt[i] : surrogate<F, SG>(xs, sa);
                F up, sp = F(0), iprev = F(0);
                if (hp) {
                    const F hpv = hp[i];
                    const F spb = step_fn(hpv - th);
                    if (DELAY || RESET == 2) up = hpv;
                    else if (RESET == 0) up = hpv - spb * th;
                    else up = hpv * (F(1) - spb);
                    if (REC) sp = spb * gf;
                    if (SYN && synseq) iprev = ip[i];
                } else {
                    up = mem0[i];
                    if (REC) sp = spk0[i];
                    if (SYN && synseq) iprev = syn0[i];
                }
                F gS = gt ? gt[i] : F(0);
                if (REC) gS = gS + gsst[i];
                if (gg) gg[i] += double(gS * s);
                const F gfire = gS * gf * sgv;
                const F gU = gmem[i];
                F gh, gth = -gfire, keep = F(1);
                if (DELAY) {
                    gh = gU + gfire;
                    if (RESET == 0) gth = gth - gh * step_fn(up - th);
                    if (RESET == 1) keep = F(1) - step_fn(up - th);
                } else {
                    gh = (RESET == 1 ? gU * (F(1) - s) : gU) + gfire;
                    if (RESET == 0) gth = gth - gU * s;
                }
                if (gthr) gthr[i] += double(gth);
                if (gbeta) gbeta[i] += double(gh * (keep * up));
                gmem[i] = gh * beta[i] * keep;
                if (SYN) {
                    const F gI = gh + gsyn[i];
                    gxt[i] = gI;
                    if (galpha) galpha[i] += double(gI * iprev);
                    gsyn[i] = gI * alpha[i];
                    if (REC) {
                        if (gV) gV[i] += double(gI * sp);
                        gsst[i] = gI * V[i];
                    }
                } else {
                    gxt[i] = gh;
                    if (REC) {
                        if (gV) gV[i] += double(gh * sp);
                        gsst[i] = gh * V[i];
                    }
                }
            }
        }
    }
}

template <typename F, int KIND, int RESET>
void fwd_d(int delay, int64_t T, int64_t M, int64_t m0, int64_t m1, const F* x, F* spk, F* h,
           F* synseq, F* mem, F* syn, F* sst, const F* beta, const F* alpha, const F* V,
           const F* thr, const F* g) {
    if (delay) fwd<F, KIND, RESET, 1>(T, M, m0, m1, x, spk, h, synseq, mem, syn, sst, beta, alpha,
                                      V, thr, g);
    else fwd<F, KIND, RESET, 0>(T, M, m0, m1, x, spk, h, synseq, mem, syn, sst, beta, alpha, V,
                                thr, g);
}

template <typename F, int KIND>
void fwd_r(int reset, int delay, int64_t T, int64_t M, int64_t m0, int64_t m1, const F* x,
           F* spk, F* h, F* synseq, F* mem, F* syn, F* sst, const F* beta, const F* alpha,
           const F* V, const F* thr, const F* g) {
    switch (reset) {
        case 0: fwd_d<F, KIND, 0>(delay, T, M, m0, m1, x, spk, h, synseq, mem, syn, sst, beta,
                                  alpha, V, thr, g); break;
        case 1: fwd_d<F, KIND, 1>(delay, T, M, m0, m1, x, spk, h, synseq, mem, syn, sst, beta,
                                  alpha, V, thr, g); break;
        default: fwd_d<F, KIND, 2>(delay, T, M, m0, m1, x, spk, h, synseq, mem, syn, sst, beta,
                                   alpha, V, thr, g); break;
    }
}

template <typename F>
int fwd_k(int kind, int reset, int delay, int64_t T, int64_t M, int64_t m0, int64_t m1,
          const F* x, F* spk, F* h, F* synseq, F* mem, F* syn, F* sst, const F* beta,
          const F* alpha, const F* V, const F* thr, const F* g) {
    switch (kind) {
        case 0: fwd_r<F, 0>(reset, delay, T, M, m0, m1, x, spk, h, synseq, mem, syn, sst, beta,
                            alpha, V, thr, g); return 0;
        case 1: fwd_r<F, 1>(reset, delay, T, M, m0, m1, x, spk, h, synseq, mem, syn, sst, beta,
                            alpha, V, thr, g); return 0;
        case 2: fwd_r<F, 2>(reset, delay, T, M, m0, m1, x, spk, h, synseq, mem, syn, sst, beta,
                            alpha, V, thr, g); return 0;
        case 3: fwd_r<F, 3>(reset, delay, T, M, m0, m1, x, spk, h, synseq, mem, syn, sst, beta,
                            alpha, V, thr, g); return 0;
    }
    return 1;
}

#define BWD_ARGS M, m0, m1, t0, t1, gspk, h, sgarr, synseq, mem0, syn0, spk0, gx, gmem, gsyn, \
    gsst, gbeta, galpha, gV, gthr, gg, beta, alpha, V, thr, g, sa
#define BWD_PARAMS int64_t M, int64_t m0, int64_t m1, int64_t t0, int64_t t1, const F* gspk, \
    const F* h, const F* sgarr, const F* synseq, const F* mem0, const F* syn0, const F* spk0, \
    F* gx, F* gmem, F* gsyn, F* gsst, double* gbeta, double* galpha, double* gV, double* gthr, \
    double* gg, const F* beta, const F* alpha, const F* V, const F* thr, const F* g, F sa

template <typename F, int KIND, int RESET, int DELAY>
int bwd_s(int sg, BWD_PARAMS) {
    switch (sg) {
        case 0: bwd<F, KIND, RESET, DELAY, 0>(BWD_ARGS); return 0;
        case 1: bwd<F, KIND, RESET, DELAY, 1>(BWD_ARGS); return 0;
        case 2: bwd<F, KIND, RESET, DELAY, 2>(BWD_ARGS); return 0;
    }
    return 1;
}

template <typename F, int KIND, int RESET>
int bwd_d(int delay, int sg, BWD_PARAMS) {
    return delay ? bwd_s<F, KIND, RESET, 1>(sg, BWD_ARGS) : bwd_s<F, KIND, RESET, 0>(sg, BWD_ARGS);
}

template <typename F, int KIND>
int bwd_r(int reset, int delay, int sg, BWD_PARAMS) {
    switch (reset) {
        case 0: return bwd_d<F, KIND, 0>(delay, sg, BWD_ARGS);
        case 1: return bwd_d<F, KIND, 1>(delay, sg, BWD_ARGS);
        default: return bwd_d<F, KIND, 2>(delay, sg, BWD_ARGS);
    }
}

template <typename F>
int bwd_k(int kind, int reset, int delay, int sg, BWD_PARAMS) {
    switch (kind) {
        case 0: return bwd_r<F, 0>(reset, delay, sg, BWD_ARGS);
        case 1: return bwd_r<F, 1>(reset, delay, sg, BWD_ARGS);
        case 2: return bwd_r<F, 2>(reset, delay, sg, BWD_ARGS);
        case 3: return bwd_r<F, 3>(reset, delay, sg, BWD_ARGS);
    }
    return 1;
}

}  // namespace

#define EXPORT_FWD(NAME, F) \
extern "C" int NAME(int kind, int reset, int delay, int64_t T, int64_t M, int64_t m0, \
        int64_t m1, const F* x, F* spk, F* h, F* synseq, F* mem, F* syn, F* sst, const F* beta, \
        const F* alpha, const F* V, const F* thr, const F* g) { \
    return fwd_k<F>(kind, reset, delay, T, M, m0, m1, x, spk, h, synseq, mem, syn, sst, beta, \
                    alpha, V, thr, g); }

#define EXPORT_BWD(NAME, FT) \
extern "C" int NAME(int kind, int reset, int delay, int sg, int64_t M, int64_t m0, int64_t m1, \
        int64_t t0, int64_t t1, const FT* gspk, const FT* h, const FT* sgarr, const FT* synseq, \
        const FT* mem0, const FT* syn0, const FT* spk0, FT* gx, FT* gmem, FT* gsyn, FT* gsst, \
        double* gbeta, double* galpha, double* gV, double* gthr, double* gg, const FT* beta, \
        const FT* alpha, const FT* V, const FT* thr, const FT* g, FT sa) { \
    return bwd_k<FT>(kind, reset, delay, sg, M, m0, m1, t0, t1, gspk, h, sgarr, synseq, mem0, \
                     syn0, spk0, gx, gmem, gsyn, gsst, gbeta, galpha, gV, gthr, gg, beta, alpha, \
                     V, thr, g, sa); }

EXPORT_FWD(snncore_fused_fwd_f32, float)
EXPORT_FWD(snncore_fused_fwd_f64, double)
EXPORT_BWD(snncore_fused_bwd_f32, float)
EXPORT_BWD(snncore_fused_bwd_f64, double)
extern "C" int snncore_fused_abi_version() { return 1; }
"""

_BASE_FLAGS = ["-O3", "-std=c++17", "-shared", "-fPIC", "-ffp-contract=off", "-fno-fast-math",
               "-fno-math-errno"]
_lock = threading.Lock()
_lib: Any = None
_status: str = "not built yet"
_pool: ThreadPoolExecutor | None = None
_pool_size = 0


def _cache_dir() -> Path:
    env = os.environ.get("SNNCORE_CACHE_DIR")
    if env:
        return Path(env)
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "snncore"


def _cpu_tag() -> str:
    model = platform.processor() or ""
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as fh:
            for line in fh:
                if line.startswith(("model name", "flags")):
                    model += line
    except OSError:
        pass
    return platform.machine() + model


def _compile(cxx: str, out: Path, flags: list[str]) -> str | None:
    """Build the library at ``out``; return an error text or None."""
    out.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="snncore-build-") as tmp:
        src = Path(tmp) / "fused.cpp"
        src.write_text(_SOURCE, encoding="utf-8")
        tmp_so = Path(tmp) / "fused.so"
        proc = subprocess.run([cxx, *flags, str(src), "-o", str(tmp_so)], capture_output=True,
                              text=True, timeout=300)
        if proc.returncode != 0:
            return (proc.stderr or proc.stdout).strip()[-2000:]
        staged = out.with_name(f"{out.name}.{os.getpid()}.tmp")
        shutil.copyfile(tmp_so, staged)
        os.replace(staged, out)  # atomic: concurrent builders never see a half-written file
    return None


def _setup(lib: Any) -> None:
    i64, i32, vp = ctypes.c_int64, ctypes.c_int, ctypes.c_void_p
    for name in ("snncore_fused_fwd_f32", "snncore_fused_fwd_f64"):
        fn = getattr(lib, name)
        fn.restype = i32
        fn.argtypes = [i32, i32, i32, i64, i64, i64, i64] + [vp] * 12
    for name, ft in (("snncore_fused_bwd_f32", ctypes.c_float),
                     ("snncore_fused_bwd_f64", ctypes.c_double)):
        fn = getattr(lib, name)
        fn.restype = i32
        fn.argtypes = [i32, i32, i32, i32, i64, i64, i64, i64, i64] + [vp] * 21 + [ft]


def native_library() -> Any:
    """The loaded kernel library, building it on first use; None if unavailable (reason in
    :func:`native_status` and in the debug log)."""
    global _lib, _status
    if _lib is not None:
        return _lib
    with _lock:
        if _lib is not None:
            return _lib
        if _status != "not built yet":
            return None
        if os.environ.get("SNNCORE_FUSED_NATIVE", "1").strip() in ("0", "false", "no", "off"):
            _status = "disabled by SNNCORE_FUSED_NATIVE"
            log.debug("fused: native loops %s; using the PyTorch loop", _status)
            return None
        cxx = os.environ.get("CXX") or shutil.which("c++") or shutil.which("g++") \
            or shutil.which("clang++")
        if not cxx:
            _status = "no C++ compiler found (set CXX or install g++)"
            log.debug("fused: native loops unavailable: %s; using the PyTorch loop", _status)
            return None
        errors = []
        for extra in (["-march=native"], []):
            flags = _BASE_FLAGS + extra
            key = hashlib.sha256(
                "\0".join([_SOURCE, cxx, *flags, _cpu_tag()]).encode()).hexdigest()[:20]
            path = _cache_dir() / f"fused_{key}.so"
            try:
                if not path.exists():
                    err = _compile(cxx, path, flags)
                    if err is not None:
                        errors.append(err)
                        continue
                lib = ctypes.CDLL(str(path))
                _setup(lib)
                if lib.snncore_fused_abi_version() != 1:
                    errors.append(f"{path}: unexpected ABI version")
                    continue
            except (OSError, subprocess.SubprocessError, AttributeError) as exc:
                errors.append(f"{type(exc).__name__}: {exc}")
                continue
            _lib = lib
            _status = f"native ({path})"
            log.debug("fused: native loops loaded from %s", path)
            return _lib
        _status = "build failed: " + " | ".join(errors)[-1500:]
        log.debug("fused: native loops unavailable (%s); using the PyTorch loop", _status)
        return None


def native_status() -> str:
    """A one-line description of the native loops' state (built, disabled, or why not)."""
    native_library()
    return _status


def parallel_ranges(m: int, workers: int, align: int = 256) -> list[tuple[int, int]]:
    """Split ``range(m)`` into at most ``workers`` contiguous ranges aligned to ``align``."""
    if workers <= 1 or m <= 2 * align:
        return [(0, m)]
    chunk = -(-m // workers)
    chunk = -(-chunk // align) * align
    return [(a, min(a + chunk, m)) for a in range(0, m, chunk)]


def call_parallel(fn: Any, ranges: list[tuple[int, int]], make_args: Any) -> None:
    """Run ``fn(*make_args(m0, m1))`` for every range, in parallel when there are several."""
    global _pool, _pool_size
    if len(ranges) == 1:
        rc = fn(*make_args(*ranges[0]))
        if rc != 0:
            raise RuntimeError(f"fused native kernel failed with code {rc}")
        return
    with _lock:
        if _pool is None or _pool_size < len(ranges):
            if _pool is not None:
                _pool.shutdown(wait=False)
            _pool = ThreadPoolExecutor(max_workers=len(ranges),
                                       thread_name_prefix="snncore-fused")
            _pool_size = len(ranges)
        pool = _pool
    futures = [pool.submit(fn, *make_args(a, b)) for a, b in ranges]
    codes = [f.result() for f in futures]
    if any(codes):
        raise RuntimeError(f"fused native kernel failed with codes {codes}")


def ptr(t: Tensor | None) -> int | None:
    """Raw data pointer of a contiguous tensor (None for None)."""
    return None if t is None else t.data_ptr()


def threads() -> int:
    return max(1, torch.get_num_threads())
