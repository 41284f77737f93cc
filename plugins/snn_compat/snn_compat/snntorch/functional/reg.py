"""``snntorch.functional.reg`` on :mod:`snncore.metrics`."""

from __future__ import annotations

from snncore import metrics as _m

__all__ = ["l1_rate_sparsity"]


class l1_rate_sparsity(_m.L1RateSparsity):
    """L1 penalty ``Lambda · Σ spikes`` on a spike record (``reg_fn(spk_rec)``)."""
