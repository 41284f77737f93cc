r"""Accuracy, activity regularizers and operation counters for spiking networks.

All functions take time-first records ``[T, B, C]`` and return 0-d tensors.
:class:`OpCounter` counts spikes and synaptic operations of a model run, as energy proxies.
"""

from __future__ import annotations

import numbers
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import Tensor, nn
from torch.nn import functional as F

from ._losses import (
    _FirstSpikeTimes,
    check_class_count,
    check_labels,
    check_record,
    population_code,
)
from ._monitor import records_runs, register_run_hook
from ._neuron import Neuron
from ._validate import check_bool, check_number
from .plasticity import _pad_input

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


def accuracy_rate(
    spk_rec: Tensor, targets: Tensor, population_code: bool = False,
    num_classes: int | None = None,
) -> Tensor:
    r"""Fraction of samples whose most active output (largest spike count
    :math:`\sum_t S_t`, ties to the lowest index) is the target class.

    Args:
        spk_rec: output spikes ``[T, B, C]``.
        targets: int class indices ``[B]``.
        population_code: sum each class's group of ``C / num_classes`` outputs first.
            Default: False.
        num_classes: classes with ``population_code``. Default: None.

    Returns:
        0-d tensor in [0, 1] (the record's dtype).
    """
    fn = "accuracy_rate"
    rec = check_record(spk_rec, "spk_rec", fn)
    check_bool(population_code, "population_code", fn)
    check_class_count(num_classes, population_code, rec.shape[-1], fn)
    counts = rec.sum(0)
    if population_code:
        if num_classes is None:
            raise ValueError(f"{fn}: num_classes is required with population_code=True")
        counts = _population(counts, num_classes, fn)
    y = check_labels(targets, rec.shape[1], counts.shape[-1], fn)
    return (counts.argmax(-1) == y).to(rec.dtype).mean()


def _population(x: Tensor, num_classes: int, fn: str) -> Tensor:
    return population_code(x, num_classes, fn)


def accuracy_temporal(spk_rec: Tensor, targets: Tensor) -> Tensor:
    """Fraction of samples whose earliest-firing output (silent outputs count as ``T - 1``,
    ties to the lowest index) is the target class. Returns a 0-d tensor."""
    fn = "accuracy_temporal"
    rec = check_record(spk_rec, "spk_rec", fn)
    y = check_labels(targets, rec.shape[1], rec.shape[-1], fn)
    with torch.no_grad():
        times = _FirstSpikeTimes.apply(rec, 1)[0]
    return (times.argmin(-1) == y).to(rec.dtype).mean()


def spike_count(spk_rec: Tensor) -> Tensor:
    """Number of spikes (non-zero entries) in a record, as a 0-d tensor."""
    if not isinstance(spk_rec, Tensor):
        raise TypeError(f"spike_count: spk_rec must be a tensor, got {type(spk_rec).__name__}")
    return (spk_rec != 0).sum()


def firing_rate(spk_rec: Tensor, dim: int | tuple[int, ...] | None = 0) -> Tensor:
    """Mean spikes per step: over time (``dim=0``, default), chosen dims, or everything
    (``dim=None``)."""
    if not isinstance(spk_rec, Tensor) or not spk_rec.is_floating_point():
        raise TypeError("firing_rate: spk_rec must be a floating-point tensor [T, ...]")
    if dim is None:
        return spk_rec.mean()
    dims = (dim,) if isinstance(dim, numbers.Integral) else dim
    n = spk_rec.dim()
    if not isinstance(dims, (tuple, list)) or not all(
            isinstance(d, numbers.Integral) and not isinstance(d, bool) and -n <= d < n
            for d in dims):
        raise ValueError(f"firing_rate: dim must be None, or an int or tuple of ints in "
                         f"[{-n}, {n - 1}] for a {n}-dim spk_rec, got {dim!r}")
    return spk_rec.mean(tuple(int(d) for d in dims))


class L1RateSparsity(nn.Module):
    r"""L1 activity penalty on non-negative spikes: :math:`\lambda \sum_{t,b,c} S_t[b,c]`.

    The plain sum (as in snnTorch) rather than ``abs``: equal for spikes >= 0, and its gradient
    is :math:`\lambda` at every entry, silent ones included, so the surrogate gradient keeps
    pushing sub-threshold membranes down too.

    Args:
        Lambda: strength :math:`\lambda` (>= 0). Default: 1e-5.

    Example::

        >>> loss = ce_rate_loss()(spk, y) + l1_rate_sparsity(1e-4)(spk)
    """

    def __init__(self, Lambda: float = 1e-5) -> None:  # noqa: N803 - snnTorch's name
        super().__init__()
        value = check_number(Lambda, "Lambda", "L1RateSparsity")
        if value < 0:
            raise ValueError(f"L1RateSparsity: Lambda must be >= 0, got {Lambda!r}")
        self.Lambda = value

    def forward(self, spk_rec: Tensor) -> Tensor:
        if not isinstance(spk_rec, Tensor) or not spk_rec.is_floating_point():
            raise TypeError("L1RateSparsity: spk_rec must be a floating-point tensor")
        return self.Lambda * spk_rec.sum()

    def extra_repr(self) -> str:
        return f"Lambda={self.Lambda:g}"


l1_rate_sparsity = L1RateSparsity


class FiringRateRegularizer(nn.Module):
    r"""Keep each neuron's firing rate inside a band :math:`[r_{lo}, r_{hi}]`:

    .. math::
        R = \lambda \cdot \frac{1}{N}\sum_n \big(\mathrm{relu}(r_{lo} - r_n)^2
            + \mathrm{relu}(r_n - r_{hi})^2\big),\qquad r_n = \frac{1}{TB}\sum_{t,b} S_t[b,n]

    (spikes per step, averaged over time and batch). Zero inside the band; quadratic outside,
    so silent neurons are pushed up and saturated ones down.

    Args:
        low: lower rate bound :math:`r_{lo}` in [0, 1]. Default: 0.0.
        high: upper rate bound :math:`r_{hi}` in [low, 1]. Default: 1.0.
        strength: :math:`\lambda` (>= 0). Default: 1.0.

    Shape:
        ``spk_rec (T, B, *)`` -> ``()``.
    """

    def __init__(self, low: float = 0.0, high: float = 1.0, strength: float = 1.0) -> None:
        super().__init__()
        owner = "FiringRateRegularizer"
        lo = check_number(low, "low", owner)
        hi = check_number(high, "high", owner)
        lam = check_number(strength, "strength", owner)
        if not 0 <= lo <= hi <= 1:
            raise ValueError(f"{owner}: need 0 <= low <= high <= 1, got low={lo:g}, high={hi:g}")
        if lam < 0:
            raise ValueError(f"{owner}: strength must be >= 0, got {lam:g}")
        self.low, self.high, self.strength = lo, hi, lam

    def forward(self, spk_rec: Tensor) -> Tensor:
        if not isinstance(spk_rec, Tensor) or not spk_rec.is_floating_point() or spk_rec.dim() < 2:
            raise TypeError("FiringRateRegularizer: spk_rec must be a float tensor [T, B, ...]")
        r = spk_rec.mean((0, 1))
        pen = F.relu(self.low - r) ** 2 + F.relu(r - self.high) ** 2
        return self.strength * pen.mean()

    def extra_repr(self) -> str:
        return f"low={self.low:g}, high={self.high:g}, strength={self.strength:g}"


# -- operation counters -------------------------------------------------------------------------
@dataclass
class LayerOps:
    """Counts for one layer over the calls seen by an :class:`OpCounter`.

    Attributes:
        kind: the module's class name.
        calls: forward calls seen.
        synops: synaptic operations: accumulates actually triggered by non-zero inputs
            (for a spiking input, one per spike and target synapse).
        macs: multiply-accumulates a dense (non-event-driven) evaluation would need.
        spikes: spikes emitted (neurons only).
        neurons: output elements per call (neurons only).
    """

    kind: str
    calls: int = 0
    synops: int = 0
    macs: int = 0
    spikes: int = 0
    neurons: int = 0
    extra: dict[str, Any] = field(default_factory=dict)


_SYNAPTIC = (nn.Linear, nn.Conv1d, nn.Conv2d, nn.Conv3d)


def _conv_synops(m: nn.Module, x: Tensor) -> int:
    """Synaptic operations of a convolution: the exact number of non-zero input taps."""
    conv = {1: F.conv1d, 2: F.conv2d, 3: F.conv3d}[m.weight.dim() - 2]
    w = torch.ones_like(m.weight, dtype=x.dtype)
    # padded as the layer pads (circular, reflect and replicate padding repeat inputs)
    nz = _pad_input(m, (x != 0).to(x.dtype))
    out = conv(nz, w, stride=m.stride, padding=0, dilation=m.dilation, groups=m.groups)
    return int(out.sum().item())


class OpCounter:
    r"""Count spikes and synaptic operations of a model as energy proxies.

    Hooks every :class:`~torch.nn.Linear`/``Conv{1,2,3}d`` (synaptic operations from their
    inputs) and every snncore neuron (spikes from their outputs, from single steps and from
    ``run``) inside ``model``. For a Linear layer, ``synops`` = non-zero inputs × out_features
    and ``macs`` = all inputs × out_features; convolutions count the exact number of non-zero
    input taps and ``macs`` = output elements × (in_channels/groups × kernel size).
    Inputs that are not spikes still count (each non-zero value is an operation).

    Use as a context manager or call :meth:`remove`; nothing global is touched.

    Example::

        >>> with snn.metrics.OpCounter(model) as ops:
        ...     model(x_seq)
        >>> ops.total()["synops"]
    """

    def __init__(self, model: nn.Module) -> None:
        if not isinstance(model, nn.Module):
            raise TypeError(
                f"OpCounter: model must be a torch.nn.Module, got {type(model).__name__}"
            )
        self.layers: dict[str, LayerOps] = {}
        self._handles: list[Any] = []
        for name, m in model.named_modules():
            label = name or type(m).__name__
            if isinstance(m, _SYNAPTIC):
                self.layers[label] = LayerOps(type(m).__name__)
                self._handles.append(m.register_forward_hook(self._synaptic_hook(label)))
            elif isinstance(m, Neuron):
                self.layers[label] = LayerOps(type(m).__name__)
                self._handles.append(m.register_forward_hook(records_runs(
                    self._neuron_hook(label))))
                hook = self._neuron_hook(label)
                self._handles.append(
                    register_run_hook(m, lambda mod, a, k, out, h=hook: h(mod, a, out)))

    def _synaptic_hook(self, label: str) -> Any:
        def hook(m: nn.Module, inputs: tuple[Any, ...], output: Any) -> None:
            x = inputs[0]
            if not isinstance(x, Tensor):
                return
            rec = self.layers[label]
            rec.calls += 1
            with torch.no_grad():
                if isinstance(m, nn.Linear):
                    rec.synops += int((x != 0).sum().item()) * m.out_features
                    rec.macs += x.numel() * m.out_features
                elif isinstance(output, Tensor):
                    rec.synops += _conv_synops(m, x.detach())
                    rec.macs += output.numel() * m.weight[0].numel()

        return hook

    def _neuron_hook(self, label: str) -> Any:
        def hook(m: nn.Module, inputs: Any, output: Any) -> None:
            spk = output[0] if isinstance(output, tuple) else output
            if not isinstance(spk, Tensor):
                return
            rec = self.layers[label]
            rec.calls += 1
            rec.spikes += int((spk != 0).sum().item())
            rec.neurons += spk.numel()

        return hook

    def total(self) -> dict[str, int]:
        """Sums over layers: ``{"synops", "macs", "spikes", "neurons"}``."""
        out = {"synops": 0, "macs": 0, "spikes": 0, "neurons": 0}
        for rec in self.layers.values():
            out["synops"] += rec.synops
            out["macs"] += rec.macs
            out["spikes"] += rec.spikes
            out["neurons"] += rec.neurons
        return out

    def reset(self) -> None:
        """Zero every count (hooks stay)."""
        for name, rec in self.layers.items():
            self.layers[name] = LayerOps(rec.kind)

    def remove(self) -> None:
        """Remove every hook."""
        for h in self._handles:
            h.remove()
        self._handles.clear()

    def __enter__(self) -> OpCounter:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.remove()
