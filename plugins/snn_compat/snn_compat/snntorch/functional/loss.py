"""``snntorch.functional.loss`` on :mod:`snncore.losses`.

The loss classes keep snnTorch's lower-case names and arguments (``SF.ce_rate_loss()``,
``SF.mse_count_loss(correct_rate=0.8, incorrect_rate=0.2)``) and are snncore's loss modules, so
``loss_fn(spk_rec, targets)`` on time-first records ``[T, B, C]`` gives snncore's values: the same
as snnTorch's without class weights (0-d tensors instead of shape ``(1,)``); the documented
differences warn once.
"""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from snncore import losses as _l

from ..._warn import warn_difference
from .acc import _classes

__all__ = [
    "LossFunctions", "ce_rate_loss", "ce_count_loss", "ce_max_membrane_loss", "mse_count_loss",
    "mse_membrane_loss", "mse_temporal_loss", "ce_temporal_loss", "SpikeTime",
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
        super().__init__(population_code, _classes(population_code, num_classes),
                         reduction, weight)


class ce_count_loss(LossFunctions, _l.CECountLoss):
    """Cross-entropy of the spike counts (summed over time)."""

    def __init__(self, population_code: bool = False, num_classes: Any = False,
                 reduction: str = "mean", weight: Tensor | None = None) -> None:
        self._compat_check_weight(weight, "ce_count_loss")
        super().__init__(population_code, _classes(population_code, num_classes),
                         reduction, weight)


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
        super().__init__(correct_rate, incorrect_rate, population_code,
                         _classes(population_code, num_classes),
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


class _FirstSpike:
    """``SpikeTime.FirstSpike.apply(spk_rec, device)``: first spike step of every neuron
    (``T - 1`` if silent), gradient ``-1`` at that step: :func:`snncore.losses.first_spike_time`."""

    @staticmethod
    def apply(spk_rec: Tensor, device: Any = "cpu") -> Tensor:
        return _l.first_spike_time(spk_rec)


class _MultiSpike:
    """``SpikeTime.MultiSpike.apply(spk_rec, spk_count, device)``: the first ``spk_count`` spike
    steps ``[F, ...]``: :func:`snncore.losses.nth_spike_times`."""

    @staticmethod
    def apply(spk_rec: Tensor, spk_count: int, device: Any = "cpu") -> Tensor:
        return _l.nth_spike_times(spk_rec, spk_count)


class _Tolerance:
    """``SpikeTime.Tolerance.apply(spk_time, target, tolerance)``: times within ``tolerance``
    of the target snap onto it, identity gradient: :func:`snncore.losses.snap_spike_times`."""

    @staticmethod
    def apply(spk_time: Tensor, target: Tensor, tolerance: float) -> Tensor:
        return _l.snap_spike_times(spk_time, target, tolerance)


class SpikeTime(nn.Module):
    """Spike records ``[T, B, N]`` to first spike times ``[B, N]`` (the first ``F`` times
    ``[F, B, N]`` with ``multi_spike``) and the target times they are compared with: the
    spike-time extraction of :mod:`snncore.losses` behind snnTorch's temporal losses.

    ``forward(spk_out, targets)`` returns ``(spike_times, target_times)``. Label targets ``[B]``
    become ``on_target`` for the labelled neuron and ``off_target`` for the others (lists of
    ``F`` times with ``multi_spike``); negative times count from the end (``-1`` is ``T - 1``).
    A silent neuron's time is ``T - 1``; the gradient is ``-1`` at each returned spike
    (:func:`snncore.losses.first_spike_time`). With ``tolerance`` a time within ``tolerance``
    steps of its target counts as the target (identity gradient).
    """

    FirstSpike = _FirstSpike
    MultiSpike = _MultiSpike
    Tolerance = _Tolerance

    def __init__(self, target_is_time: bool = False, on_target: Any = 0, off_target: Any = -1,
                 tolerance: float = 0, multi_spike: bool = False) -> None:
        super().__init__()
        # the same checks as snncore's temporal loss (tolerance >= 0, F on/off times)
        checked = _l.MSETemporalLoss(bool(target_is_time), on_target, off_target, tolerance,
                                     bool(multi_spike))
        self.target_is_time = bool(target_is_time)
        self.tolerance = checked.tolerance
        self.tolerance_fn = self.Tolerance.apply
        self.multi_spike = bool(multi_spike)
        if not self.target_is_time:
            self.on_target = on_target
            self.off_target = off_target
            offs = off_target if isinstance(off_target, (list, tuple)) else [off_target]
            if any(v < 0 for v in offs):
                warn_difference("functional.SpikeTime(off_target<0)",
                                "negative target times count from the end (the default "
                                "off_target=-1 is step T − 1); snnTorch's label conversion "
                                "turns them into 0", stacklevel=3)
        if self.multi_spike:
            warn_difference("functional.SpikeTime(multi_spike=True)",
                            "the F-th spike time of every neuron is its own F-th spike; "
                            "snnTorch's removes whole time steps between spikes (wrong times "
                            "once several neurons spike), and sums no repeated gradients",
                            stacklevel=3)
            self.first_spike_fn: Any = self.MultiSpike.apply
        else:
            self.first_spike_fn = self.FirstSpike.apply

    def forward(self, spk_out: Tensor, targets: Tensor) -> tuple[Tensor, Tensor]:
        rec = _l_check_record(spk_out)
        self.device = rec.device
        steps, num_outputs = rec.shape[0], rec.shape[-1]
        if not self.target_is_time:
            targets = self.labels_to_spike_times(targets, num_outputs).to(rec.dtype)
        elif not isinstance(targets, Tensor):
            raise TypeError("SpikeTime: with target_is_time=True, targets must be a tensor of "
                            f"spike times, got {type(targets).__name__}")
        targets = torch.where(targets < 0, targets + steps, targets)
        if self.multi_spike:
            self.spike_count = targets.size(0)
            times = self.first_spike_fn(rec, self.spike_count, self.device)
        else:
            times = self.first_spike_fn(rec, self.device)
        if self.tolerance:
            times = self.tolerance_fn(times, targets.to(times.dtype), self.tolerance)
        return times, targets

    def labels_to_spike_times(self, targets: Tensor, num_outputs: int) -> Tensor:
        """Labels ``[B]`` to target times ``[B, N]`` (``[F, B, N]`` with ``multi_spike``)."""
        if not self.multi_spike:
            return self.label_to_single_spike(targets, num_outputs)
        return self.label_to_multi_spike(targets, num_outputs)

    def label_to_single_spike(self, targets: Tensor, num_outputs: int) -> Tensor:
        """``on_target`` at the label, ``off_target`` elsewhere: ``[B, N]``."""
        hot = self._one_hot(targets, num_outputs)
        return hot * self.on_target + (1 - hot) * self.off_target

    def label_to_multi_spike(self, targets: Tensor, num_outputs: int) -> Tensor:
        """One ``[B, N]`` target per spike: ``[F, B, N]``."""
        if len(self.on_target) != len(self.off_target):
            raise IndexError(f"`on_target` (length: {len(self.on_target)}) must have the same "
                             f"length as `off_target` (length: {len(self.off_target)}).")
        hot = self._one_hot(targets, num_outputs)
        return torch.stack([hot * on + (1 - hot) * off
                            for on, off in zip(self.on_target, self.off_target, strict=True)])

    @staticmethod
    def _one_hot(targets: Any, num_outputs: int) -> Tensor:
        if (not isinstance(targets, Tensor) or targets.is_floating_point()
                or targets.is_complex() or targets.dim() != 1):
            raise TypeError("SpikeTime: label targets must be an integer tensor [B] of class "
                            f"indices, got {getattr(targets, 'dtype', type(targets).__name__)}")
        if targets.numel() and (int(targets.min()) < 0 or int(targets.max()) >= num_outputs):
            raise ValueError(f"SpikeTime: labels must lie in [0, {num_outputs}), got "
                             f"[{int(targets.min())}, {int(targets.max())}]")
        return F.one_hot(targets, num_outputs).to(torch.get_default_dtype())


def _l_check_record(spk_out: Any) -> Tensor:
    if not isinstance(spk_out, Tensor) or not spk_out.is_floating_point() or spk_out.dim() < 2:
        raise TypeError("SpikeTime: spk_out must be a floating-point spike record [T, B, N], got "
                        f"{getattr(spk_out, 'shape', type(spk_out).__name__)}")
    return spk_out
