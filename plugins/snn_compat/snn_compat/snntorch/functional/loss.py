"""``snntorch.functional.loss`` on :mod:`snncore.losses`.

The loss classes keep snnTorch's lower-case names and arguments (``SF.ce_rate_loss()``,
``SF.mse_count_loss(correct_rate=0.8, incorrect_rate=0.2)``) and are snncore's loss modules, so
``loss_fn(spk_rec, targets)`` on time-first records ``[T, B, C]`` gives snncore's values: the same
as snnTorch's without class weights (0-d tensors instead of shape ``(1,)``); the documented
differences warn once.
"""

from __future__ import annotations

from typing import Any

from torch import Tensor

from snncore import losses as _l

from ..._warn import warn_difference

__all__ = [
    "LossFunctions", "ce_rate_loss", "ce_count_loss", "ce_max_membrane_loss", "mse_count_loss",
    "mse_membrane_loss", "mse_temporal_loss", "ce_temporal_loss",
]

_DIFF_WEIGHT = ("with weight, 'mean' is Σ w_y·l / Σ w_y (torch's convention) and each element "
                "of sample i is weighted by w[y_i]; snnTorch's mean(w_y·l) or a broadcast error")


class LossFunctions:
    """Marker base of the compat losses (snnTorch's ``LossFunctions``): ``isinstance`` checks
    work; the computation is snncore's loss module the class also derives from."""

    def _compat_check_weight(self, weight: Any, name: str) -> None:
        if weight is not None:
            warn_difference(f"functional.{name}(weight=...)", _DIFF_WEIGHT, stacklevel=4)


class ce_rate_loss(LossFunctions, _l.CERateLoss):
    """Cross-entropy of the log-softmax of the output at every step, summed over steps."""

    def __init__(self, population_code: bool = False, num_classes: Any = False,
                 reduction: str = "mean", weight: Tensor | None = None) -> None:
        self._compat_check_weight(weight, "ce_rate_loss")
        if population_code:
            warn_difference("functional.ce_rate_loss(population_code=True)",
                            "the groups are summed before the cross-entropy; snnTorch fails "
                            "without weight and ignores the groups", stacklevel=3)
        super().__init__(population_code, num_classes or None, reduction, weight)


class ce_count_loss(LossFunctions, _l.CECountLoss):
    """Cross-entropy of the spike counts (summed over time)."""

    def __init__(self, population_code: bool = False, num_classes: Any = False,
                 reduction: str = "mean", weight: Tensor | None = None) -> None:
        self._compat_check_weight(weight, "ce_count_loss")
        super().__init__(population_code, num_classes or None, reduction, weight)


class ce_max_membrane_loss(LossFunctions, _l.CEMaxMembraneLoss):
    """Cross-entropy of the maximum membrane potential over time."""

    def __init__(self, reduction: str = "mean", weight: Tensor | None = None) -> None:
        self._compat_check_weight(weight, "ce_max_membrane_loss")
        super().__init__(reduction, weight)


class mse_count_loss(LossFunctions, _l.MSECountLoss):
    """Squared error between spike counts and ``T·correct_rate`` / ``T·incorrect_rate``."""

    def __init__(self, correct_rate: float = 1, incorrect_rate: float = 0,
                 population_code: bool = False, num_classes: Any = False,
                 reduction: str = "mean", weight: Tensor | None = None) -> None:
        self._compat_check_weight(weight, "mse_count_loss")
        if correct_rate not in (0, 1) or incorrect_rate not in (0, 1):
            warn_difference("functional.mse_count_loss(fractional rates)",
                            "target counts are T·rate exactly; snnTorch truncates them to "
                            "integers (int(T·rate))", stacklevel=3)
        super().__init__(correct_rate, incorrect_rate, population_code, num_classes or None,
                         reduction, weight)


class mse_membrane_loss(LossFunctions, _l.MSEMembraneLoss):
    """Squared error between the membrane at every step and ``on_target``/``off_target``."""

    def __init__(self, time_var_targets: bool = False, on_target: float = 1,
                 off_target: float = 0, reduction: str = "mean",
                 weight: Tensor | None = None) -> None:
        self._compat_check_weight(weight, "mse_membrane_loss")
        if time_var_targets:
            warn_difference("functional.mse_membrane_loss(time_var_targets=True)",
                            "float targets [T, B, C] are used per step; snnTorch indexes the "
                            "batch with the time step", stacklevel=3)
        if isinstance(off_target, (int, float)) and off_target < 0:
            warn_difference("functional.mse_membrane_loss(off_target<0)",
                            "off_target is the target value of the other classes; snnTorch uses "
                            "it as a floor, so a negative off_target reads 0", stacklevel=3)
        self.time_var_targets = bool(time_var_targets)
        super().__init__(on_target, off_target, reduction, weight)


class mse_temporal_loss(LossFunctions, _l.MSETemporalLoss):
    """Squared error between first-spike times and target times (both divided by ``T``)."""

    def __init__(self, target_is_time: bool = False, on_target: Any = 0, off_target: Any = -1,
                 tolerance: float = 0, multi_spike: bool = False, reduction: str = "mean",
                 weight: Tensor | None = None) -> None:
        self._compat_check_weight(weight, "mse_temporal_loss")
        if not target_is_time:
            warn_difference("functional.mse_temporal_loss(label targets)",
                            "negative target times count from the end, so by default the "
                            "correct class targets step 0 and the others step T − 1; snnTorch's "
                            "defaults collapse every target to 0", stacklevel=3)
        super().__init__(target_is_time, on_target, off_target, tolerance, multi_spike,
                         reduction, weight)


class ce_temporal_loss(LossFunctions, _l.CETemporalLoss):
    """Cross-entropy of the (negated or inverted) first-spike times."""

    def __init__(self, inverse: str = "negate", reduction: str = "mean",
                 weight: Tensor | None = None) -> None:
        self._compat_check_weight(weight, "ce_temporal_loss")
        super().__init__(inverse, reduction, weight)
