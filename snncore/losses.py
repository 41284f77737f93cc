"""SNN losses on time-first records ``[T, B, C]`` (public namespace): ``snncore.losses``."""

from __future__ import annotations

from ._losses import (
    REDUCTIONS,
    CECountLoss,
    CEMaxMembraneLoss,
    CERateLoss,
    CETemporalLoss,
    MSECountLoss,
    MSEMembraneLoss,
    MSETemporalLoss,
    ce_count_loss,
    ce_max_membrane_loss,
    ce_rate_loss,
    ce_temporal_loss,
    first_spike_time,
    mse_count_loss,
    mse_membrane_loss,
    mse_temporal_loss,
    nth_spike_times,
    population_code,
    snap_spike_times,
)

__all__ = [
    "REDUCTIONS",
    "CERateLoss",
    "CECountLoss",
    "CEMaxMembraneLoss",
    "MSECountLoss",
    "MSEMembraneLoss",
    "MSETemporalLoss",
    "CETemporalLoss",
    "ce_rate_loss",
    "ce_count_loss",
    "ce_max_membrane_loss",
    "mse_count_loss",
    "mse_membrane_loss",
    "mse_temporal_loss",
    "ce_temporal_loss",
    "first_spike_time",
    "nth_spike_times",
    "population_code",
    "snap_spike_times",
]
