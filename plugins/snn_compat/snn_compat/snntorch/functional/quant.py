"""``snntorch.functional.quant`` on snncore's state quantization."""

from __future__ import annotations

from typing import Any

from torch import Tensor

import snncore

__all__ = ["state_quant", "StateQuant"]


def state_quant(num_bits: int = 8, uniform: bool = True, thr_centered: bool = True,
                threshold: float = 1, lower_limit: float = 0, upper_limit: float = 0.2,
                multiplier: Any = None) -> snncore.StateQuant:
    """A quantizer of neuron states onto ``2**num_bits`` levels (pass it as ``state_quant=``);
    the straight-through estimator carries the gradient."""
    return snncore.state_quant(num_bits, uniform, thr_centered, threshold, lower_limit,
                               upper_limit, multiplier)


class StateQuant:
    """snnTorch's ``StateQuant.apply(input_, levels)`` convention: ``input_`` rounded to the
    nearest of ``levels`` (straight-through gradient)."""

    def __init__(self) -> None:
        raise TypeError("StateQuant is used as StateQuant.apply(input_, levels)")

    @staticmethod
    def apply(input_: Tensor, levels: Any) -> Tensor:
        """``input_`` mapped to the nearest entry of ``levels``."""
        return snncore.StateQuant(levels)(input_)
