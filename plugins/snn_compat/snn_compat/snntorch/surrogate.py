"""``snntorch.surrogate`` on snncore's surrogates.

Each factory (``atan()``, ``fast_sigmoid(slope=25)``, ...) returns an :class:`snncore.Surrogate`:
calling it on ``U − θ`` gives Heaviside spikes whose backward uses the surrogate derivative, as
the function snnTorch's factory returns does, and a neuron given one runs on snncore's fused
backends. The capitalised names keep snnTorch's ``Name.apply(x, *params)`` calling convention.

Same numbers as snnTorch 1.0.0: ``atan``, ``fast_sigmoid``, ``heaviside``,
``straight_through_estimator``, ``SFS``, ``SSO`` (same draws under the same seed) and
``custom_surrogate``. Deliberate differences (each warns once): ``sigmoid`` is finite for every
input, ``spike_rate_escape`` is centred at the threshold, ``triangular`` is a real triangle and
``LSO`` works (snnTorch's raises).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch
from torch import Tensor

import snncore
from snncore import surrogates as _s

from .._warn import warn_difference

__all__ = [
    "atan", "fast_sigmoid", "sigmoid", "spike_rate_escape", "straight_through_estimator",
    "triangular", "heaviside", "SSO", "LSO", "SFS", "custom_surrogate",
    "ATan", "FastSigmoid", "Sigmoid", "SpikeRateEscape", "StraightThroughEstimator", "Triangular",
    "Heaviside", "StochasticSpikeOperator", "LeakySpikeOperator", "SparseFastSigmoid",
    "CustomSurrogate",
]

_DIFF_SIGMOID = ("the derivative is computed as k·σ(kx)·σ(−kx), finite everywhere (snnTorch's "
                 "form gives NaN for large |U − θ|); equal elsewhere")
_DIFF_SRE = "centred at the threshold (x = 0); snnTorch centres it at x = 1"
_DIFF_TRI = ("a real triangle max(0, 1 − |x|/w)/w with w = threshold; snnTorch's is a "
             "sign-flipped constant")
_DIFF_LSO = ("derivative 1 where spiked, else slope; snnTorch's LSO raises a TypeError on its "
             "first call")


# -- factories -------------------------------------------------------------------------------
def atan(alpha: float = 2.0) -> snncore.Surrogate:
    r"""Arc-tangent surrogate: backward :math:`\frac{\alpha/2}{1 + (\pi\alpha x/2)^2}`."""
    return _s.ATan(alpha)


def fast_sigmoid(slope: float = 25) -> snncore.Surrogate:
    r"""Fast sigmoid surrogate: backward :math:`1/(k|x| + 1)^2`."""
    return _s.FastSigmoid(slope)


def sigmoid(slope: float = 25) -> snncore.Surrogate:
    r"""Sigmoid surrogate: backward :math:`k\sigma(kx)\sigma(-kx)` (finite everywhere)."""
    warn_difference("surrogate.sigmoid", _DIFF_SIGMOID)
    return _s.Sigmoid(slope)


def spike_rate_escape(beta: float = 1, slope: float = 25) -> snncore.Surrogate:
    r"""Spike-rate escape surrogate: backward :math:`k e^{-\beta|x|}` (centred at threshold)."""
    warn_difference("surrogate.spike_rate_escape", _DIFF_SRE)
    return _s.SpikeRateEscape(beta, slope)


def straight_through_estimator() -> snncore.Surrogate:
    """Straight-through estimator: backward passes the gradient unchanged."""
    return _s.StraightThrough()


def triangular(threshold: float = 1) -> snncore.Surrogate:
    r"""Triangle surrogate of half-width ``threshold``: :math:`\max(0, 1 - |x|/w)/w`."""
    warn_difference("surrogate.triangular", _DIFF_TRI)
    return _s.Triangular(threshold)


def heaviside() -> snncore.Surrogate:
    """Backward passes the gradient only where the neuron spiked."""
    return _s.Heaviside()


def SSO(mean: float = 0, variance: float = 0.2) -> snncore.Surrogate:
    r"""Stochastic spike operator: backward ``1`` where spiked, else :math:`(u-0.5+\mu)\sigma^2`,
    ``u ~ U[0, 1)`` drawn like ``torch.rand_like`` (same draws as snnTorch under one seed)."""
    return _s.StochasticSpikeOperator(mean, variance)


def LSO(slope: float = 0.1) -> snncore.Surrogate:
    """Leaky spike operator: backward ``1`` where spiked, else ``slope``."""
    warn_difference("surrogate.LSO", _DIFF_LSO)
    return _s.LeakySpikeOperator(slope)


def SFS(slope: float = 25, B: float = 1) -> snncore.Surrogate:
    r"""Sparse fast sigmoid: backward :math:`1/(k|x|+1)^2` where ``x > B``, else 0."""
    return _s.SparseFastSigmoid(slope, B)


def custom_surrogate(custom_surrogate_function: Callable[[Tensor, Tensor, Tensor], Tensor]
                     ) -> snncore.Surrogate:
    """A surrogate from ``fn(input_, grad_input, spikes) -> grad`` (snnTorch's convention).

    snncore surrogates are a derivative ``d(x)``; it is taken as ``fn(x, 1, H(x))``, so the
    gradient is ``grad · fn(x, 1, H(x))``: identical to snnTorch for every ``fn`` linear in
    ``grad_input`` (as in snnTorch's documentation and tutorials).
    """
    if not callable(custom_surrogate_function):
        raise TypeError("custom_surrogate: custom_surrogate_function must be callable "
                        f"fn(input_, grad_input, out), got {custom_surrogate_function!r}")
    fn = custom_surrogate_function

    def derivative(x: Tensor) -> Tensor:
        return fn(x, torch.ones_like(x), snncore.heaviside(x))

    derivative.__name__ = getattr(fn, "__name__", "custom")
    return _s.Custom(derivative)


# -- Name.apply(x, *params) ------------------------------------------------------------------
class _Apply:
    """snnTorch's ``torch.autograd.Function`` calling convention: ``Name.apply(x, *params)``."""

    factory: Callable[..., snncore.Surrogate]

    def __init__(self) -> None:
        raise TypeError(f"{type(self).__name__} is used as {type(self).__name__}.apply(x, ...)")

    @classmethod
    def apply(cls, input_: Tensor, *params: Any) -> Tensor:
        """Spikes ``H(input_)`` with this surrogate's gradient (parameters positional)."""
        return cls.factory(*params)(input_)


def _custom_apply(fn: Callable[[Tensor, Tensor, Tensor], Tensor]) -> snncore.Surrogate:
    return custom_surrogate(fn)


class StraightThroughEstimator(_Apply):
    """``StraightThroughEstimator.apply(x)``: spikes with the straight-through gradient."""

    factory = staticmethod(straight_through_estimator)


class Triangular(_Apply):
    """``Triangular.apply(x, threshold)``: spikes with the triangle surrogate."""

    factory = staticmethod(triangular)


class FastSigmoid(_Apply):
    """``FastSigmoid.apply(x, slope)``: spikes with the fast-sigmoid surrogate."""

    factory = staticmethod(fast_sigmoid)


class ATan(_Apply):
    """``ATan.apply(x, alpha)``: spikes with the arc-tangent surrogate."""

    factory = staticmethod(atan)


class Heaviside(_Apply):
    """``Heaviside.apply(x)``: spikes whose gradient passes only where they fired."""

    factory = staticmethod(heaviside)


class Sigmoid(_Apply):
    """``Sigmoid.apply(x, slope)``: spikes with the sigmoid surrogate."""

    factory = staticmethod(sigmoid)


class SpikeRateEscape(_Apply):
    """``SpikeRateEscape.apply(x, beta, slope)``: spikes with the spike-rate-escape surrogate."""

    factory = staticmethod(spike_rate_escape)


class StochasticSpikeOperator(_Apply):
    """``StochasticSpikeOperator.apply(x, mean, variance)``: the stochastic spike operator."""

    factory = staticmethod(SSO)


class LeakySpikeOperator(_Apply):
    """``LeakySpikeOperator.apply(x, slope)``: the leaky spike operator."""

    factory = staticmethod(LSO)


class SparseFastSigmoid(_Apply):
    """``SparseFastSigmoid.apply(x, slope, B)``: the sparse fast sigmoid."""

    factory = staticmethod(SFS)


class CustomSurrogate(_Apply):
    """``CustomSurrogate.apply(x, fn)``: spikes with a custom ``fn(input_, grad_input, out)``."""

    factory = staticmethod(_custom_apply)
