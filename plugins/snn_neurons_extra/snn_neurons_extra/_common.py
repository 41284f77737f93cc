"""Small helpers shared by the neuron models of this package."""

from __future__ import annotations

import itertools
from typing import Any

import torch
from torch import nn

__all__ = ["kernel_pair", "call_in_dtype"]


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

