"""snnTorch's layers ``BatchNormTT1d``, ``BatchNormTT2d`` and ``GradedSpikes`` on
:mod:`snn_neurons_extra`'s ``BatchNormTT`` and ``GradedSpikes``."""

from __future__ import annotations

from typing import Any

import snn_neurons_extra as extra

from .._warn import warn_difference
from . import _checkpoint as _ckpt

__all__ = ["BatchNormTT1d", "BatchNormTT2d", "GradedSpikes"]


class BatchNormTT(_ckpt.SnntorchKeys, extra.BatchNormTT):
    """:class:`snn_neurons_extra.BatchNormTT` that also loads snnTorch's state dicts of
    ``BatchNormTT1d``/``2d`` (an ``nn.ModuleList``: keys ``0.weight``, ... instead of
    ``norms.0.weight``, ...)."""

    def _snntorch_keys(self, sd: dict[str, Any], prefix: str) -> None:
        _ckpt.per_step_norms(self, sd, prefix)


def BatchNormTT1d(input_features: int, time_steps: int, eps: float = 1e-5,
                  momentum: float = 0.1, affine: bool = True) -> BatchNormTT:
    """One ``BatchNorm1d`` per time step without bias (batch-norm through time).

    Index it per step as in snnTorch: ``bntt[t](x)`` (``len(bntt) == time_steps``); the
    returned :class:`snn_neurons_extra.BatchNormTT` also takes a whole sequence, ``bntt(x_seq)``.
    """
    return BatchNormTT(input_features, time_steps, dims=1, eps=eps, momentum=momentum,
                             affine=affine, bias=False)


def BatchNormTT2d(input_features: int, time_steps: int, eps: float = 1e-5,
                  momentum: float = 0.1, affine: bool = True) -> BatchNormTT:
    """One ``BatchNorm2d`` per time step without bias; ``bntt[t](x)`` as in snnTorch."""
    return BatchNormTT(input_features, time_steps, dims=2, eps=eps, momentum=momentum,
                             affine=affine, bias=False)


class GradedSpikes(_ckpt.SnntorchKeys, extra.GradedSpikes):
    """Learnable per-feature spike amplitudes ``Y = X ⊙ w`` (``w`` initialised to
    ``constant_factor``, or U(0.5, 1.5) when it is falsy as in snnTorch).

    Differs: one weight per feature along the last dimension; snnTorch multiplies by a
    ``(size, 1)`` column, which scales the batch dimension of a ``[B, size]`` input.
    """

    def __init__(self, size: int, constant_factor: Any) -> None:
        warn_difference("GradedSpikes", "one weight per feature along the last dimension; "
                        "snnTorch's (size, 1) column scales the batch dimension", stacklevel=3)
        super().__init__(size, constant_factor if constant_factor else None)

    def _snntorch_keys(self, sd: dict[str, Any], prefix: str) -> None:
        _ckpt.column_weights(self, sd, prefix)
