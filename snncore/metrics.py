"""Accuracy, activity regularizers and operation counters (public namespace)."""

from __future__ import annotations

from ._metrics import (
    FiringRateRegularizer,
    L1RateSparsity,
    LayerOps,
    OpCounter,
    accuracy_rate,
    accuracy_temporal,
    firing_rate,
    l1_rate_sparsity,
    spike_count,
)

__all__ = [
    "accuracy_rate",
    "accuracy_temporal",
    "spike_count",
    "firing_rate",
    "L1RateSparsity",
    "l1_rate_sparsity",
    "FiringRateRegularizer",
    "LayerOps",
    "OpCounter",
]
