"""A cache of large CPU buffers for the fused loops' outputs, reused from step to step.

A training step allocates the same large buffers every time (a layer's output, the input
gradient, recorded states). On Linux, glibc serves allocations above its mmap threshold
(at most 32 MiB, often less) with fresh pages from the kernel, and every page is faulted in and
zeroed again on first touch: for the cheapest neurons that costs more than the time loop itself
(docs/benchmarks.md). This cache keeps the memory of such buffers once their tensors are freed
and hands it out again for a buffer of the same size (or up to :data:`SLACK` smaller), as
PyTorch's CUDA caching allocator does for GPU memory.

How it works: a cached block is a ``uint8`` tensor owned by the cache. A buffer handed out is a
tensor over a NumPy view of the block (:func:`torch.frombuffer`); when the last tensor or view
using that memory is freed, the NumPy view is released and the block goes back to the cache.
A block is therefore reused only after everything that could read it is gone (tensors saved
for a backward, views, ``.numpy()`` arrays all keep it in use).

Limits, written down:

- Buffers handed out are not resizable (``resize_`` raises): they are outputs of fixed size.
- Only CPU tensors of at least :data:`MIN_BYTES` are cached; ``torch.compile`` tracing and
  tensor subclasses (fake, functional tensors) get plain ``torch.empty_like``.
- Idle cached bytes count towards the process's memory like any allocation; they are bounded
  by ``SNNCORE_BUFFER_CACHE_MB`` (default :data:`DEFAULT_LIMIT_MB`; ``0`` turns the cache off;
  least recently returned blocks are dropped first) and freed by :func:`empty_cache`. Memory
  waiting in the cache is not available to PyTorch's own allocations: a step that frees a
  fused output early and then allocates PyTorch temporaries peaks higher by that block.
- Thread-safe; a forked child (e.g. a DataLoader worker) keeps the parent's idle blocks
  (copy-on-write) with fresh locks.
"""

from __future__ import annotations

import os
import threading
import weakref
from collections import OrderedDict
from typing import Any

import torch
from torch import Tensor

from . import _env

__all__ = ["BufferCache", "buffer_cache", "empty_cache", "buffer_cache_info", "MIN_BYTES",
           "DEFAULT_LIMIT_MB", "SLACK"]

#: buffers smaller than this come from the ordinary allocator (malloc keeps them warm)
MIN_BYTES = 1 << 20
#: default bound on idle cached bytes, in MiB
DEFAULT_LIMIT_MB = 1024

_ROUND = 1 << 12  # blocks are sized in whole pages
#: a block serves requests down to ``1 / (1 + SLACK)`` of its size (e.g. time chunks of 9 and 8
#: steps share blocks)
SLACK = 0.25


class BufferCache:
    """Cached blocks of CPU memory keyed by size (bytes, rounded up to a page); a request takes
    the smallest idle block at least its size and at most :data:`SLACK` larger.

    Args:
        limit_bytes: the most idle bytes kept; a block returned beyond it evicts the least
            recently returned ones (and is itself dropped when larger than the limit).
    """

    def __init__(self, limit_bytes: int) -> None:
        if limit_bytes < 0:
            raise ValueError(f"BufferCache: limit_bytes={limit_bytes} must be >= 0")
        self.limit_bytes = int(limit_bytes)
        self._lock = threading.RLock()
        self._free: dict[int, list[Tensor]] = {}
        # id(block) -> (size, block), least recently returned first
        self._idle: OrderedDict[int, tuple[int, Tensor]] = OrderedDict()
        self.cached_bytes = 0
        self.in_use_bytes = 0
        self.hits = 0
        self.misses = 0

    def empty_like(self, x: Tensor) -> Tensor:
        """An uninitialised contiguous tensor shaped and typed like ``x``, from the cache when
        ``x`` is a plain CPU tensor of at least :data:`MIN_BYTES` (else ``torch.empty_like``)."""
        nbytes = x.numel() * x.element_size()
        if (self.limit_bytes == 0 or nbytes < MIN_BYTES or x.device.type != "cpu"
                or type(x) not in (Tensor, torch.nn.Parameter) or x.layout != torch.strided
                or torch.compiler.is_compiling()):
            return torch.empty_like(x, memory_format=torch.contiguous_format)
        return self.empty(x.shape, x.dtype)

    def empty(self, shape: torch.Size | tuple[int, ...], dtype: torch.dtype) -> Tensor:
        """An uninitialised contiguous CPU tensor of ``shape`` and ``dtype`` over a cached
        block."""
        numel = 1
        for s in shape:
            numel *= int(s)
        size = -(-max(numel * dtype.itemsize, 1) // _ROUND) * _ROUND
        block = self._take(size)
        if block is None:
            block = torch.empty(size, dtype=torch.uint8)
        size = block.numel()
        view = block.numpy()[:]  # a new array object: its release returns the block
        with self._lock:
            self.in_use_bytes += size
        fin = weakref.finalize(view, self._give_back, size, block)
        fin.atexit = False
        return torch.frombuffer(view, dtype=dtype, count=numel).view(tuple(shape))

    def _take(self, size: int) -> Tensor | None:
        """The idle block of the smallest size in ``[size, size * (1 + SLACK)]``, or None."""
        with self._lock:
            fits = [k for k, blocks in self._free.items()
                    if blocks and size <= k <= size + int(size * SLACK)]
            if not fits:
                self.misses += 1
                return None
            k = min(fits)
            block = self._free[k].pop()
            self._idle.pop(id(block), None)
            self.cached_bytes -= k
            self.hits += 1
            return block

    def _give_back(self, size: int, block: Tensor) -> None:
        with self._lock:
            self.in_use_bytes -= size
            if size > self.limit_bytes:
                return
            while self.cached_bytes + size > self.limit_bytes and self._idle:
                _, (osize, old) = self._idle.popitem(last=False)
                self._free[osize].remove(old)
                self.cached_bytes -= osize
            self._free.setdefault(size, []).append(block)
            self._idle[id(block)] = (size, block)
            self.cached_bytes += size

    def clear(self) -> None:
        """Drop every idle block (buffers in use are not affected)."""
        with self._lock:
            self._free.clear()
            self._idle.clear()
            self.cached_bytes = 0

    def info(self) -> dict[str, Any]:
        """``cached_bytes`` (idle), ``in_use_bytes`` (handed out, alive), ``limit_bytes``,
        ``hits`` and ``misses`` (allocations served from the cache or not)."""
        with self._lock:
            return {"cached_bytes": self.cached_bytes, "in_use_bytes": self.in_use_bytes,
                    "limit_bytes": self.limit_bytes, "hits": self.hits, "misses": self.misses}


_cache: BufferCache | None = None
_cache_lock = threading.Lock()


def _after_fork_in_child() -> None:
    # a lock held by another thread of the parent at the fork would never be released here
    global _cache_lock
    _cache_lock = threading.Lock()
    if _cache is not None:
        _cache._lock = threading.RLock()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork_in_child)


def _limit_from_env() -> int:
    return _env.mebibytes(_env.BUFFER_CACHE_MB, DEFAULT_LIMIT_MB, "turns the buffer cache off")


def buffer_cache() -> BufferCache:
    """The process's cache (created on first use, its limit read from the environment)."""
    global _cache
    if _cache is None:
        with _cache_lock:
            if _cache is None:
                _cache = BufferCache(_limit_from_env())
    return _cache


def empty_cache() -> None:
    """Free the idle blocks of the fused loops' buffer cache (like ``torch.cuda.empty_cache``).

    Buffers still in use are kept and return to the cache when freed."""
    buffer_cache().clear()


def buffer_cache_info() -> dict[str, Any]:
    """Statistics of the fused loops' buffer cache: ``cached_bytes`` (idle, reusable),
    ``in_use_bytes`` (handed out and alive), ``limit_bytes`` (``SNNCORE_BUFFER_CACHE_MB``),
    ``hits`` and ``misses``."""
    return buffer_cache().info()
