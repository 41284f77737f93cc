"""Helpers to drive snnTorch and compat objects with the same code and compare them."""

from __future__ import annotations

import warnings
from collections.abc import Callable
from typing import Any

import torch
from torch import Tensor

import snn_compat

TOL = 1e-6
#: gradients are float32 sums over every step: absolute 1e-6 plus relative 1e-5
GRAD_RTOL = 1e-5


def quiet(fn: Callable[[], Any]) -> Any:
    """Call ``fn`` with compat difference warnings muted (when the test is not about them)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", snn_compat.CompatDifferenceWarning)
        return fn()


def close(a: Any, b: Any, tol: float = TOL, rtol: float | None = None) -> None:
    """Assert two tensors (or nested tuples/lists of tensors) are equal within ``tol``
    (absolute; relative ``rtol``, default ``tol``)."""
    if isinstance(a, (tuple, list)):
        assert isinstance(b, (tuple, list)) and len(a) == len(b), (type(a), type(b))
        for x, y in zip(a, b, strict=True):
            close(x, y, tol, rtol)
        return
    assert isinstance(a, Tensor) and isinstance(b, Tensor), (type(a), type(b))
    assert a.shape == b.shape, (a.shape, b.shape)
    torch.testing.assert_close(a.double(), b.double(), atol=tol,
                               rtol=tol if rtol is None else rtol)


def drive(neuron: Any, xs: Tensor, init: str, spk_in_state: bool = False) -> tuple[Any, Any]:
    """Run ``neuron`` step by step in snnTorch's flat convention; returns (spikes, states)."""
    states = getattr(neuron, init)()
    states = states if isinstance(states, tuple) else (states,)
    spikes, record = [], []
    for x in xs:
        out = neuron(x, *states)
        spikes.append(out[0])
        states = tuple(out) if spk_in_state else tuple(out[1:])
        record.append(tuple(out[1:]))
    return torch.stack(spikes), [torch.stack(f) for f in zip(*record, strict=True)]


def grads(fn: Callable[[Tensor], tuple[Tensor, list[Tensor]]], xs: Tensor,
          params: list[Tensor], seed: int = 7) -> tuple[Tensor, list[Tensor], Tensor, list[Any]]:
    """Outputs of ``fn(xs)`` and the gradients of a random projection of them w.r.t. ``xs``
    and ``params``."""
    xs = xs.detach().clone().requires_grad_(True)
    spk, states = fn(xs)
    g = torch.Generator().manual_seed(seed)
    loss = (spk * torch.rand(spk.shape, generator=g)).sum()
    for s in states:
        loss = loss + (s * torch.rand(s.shape, generator=g)).sum()
    got = torch.autograd.grad(loss, [xs, *params], allow_unused=True)
    return spk.detach(), [s.detach() for s in states], got[0], list(got[1:])
