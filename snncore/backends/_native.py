"""Native (C++) time loops for the ``fused`` backend, built on first use and cached.

The C++ lives in ``native/fused_loops.cpp`` with its C ABI in ``native/fused_loops.h`` (both
shipped as package data); this module is the compiler driver, the ctypes binding, the thread
dispatch and the buffer allocator.

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

import contextlib
import ctypes
import hashlib
import logging
import os
import platform
import shutil
import subprocess
import tempfile
import threading
import time
import warnings
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import torch
from torch import Tensor

from .. import _env
from .._buffers import buffer_cache
from .._errors import NativeBuildWarning

__all__ = ["native_library", "native_status", "parallel_ranges", "call_parallel", "empty_like",
           "empty", "max_pool2d", "max_pool2d_backward", "SURROGATE_IDS"]

log = logging.getLogger("snncore.backends.fused")

#: kind name -> code used by the kernels
KIND_IDS = {"leaky": 0, "synaptic": 1, "rleaky_elementwise": 2, "rsynaptic_elementwise": 3}
RESET_IDS = {"subtract": 0, "zero": 1, "none": 2}
#: surrogate class name -> code of its derivative implemented natively (0 = precomputed array)
SURROGATE_IDS = {"ATan": 1, "FastSigmoid": 2}


#: the C++ sources, shipped as package data next to this module
SOURCE_DIR = Path(__file__).with_name("native")
_SOURCES = ("fused_loops.cpp", "fused_loops.h", "streaming.h", "max_pool.h")
_MAIN_SOURCE = "fused_loops.cpp"
#: must equal SNNCORE_FUSED_ABI_VERSION in fused_loops.h
ABI_VERSION = 10


def source_text() -> str:
    """The C++ sources (header and implementation) the library is built from."""
    return "\0".join((SOURCE_DIR / name).read_text(encoding="utf-8") for name in _SOURCES)


#: no contraction and no fast-math: results bit-identical to eager. ``-fno-trapping-math`` changes
#: no result (no floating-point trap is ever enabled): it lets the compiler if-convert the
#: selects of a step (spike thresholds, resets, ``where``), without which the per-neuron loops
#: are vectorised only where the CPU has masked vector stores (AVX-512) and run scalar with
#: mispredicted branches elsewhere (AVX2, an AMD EPYC znver3: the Linear(512)+Leaky pair's
#: forward and reverse loops ran 9.2x and 4.6x slower)
_BASE_FLAGS = ["-O3", "-std=c++17", "-fPIC", "-ffp-contract=off", "-fno-fast-math",
               "-fno-math-errno", "-fno-trapping-math"]
_PARTS = 3
_lock = threading.Lock()
_lib: Any = None
_status: str = "not built yet"
#: worker pools by size (a pool is never shut down while another thread may still submit to it)
_pools: dict[int, ThreadPoolExecutor] = {}


_use_openmp = True


def _after_fork_in_child() -> None:
    # a forked child has none of the parent's pool threads: start fresh pools on demand; and
    # GNU OpenMP cannot be used again in a child forked after the parent used it (it hangs), so
    # the child splits work over Python threads instead
    global _lock, _use_openmp
    _lock = threading.Lock()
    _pools.clear()
    _use_openmp = False


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork_in_child)


def _cache_dir() -> Path:
    env = _env.text(_env.CACHE_DIR)
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
    """Build the library at ``out`` (its parts compiled in parallel); return an error or None."""
    out.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="snncore-build-") as tmp:
        for name in _SOURCES:
            shutil.copyfile(SOURCE_DIR / name, Path(tmp) / name)
        src = Path(tmp) / _MAIN_SOURCE
        objs = [Path(tmp) / f"part{i}.o" for i in range(_PARTS)]
        procs = [subprocess.Popen([cxx, *flags, f"-DSNN_PART={i}", "-c", str(src), "-o",
                                   str(obj)], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                  text=True) for i, obj in enumerate(objs)]
        errors = []
        for proc in procs:
            try:
                _, err = proc.communicate(timeout=600)
            except subprocess.TimeoutExpired:
                proc.kill()
                _, err = proc.communicate()
                err = "compiler timed out\n" + err
            if proc.returncode != 0:
                errors.append(err.strip())
        if errors:
            return "\n".join(errors)[-2000:]
        tmp_so = Path(tmp) / "fused.so"
        proc = subprocess.run([cxx, "-shared", *flags, *map(str, objs), "-o", str(tmp_so)],
                              capture_output=True, text=True, timeout=300)
        if proc.returncode != 0:
            return (proc.stderr or proc.stdout).strip()[-2000:]
        staged = out.with_name(f"{out.name}.{os.getpid()}.tmp")
        shutil.copyfile(tmp_so, staged)
        os.replace(staged, out)  # atomic: concurrent builders never see a half-written file
    return None


def _setup(lib: Any) -> None:
    i64, i32, vp = ctypes.c_int64, ctypes.c_int, ctypes.c_void_p
    lib.snncore_fused_openmp.restype = i32
    lib.snncore_fused_openmp.argtypes = []
    fn = lib.snncore_fused_fwd_f32
    fn.restype = i32
    fn.argtypes = [i32, i32, i32, i64, i64, i64, i64] + [vp] * 12 + [i64, vp, vp, vp]
    fn = lib.snncore_fused_bwd_f32
    fn.restype = i32
    fn.argtypes = [i32, i32, i32, i32, i64, i64, i64, i64, i64, i64] + [vp] * 21 + [
        ctypes.c_float, vp, i64, vp, i64, vp]
    fn = lib.snncore_fused_bwd_rc_f32
    fn.restype = i32
    fn.argtypes = [i32, i32, i32, i32, i64, i64, i64, i64, i64, vp, vp, i64] + [vp] * 15 + [
        ctypes.c_float, vp, i64, vp, i64, vp]
    for name in ("snncore_max_pool2d_fwd_f32", "snncore_max_pool2d_bwd_f32"):
        fn = getattr(lib, name)
        fn.restype = i32
        fn.argtypes = [i64] * 8 + [vp] * 3


#: measured cost of the PyTorch loop against the native one (training, CPU, float32)
SPEED_COST = ("about 4x slower training on CPU (measured with T=100, 32x512 neurons, one "
              "thread)")
_announced = False


def _find_compiler() -> tuple[str | None, str]:
    """The C++ compiler to use (``CXX``, else c++, g++ or clang++ on PATH), or why there is
    none."""
    given = os.environ.get("CXX")
    if given:
        found = shutil.which(given)
        if found is None:
            return None, f"build failed: CXX={given!r} is not an executable compiler"
        return found, ""
    found = shutil.which("c++") or shutil.which("g++") or shutil.which("clang++")
    if found is None:
        return None, "no C++ compiler found (install g++ or clang++, or set CXX)"
    return found, ""


@contextlib.contextmanager
def _build_lock(path: Path) -> Iterator[None]:
    """Hold a file lock next to ``path`` while building it: concurrent processes (DDP ranks,
    parallel test workers) wait for one build instead of all compiling."""
    try:
        from filelock import FileLock, Timeout  # a dependency of torch
    except ImportError:  # pragma: no cover - torch always brings filelock
        yield
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    lock = FileLock(str(path) + ".lock")
    try:
        lock.acquire(timeout=0)
    except Timeout:
        log.warning("fused: another process is building the native time loops into %s; "
                    "waiting for it", path)
        lock.acquire(timeout=1800)
    try:
        yield
    finally:
        lock.release()


def _announce(path: Path) -> None:
    global _announced
    if not _announced:
        _announced = True
        # WARNING level: shown on stderr once even where logging is not configured
        log.warning("fused: building the native time loops into %s (once per machine and "
                    "compiler; usually 20-60 s, longer on a busy machine; later runs load the "
                    "cached library)", path)


def _unavailable(status: str) -> None:
    """Record why the native loops cannot be used and warn once (the cause and the cost)."""
    global _status
    _status = status
    log.debug("fused: native loops unavailable: %s; using the PyTorch loop", status)
    warnings.warn(
        f"snncore: the fused backend's native loops are unavailable ({status[:600]}); it runs "
        f"its PyTorch loop instead: the same results, {SPEED_COST}. Install a C++ compiler "
        "(g++ or clang++, or point CXX at one), or set SNNCORE_FUSED_NATIVE=0 to choose the "
        "PyTorch loop and silence this warning",
        NativeBuildWarning, stacklevel=4)


def find_compiler() -> tuple[str | None, str]:
    """The C++ compiler for native loops, or None and why not (``SNNCORE_FUSED_NATIVE=0``, a
    ``CXX`` that is not an executable, or no compiler on the path)."""
    if not _env.flag(_env.FUSED_NATIVE, True):
        return None, "disabled by SNNCORE_FUSED_NATIVE"
    return _find_compiler()


def native_library() -> Any:
    """The loaded kernel library, building it on first use; None if unavailable.

    The first build in a process logs one WARNING line on ``snncore.backends.fused`` (what is
    built, where, how long it takes); concurrent processes wait on a file lock for one build;
    no compiler or a failing one gives one :class:`~snncore.NativeBuildWarning` naming the
    cause (also in :func:`native_status`)."""
    global _lib, _status
    if _lib is not None:
        return _lib
    with _lock:
        if _lib is not None:
            return _lib
        if _status != "not built yet":
            return None
        if not _env.flag(_env.FUSED_NATIVE, True):
            _status = "disabled by SNNCORE_FUSED_NATIVE"
            log.debug("fused: native loops %s; using the PyTorch loop", _status)
            return None
        cxx, why = _find_compiler()
        if cxx is None:
            _unavailable(why)
            return None
        errors: list[str] = []
        for path, flags in _candidates(cxx):
            try:
                start = time.perf_counter()
                built = False
                if not path.exists():
                    with _build_lock(path):
                        if not path.exists():  # another process may have built it meanwhile
                            _announce(path)
                            err = _compile(cxx, path, flags)
                            if err is not None:
                                errors.append(err)
                                continue
                            built = True
                lib = ctypes.CDLL(str(path))
                _setup(lib)
                if lib.snncore_fused_abi_version() != ABI_VERSION:
                    errors.append(f"{path}: unexpected ABI version")
                    continue
            except (OSError, subprocess.SubprocessError, AttributeError) as exc:
                errors.append(f"{type(exc).__name__}: {exc}")
                continue
            if built:
                log.info("fused: native time loops built in %.0f s", time.perf_counter() - start)
            _lib = lib
            _status = f"native ({path})"
            log.debug("fused: native loops loaded from %s", path)
            return _lib
        _unavailable("build failed with " + cxx + ": " + " | ".join(errors)[-1500:])
        return None


def _candidates(cxx: str) -> Iterator[tuple[Path, list[str]]]:
    """(library path, flags) to try in order: the best flags first; the temporary folder only
    when the cache folder cannot be written."""
    uid = os.getuid() if hasattr(os, "getuid") else "user"
    folders = (_cache_dir(), Path(tempfile.gettempdir()) / f"snncore-{uid}")
    for extra in (["-march=native", "-fopenmp"], ["-march=native"], ["-fopenmp"], []):
        flags = _BASE_FLAGS + extra
        key = hashlib.sha256(
            "\0".join([source_text(), cxx, *flags, _cpu_tag()]).encode()).hexdigest()[:20]
        for folder in folders:
            if folder is folders[1] and _writable(folders[0]):
                continue
            yield folder / f"fused_{key}.so", flags


def _writable(folder: Path) -> bool:
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError:
        return False
    return os.access(folder, os.W_OK)


def native_status(build: bool = True) -> str:
    """A one-line description of the native loops' state: ``"native (path)"``, disabled, or why
    not. With ``build=False`` nothing is built or loaded: a library not loaded yet is reported
    as cached (found on disk) or as to be built on first use."""
    if build:
        native_library()
        return _status
    if _lib is not None or _status != "not built yet":
        return _status
    if not _env.flag(_env.FUSED_NATIVE, True):
        return "disabled by SNNCORE_FUSED_NATIVE"
    cxx, why = _find_compiler()
    if cxx is None:
        return f"{why}; the PyTorch loop will run"
    for path, _ in _candidates(cxx):
        if path.exists():
            return f"cached at {path} (loaded on first use)"
    return (f"not built yet: built on first use with {cxx} into {_cache_dir()} "
            "(once, usually 20-60 s)")


def parallel_ranges(m: int, workers: int, align: int = 1024, min_size: int = 1024
                    ) -> list[tuple[int, int]]:
    """Split ``range(m)`` into contiguous ranges aligned to ``align``: about four per worker
    (so that a worker delayed by a busy machine does not hold up the others), none smaller than
    ``min_size``; a single range when ``workers <= 1``."""
    if workers <= 1 or m < 2 * min_size:
        return [(0, m)]
    parts = min(4 * workers, m // min_size)
    chunk = -(-m // parts)
    chunk = -(-chunk // align) * align
    return [(a, min(a + chunk, m)) for a in range(0, m, chunk)]


#: below this many neuron-steps a native call runs on one OpenMP thread (PyTorch's own team, so
#: nothing competes with it); measured: a Leaky layer of 9 steps x 110592 neurons (a chunk of
#: the conv benchmark) trains 1.3x faster split over 2 threads than on one
SERIAL_WORK = 1 << 18
#: the Python thread pool (no OpenMP, e.g. in a forked child) starts at ``SERIAL_WORK`` times
#: this: its threads cost more to wake and compete with PyTorch's idle-spinning workers
POOL_FACTOR = 8


#: a threshold no call reaches (``snncore_fused_serial_work``, ``snncore_fused_stream_bytes``)
NEVER = 1 << 62


#: default of ``SNNCORE_STREAM_STORES_MB``: the native loops write outputs of at least this many
#: MiB with streaming (non-temporal) stores, which skip reading each destination cache line
#: before writing it; measured on a 2-core VM, training steps on [500, 32768]: Leaky 1.12x-1.16x,
#: LI 1.34x faster; smaller outputs are written to cache, where the next layer finds them
DEFAULT_STREAM_MB = 32
#: the threshold in bytes (None: ``SNNCORE_STREAM_STORES_MB``, read at every native call)
STREAM_BYTES: int | None = None


def stream_bytes() -> int:
    """Outputs of at least this many bytes are written with streaming stores."""
    if STREAM_BYTES is not None:
        return STREAM_BYTES
    b = _env.mebibytes(_env.STREAM_STORES_MB, DEFAULT_STREAM_MB, "turns them off")
    return b if b > 0 else NEVER


#: the loaded library's int64 settings, each looked up once: (library, {name: cell})
_cells: tuple[Any, dict[str, Any]] = (None, {})


def _set_cell(name: str, value: int) -> None:
    global _cells
    if _cells[0] is not _lib:
        _cells = (_lib, {})
    cell = _cells[1].get(name)
    if cell is None:
        cell = _cells[1][name] = ctypes.c_int64.in_dll(_lib, name)
    if cell.value != value:
        cell.value = value


def call_parallel(fn: Any, ranges: list[tuple[int, int]], make_args: Any,
                  work: int | None = None) -> None:
    """Run ``fn(*make_args(m0, m1))`` over every range. A native function of a library built
    with OpenMP gets the whole range in one call and splits it over OpenMP threads itself.
    Otherwise, with several ranges (and ``work``, the number of neuron-steps, not below
    :data:`SERIAL_WORK` times :data:`POOL_FACTOR`) the calling thread and ``threads() - 1``
    pool threads take ranges one at a time until none are left."""
    native = _lib is not None and isinstance(fn, ctypes._CFuncPtr)
    if native:
        _set_cell("snncore_fused_stream_bytes", stream_bytes())
    native_omp = native and bool(_lib.snncore_fused_openmp())
    if native_omp:
        # without OpenMP (a forked child), every native call runs on one thread
        _set_cell("snncore_fused_serial_work", SERIAL_WORK if _use_openmp else NEVER)
        if _use_openmp:
            # the library splits the neurons over OpenMP threads (PyTorch's own thread team)
            rc = fn(*make_args(ranges[0][0], ranges[-1][1]))
            if rc != 0:
                raise RuntimeError(f"fused native kernel failed with code {rc}")
            return
    if len(ranges) == 1 or threads() == 1 or (work is not None
                                              and work < SERIAL_WORK * POOL_FACTOR):
        rc = fn(*make_args(ranges[0][0], ranges[-1][1]))
        if rc != 0:
            raise RuntimeError(f"fused native kernel failed with code {rc}")
        return
    helpers = min(len(ranges), threads()) - 1
    with _lock:
        pool = _pools.get(helpers)
        if pool is None:
            pool = _pools[helpers] = ThreadPoolExecutor(max_workers=helpers,
                                                        thread_name_prefix="snncore-fused")
    todo = iter(ranges)
    take = threading.Lock()
    codes: list[int] = []

    def worker() -> None:
        while True:
            with take:
                nxt = next(todo, None)
            if nxt is None:
                return
            codes.append(fn(*make_args(*nxt)))

    futures = [pool.submit(worker) for _ in range(helpers)]
    try:
        worker()
    finally:
        for f in futures:
            f.result()
    if any(codes):
        raise RuntimeError(f"fused native kernel failed with codes {codes}")


_MADV_HUGEPAGE = 14
_HUGE = 1 << 21
_madvise: Any = None


def _thp_madvise_mode() -> bool:
    """True when transparent huge pages are granted on request (mode ``madvise``)."""
    try:
        with open("/sys/kernel/mm/transparent_hugepage/enabled", encoding="ascii") as fh:
            return "[madvise]" in fh.read()
    except OSError:
        return False


def empty_like(x: Tensor) -> Tensor:
    """``torch.empty_like(x)`` (contiguous), large CPU buffers from the buffer cache
    (:mod:`snncore._buffers`: reused memory is not faulted in again). With
    ``SNNCORE_HUGEPAGES=1`` (off by default, see
    docs/benchmarks.md), large buffers on Linux CPU are advised to use transparent huge pages
    before first touch: cheaper faults back to back, but on VMs that return freed huge pages to
    the host, steps after a pause pay for re-fetching them."""
    global _madvise
    out = buffer_cache().empty_like(x)
    nbytes = out.untyped_storage().nbytes()
    if out.device.type != "cpu" or nbytes < 4 * _HUGE:
        return out
    if _madvise is None:
        _madvise = False
        if _env.flag(_env.HUGEPAGES, False) and platform.system() == "Linux" \
                and _thp_madvise_mode():
            try:
                libc = ctypes.CDLL(None, use_errno=True)
                fn = libc.madvise
                fn.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int]
                fn.restype = ctypes.c_int
                _madvise = fn
            except (OSError, AttributeError):
                _madvise = False
    if _madvise:
        start = out.data_ptr()
        lo = (start + _HUGE - 1) & ~(_HUGE - 1)
        hi = (start + nbytes) & ~(_HUGE - 1)
        if hi > lo:
            _madvise(lo, hi - lo, _MADV_HUGEPAGE)  # a hint: failure changes nothing
    return out


def empty(shape: tuple[int, ...], dtype: torch.dtype) -> Tensor:
    """An uninitialised contiguous CPU tensor from the buffer cache (large) or the allocator."""
    return empty_like(torch.empty((), dtype=dtype).expand(shape))


def ptr(t: Tensor | None) -> int | None:
    """Raw data pointer of a contiguous tensor (None for None)."""
    return None if t is None else t.data_ptr()


def threads() -> int:
    return max(1, torch.get_num_threads())


def max_pool2d(z: Tensor, kh: int, kw: int) -> tuple[Tensor, Tensor]:
    """Max pooling of a channels-last contiguous float32 CPU tensor ``z`` ``[N, C, H, W]`` over
    non-overlapping ``kh x kw`` windows (floor mode; ``kh * kw <= 256``; the library must be
    loaded): the output (channels-last) and, per output element, the position ``dy * kw + dx``
    of its window's maximum as ``uint8`` (same shape and order). Values and positions are
    those of ``torch.nn.functional.max_pool2d``."""
    n, c, h, w = z.shape
    oh, ow = h // kh, w // kw
    y = torch.empty((n, oh, ow, c), dtype=torch.float32)
    idx = torch.empty((n, oh, ow, c), dtype=torch.uint8)
    fn = _lib.snncore_max_pool2d_fwd_f32
    call_parallel(fn, parallel_ranges(n * oh, threads(), 1, 64),
                  lambda r0, r1: (n, h, w, c, kh, kw, r0, r1, z.data_ptr(), y.data_ptr(),
                                  idx.data_ptr()), work=z.numel())
    return y.permute(0, 3, 1, 2), idx.permute(0, 3, 1, 2)


def max_pool2d_backward(g: Tensor, idx: Tensor, kh: int, kw: int, size: tuple[int, int]
                        ) -> Tensor:
    """The input gradient ``[N, C, H, W]`` (channels-last) of :func:`max_pool2d` for the
    output gradient ``g`` (channels-last contiguous float32) and its positions ``idx``; ``size``
    is the input's ``(H, W)``."""
    n, c, oh, ow = g.shape
    h, w = size
    gx = torch.empty((n, h, w, c), dtype=torch.float32)
    fn = _lib.snncore_max_pool2d_bwd_f32
    call_parallel(fn, parallel_ranges(n * h, threads(), 1, 64),
                  lambda r0, r1: (n, h, w, c, kh, kw, r0, r1, g.data_ptr(), idx.data_ptr(),
                                  gx.data_ptr()), work=gx.numel())
    return gx.permute(0, 3, 1, 2)
