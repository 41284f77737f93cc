"""Native max pooling for the stateless layers that feed the CPU backends' neurons.

:class:`snncore.Sequential` offers a stateless layer whose output goes straight into a neuron
to that neuron's backend (:meth:`snncore.extend.Backend.run_stateless`). The ``fused`` and
``generic`` backends run a training-mode ``nn.MaxPool2d`` over non-overlapping windows on a
channels-last float32 CPU input with the native kernel of :mod:`snncore.backends._native`
(sources in ``native/max_pool.h``):

- the same values and gradients as ``nn.MaxPool2d`` (NaN and ties included: a window's first
  maximum, or its last NaN, takes the gradient);
- the backward keeps, per output element, the position of its window's maximum in one byte
  (``nn.MaxPool2d`` keeps an 8-byte index) and writes the input gradient in one pass, without
  first filling it with zeros;
- small channel counts are vectorised (torch's channels-last kernel runs channel counts below
  its vector width, e.g. the 12 of the snnTorch tutorial-6 network, element by element).

Measured on a 2-core AMD EPYC Zen 5 VM, 2 threads, tutorial-6 shapes (docs/backends.md).
Everything else (other dtypes, layouts, overlapping windows, padding, dilation, ``ceil_mode``,
inference) returns None, and the runner applies the layer itself.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor, nn

from .._backends import wrapped_tensor
from .._sequential import _lean_pool, _pair
from . import _native as native

__all__ = ["max_pool_kernel", "run_stateless"]


def max_pool_kernel(layer: nn.Module, z: Tensor) -> tuple[int, int] | None:
    """``(kh, kw)`` when the native kernel can run ``layer`` on ``z``: a pool the runner keeps
    lean (:func:`snncore._sequential._lean_pool`: an exact ``nn.MaxPool2d`` over
    non-overlapping windows in a training forward, no hooks, no tracer) with windows of at most
    256 elements that fit the input, on a channels-last contiguous float32 CPU tensor, with the
    native library loaded; else None."""
    if type(z) is not Tensor or wrapped_tensor(z) or not _lean_pool(layer, z):
        return None
    if z.dtype != torch.float32 or z.device.type != "cpu":
        return None
    kh, kw = _pair(layer.kernel_size)
    n, c, h, w = z.shape
    if kh * kw > 256 or h < kh or w < kw or min(n, c) < 1:
        return None
    if not z.is_contiguous(memory_format=torch.channels_last):  # (one channel: either order)
        return None
    if native.native_library() is None:
        return None
    return kh, kw


class _MaxPool2dNative(torch.autograd.Function):
    """:func:`snncore.backends._native.max_pool2d` with its one-pass backward."""

    @staticmethod
    def forward(ctx: Any, z: Tensor, kh: int, kw: int) -> Tensor:  # type: ignore[override]
        y, idx = native.max_pool2d(z, kh, kw)
        ctx.save_for_backward(idx)
        ctx.args = (kh, kw, tuple(z.shape[-2:]))
        return y

    @staticmethod
    def backward(ctx: Any, g: Tensor) -> tuple[Any, ...]:  # type: ignore[override]
        (idx,) = ctx.saved_tensors
        kh, kw, size = ctx.args
        if torch.is_grad_enabled() or wrapped_tensor(g) or g.dtype != torch.float32:
            # create_graph or a batched gradient: the same gradient from differentiable ops
            return _unpool(g, idx, kh, kw, size), None, None
        g = g.contiguous(memory_format=torch.channels_last)
        return native.max_pool2d_backward(g, idx, kh, kw, size), None, None


def _unpool(g: Tensor, idx: Tensor, kh: int, kw: int, size: tuple[int, int]) -> Tensor:
    """The input gradient through ``max_unpool2d`` (differentiable in ``g``): the window
    positions turned into flat indices of the input plane."""
    oh, ow = idx.shape[-2:]
    pos = idx.long()
    rows = torch.arange(oh, device=g.device).view(-1, 1) * kh + pos // kw
    cols = torch.arange(ow, device=g.device).view(1, -1) * kw + pos % kw
    flat = rows * size[1] + cols
    return torch.nn.functional.max_unpool2d(g, flat, (kh, kw), (kh, kw), output_size=size)


def run_stateless(layer: nn.Module, z: Tensor) -> Tensor | None:
    """``layer(z)`` with the native max pooling where :func:`max_pool_kernel` allows it (the
    same values and gradients), else None."""
    k = max_pool_kernel(layer, z)
    if k is None:
        return None
    return _MaxPool2dNative.apply(z, *k)
