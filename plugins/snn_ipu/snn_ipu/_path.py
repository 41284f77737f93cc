r"""The IPU-safe execution path: traceable spikes and an unrolled step loop.

poptorch traces a model's forward pass and PopART builds the backward pass from the traced ops,
so a ``torch.autograd.Function`` (snncore's default spike) does not carry its surrogate gradient
to the IPU. The spike used here is written with ordinary ops and ``detach`` only:

.. math::
    S = \operatorname{sg}[H(x)] + \big(x - \operatorname{sg}[x]\big)\cdot\operatorname{sg}[h(x)]

where :math:`\operatorname{sg}` is ``detach`` and :math:`h` the surrogate's ``derivative``. The
middle factor is exactly zero in the forward pass, so :math:`S = H(x)` bit for bit; in the backward
pass only that factor has a gradient (1), so :math:`\partial S/\partial x = h(x)`, the same product
``grad · derivative(x)`` that snncore's autograd spike computes.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

from torch import Tensor, nn

import snncore
from snncore import extend

__all__ = [
    "TraceableSurrogate", "traceable", "ipu_safe", "run_traceable", "batch_first", "time_first",
]


class TraceableSurrogate(extend.Surrogate):
    r"""A surrogate spike made of traceable ops only (no ``autograd.Function``, no host sync).

    Wraps any :class:`snncore.Surrogate` and keeps its parameters and ``derivative``; calling it
    returns :math:`\operatorname{sg}[H(x)] + (x - \operatorname{sg}[x])\,\operatorname{sg}[h(x)]`,
    equal to ``inner(x)`` in value and gradient; a surrogate that overrides ``__call__`` (its
    own spike function) is called as it is.

    Args:
        inner: the surrogate whose derivative is used.

    Example::

        >>> spk = TraceableSurrogate(snn.surrogate("atan"))(mem - threshold)
    """

    name = "traceable"

    def __init__(self, inner: extend.Surrogate) -> None:
        if isinstance(inner, TraceableSurrogate):
            inner = inner.inner
        if not isinstance(inner, extend.Surrogate):
            raise TypeError(
                "TraceableSurrogate: inner must be a snncore Surrogate (snncore.extend.Surrogate), "
                f"got {type(inner).__name__}"
            )
        self.inner = inner
        self.deterministic = inner.deterministic  # type: ignore[misc]

    def derivative(self, x: Tensor) -> Tensor:
        return self.inner.derivative(x)

    def params(self) -> dict[str, Any]:
        return self.inner.params()

    def __call__(self, x: Tensor) -> Tensor:
        if type(self.inner).__call__ is not extend.Surrogate.__call__:
            # a surrogate with its own spike function: that function, as on every other path
            # (traceable when it is made of plain ops; check_model names anything else)
            return self.inner(x)
        xd = x.detach()
        return extend.heaviside(xd) + (x - xd) * self.inner.derivative(xd).detach()

    def __repr__(self) -> str:
        return f"TraceableSurrogate({self.inner!r})"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, TraceableSurrogate) and other.inner == self.inner

    def __hash__(self) -> int:
        return hash(("traceable", hash(self.inner)))


def traceable(surrogate: extend.Surrogate | str) -> TraceableSurrogate:
    """The traceable form of ``surrogate`` (a registered name or a :class:`snncore.Surrogate`)."""
    if isinstance(surrogate, str):
        surrogate = extend.as_surrogate(surrogate)
    return TraceableSurrogate(surrogate)


@contextlib.contextmanager
def ipu_safe(model: nn.Module) -> Iterator[nn.Module]:
    """Within this block, every neuron in ``model`` fires through :class:`TraceableSurrogate` and
    runs its sequence as a Python loop of single steps (which tracing unrolls).

    The neurons' own surrogates and backends are restored on exit, also after an exception.
    State is created inside the loop from the traced input's shape (``state=None``), so nothing is
    fixed before tracing.

    Args:
        model: a neuron, an ``snn.Sequential`` or any module tree containing neurons.
    """
    if not isinstance(model, nn.Module):
        raise TypeError(f"ipu_safe: model must be a torch.nn.Module, got {type(model).__name__}")
    saved: list[tuple[nn.Module, str, Any]] = []
    try:
        for neuron in extend.neurons_of(model):
            saved.append((neuron, "surrogate", neuron.surrogate))
            saved.append((neuron, "backend", neuron.backend))
            neuron.surrogate = TraceableSurrogate(neuron.surrogate)
            neuron.backend = "eager"
        for module in model.modules():
            if isinstance(module, snncore.Sequential):
                saved.append((module, "backend", module.backend))
                module.backend = "eager"
        # host reads (learned-range and label checks) cannot run inside an IPU program
        with extend.use_backend("eager"), extend.value_checks_disabled():
            yield model
    finally:
        for module, attr, value in reversed(saved):
            setattr(module, attr, value)


def run_traceable(neuron: extend.Neuron, x_seq: Tensor, state: Any = None) -> Any:
    """``neuron.run(x_seq, state)`` on the IPU-safe path (same return value as ``run``).

    This is what the ``ipu`` backend executes inside a poptorch trace; on the CPU it gives the
    same spikes and gradients as the default path.
    """
    if not isinstance(neuron, extend.Neuron):
        raise TypeError(
            f"run_traceable: neuron must be a snncore.Neuron, got {type(neuron).__name__}"
        )
    if not isinstance(x_seq, Tensor):
        raise TypeError(f"run_traceable: x_seq must be a tensor, got {type(x_seq).__name__}")
    with ipu_safe(neuron):
        return neuron.run(x_seq, state)


def batch_first(t: Tensor) -> Tensor:
    """``[T, B, ...] -> [B, T, ...]`` (contiguous)."""
    return t.transpose(0, 1).contiguous() if t.dim() >= 2 else t


def time_first(t: Tensor) -> Tensor:
    """``[B, T, ...] -> [T, B, ...]``."""
    return t.transpose(0, 1) if t.dim() >= 2 else t
