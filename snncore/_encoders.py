r"""Spike encoders: turn static or time-varying data into time-first spike trains ``[T, ...]``.

Plain functions (``rate``, ``latency``, ``delta``, ...) and small :class:`torch.nn.Module`
wrappers (``Rate``, ``Latency``, ...) that the encoder registry hands out
(``snn.encoder("rate", num_steps=25)``). Every stochastic encoder takes a ``generator=`` so that
spikes are reproducible.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor, nn

from ._validate import as_float as _float
from ._validate import check_bool as _check_bool
from ._validate import check_int as _check_int
from ._validate import check_number as _check_number
from ._validate import check_tensor as _check_tensor
from ._validate import check_unit as _check_unit

__all__ = [
    "rate",
    "rate_conv",
    "latency",
    "latency_code",
    "latency_code_linear",
    "latency_code_log",
    "latency_interpolate",
    "delta",
    "population",
    "poisson",
    "to_one_hot",
    "to_one_hot_inverse",
    "from_one_hot",
    "target_rate_code",
    "rate_interpolate",
    "targets_rate",
    "targets_latency",
    "targets_convert",
    "FIRING_PATTERNS",
    "Rate",
    "RateConv",
    "Latency",
    "Delta",
    "Population",
    "Poisson",
    "BUILTIN_ENCODERS",
]

FIRING_PATTERNS = ("regular", "uniform", "poisson")


def _check_first_spike_time(first_spike_time: Any, num_steps: int | None, fn: str) -> int:
    fst = _check_int(first_spike_time, "first_spike_time", fn)
    assert fst is not None
    if num_steps is not None and fst >= num_steps:
        raise ValueError(
            f"{fn}: first_spike_time must be < num_steps ({num_steps}), got {fst}"
        )
    return fst


def _check_pattern(firing_pattern: Any, fn: str) -> str:
    if not isinstance(firing_pattern, str) or firing_pattern.lower() not in FIRING_PATTERNS:
        raise ValueError(
            f"{fn}: firing_pattern must be one of {FIRING_PATTERNS}, got {firing_pattern!r}"
        )
    return firing_pattern.lower()


# -- rate coding --------------------------------------------------------------------------------
def rate_conv(data: Tensor, *, generator: torch.Generator | None = None) -> Tensor:
    r"""Bernoulli spikes with probability ``data``: :math:`S \sim \mathrm{Bernoulli}(p)`.

    Args:
        data: firing probabilities in [0, 1], any shape (time-first if time-varying).
        generator: random generator for reproducible spikes. Default: None (global RNG).

    Shape:
        Output has the shape and (floating) dtype of ``data``.

    Example::

        >>> spikes = rate_conv(torch.full((25, 8), 0.3))
    """
    fn = "rate_conv"
    data = _float(_check_tensor(data, "data", fn))
    _check_unit(data, "data", fn)
    return torch.bernoulli(data, generator=generator)


def rate(
    data: Tensor,
    num_steps: int | None = None,
    gain: float = 1.0,
    offset: float = 0.0,
    first_spike_time: int = 0,
    *,
    time_var_input: bool = False,
    generator: torch.Generator | None = None,
) -> Tensor:
    r"""Rate coding: Bernoulli spikes with :math:`p = \mathrm{clamp}(d\cdot\text{gain} +
    \text{offset}, 0, 1)` at every step, zero before ``first_spike_time``.

    Args:
        data: intensities in [0, 1]. Static data of any shape (``num_steps`` required), or, with
            ``time_var_input=True``, time-first data ``[T, ...]`` sampled step by step.
        num_steps: number of steps ``T`` (int >= 1) for static data; must be None for
            time-varying data. Default: None.
        gain: multiplies the intensities. Default: 1.0.
        offset: added after ``gain``. Default: 0.0.
        first_spike_time: steps at the start that stay silent; for static data it must be
            ``< num_steps``, for time-varying data that many zero steps are prepended. Default: 0.
        time_var_input: treat ``data`` as already time-first. Default: False.
        generator: random generator for reproducible spikes, on ``data``'s device.
            Default: None.

    Shape:
        - static: ``data (*)`` -> ``(num_steps, *)``
        - time-varying: ``data (T, *)`` -> ``(first_spike_time + T, *)``

    Example::

        >>> spk = rate(torch.rand(8, 784), num_steps=25)          # [25, 8, 784]
    """
    fn = "rate"
    data = _float(_check_tensor(data, "data", fn))
    gain = _check_number(gain, "gain", fn)
    offset = _check_number(offset, "offset", fn)
    if not isinstance(time_var_input, bool):
        raise TypeError(f"{fn}: time_var_input must be a bool, got {time_var_input!r}")
    _check_unit(data, "data", fn)
    if time_var_input:
        if num_steps is not None:
            raise ValueError(
                f"{fn}: num_steps must be None when time_var_input=True (the first dimension of "
                f"data is time), got {num_steps!r}"
            )
        if data.dim() < 1:
            raise ValueError(f"{fn}: time-varying data must be time-first [T, ...], got a scalar")
        fst = _check_first_spike_time(first_spike_time, None, fn)
        p = (data * gain + offset).clamp(0.0, 1.0)
        spk = torch.bernoulli(p, generator=generator)
        if fst:
            spk = torch.cat([spk.new_zeros((fst, *spk.shape[1:])), spk])
        return spk
    if num_steps is None:
        raise ValueError(
            f"{fn}: num_steps (int >= 1) is required for static data; pass time_var_input=True "
            "if data is already time-first"
        )
    steps = _check_int(num_steps, "num_steps", fn, low=1)
    assert steps is not None
    fst = _check_first_spike_time(first_spike_time, steps, fn)
    p = (data * gain + offset).clamp(0.0, 1.0)
    p = p.unsqueeze(0).expand(steps, *data.shape).contiguous()
    spk = torch.bernoulli(p, generator=generator)
    if fst:
        spk[:fst] = 0
    return spk


# -- latency coding -----------------------------------------------------------------------------
def _check_latency_args(
    data: Tensor, num_steps: Any, threshold: Any, tau: Any, first_spike_time: Any, fn: str,
    *, bypass: bool = False, normalize: bool = False,
) -> tuple[int | None, float, float, int]:
    _check_unit(data, "data", fn)
    threshold = _check_number(threshold, "threshold", fn)
    if not 0 < threshold < 1:
        raise ValueError(f"{fn}: threshold must be in (0, 1), got {threshold:g}")
    tau = _check_number(tau, "tau", fn)
    if tau <= 0:
        raise ValueError(f"{fn}: tau must be > 0, got {tau:g}")
    steps = _check_int(num_steps, "num_steps", fn, low=1, optional=True)
    if steps is None and not bypass:
        raise ValueError(
            f"{fn}: num_steps (int >= 1) is required; or pass bypass=True to size the window "
            "from the latest spike"
        )
    if steps is None and normalize:
        raise ValueError(f"{fn}: normalize=True needs num_steps (int >= 1)")
    fst = _check_first_spike_time(first_spike_time, steps, fn)
    return steps, threshold, tau, fst


def _check_epsilon(epsilon: Any, fn: str) -> float:
    eps = _check_number(epsilon, "epsilon", fn)
    if not eps > 0:
        raise ValueError(f"{fn}: epsilon must be a finite number > 0 (it keeps the log code "
                         f"finite at the threshold), got {epsilon!r}")
    return eps


def latency_code(
    data: Tensor,
    num_steps: int | None = None,
    threshold: float = 0.01,
    tau: float = 1.0,
    first_spike_time: int = 0,
    normalize: bool = False,
    linear: bool = False,
    epsilon: float = 1e-7,
) -> tuple[Tensor, Tensor]:
    r"""Spike times (real-valued) of the latency code, and the mask of sub-threshold features.

    Log code: :math:`t = \tau \ln\frac{d}{d - \vartheta}` with :math:`d = \max(x, \vartheta +
    \epsilon)`; linear code: :math:`t = \min(\tau(1 - x), \tau(1 - \vartheta))`. Both are
    shifted by ``first_spike_time``. ``normalize`` stretches the codes over the window: the
    linear code uses
    :math:`\tau = T - 1 - t_0`; the log code is rescaled so that the latest feature lands on
    step :math:`T - 1`.

    Args:
        data: intensities in [0, 1].
        num_steps: window length (needed with ``normalize``). Default: None.
        threshold: :math:`\vartheta` in (0, 1). Default: 0.01.
        tau: time constant (> 0). Default: 1.0.
        first_spike_time: :math:`t_0`, earliest spike step (>= 0, < num_steps). Default: 0.
        normalize: stretch to the window. Default: False.
        linear: linear instead of log code. Default: False.
        epsilon: keeps the log finite at the threshold. Default: 1e-7.

    Returns:
        ``(spike_time, below_threshold)``, both shaped like ``data``.
    """
    fn = "latency_code"
    data = _float(_check_tensor(data, "data", fn))
    _check_bool(normalize, "normalize", fn)
    _check_bool(linear, "linear", fn)
    epsilon = _check_epsilon(epsilon, fn)
    steps, threshold, tau, fst = _check_latency_args(
        data, num_steps, threshold, tau, first_spike_time, fn, bypass=True, normalize=normalize)
    below = data < threshold
    if linear:
        if normalize:
            assert steps is not None
            tau = steps - 1 - fst
        t = torch.clamp_max(-tau * (data - 1), -tau * (threshold - 1)) + fst
    else:
        d = torch.clamp(data, min=threshold + epsilon)
        t = tau * torch.log(d / (d - threshold))
        if fst > 0:
            t = t + fst
        if normalize:
            assert steps is not None
            t = (t - fst) * (steps - fst - 1) / torch.max(t - fst) + fst
    return t, below


def latency_code_linear(
    data: Tensor,
    num_steps: int | None = None,
    threshold: float = 0.01,
    tau: float = 1.0,
    first_spike_time: int = 0,
    normalize: bool = False,
) -> Tensor:
    r"""Spike times of the linear latency code: :math:`t = \min(\tau(1 - x), \tau(1 -
    \vartheta)) + t_0` (with ``normalize``, :math:`\tau = T - 1 - t_0`). Arguments as
    :func:`latency_code`; returns the spike times shaped like ``data``."""
    return latency_code(data, num_steps, threshold, tau, first_spike_time, normalize, True)[0]


def latency_code_log(
    data: Tensor,
    num_steps: int | None = None,
    threshold: float = 0.01,
    tau: float = 1.0,
    first_spike_time: int = 0,
    normalize: bool = False,
    epsilon: float = 1e-7,
) -> Tensor:
    r"""Spike times of the logarithmic (RC-circuit) latency code:
    :math:`t = \tau \ln\frac{d}{d - \vartheta} + t_0`, :math:`d = \max(x, \vartheta +
    \epsilon)`. Arguments as :func:`latency_code`; returns the spike times shaped like
    ``data``."""
    return latency_code(data, num_steps, threshold, tau, first_spike_time, normalize, False,
                        epsilon)[0]


def latency_interpolate(
    spike_time: Tensor, num_steps: int, on_target: float = 1.0, off_target: float = 0.0
) -> Tensor:
    r"""Ramp targets that rise linearly from ``off_target`` at step 0 to ``on_target`` at each
    feature's (rounded) spike time, and are ``off_target`` after it.

    A feature whose rounded spike time is 0 is ``on_target`` at step 0; spike times beyond the
    window give ``off_target`` throughout.

    Shape:
        ``spike_time (*)`` -> ``(num_steps, *)``
    """
    fn = "latency_interpolate"
    spike_time = _float(_check_tensor(spike_time, "spike_time", fn))
    steps = _check_int(num_steps, "num_steps", fn, low=1)
    assert steps is not None
    on = _check_number(on_target, "on_target", fn)
    off = _check_number(off_target, "off_target", fn)
    if on < off:
        raise ValueError(f"{fn}: on_target ({on:g}) must be >= off_target ({off:g})")
    st = torch.round(spike_time)
    at_zero = st == 0
    st = torch.where((st > steps) | at_zero, torch.full_like(st, 0.5), st)
    k = torch.arange(steps, dtype=st.dtype, device=st.device).reshape(-1, *([1] * st.dim()))
    ratio = k / st
    if bool(at_zero.any()):
        ratio[0] = at_zero.to(st.dtype)
    out = ratio * (on - off) + off
    return torch.where(out > on, torch.full_like(out, off), out)


def latency(
    data: Tensor,
    num_steps: int | None = None,
    threshold: float = 0.01,
    tau: float = 1.0,
    first_spike_time: int = 0,
    on_target: float = 1.0,
    off_target: float = 0.0,
    clip: bool = False,
    normalize: bool = False,
    linear: bool = False,
    interpolate: bool = False,
    bypass: bool = False,
    epsilon: float = 1e-7,
) -> Tensor:
    r"""Latency coding: one spike per feature at step :math:`\mathrm{round}(t)`, brighter
    features earlier (see :func:`latency_code` for :math:`t`).

    Args:
        data: intensities in [0, 1], any shape.
        num_steps: window length ``T`` (int >= 1); may be None with ``bypass``. Default: None.
        threshold: :math:`\vartheta` in (0, 1); features below it fire last. Default: 0.01.
        tau: time constant (> 0). Default: 1.0.
        first_spike_time: earliest spike step (0 <= value < num_steps). Default: 0.
        on_target: value written where a spike is. Default: 1.0.
        off_target: value written everywhere else (a value, not a floor). Default: 0.0.
        clip: drop the spikes of sub-threshold features. Default: False.
        normalize: stretch the code over the window. Default: False.
        linear: linear instead of log code. Default: False.
        interpolate: ramp targets instead of spikes (:func:`latency_interpolate`). Default: False.
        bypass: allow spikes past the window (they are dropped), or size the window from the
            latest spike when ``num_steps`` is None. Default: False.
        epsilon: keeps the log finite at the threshold. Default: 1e-7.

    Shape:
        ``data (*)`` -> ``(T, *)``; dtype of ``data`` (float).

    Example::

        >>> latency(torch.tensor([0.02, 0.5, 1.0]), num_steps=5, normalize=True, linear=True)
        ... # spikes at steps 4, 2 and 0
    """
    fn = "latency"
    data = _float(_check_tensor(data, "data", fn))
    for flag, name in ((clip, "clip"), (normalize, "normalize"), (linear, "linear"),
                       (interpolate, "interpolate"), (bypass, "bypass")):
        _check_bool(flag, name, fn)
    _check_epsilon(epsilon, fn)
    steps, threshold, tau, fst = _check_latency_args(
        data, num_steps, threshold, tau, first_spike_time, fn, bypass=bypass, normalize=normalize)
    on = _check_number(on_target, "on_target", fn)
    off = _check_number(off_target, "off_target", fn)
    t, below = latency_code(data, steps, threshold, tau, fst, normalize, linear, epsilon)
    last = int(torch.round(t.max()).item()) if t.numel() else 0
    if steps is None:
        steps = last + 1
    elif last > steps - 1 and not bypass:
        raise ValueError(
            f"{fn}: the latest spike time ({last}) falls outside num_steps ({steps}); increase "
            "num_steps, decrease tau, pass normalize=True, or bypass=True to drop late spikes"
        )
    if interpolate:
        out = latency_interpolate(t, steps, on_target=on, off_target=off)
        if clip:
            out = torch.where(below.unsqueeze(0), torch.full_like(out, off), out)
        return out
    idx = torch.round(t).long()
    keep = idx <= steps - 1
    if clip:
        keep = keep & ~below
    hot = torch.zeros((steps, *data.shape), dtype=torch.bool, device=data.device)
    hot.scatter_(0, idx.clamp(max=steps - 1).unsqueeze(0), keep.unsqueeze(0))
    return torch.where(hot, torch.full_like(hot, on, dtype=data.dtype),
                       torch.full_like(hot, off, dtype=data.dtype))


# -- delta modulation ---------------------------------------------------------------------------
def delta(
    data: Tensor, threshold: float = 0.1, padding: bool = False, off_spike: bool = False
) -> Tensor:
    r"""Delta modulation of time-first data: :math:`S_t = +1` where :math:`x_t - x_{t-1} \ge
    \vartheta`, and (with ``off_spike``) :math:`-1` where :math:`x_t - x_{t-1} \le -\vartheta`.

    Args:
        data: time-first tensor ``[T, ...]``.
        threshold: :math:`\vartheta` (>= 0; with 0 every step that does not decrease spikes,
            and with ``off_spike`` an unchanged value gives +1 - 1 = 0). Default: 0.1.
        padding: compare the first step with itself (no spike there) instead of with 0.
            Default: False.
        off_spike: also emit -1 spikes on decreases. Default: False.

    Shape:
        Output has the shape and (floating) dtype of ``data``.

    Example::

        >>> delta(torch.tensor([0, .5, .45, 1, .2]), threshold=0.1, off_spike=True)
        tensor([ 0.,  1.,  0.,  1., -1.])
    """
    fn = "delta"
    data = _float(_check_tensor(data, "data", fn))
    if data.dim() < 1 or data.shape[0] < 1:
        raise ValueError(
            f"{fn}: data must be time-first [T, ...] with T >= 1, got {tuple(data.shape)}"
        )
    _check_bool(padding, "padding", fn)
    _check_bool(off_spike, "off_spike", fn)
    thr = _check_number(threshold, "threshold", fn)
    if thr < 0:
        raise ValueError(f"{fn}: threshold must be >= 0 (a change of at least this much "
                         f"spikes), got {thr:g}")
    first = data[:1] if padding else torch.zeros_like(data[:1])
    prev = torch.cat([first, data[:-1]])
    diff = data - prev
    out = (diff >= thr).to(data.dtype)
    if off_spike:
        out = out - (diff <= -thr).to(data.dtype)
    return out


# -- encoders snnTorch lacks ----------------------------------------------------------------------
def population(
    data: Tensor,
    num_neurons: int,
    num_steps: int | None = None,
    low: float = 0.0,
    high: float = 1.0,
    sigma: float | None = None,
    mode: str = "rate",
    *,
    generator: torch.Generator | None = None,
) -> Tensor:
    r"""Population coding with Gaussian receptive fields.

    Neuron :math:`j` of ``num_neurons`` has centre :math:`c_j` evenly spaced over
    ``[low, high]`` and responds with :math:`a_j(x) = \exp(-(x - c_j)^2 / (2\sigma^2))` in
    (0, 1]. Without ``num_steps`` the responses are returned; with it they are turned into
    spikes: ``mode="rate"`` draws Bernoulli spikes with probability :math:`a_j` per step,
    ``mode="latency"`` fires each neuron once at step :math:`\mathrm{round}((1 - a_j)(T - 1))`
    (the best-tuned neuron first).

    Args:
        data: values, any shape.
        num_neurons: neurons per value (int >= 2).
        num_steps: window length (int >= 1) or None for the responses. Default: None.
        low, high: range the centres cover (``low < high``). Default: 0.0, 1.0.
        sigma: receptive-field width (> 0). Default: the centre spacing
            ``(high - low) / (num_neurons - 1)``.
        mode: ``"rate"`` or ``"latency"``. Default: "rate".
        generator: random generator for ``mode="rate"``. Default: None.

    Shape:
        ``data (*)`` -> ``(*, num_neurons)``, or ``(num_steps, *, num_neurons)`` with spikes.
    """
    fn = "population"
    data = _float(_check_tensor(data, "data", fn))
    n = _check_int(num_neurons, "num_neurons", fn, low=2)
    assert n is not None
    lo, hi = _check_number(low, "low", fn), _check_number(high, "high", fn)
    if not lo < hi:
        raise ValueError(f"{fn}: low ({lo:g}) must be < high ({hi:g})")
    if sigma is None:
        sig = (hi - lo) / (n - 1)
    else:
        sig = _check_number(sigma, "sigma", fn)
        if sig <= 0:
            raise ValueError(f"{fn}: sigma must be > 0, got {sig:g}")
    if mode not in ("rate", "latency"):
        raise ValueError(f"{fn}: mode must be 'rate' or 'latency', got {mode!r}")
    if not bool(torch.isfinite(data).all()):
        raise ValueError(f"{fn}: data must be finite")
    centres = torch.linspace(lo, hi, n, dtype=data.dtype, device=data.device)
    act = torch.exp(-((data.unsqueeze(-1) - centres) ** 2) / (2 * sig * sig))
    if num_steps is None:
        return act
    steps = _check_int(num_steps, "num_steps", fn, low=1)
    assert steps is not None
    if mode == "rate":
        p = act.unsqueeze(0).expand(steps, *act.shape).contiguous()
        return torch.bernoulli(p, generator=generator)
    idx = torch.round((1 - act) * (steps - 1)).long()
    out = torch.zeros((steps, *act.shape), dtype=data.dtype, device=data.device)
    return out.scatter_(0, idx.unsqueeze(0), 1.0)


def poisson(
    rates: Tensor,
    num_steps: int,
    dt: float,
    *,
    generator: torch.Generator | None = None,
) -> Tensor:
    r"""Poisson spike trains from firing rates in Hz with an explicit time step ``dt`` (s).

    Each bin of length :math:`\Delta t` holds a spike with the probability that a Poisson
    process of rate :math:`r` has at least one event in it,
    :math:`p = 1 - e^{-r\Delta t}` (:math:`\approx r\Delta t` for :math:`r\Delta t \ll 1`).

    Args:
        rates: firing rates in Hz (>= 0, finite), any shape.
        num_steps: number of bins (int >= 1).
        dt: bin length in seconds (> 0).
        generator: random generator. Default: None.

    Shape:
        ``rates (*)`` -> ``(num_steps, *)``

    Example::

        >>> spk = poisson(torch.tensor([5.0, 50.0]), num_steps=1000, dt=1e-3)  # 1 s
    """
    fn = "poisson"
    rates = _float(_check_tensor(rates, "rates", fn))
    steps = _check_int(num_steps, "num_steps", fn, low=1)
    assert steps is not None
    step = _check_number(dt, "dt", fn)
    if step <= 0:
        raise ValueError(f"{fn}: dt must be > 0 (seconds), got {step:g}")
    if rates.numel() and (not bool(torch.isfinite(rates).all()) or bool((rates < 0).any())):
        raise ValueError(f"{fn}: rates must be finite and >= 0 (Hz)")
    p = -torch.expm1(-rates * step)
    p = p.unsqueeze(0).expand(steps, *rates.shape).contiguous()
    return torch.bernoulli(p, generator=generator)


# -- targets ------------------------------------------------------------------------------------
def _check_targets(targets: Any, num_classes: Any, fn: str) -> tuple[Tensor, int]:
    targets = _check_tensor(targets, "targets", fn)
    if targets.is_floating_point() or targets.is_complex() or targets.dtype == torch.bool:
        raise TypeError(
            f"{fn}: targets must be an integer tensor of class indices, got {targets.dtype}"
        )
    c = _check_int(num_classes, "num_classes", fn, low=1)
    assert c is not None
    if targets.numel() and (bool((targets < 0).any()) or bool((targets >= c).any())):
        raise ValueError(
            f"{fn}: targets must be class indices in [0, {c - 1}] for num_classes={c}, got "
            f"values in [{int(targets.min())}, {int(targets.max())}]"
        )
    return targets.long(), c


def to_one_hot(targets: Tensor, num_classes: int, dtype: torch.dtype | None = None) -> Tensor:
    """One-hot encoding of integer class indices: ``targets (*) -> (*, num_classes)`` (float)."""
    targets, c = _check_targets(targets, num_classes, "to_one_hot")
    return nn.functional.one_hot(targets, c).to(dtype or torch.get_default_dtype())


def to_one_hot_inverse(one_hot_targets: Tensor) -> Tensor:
    """1 where ``one_hot_targets`` is 0, else 0 (same shape and dtype)."""
    x = _check_tensor(one_hot_targets, "one_hot_targets", "to_one_hot_inverse")
    return (x == 0).to(x.dtype)


def from_one_hot(one_hot: Tensor) -> Tensor:
    """Class indices of one-hot rows: ``(*, C) -> (*)`` (a 0-d tensor for one row).

    Every row must hold exactly one non-zero entry (snnTorch returns the positions of all ones
    in the flattened rows instead of one class per row).
    """
    fn = "from_one_hot"
    x = _check_tensor(one_hot, "one_hot", fn)
    if x.dim() < 1:
        raise ValueError(f"{fn}: one_hot must have a class dimension, got a scalar")
    nz = (x != 0).sum(-1)
    if x.numel() and not bool((nz == 1).all()):
        raise ValueError(f"{fn}: every row of one_hot must hold exactly one non-zero entry")
    return (x != 0).to(torch.uint8).argmax(-1)


def target_rate_code(
    num_steps: int,
    first_spike_time: int = 0,
    rate: float = 1.0,
    firing_pattern: str = "regular",
    *,
    generator: torch.Generator | None = None,
) -> tuple[Tensor, Tensor]:
    r"""One target spike train of ``num_steps`` steps firing at ``rate`` from
    ``first_spike_time`` on, and its spike times.

    Patterns: ``"regular"`` every :math:`1/r` steps (times :math:`\lfloor t_0 + k/r\rfloor`);
    ``"uniform"`` the same number of spikes at distinct, uniformly drawn steps in
    :math:`[t_0, T)`; ``"poisson"`` a Bernoulli(:math:`r`) draw per step from :math:`t_0`.

    Returns:
        ``(spikes [num_steps], spike_times [n] (int64, increasing))``.
    """
    fn = "target_rate_code"
    steps = _check_int(num_steps, "num_steps", fn, low=1)
    assert steps is not None
    fst = _check_first_spike_time(first_spike_time, steps, fn)
    r = _check_number(rate, "rate", fn)
    if not 0 <= r <= 1:
        raise ValueError(f"{fn}: rate must be in [0, 1], got {r:g}")
    pattern = _check_pattern(firing_pattern, fn)
    spikes = torch.zeros(steps)
    if r == 0:
        return spikes, torch.zeros(0, dtype=torch.long)
    if pattern == "regular":
        times = torch.arange(fst, steps, 1 / r).long()
    elif pattern == "uniform":
        count = len(torch.arange(fst, steps, 1 / r))
        times = (torch.randperm(steps - fst, generator=generator)[:count] + fst).sort().values
    else:
        draw = torch.rand(steps - fst, generator=generator) < r
        times = torch.nonzero(draw).flatten() + fst
    spikes[times] = 1.0
    return spikes, times


def rate_interpolate(
    spike_time: Tensor,
    num_steps: int,
    on_target: float = 1.0,
    off_target: float = 0.0,
    epsilon: float = 1e-7,
) -> Tensor:
    r"""Ramp targets from a list of spike times: the value rises linearly from ``off_target``
    (the step after a spike, or step 0) to ``on_target`` at the next spike, and stays at
    ``off_target`` after the last spike.

    Args:
        spike_time: increasing int spike times in ``[0, num_steps)``.
        num_steps: window length (int >= 1).
        on_target, off_target: values at and between spikes. Defaults: 1.0, 0.0.
        epsilon: accepted for compatibility; the ramps are computed exactly. Default: 1e-7.

    Shape:
        ``(num_steps,)``
    """
    fn = "rate_interpolate"
    spike_time = _check_tensor(spike_time, "spike_time", fn)
    steps = _check_int(num_steps, "num_steps", fn, low=1)
    assert steps is not None
    on = _check_number(on_target, "on_target", fn)
    off = _check_number(off_target, "off_target", fn)
    _check_number(epsilon, "epsilon", fn)
    out = torch.full((steps,), off, dtype=torch.get_default_dtype())
    given = spike_time.flatten().tolist()
    frac = [t for t in given if not (isinstance(t, int) or float(t).is_integer())]
    if frac:
        raise ValueError(f"{fn}: spike_time must hold whole step numbers, got {frac[:5]}; "
                         "round them first (e.g. spike_time.round())")
    times = sorted({int(t) for t in given})
    if times and (times[0] < 0 or times[-1] >= steps):
        raise ValueError(f"{fn}: spike_time must lie in [0, {steps - 1}], got {times}")
    prev = -1
    for t in times:
        gap = t - prev - 1  # silent steps before the spike
        if gap == 0:
            out[t] = on
        else:
            k = torch.arange(gap + 1, dtype=out.dtype)
            out[prev + 1 : t + 1] = off + k * ((on - off) / gap)
        prev = t
    return out


def targets_rate(
    targets: Tensor,
    num_classes: int,
    num_steps: int | None = None,
    first_spike_time: int = 0,
    correct_rate: float = 1.0,
    incorrect_rate: float = 0.0,
    on_target: float = 1.0,
    off_target: float = 0.0,
    firing_pattern: str = "regular",
    interpolate: bool = False,
    epsilon: float = 1e-7,
    *,
    generator: torch.Generator | None = None,
) -> Tensor:
    r"""Rate-coded targets for class labels.

    With ``correct_rate=1``, ``incorrect_rate=0`` and ``first_spike_time=0`` the result is not
    time-varying: ``[B, C]`` holding ``on_target`` at the class and ``off_target`` elsewhere.
    Otherwise it is ``[T, B, C]``: the correct class follows a spike train at ``correct_rate``
    and the others one at ``incorrect_rate`` (:func:`target_rate_code`, one train shared by the
    batch), spikes written as ``on_target`` and silence as ``off_target``; with
    ``interpolate`` the trains become ramps (:func:`rate_interpolate`).

    Args:
        targets: int class indices ``[B]`` in ``[0, num_classes)``.
        num_classes: ``C`` (int >= 1).
        num_steps: ``T``; required unless the result is not time-varying. Default: None.
        first_spike_time: silent steps at the start (< num_steps). Default: 0.
        correct_rate, incorrect_rate: rates in [0, 1], ``incorrect_rate <= correct_rate``.
        on_target, off_target: values (not floors). Defaults: 1.0, 0.0.
        firing_pattern: ``"regular"``, ``"uniform"`` or ``"poisson"``. Default: "regular".
        interpolate: ramps instead of spikes. Default: False.
        epsilon: passed to :func:`rate_interpolate`. Default: 1e-7.
        generator: random generator for the random patterns. Default: None.
    """
    fn = "targets_rate"
    _check_bool(interpolate, "interpolate", fn)
    targets, c = _check_targets(targets, num_classes, fn)
    cr = _check_number(correct_rate, "correct_rate", fn)
    ir = _check_number(incorrect_rate, "incorrect_rate", fn)
    if not (0 <= cr <= 1 and 0 <= ir <= 1):
        raise ValueError(
            f"{fn}: correct_rate and incorrect_rate must be in [0, 1], got {cr:g} and {ir:g}"
        )
    if ir > cr:
        raise ValueError(f"{fn}: incorrect_rate ({ir:g}) must be <= correct_rate ({cr:g})")
    pattern = _check_pattern(firing_pattern, fn)
    on = _check_number(on_target, "on_target", fn)
    off = _check_number(off_target, "off_target", fn)
    one_hot = to_one_hot(targets, c)
    static = cr == 1 and ir == 0
    steps = _check_int(num_steps, "num_steps", fn, low=1, optional=True)
    fst = _check_first_spike_time(first_spike_time, steps, fn)
    if static and fst == 0:
        return one_hot * on + (1 - one_hot) * off
    if steps is None:
        raise ValueError(
            f"{fn}: num_steps (int >= 1) is required when the targets vary in time "
            "(rates other than 1/0 or first_spike_time > 0)"
        )
    shape = (steps, *([1] * one_hot.dim()))
    trains = []
    for r in (cr, ir):
        spk, times = target_rate_code(steps, fst, r, pattern, generator=generator)
        train = rate_interpolate(times, steps, on, off, epsilon) if interpolate \
            else spk * on + (1 - spk) * off
        trains.append(train.reshape(shape).to(one_hot.device))
    correct, incorrect = trains
    return one_hot * correct + (1 - one_hot) * incorrect


def targets_latency(
    targets: Tensor,
    num_classes: int,
    num_steps: int | None = None,
    first_spike_time: int = 0,
    on_target: float = 1.0,
    off_target: float = 0.0,
    interpolate: bool = False,
    threshold: float = 0.01,
    tau: float = 1.0,
    clip: bool = False,
    normalize: bool = False,
    linear: bool = False,
    epsilon: float = 1e-7,
    bypass: bool = False,
) -> Tensor:
    """Latency-coded targets: :func:`latency` of the one-hot labels (the class fires first).

    Shape: ``targets (B,)`` -> ``(T, B, num_classes)``.
    """
    one_hot = to_one_hot(targets, num_classes)
    return latency(one_hot, num_steps=num_steps, threshold=threshold, tau=tau,
                   first_spike_time=first_spike_time, on_target=on_target, off_target=off_target,
                   clip=clip, normalize=normalize, linear=linear, interpolate=interpolate,
                   bypass=bypass, epsilon=epsilon)


def targets_convert(
    targets: Tensor, num_classes: int, code: str = "rate", **kwargs: Any
) -> Tensor:
    """Targets for class labels: :func:`targets_rate` (``code="rate"``) or
    :func:`targets_latency` (``code="latency"``), with their keyword arguments."""
    if code == "rate":
        return targets_rate(targets, num_classes, **kwargs)
    if code == "latency":
        return targets_latency(targets, num_classes, **kwargs)
    raise ValueError(f"targets_convert: code must be 'rate' or 'latency', got {code!r}")


# -- registry wrappers ------------------------------------------------------------------------
class _Encoder(nn.Module):
    """Base of the registered encoder modules: stores keyword arguments, calls a function."""

    _fn: Any

    def __init__(self, **kwargs: Any) -> None:
        super().__init__()
        self.kwargs = kwargs

    def forward(self, data: Tensor) -> Tensor:
        return type(self)._fn(data, **self.kwargs)

    def extra_repr(self) -> str:
        return ", ".join(f"{k}={v!r}" for k, v in self.kwargs.items() if k != "generator")


class Rate(_Encoder):
    """Rate encoder module (registry name ``"rate"``): :func:`rate` with fixed arguments.

    Example: ``snn.encoder("rate", num_steps=25)(images)`` -> ``[25, *images.shape]``.
    """

    _fn = staticmethod(rate)

    def __init__(self, num_steps: int | None = None, gain: float = 1.0, offset: float = 0.0,
                 first_spike_time: int = 0, *, time_var_input: bool = False,
                 generator: torch.Generator | None = None) -> None:
        super().__init__(num_steps=num_steps, gain=gain, offset=offset,
                         first_spike_time=first_spike_time, time_var_input=time_var_input,
                         generator=generator)


class RateConv(_Encoder):
    """Bernoulli encoder of probabilities (registry name ``"rate_conv"``): :func:`rate_conv`."""

    _fn = staticmethod(rate_conv)

    def __init__(self, *, generator: torch.Generator | None = None) -> None:
        super().__init__(generator=generator)


class Latency(_Encoder):
    """Latency encoder module (registry name ``"latency"``): :func:`latency` with fixed
    arguments, e.g. ``snn.encoder("latency", num_steps=25, normalize=True, linear=True)``."""

    _fn = staticmethod(latency)

    def __init__(self, num_steps: int | None = None, **kwargs: Any) -> None:
        super().__init__(num_steps=num_steps, **kwargs)


class Delta(_Encoder):
    """Delta-modulation encoder module (registry name ``"delta"``): :func:`delta`."""

    _fn = staticmethod(delta)

    def __init__(self, threshold: float = 0.1, padding: bool = False,
                 off_spike: bool = False) -> None:
        super().__init__(threshold=threshold, padding=padding, off_spike=off_spike)


class Population(_Encoder):
    """Gaussian population encoder module (registry name ``"population"``): :func:`population`."""

    _fn = staticmethod(population)

    def __init__(self, num_neurons: int, num_steps: int | None = None, low: float = 0.0,
                 high: float = 1.0, sigma: float | None = None, mode: str = "rate", *,
                 generator: torch.Generator | None = None) -> None:
        super().__init__(num_neurons=num_neurons, num_steps=num_steps, low=low, high=high,
                         sigma=sigma, mode=mode, generator=generator)


class Poisson(_Encoder):
    """Poisson encoder of rates in Hz (registry name ``"poisson"``): :func:`poisson`."""

    _fn = staticmethod(poisson)

    def __init__(self, num_steps: int, dt: float, *,
                 generator: torch.Generator | None = None) -> None:
        super().__init__(num_steps=num_steps, dt=dt, generator=generator)


BUILTIN_ENCODERS: dict[str, type[_Encoder]] = {
    "rate": Rate,
    "rate_conv": RateConv,
    "latency": Latency,
    "delta": Delta,
    "population": Population,
    "poisson": Poisson,
}
