"""``snntorch.spikegen`` on :mod:`snncore.encoders`.

Same signatures as snnTorch 1.0.0 (``num_steps=False`` means "not given"); every function calls
the snncore encoder of the same name. Same numbers as snnTorch except where
``docs/encoders.md`` lists a difference; the calls that hit one warn once.
"""

from __future__ import annotations

import warnings
from typing import Any

from torch import Tensor

from snncore import encoders as _e

from .._warn import warn_difference

__all__ = [
    "rate", "rate_conv", "latency", "latency_code", "latency_code_linear", "latency_code_log",
    "latency_interpolate", "delta", "to_one_hot", "to_one_hot_inverse", "from_one_hot",
    "target_rate_code", "rate_interpolate", "targets_rate", "targets_latency", "targets_convert",
]


def _steps(num_steps: Any) -> Any:
    return None if num_steps is False else num_steps


def _warn_off_target(fn: str, off_target: float) -> None:
    if isinstance(off_target, (int, float)) and off_target < 0:
        warn_difference(f"spikegen.{fn}(off_target<0)",
                        "off_target is the value written where there is no spike; snnTorch "
                        "uses it as a floor, so a negative off_target reads 0", stacklevel=4)


def rate(data: Tensor, num_steps: Any = False, gain: float = 1, offset: float = 0,
         first_spike_time: int = 0, time_var_input: bool = False) -> Tensor:
    """Rate (Bernoulli) code ``[num_steps, *data.shape]`` of ``data`` in [0, 1]."""
    if time_var_input and (gain != 1 or offset != 0):
        warn_difference("spikegen.rate(time_var_input=True, gain/offset)",
                        "gain and offset apply to time-varying input too; snnTorch ignores them")
    return _e.rate(data, _steps(num_steps), gain, offset, first_spike_time,
                   time_var_input=time_var_input)


def rate_conv(data: Tensor) -> Tensor:
    """One Bernoulli draw per element of ``data`` in [0, 1] (no time dimension added)."""
    return _e.rate_conv(data)


def latency(data: Tensor, num_steps: Any = False, threshold: float = 0.01, tau: float = 1,
            first_spike_time: int = 0, on_target: float = 1, off_target: float = 0,
            clip: bool = False, normalize: bool = False, linear: bool = False,
            interpolate: bool = False, bypass: bool = False, epsilon: float = 1e-7) -> Tensor:
    """Latency code: one spike per element, earlier for larger input."""
    _warn_off_target("latency", off_target)
    if interpolate and clip:
        warn_difference("spikegen.latency(interpolate=True, clip=True)",
                        "sub-threshold features stay at off_target; snnTorch ignores clip here")
    return _e.latency(data, _steps(num_steps), threshold, tau, first_spike_time, on_target,
                      off_target, clip, normalize, linear, interpolate, bypass, epsilon)


def latency_code(data: Tensor, num_steps: Any = False, threshold: float = 0.01,
                 tau: float = 1, first_spike_time: int = 0, normalize: bool = False,
                 linear: bool = False, epsilon: float = 1e-7) -> tuple[Tensor, Tensor]:
    """Spike times and the mask of sub-threshold features: ``(spike_time, idx)``."""
    return _e.latency_code(data, _steps(num_steps), threshold, tau, first_spike_time, normalize,
                           linear, epsilon)


def latency_code_linear(data: Tensor, num_steps: Any = False, threshold: float = 0.01,
                        tau: float = 1, first_spike_time: int = 0,
                        normalize: bool = False) -> Tensor:
    """Spike times of the linear latency code: ``t = clamp(−τ(x − 1), max=−τ(θ − 1)) + t0``."""
    return _e.latency_code_linear(data, _steps(num_steps), threshold, tau, first_spike_time,
                                  normalize)


def latency_code_log(data: Tensor, num_steps: Any = False, threshold: float = 0.01,
                     tau: float = 1, first_spike_time: int = 0, normalize: bool = False,
                     epsilon: float = 1e-7) -> Tensor:
    """Spike times of the logarithmic (RC) latency code: ``t = τ·ln(x / (x − θ)) + t0``."""
    return _e.latency_code_log(data, _steps(num_steps), threshold, tau, first_spike_time,
                               normalize, epsilon)


def latency_interpolate(spike_time: Tensor, num_steps: int, on_target: float = 1,
                        off_target: float = 0) -> Tensor:
    """Spike trains ``[num_steps, ...]`` ramping linearly towards each spike time."""
    return _e.latency_interpolate(spike_time, num_steps, on_target, off_target)


def delta(data: Tensor, threshold: float = 0.1, padding: bool = False,
          off_spike: bool = False) -> Tensor:
    """Delta modulation along time (dim 0): a spike where the input rose by ``threshold``."""
    return _e.delta(data, threshold, padding, off_spike)


def to_one_hot(targets: Tensor, num_classes: int) -> Tensor:
    """One-hot ``[B, num_classes]`` of integer ``targets`` ``[B]``."""
    return _e.to_one_hot(targets, num_classes)


def to_one_hot_inverse(one_hot_targets: Tensor) -> Tensor:
    """Class indices from one-hot targets (argmax over the last dimension, keeps it)."""
    return _e.to_one_hot_inverse(one_hot_targets)


def from_one_hot(one_hot_label: Tensor) -> Tensor:
    """The class index of each one-hot row."""
    warn_difference("spikegen.from_one_hot",
                    "returns the class index of each row (rows without exactly one non-zero "
                    "entry raise); snnTorch returns the positions of all ones in the batch")
    return _e.from_one_hot(one_hot_label)


def target_rate_code(num_steps: int, first_spike_time: int = 0, rate: float = 1,
                     firing_pattern: str = "regular") -> tuple[Tensor, Tensor]:
    """A spike train ``[num_steps]`` at ``rate`` and its spike times."""
    if firing_pattern == "uniform":
        warn_difference("spikegen.target_rate_code(firing_pattern='uniform')",
                        "draws distinct spike steps (snnTorch draws with replacement and loses "
                        "spikes to collisions)")
    return _e.target_rate_code(num_steps, first_spike_time, rate, firing_pattern)


def rate_interpolate(spike_time: Tensor, num_steps: int, on_target: float = 1,
                     off_target: float = 0, epsilon: float = 1e-7) -> Tensor:
    """Linear ramps between consecutive spike times."""
    return _e.rate_interpolate(spike_time, num_steps, on_target, off_target, epsilon)


def targets_rate(targets: Tensor, num_classes: int, num_steps: Any = False,
                 first_spike_time: int = 0, correct_rate: float = 1, incorrect_rate: float = 0,
                 on_target: float = 1, off_target: float = 0, firing_pattern: str = "regular",
                 interpolate: bool = False, epsilon: float = 1e-7) -> Tensor:
    """Rate-coded targets ``[num_steps, B, num_classes]``."""
    if correct_rate not in (0, 1) or incorrect_rate not in (0, 1):
        warn_difference("spikegen.targets_rate(rates other than 0/1)",
                        "the correct class fires at correct_rate and the others at "
                        "incorrect_rate; snnTorch fails with a shape error")
    _warn_off_target("targets_rate", off_target)
    return _e.targets_rate(targets, num_classes, _steps(num_steps), first_spike_time,
                           correct_rate, incorrect_rate, on_target, off_target, firing_pattern,
                           interpolate, epsilon)


def targets_latency(targets: Tensor, num_classes: int, num_steps: Any = False,
                    first_spike_time: int = 0, on_target: float = 1, off_target: float = 0,
                    interpolate: bool = False, threshold: float = 0.01, tau: float = 1,
                    clip: bool = False, normalize: bool = False, linear: bool = False,
                    epsilon: float = 1e-7, bypass: bool = False) -> Tensor:
    """Latency-coded targets ``[num_steps, B, num_classes]``."""
    _warn_off_target("targets_latency", off_target)
    return _e.targets_latency(targets, num_classes, _steps(num_steps), first_spike_time,
                              on_target, off_target, interpolate, threshold, tau, clip,
                              normalize, linear, epsilon, bypass)


def targets_convert(targets: Tensor, num_classes: int, code: str = "rate",
                    num_steps: Any = False, first_spike_time: int = 0, correct_rate: float = 1,
                    incorrect_rate: float = 0, on_target: float = 1, off_target: float = 0,
                    firing_pattern: str = "regular", interpolate: bool = False,
                    epsilon: float = 1e-7, threshold: float = 0.01, tau: float = 1,
                    clip: bool = False, normalize: bool = False, linear: bool = False,
                    bypass: bool = False) -> Tensor:
    """``targets_rate`` (``code="rate"``) or ``targets_latency`` (``code="latency"``)."""
    if code == "rate":
        return targets_rate(targets, num_classes, num_steps, first_spike_time, correct_rate,
                            incorrect_rate, on_target, off_target, firing_pattern, interpolate,
                            epsilon)
    if code == "latency":
        # snnTorch 1.0.0 passes only these on to targets_latency: the others keep their defaults
        ignored = [name for name, value, default in (
            ("on_target", on_target, 1), ("off_target", off_target, 0),
            ("interpolate", interpolate, False), ("epsilon", epsilon, 1e-7))
            if value != default]
        if ignored:
            warnings.warn(f"targets_convert(code='latency') ignores {', '.join(ignored)}, as "
                          "snnTorch 1.0.0 does; call targets_latency(...) to use them",
                          UserWarning, stacklevel=2)
        return targets_latency(targets, num_classes, num_steps, first_spike_time,
                               threshold=threshold, tau=tau, clip=clip, normalize=normalize,
                               linear=linear, bypass=bypass)
    raise ValueError(f"targets_convert: code must be 'rate' or 'latency', got {code!r}")
