r"""State quantization: snap neuron states onto a fixed set of levels, straight-through backward.

``state_quant(num_bits=8, ...)`` builds a :class:`StateQuant` module, usable as any neuron's
``state_quant=`` argument::

    lif = snn.Leaky(beta=0.9, state_quant=snn.state_quant(num_bits=4))
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
from torch import Tensor, nn

from ._validate import check_int, check_number

__all__ = ["StateQuant", "state_quant", "quant_levels", "DEFAULT_MULTIPLIERS"]

#: snnTorch's default spacing ratio per bit width for non-uniform levels (8 bits and more: 0.95).
DEFAULT_MULTIPLIERS = {1: 0.05, 2: 0.1, 3: 0.3, 4: 0.5, 5: 0.7, 6: 0.9, 7: 0.925}


def _geometric(
    start: float, span: float, count: int, m: float, ascending_steps: bool
) -> list[float]:
    """``count`` levels stepping over ``span`` with steps proportional to powers of ``m``.

    Below the centre (``ascending_steps=False``) the list starts at ``start`` and steps shrink
    (largest step first, levels crowd towards the centre); above it the list starts one step
    past ``start`` and steps grow (levels crowd near the centre, the last one at
    ``start + span``).
    """
    powers = [m**j for j in range(count)]
    room = sum(reversed(powers)) / span
    out: list[float] = []
    value = start
    if ascending_steps:
        for p in reversed(powers):
            value += p / room
            out.append(value)
    else:
        for p in powers:
            out.append(value)
            value += p / room
    return out


def quant_levels(
    num_bits: int = 8,
    uniform: bool = True,
    thr_centered: bool = True,
    threshold: float = 1.0,
    lower_limit: float = 0.0,
    upper_limit: float = 0.2,
    multiplier: float | None = None,
) -> Tensor:
    r"""The :math:`2^{\text{num\_bits}}` ascending levels of :func:`state_quant`.

    The range is :math:`[-\theta(1 + \text{lower\_limit}),\ \theta(1 + \text{upper\_limit})]`.
    Uniform levels are evenly spaced over it. Non-uniform levels split it at a centre (the
    threshold with ``thr_centered``, else 0) in proportion to the two sides' lengths and space
    each side geometrically with ratio ``multiplier``, densest next to the centre.
    """
    fn = "state_quant"
    bits = check_int(num_bits, "num_bits", fn, low=1)
    assert bits is not None
    if bits > 16:
        raise ValueError(f"{fn}: num_bits must be <= 16, got {bits}")
    thr = check_number(threshold, "threshold", fn)
    if thr <= 0:
        raise ValueError(f"{fn}: threshold must be > 0, got {thr:g}")
    lo_lim = check_number(lower_limit, "lower_limit", fn)
    hi_lim = check_number(upper_limit, "upper_limit", fn)
    if lo_lim < 0 or hi_lim < 0:
        raise ValueError(
            f"{fn}: lower_limit and upper_limit must be >= 0, got {lo_lim:g} and {hi_lim:g}"
        )
    n = 2**bits
    max_val = thr + thr * hi_lim
    min_val = -(thr + thr * lo_lim)
    if uniform:
        return torch.linspace(-thr - thr * lo_lim, thr + thr * hi_lim, n)
    if multiplier is None:
        m = DEFAULT_MULTIPLIERS.get(bits, 0.95)
    else:
        m = check_number(multiplier, "multiplier", fn)
        if m <= 0:
            raise ValueError(f"{fn}: multiplier must be > 0, got {m:g}")
    centre = thr if thr_centered else 0.0
    lower_range = centre - min_val
    upper_range = max_val - centre
    lower_count = math.floor(n * (lower_range / (max_val - min_val)))
    upper_count = n - lower_count
    if thr_centered and upper_range == 0 and upper_count:
        raise ValueError(f"{fn}: thr_centered non-uniform levels need upper_limit > 0")
    levels: list[float] = []
    if lower_count:
        levels += _geometric(min_val, lower_range, lower_count, m, ascending_steps=False)
    if upper_count:
        levels += _geometric(centre, upper_range, upper_count, m, ascending_steps=True)
    return torch.tensor(levels)


class StateQuant(nn.Module):
    r"""Snap every element to the nearest level: :math:`q(x) = \arg\min_{l \in L} |x - l|`
    (ties to the lower level); the backward pass is the identity (straight-through).

    Args:
        levels: the allowed values (any order; duplicates removed).

    Shape:
        Any; output has the input's shape and dtype.

    Attributes:
        levels: sorted levels (a buffer, so it follows ``.to(device)``).
    """

    levels: Tensor

    def __init__(self, levels: Tensor | Sequence[float]) -> None:
        super().__init__()
        t = torch.as_tensor(levels, dtype=torch.get_default_dtype()) \
            if not isinstance(levels, Tensor) else levels.detach().clone()
        if t.dim() != 1 or t.numel() < 1:
            raise ValueError("StateQuant: levels must be a non-empty 1-D sequence of numbers")
        if not t.is_floating_point():
            t = t.to(torch.get_default_dtype())
        if not bool(torch.isfinite(t).all()):
            raise ValueError("StateQuant: levels must be finite")
        self.register_buffer("levels", torch.unique(t))  # sorted

    def forward(self, x: Tensor) -> Tensor:
        levels = self.levels.to(dtype=x.dtype, device=x.device)
        if levels.numel() == 1:
            q = levels.expand_as(x)
        else:
            mids = (levels[1:] + levels[:-1]) / 2
            q = levels[torch.bucketize(x.detach(), mids)]
        return q + (x - x.detach())

    def extra_repr(self) -> str:
        lv = self.levels
        return f"{lv.numel()} levels in [{lv[0].item():g}, {lv[-1].item():g}]"


def state_quant(
    num_bits: int = 8,
    uniform: bool = True,
    thr_centered: bool = True,
    threshold: float = 1.0,
    lower_limit: float = 0.0,
    upper_limit: float = 0.2,
    multiplier: float | None = None,
    levels: Tensor | Sequence[float] | None = None,
) -> StateQuant:
    r"""A state quantizer with :math:`2^{\text{num\_bits}}` levels (snnTorch's levels), or with
    the given ``levels``; straight-through gradient.

    Args:
        num_bits: bits per state, 1..16. Default: 8.
        uniform: evenly spaced levels; otherwise geometric spacing, densest near the centre.
            Default: True.
        thr_centered: centre non-uniform levels on the threshold (else on 0). Default: True.
        threshold: :math:`\theta` (> 0), should match the neuron's threshold. Default: 1.0.
        lower_limit: range below :math:`-\theta`, as a fraction of :math:`\theta` (>= 0).
            Default: 0.0.
        upper_limit: range above :math:`\theta`, as a fraction of :math:`\theta` (>= 0).
            Default: 0.2.
        multiplier: ratio between neighbouring non-uniform steps (> 0). Default: by bit width,
            as in snnTorch (0.05 for 1 bit ... 0.95 for 8 bits and more).
        levels: explicit levels; overrides every other argument. Default: None.

    Example::

        >>> q = state_quant(num_bits=4, uniform=False)
        >>> lif = snn.Leaky(beta=0.9, state_quant=q)
    """
    if levels is not None:
        return StateQuant(levels)
    return StateQuant(quant_levels(num_bits, uniform, thr_centered, threshold, lower_limit,
                                   upper_limit, multiplier))
