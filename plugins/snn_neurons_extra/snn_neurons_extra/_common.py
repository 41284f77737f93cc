"""Small helpers shared by the neuron models of this package."""

from __future__ import annotations

import itertools
import math
from typing import Any

import torch
from torch import nn

__all__ = ["check_bool", "check_positive_int", "check_number", "kernel_pair", "call_in_dtype"]


def call_in_dtype(module: nn.Module, dtype: torch.dtype, *args: Any) -> Any:
    """``module(*args)`` computed in ``dtype``: a layer built in float32 (an ``nn.Linear``, an
    ``nn.LSTMCell``) used on float64 input runs with its weights cast to float64 for the call
    (gradients flow back to the stored weights), so that a neuron's outputs and states have the
    input's dtype as documented."""
    first = next(module.parameters(), None)
    if first is None or first.dtype == dtype:
        return module(*args)
    tensors = {name: t.to(dtype) if t.is_floating_point() else t
               for name, t in itertools.chain(module.named_parameters(),
                                              module.named_buffers())}
    return torch.func.functional_call(module, tensors, args)


def check_bool(owner: str, name: str, value: Any) -> bool:
    """``value`` if it is a bool, else a TypeError naming ``name``."""
    if not isinstance(value, bool):
        raise TypeError(f"{owner}: {name} must be a bool, got {value!r}")
    return value


def check_positive_int(owner: str, name: str, value: Any) -> int:
    """``value`` if it is an int >= 1, else a TypeError/ValueError naming ``name``."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"{owner}: {name} must be an int >= 1, got {value!r}")
    if value < 1:
        raise ValueError(f"{owner}: {name} must be an int >= 1, got {value}")
    return value


def check_number(owner: str, name: str, value: Any, *, positive: bool = False) -> float:
    """``value`` as a finite float (``> 0`` if ``positive``), else a clear error."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise TypeError(f"{owner}: {name} must be a number, got {value!r}")
    if not math.isfinite(value) or (positive and value <= 0):
        need = "a finite number > 0" if positive else "a finite number"
        raise ValueError(f"{owner}: {name} must be {need}, got {value!r}")
    return float(value)


def kernel_pair(owner: str, kernel_size: Any) -> tuple[int, int]:
    """A 2-D kernel size with odd sides (so ``padding = k // 2`` keeps the spatial shape)."""
    if isinstance(kernel_size, int) and not isinstance(kernel_size, bool):
        pair = (kernel_size, kernel_size)
    elif (isinstance(kernel_size, tuple) and len(kernel_size) == 2
          and all(isinstance(k, int) and not isinstance(k, bool) for k in kernel_size)):
        pair = (kernel_size[0], kernel_size[1])
    else:
        raise TypeError(
            f"{owner}: kernel_size must be an int or a pair of ints, got {kernel_size!r}"
        )
    if min(pair) < 1 or pair[0] % 2 == 0 or pair[1] % 2 == 0:
        raise ValueError(
            f"{owner}: kernel_size must be odd (padding k // 2 keeps the spatial shape only "
            f"for odd k), got {kernel_size!r}"
        )
    return pair

