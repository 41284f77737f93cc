r"""Losses on time-first output records ``[T, B, C]`` with integer class targets ``[B]``.

Every loss is a small :class:`torch.nn.Module` with torch's ``reduction`` (``"none"``,
``"sum"``, ``"mean"``) and ``weight`` conventions: with class weights :math:`w`, ``"mean"`` is
:math:`\sum_i w_{y_i} l_i / \sum_i w_{y_i}` (over samples for cross-entropy losses, over every
element of a sample for squared-error losses), ``"sum"`` is :math:`\sum_i w_{y_i} l_i` and
``"none"`` returns :math:`w_{y_i} l_i`. ``"mean"``/``"sum"`` give 0-d tensors in the record's
dtype and device.

The lower-case names (``ce_rate_loss`` ...) are aliases of the classes, so snnTorch code such as
``loss_fn = ce_rate_loss(); loss_fn(spk_rec, targets)`` works unchanged.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
from torch import Tensor, nn
from torch.nn import functional as F

from ._validate import check_bool, check_int, check_number, value_checks_enabled

__all__ = [
    "REDUCTIONS",
    "first_spike_time",
    "nth_spike_times",
    "snap_spike_times",
    "population_code", "check_class_count",
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
]

REDUCTIONS = ("none", "mean", "sum")


# -- shared pieces ------------------------------------------------------------------------------
def check_record(record: Any, name: str, fn: str) -> Tensor:
    """``record`` must be a floating-point ``[T, B, C]`` tensor with T, B, C >= 1."""
    if not isinstance(record, Tensor):
        raise TypeError(
            f"{fn}: {name} must be a torch.Tensor [T, B, C], got {type(record).__name__}"
        )
    if not record.is_floating_point():
        raise TypeError(f"{fn}: {name} must be floating point, got {record.dtype}")
    if record.dim() != 3 or 0 in record.shape:
        raise ValueError(
            f"{fn}: {name} must be time-first [T, B, C] (T, B, C >= 1), got shape "
            f"{tuple(record.shape)}"
        )
    return record


def check_labels(targets: Any, batch: int, num_classes: int, fn: str) -> Tensor:
    """Integer class targets ``[batch]`` with values in ``[0, num_classes)``."""
    if not isinstance(targets, Tensor):
        raise TypeError(
            f"{fn}: targets must be an integer tensor [B], got {type(targets).__name__}"
        )
    if targets.is_floating_point() or targets.is_complex() or targets.dtype == torch.bool:
        raise TypeError(f"{fn}: targets must be integer class indices, got {targets.dtype}")
    if targets.shape != (batch,):
        raise ValueError(
            f"{fn}: targets must have shape [B] = ({batch},) to match the record's batch, got "
            f"{tuple(targets.shape)}"
        )
    if value_checks_enabled() and (
        bool((targets < 0).any()) or bool((targets >= num_classes).any())
    ):
        raise ValueError(
            f"{fn}: targets must be class indices in [0, {num_classes - 1}] for {num_classes} "
            f"classes, got values in [{int(targets.min())}, {int(targets.max())}]"
        )
    return targets.long()


def check_class_count(num_classes: int | None, population: bool, outputs: int, fn: str) -> None:
    """Without a population code every output is a class: a ``num_classes`` given anyway must
    say so (instead of being ignored)."""
    if num_classes is not None and not population and num_classes != outputs:
        raise ValueError(
            f"{fn}: num_classes={num_classes} but the record has {outputs} outputs; without "
            "population_code=True every output is one class (pass population_code=True to sum "
            "groups of outputs per class, or leave num_classes out)")


def population_code(record: Tensor, num_classes: int, fn: str = "population_code") -> Tensor:
    """Sum a ``[..., C·k]`` record over ``num_classes`` consecutive groups of ``k`` outputs:
    ``(..., C·k) -> (..., num_classes)``."""
    n = check_int(num_classes, "num_classes", fn, low=1)
    assert n is not None
    c = record.shape[-1]
    if c % n:
        raise ValueError(
            f"{fn}: the record's {c} outputs must split evenly into num_classes={n} groups"
        )
    return record.reshape(*record.shape[:-1], n, c // n).sum(-1)


def _check_reduction(reduction: Any, owner: str) -> str:
    if reduction not in REDUCTIONS:
        raise ValueError(f"{owner}: reduction must be one of {REDUCTIONS}, got {reduction!r}")
    return str(reduction)


def _check_weight(weight: Any, owner: str) -> Tensor | None:
    if weight is None:
        return None
    if not isinstance(weight, Tensor):
        weight = torch.as_tensor(weight, dtype=torch.get_default_dtype())
    if weight.dim() != 1 or not weight.is_floating_point():
        raise ValueError(f"{owner}: weight must be a 1-D float tensor of per-class weights")
    if bool((weight < 0).any()) or not bool(torch.isfinite(weight).all()):
        raise ValueError(f"{owner}: weight must be finite and >= 0")
    return weight.detach().clone()


class _SpikeLoss(nn.Module):
    """Base: reduction and class-weight handling, population codes, argument checks."""

    population: bool = False

    def __new__(cls, *args: Any, **kwargs: Any) -> Any:
        # snnTorch's spelling ``ce_rate_loss()(spk_rec, targets)`` builds the loss first; a
        # record passed to the constructor would otherwise fail on an option's check
        if args and isinstance(args[0], Tensor) and args[0].dim() >= 2:
            raise TypeError(
                f"{cls.__name__}(...) takes the loss's options and returns the loss; call the "
                f"loss on the record: {cls.__name__}()(spk_rec, targets) (the functional "
                f"names, e.g. snncore.losses.ce_rate_loss, are the same classes), got a tensor "
                f"of shape {tuple(args[0].shape)} as its first argument")
        return super().__new__(cls)

    def __init__(self, reduction: str = "mean", weight: Tensor | Sequence[float] | None = None,
                 population_code: bool = False, num_classes: int | None = None) -> None:
        super().__init__()
        owner = type(self).__name__
        self.reduction = _check_reduction(reduction, owner)
        w = _check_weight(weight, owner)
        self.register_buffer("weight", w)
        if not isinstance(population_code, bool):
            raise TypeError(f"{owner}: population_code must be a bool, got {population_code!r}")
        if population_code:
            if num_classes is None:
                raise ValueError(f"{owner}: num_classes is required with population_code=True")
            check_int(num_classes, "num_classes", owner, low=1)
        self.population = population_code
        self.num_classes = num_classes

    def _classes(self, record: Tensor) -> Tensor:
        """The record with population groups summed (``[T, B, num_classes]``)."""
        if self.population:
            assert self.num_classes is not None
            return population_code(record, self.num_classes, type(self).__name__)
        return record

    def _labels(self, record: Tensor, targets: Any) -> Tensor:
        c = self.num_classes if self.population else record.shape[-1]
        assert c is not None
        owner = type(self).__name__
        check_class_count(self.num_classes, self.population, record.shape[-1], owner)
        if self.weight is not None and self.weight.shape[0] != c:
            raise ValueError(
                f"{owner}: weight has {self.weight.shape[0]} entries but there are {c} classes"
            )
        return check_labels(targets, record.shape[1], c, owner)

    def _weights(self, targets: Tensor, like: Tensor) -> Tensor | None:
        if self.weight is None:
            return None
        return self.weight.to(dtype=like.dtype, device=like.device)[targets]

    def _reduce(self, loss: Tensor, targets: Tensor) -> Tensor:
        """Reduce per-sample ``[B]`` or per-element ``[B, ...]`` losses with class weights."""
        w = self._weights(targets, loss)
        if w is not None:
            w = w.reshape(-1, *([1] * (loss.dim() - 1))).expand_as(loss)
            loss = loss * w
        if self.reduction == "none":
            return loss
        if self.reduction == "sum":
            return loss.sum()
        if w is None:
            return loss.mean()
        return loss.sum() / w.sum()

    def extra_repr(self) -> str:
        parts = [f"reduction={self.reduction!r}"]
        if self.population:
            parts.append(f"population_code=True, num_classes={self.num_classes}")
        if self.weight is not None:
            parts.append("weight=<tensor>")
        return ", ".join(parts)


# -- cross-entropy losses -----------------------------------------------------------------------
class CERateLoss(_SpikeLoss):
    r"""Cross-entropy of the spikes at every step, averaged over time:
    :math:`l_b = \frac{1}{T}\sum_t \mathrm{CE}(S_t[b], y_b)`.

    Args:
        population_code: sum each class's group of outputs first. Default: False.
        num_classes: classes when ``population_code`` (outputs = ``num_classes·k``).
        reduction: ``"none"`` | ``"mean"`` | ``"sum"``. Default: "mean".
        weight: per-class weights ``[num_classes]`` (torch convention). Default: None.

    Shape:
        ``spk_rec (T, B, C)``, ``targets (B,)`` int -> ``()`` or ``(B,)`` with ``"none"``.

    Example::

        >>> loss = ce_rate_loss()(spk_rec, targets)
    """

    def __init__(self, population_code: bool = False, num_classes: int | None = None,
                 reduction: str = "mean", weight: Tensor | None = None) -> None:
        super().__init__(reduction, weight, population_code, num_classes)

    def forward(self, spk_rec: Tensor, targets: Tensor) -> Tensor:
        rec = self._classes(check_record(spk_rec, "spk_rec", type(self).__name__))
        y = self._labels(rec, targets)
        t, b, c = rec.shape
        per = F.cross_entropy(rec.reshape(t * b, c), y.repeat(t), reduction="none")
        return self._reduce(per.reshape(t, b).mean(0), y)


class CECountLoss(_SpikeLoss):
    r"""Cross-entropy of the spike counts: :math:`l_b = \mathrm{CE}(\sum_t S_t[b], y_b)`.

    Args and shapes as :class:`CERateLoss`.
    """

    def __init__(self, population_code: bool = False, num_classes: int | None = None,
                 reduction: str = "mean", weight: Tensor | None = None) -> None:
        super().__init__(reduction, weight, population_code, num_classes)

    def forward(self, spk_rec: Tensor, targets: Tensor) -> Tensor:
        rec = self._classes(check_record(spk_rec, "spk_rec", type(self).__name__))
        y = self._labels(rec, targets)
        return self._reduce(F.cross_entropy(rec.sum(0), y, reduction="none"), y)


class CEMaxMembraneLoss(_SpikeLoss):
    r"""Cross-entropy of the peak membrane: :math:`l_b = \mathrm{CE}(\max_t U_t[b], y_b)`.

    Args:
        reduction: ``"none"`` | ``"mean"`` | ``"sum"``. Default: "mean".
        weight: per-class weights (torch convention). Default: None.

    Shape:
        ``mem_rec (T, B, C)``, ``targets (B,)`` -> ``()`` or ``(B,)``.
    """

    def __init__(self, reduction: str = "mean", weight: Tensor | None = None) -> None:
        super().__init__(reduction, weight)

    def forward(self, mem_rec: Tensor, targets: Tensor) -> Tensor:
        rec = check_record(mem_rec, "mem_rec", type(self).__name__)
        y = self._labels(rec, targets)
        peak = torch.max(rec, 0).values
        return self._reduce(F.cross_entropy(peak, y, reduction="none"), y)


# -- squared-error losses -----------------------------------------------------------------------
class MSECountLoss(_SpikeLoss):
    r"""Squared error between spike counts and target counts, scaled by :math:`1/T`:
    :math:`l_{bc} = (\sum_t S_t[b,c] - n_{bc})^2 / T` with :math:`n_{bc} = T\cdot r_{on}`
    for the target class and :math:`T\cdot r_{off}` otherwise (times ``k`` outputs per class
    with a population code).

    Args:
        correct_rate: target firing rate of the correct class, in [0, 1]. Default: 1.0.
        incorrect_rate: target rate of the other classes, in [0, 1]. Default: 0.0.
        population_code, num_classes, reduction, weight: as :class:`CERateLoss`.

    Shape:
        ``spk_rec (T, B, C)``, ``targets (B,)`` -> ``()``, or ``(B, C)`` with ``"none"``.
    """

    def __init__(self, correct_rate: float = 1.0, incorrect_rate: float = 0.0,
                 population_code: bool = False, num_classes: int | None = None,
                 reduction: str = "mean", weight: Tensor | None = None) -> None:
        super().__init__(reduction, weight, population_code, num_classes)
        owner = type(self).__name__
        for name, r in (("correct_rate", correct_rate), ("incorrect_rate", incorrect_rate)):
            if not 0 <= check_number(r, name, owner) <= 1:
                raise ValueError(f"{owner}: {name} must be in [0, 1], got {r!r}")
        self.correct_rate = float(correct_rate)
        self.incorrect_rate = float(incorrect_rate)

    def forward(self, spk_rec: Tensor, targets: Tensor) -> Tensor:
        raw = check_record(spk_rec, "spk_rec", type(self).__name__)
        steps, outputs = raw.shape[0], raw.shape[-1]
        rec = self._classes(raw)
        y = self._labels(rec, targets)
        per_class = outputs // rec.shape[-1]
        on = steps * self.correct_rate * per_class
        off = steps * self.incorrect_rate * per_class
        hot = F.one_hot(y, rec.shape[-1]).to(rec.dtype)
        target = hot * on + (1 - hot) * off
        return self._reduce((rec.sum(0) - target) ** 2 / steps, y)


class MSEMembraneLoss(_SpikeLoss):
    r"""Squared error between membrane and target values, averaged over time:
    :math:`l_{bc} = \frac{1}{T}\sum_t (U_t[b,c] - u_{bc})^2` with :math:`u` = ``on_target``
    at the target class and ``off_target`` elsewhere.

    ``targets`` may also be a float tensor of membrane targets, ``[B, C]`` or time-varying
    ``[T, B, C]``, used as given (class weights then need labels and are refused).

    Args:
        on_target: membrane target of the correct class. Default: 1.0.
        off_target: membrane target of the other classes (a value). Default: 0.0.
        reduction, weight: as :class:`CERateLoss`.

    Shape:
        ``mem_rec (T, B, C)``, ``targets (B,)`` -> ``()``, or ``(B, C)`` with ``"none"``.
    """

    def __init__(self, on_target: float = 1.0, off_target: float = 0.0,
                 reduction: str = "mean", weight: Tensor | None = None) -> None:
        super().__init__(reduction, weight)
        owner = type(self).__name__
        self.on_target = check_number(on_target, "on_target", owner)
        self.off_target = check_number(off_target, "off_target", owner)

    def forward(self, mem_rec: Tensor, targets: Tensor) -> Tensor:
        owner = type(self).__name__
        rec = check_record(mem_rec, "mem_rec", owner)
        if isinstance(targets, Tensor) and targets.is_floating_point():
            if self.weight is not None:
                raise ValueError(f"{owner}: class weights need integer class targets [B]")
            if targets.shape not in (rec.shape, rec.shape[1:]):
                raise ValueError(
                    f"{owner}: float targets must have shape [T, B, C] {tuple(rec.shape)} or "
                    f"[B, C] {tuple(rec.shape[1:])}, got {tuple(targets.shape)}"
                )
            err = ((rec - targets.to(rec.dtype)) ** 2).mean(0)
            dummy = torch.zeros(rec.shape[1], dtype=torch.long, device=rec.device)
            return self._reduce(err, dummy)
        y = self._labels(rec, targets)
        hot = F.one_hot(y, rec.shape[-1]).to(rec.dtype)
        target = hot * self.on_target + (1 - hot) * self.off_target
        return self._reduce(((rec - target) ** 2).mean(0), y)


# -- spike-time losses --------------------------------------------------------------------------
class _FirstSpikeTimes(torch.autograd.Function):
    """Times of the first ``count`` spikes per neuron (``T-1`` where missing); backward passes
    ``-grad`` to the record entry at each returned time."""

    @staticmethod
    def forward(ctx: Any, spk_rec: Tensor, count: int) -> Tensor:
        steps = spk_rec.shape[0]
        fired = spk_rec > 0
        csum = fired.to(torch.int32).cumsum(0)
        n = torch.arange(1, count + 1, device=spk_rec.device, dtype=torch.int32)
        n = n.reshape(count, *([1] * spk_rec.dim()))
        hit = fired.unsqueeze(0) & (csum.unsqueeze(0) == n)  # [F, T, ...]
        idx = torch.where(hit.any(1), hit.to(torch.uint8).argmax(1),
                          torch.full_like(hit[:, 0], steps - 1, dtype=torch.long))
        ctx.save_for_backward(idx)
        ctx.shape = spk_rec.shape
        return idx.to(spk_rec.dtype)

    @staticmethod
    def backward(ctx: Any, grad: Tensor) -> tuple[Tensor, None]:
        (idx,) = ctx.saved_tensors
        out = grad.new_zeros(ctx.shape)
        for f in range(idx.shape[0]):
            out.scatter_add_(0, idx[f].unsqueeze(0), -grad[f].unsqueeze(0))
        return out, None


def first_spike_time(spk_rec: Tensor) -> Tensor:
    r"""Step of each neuron's first spike (``T - 1`` if it never fires): ``(T, *) -> (*)``.

    Differentiable with the sign estimator snnTorch uses: :math:`\partial t_f / \partial
    S_{t_f} = -1` (an earlier spike lowers the time) and zero elsewhere.
    """
    if not isinstance(spk_rec, Tensor) or not spk_rec.is_floating_point() or spk_rec.dim() < 1:
        raise TypeError("first_spike_time: spk_rec must be a floating-point tensor [T, ...]")
    return _FirstSpikeTimes.apply(spk_rec, 1)[0]


def nth_spike_times(spk_rec: Tensor, count: int) -> Tensor:
    """Steps of each neuron's first ``count`` spikes (``T - 1`` where missing):
    ``(T, *) -> (count, *)``, with the gradient of :func:`first_spike_time` for each."""
    if not isinstance(spk_rec, Tensor) or not spk_rec.is_floating_point() or spk_rec.dim() < 1:
        raise TypeError("nth_spike_times: spk_rec must be a floating-point tensor [T, ...]")
    n = check_int(count, "count", "nth_spike_times", low=1)
    return _FirstSpikeTimes.apply(spk_rec, n)


class _Tolerance(torch.autograd.Function):
    """Snap spike times within ``tol`` of their target onto it; identity gradient."""

    @staticmethod
    def forward(ctx: Any, times: Tensor, target: Tensor, tol: float) -> Tensor:
        return torch.where((times - target).abs() < tol, target, times)

    @staticmethod
    def backward(ctx: Any, grad: Tensor) -> tuple[Tensor, None, None]:
        return grad, None, None


def snap_spike_times(times: Tensor, target: Tensor, tolerance: float) -> Tensor:
    r"""Spike times within ``tolerance`` steps of their target replaced by the target
    (:math:`|t - \hat t| < \text{tolerance}`), so that "close enough" counts as exact; the
    gradient passes through unchanged. ``times`` and ``target`` broadcast together."""
    fn = "snap_spike_times"
    for name, x in (("times", times), ("target", target)):
        if not isinstance(x, Tensor) or not x.is_floating_point():
            raise TypeError(f"{fn}: {name} must be a floating-point tensor, got "
                            f"{type(x).__name__ if not isinstance(x, Tensor) else x.dtype}")
    tol = check_number(tolerance, "tolerance", fn)
    if tol < 0:
        raise ValueError(f"{fn}: tolerance must be >= 0, got {tolerance!r}")
    return _Tolerance.apply(times, target.to(times.dtype), tol)


class MSETemporalLoss(_SpikeLoss):
    r"""Squared error between first-spike times and target times, both divided by :math:`T`:
    :math:`l_{bc} = ((t_{bc} - \hat t_{bc}) / T)^2`, where a neuron that never fires counts
    as :math:`T - 1`.

    With label targets, the target class should fire at ``on_target`` and the others at
    ``off_target`` (negative times count from the end: ``-1`` is step :math:`T-1`), so by
    default the correct class fires first and the others last. With ``target_is_time=True``
    ``targets`` holds the target times ``[B, C]`` (``[F, B, C]`` with ``multi_spike``).

    Args:
        target_is_time: targets are spike times, not labels. Default: False.
        on_target: target time of the correct class (a sequence of ``F`` times with
            ``multi_spike``). Default: 0.
        off_target: target time of the other classes. Default: -1.
        tolerance: times within this many steps of their target count as exact. Default: 0.
        multi_spike: compare the first ``F`` spikes of each neuron. Default: False.
        reduction, weight: as :class:`CERateLoss` (weights need label targets).

    Shape:
        ``spk_rec (T, B, C)`` -> ``()``, or ``(B, C)`` (``(F, B, C)``) with ``"none"``.
    """

    def __init__(self, target_is_time: bool = False, on_target: float | Sequence[float] = 0,
                 off_target: float | Sequence[float] = -1, tolerance: float = 0,
                 multi_spike: bool = False, reduction: str = "mean",
                 weight: Tensor | None = None) -> None:
        super().__init__(reduction, weight)
        owner = type(self).__name__
        self.target_is_time = check_bool(target_is_time, "target_is_time", owner)
        self.multi_spike = check_bool(multi_spike, "multi_spike", owner)
        self.tolerance = check_number(tolerance, "tolerance", owner)
        if self.tolerance < 0:
            raise ValueError(f"{owner}: tolerance must be >= 0, got {tolerance!r}")
        if self.multi_spike and not self.target_is_time:
            on = [check_number(v, "on_target", owner) for v in _seq(on_target, "on_target",
                                                                     owner)]
            off = [check_number(v, "off_target", owner) for v in _seq(off_target, "off_target",
                                                                       owner)]
            if len(on) != len(off):
                raise ValueError(
                    f"{owner}: on_target ({len(on)} times) and off_target ({len(off)} times) "
                    "must have the same length"
                )
            self.on_target: Any = on
            self.off_target: Any = off
        else:
            self.on_target = check_number(on_target, "on_target", owner)
            self.off_target = check_number(off_target, "off_target", owner)

    def forward(self, spk_rec: Tensor, targets: Tensor) -> Tensor:
        owner = type(self).__name__
        rec = check_record(spk_rec, "spk_rec", owner)
        steps, batch, c = rec.shape
        if self.target_is_time:
            if self.weight is not None:
                raise ValueError(
                    f"{owner}: class weights need label targets (target_is_time=False)"
                )
            if not isinstance(targets, Tensor):
                raise TypeError(f"{owner}: targets must be a tensor of spike times")
            want = (batch, c)
            if self.multi_spike:
                if targets.dim() != 3 or tuple(targets.shape[1:]) != want:
                    raise ValueError(
                        f"{owner}: target times must have shape [F, B, C] with [B, C] = {want}, "
                        f"got {tuple(targets.shape)}"
                    )
            elif tuple(targets.shape) != want:
                raise ValueError(
                    f"{owner}: target times must have shape [B, C] = {want}, got "
                    f"{tuple(targets.shape)}"
                )
            target = targets.to(rec.dtype)
            y = torch.zeros(batch, dtype=torch.long, device=rec.device)
        else:
            y = self._labels(rec, targets)
            hot = F.one_hot(y, c).to(rec.dtype)
            ons = self.on_target if self.multi_spike else [self.on_target]
            offs = self.off_target if self.multi_spike else [self.off_target]
            target = torch.stack(
                [hot * on + (1 - hot) * off for on, off in zip(ons, offs, strict=True)])
            if not self.multi_spike:
                target = target[0]
        if value_checks_enabled() and bool(((target < -steps) | (target > steps - 1)).any()):
            src = "targets" if self.target_is_time else "on_target/off_target"
            raise ValueError(
                f"{owner}: target spike times ({src}) must lie in [-T, T-1] = [{-steps}, "
                f"{steps - 1}] for this record of T={steps} steps (negative times count from "
                f"the end), got values from {target.min().item():g} to {target.max().item():g}")
        target = torch.where(target < 0, target + steps, target)
        count = target.shape[0] if self.multi_spike else 1
        times = _FirstSpikeTimes.apply(rec, count)
        if not self.multi_spike:
            times = times[0]
        if self.tolerance:
            times = _Tolerance.apply(times, target, self.tolerance)
        err = (times / steps - target / steps) ** 2
        if self.multi_spike:
            # reduce over samples like the others: move the spike index behind the batch
            err = err.movedim(0, 1)
            out = self._reduce(err, y)
            return out.movedim(1, 0) if self.reduction == "none" else out
        return self._reduce(err, y)


def _seq(value: Any, name: str, owner: str) -> list[Any]:
    if isinstance(value, (list, tuple)):
        if not value:
            raise ValueError(f"{owner}: {name} must hold at least one spike time")
        return list(value)
    raise TypeError(f"{owner}: {name} must be a list of spike times with multi_spike=True")


class CETemporalLoss(_SpikeLoss):
    r"""Cross-entropy on first-spike times, so that the target class fires first:
    logits :math:`-t_{bc}` (``inverse="negate"``) or :math:`1/(t_{bc}+1)`
    (``inverse="reciprocal"``), with :math:`t = T - 1` for silent neurons.

    Args:
        inverse: ``"negate"`` or ``"reciprocal"``. Default: "negate".
        reduction, weight: as :class:`CERateLoss`.

    Shape:
        ``spk_rec (T, B, C)``, ``targets (B,)`` -> ``()`` or ``(B,)``.
    """

    def __init__(self, inverse: str = "negate", reduction: str = "mean",
                 weight: Tensor | None = None) -> None:
        super().__init__(reduction, weight)
        if inverse not in ("negate", "reciprocal"):
            raise ValueError(
                f"CETemporalLoss: inverse must be 'negate' or 'reciprocal', got {inverse!r}"
            )
        self.inverse = inverse

    def forward(self, spk_rec: Tensor, targets: Tensor) -> Tensor:
        rec = check_record(spk_rec, "spk_rec", type(self).__name__)
        y = self._labels(rec, targets)
        times = _FirstSpikeTimes.apply(rec, 1)[0]
        logits = -times if self.inverse == "negate" else 1 / (times + 1)
        return self._reduce(F.cross_entropy(logits, y, reduction="none"), y)


ce_rate_loss = CERateLoss
ce_count_loss = CECountLoss
ce_max_membrane_loss = CEMaxMembraneLoss
mse_count_loss = MSECountLoss
mse_membrane_loss = MSEMembraneLoss
mse_temporal_loss = MSETemporalLoss
ce_temporal_loss = CETemporalLoss
