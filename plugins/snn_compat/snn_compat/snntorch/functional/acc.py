"""``snntorch.functional.acc`` on :mod:`snncore.metrics` (0-d tensors instead of NumPy floats)."""

from __future__ import annotations

from typing import Any

from torch import Tensor

from snncore import metrics as _m

__all__ = ["accuracy_rate", "accuracy_temporal"]


def _classes(population_code: Any, num_classes: Any) -> Any:
    """snnTorch reads ``num_classes`` only with a population code (False means none)."""
    return (num_classes or None) if population_code is True else None


def accuracy_rate(spk_out: Tensor, targets: Tensor, population_code: bool = False,
                  num_classes: Any = False) -> Tensor:
    """Fraction of samples whose most active output (spike count over ``[T, B, C]``) is the
    target class."""
    return _m.accuracy_rate(spk_out, targets, population_code,
                            _classes(population_code, num_classes))


def accuracy_temporal(spk_out: Tensor, targets: Tensor) -> Tensor:
    """Fraction of samples whose first-firing output is the target class."""
    return _m.accuracy_temporal(spk_out, targets)
