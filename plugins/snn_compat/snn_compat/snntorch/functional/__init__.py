"""``snntorch.functional`` on snncore: losses, accuracy, regularizers, probes, quantization.

``import snn_compat.snntorch.functional as SF`` then ``SF.ce_rate_loss()``,
``SF.accuracy_rate(spk_rec, targets)``, ``SF.l1_rate_sparsity()``, ``SF.OutputMonitor(...)``.
``quant`` (``SF.quant.state_quant``) is a submodule as in snnTorch.
"""

from __future__ import annotations

from . import acc, loss, probe, quant, reg, stdp_learner
from .acc import accuracy_rate, accuracy_temporal
from .loss import (
    LossFunctions,
    SpikeTime,
    ce_count_loss,
    ce_max_membrane_loss,
    ce_rate_loss,
    ce_temporal_loss,
    mse_count_loss,
    mse_membrane_loss,
    mse_temporal_loss,
)
from .probe import (
    AttributeMonitor,
    BaseMonitor,
    GradInputMonitor,
    GradOutputMonitor,
    InputMonitor,
    OutputMonitor,
    unpack_len1_tuple,
)
from .reg import l1_rate_sparsity

__all__ = [
    "acc", "loss", "probe", "quant", "reg", "stdp_learner",
    "accuracy_rate", "accuracy_temporal",
    "LossFunctions", "ce_rate_loss", "ce_count_loss", "ce_max_membrane_loss", "mse_count_loss",
    "mse_membrane_loss", "mse_temporal_loss", "ce_temporal_loss", "SpikeTime",
    "l1_rate_sparsity",
    "unpack_len1_tuple", "BaseMonitor", "OutputMonitor", "InputMonitor", "AttributeMonitor",
    "GradInputMonitor", "GradOutputMonitor",
]
