"""snnTorch's layers ``BatchNormTT1d``, ``BatchNormTT2d`` and ``GradedSpikes`` on
:mod:`snn_neurons_extra`'s ``BatchNormTT`` and ``GradedSpikes``."""

from __future__ import annotations

from typing import Any

import snn_neurons_extra as extra

from .._warn import warn_difference

__all__ = ["BatchNormTT1d", "BatchNormTT2d", "GradedSpikes"]


def BatchNormTT1d(input_features: int, time_steps: int, eps: float = 1e-5,
                  momentum: float = 0.1, affine: bool = True) -> extra.BatchNormTT:
    """One ``BatchNorm1d`` per time step without bias (batch-norm through time).

    Index it per step as in snnTorch: ``bntt[t](x)`` (``len(bntt) == time_steps``); the
    returned :class:`snn_neurons_extra.BatchNormTT` also takes a whole sequence, ``bntt(x_seq)``.
    """
    return extra.BatchNormTT(input_features, time_steps, dims=1, eps=eps, momentum=momentum,
                             affine=affine, bias=False)


def BatchNormTT2d(input_features: int, time_steps: int, eps: float = 1e-5,
                  momentum: float = 0.1, affine: bool = True) -> extra.BatchNormTT:
    """One ``BatchNorm2d`` per time step without bias; ``bntt[t](x)`` as in snnTorch."""
    return extra.BatchNormTT(input_features, time_steps, dims=2, eps=eps, momentum=momentum,
                             affine=affine, bias=False)


class GradedSpikes(extra.GradedSpikes):
    """Learnable per-feature spike amplitudes ``Y = X ⊙ w`` (``w`` initialised to
    ``constant_factor``, or U(0.5, 1.5) when it is falsy as in snnTorch).

    Differs: one weight per feature along the last dimension; snnTorch multiplies by a
    ``(size, 1)`` column, which scales the batch dimension of a ``[B, size]`` input.
    """

    def __init__(self, size: int, constant_factor: Any) -> None:
        warn_difference("GradedSpikes", "one weight per feature along the last dimension; "
                        "snnTorch's (size, 1) column scales the batch dimension", stacklevel=3)
        super().__init__(size, constant_factor if constant_factor else None)
