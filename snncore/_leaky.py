"""The first-order leaky integrate-and-fire neuron."""

from __future__ import annotations

import weakref
from typing import Any, NamedTuple

import torch
from torch import Tensor

from ._neuron import Neuron
from ._surrogate import Surrogate, heaviside

__all__ = ["Leaky", "LeakyState"]


class LeakyState(NamedTuple):
    """State of :class:`Leaky`: the membrane potential ``mem``."""

    mem: Tensor


class Leaky(Neuron):
    r"""Leaky integrate-and-fire neuron (registry name ``"leaky"``).

    .. math::
        U_t = \beta U_{t-1} + X_t - R_t\theta, \qquad S_t = H(U_t - \theta)\cdot g

    with :math:`R_t = H(U_{t-1} - \theta)` (``reset_delay=True``, detached). Reset ``"zero"``
    uses :math:`U_t = \beta (1 - R_t) U_{t-1} + X_t`; ``"none"`` drops the reset term. With
    ``reset_delay=False`` the membrane is computed without a reset term, fires, and is then reset
    in the same step (``U_t ← U_t − S_t θ`` or ``U_t ← U_t (1 − S_t)``).

    Args:
        beta: membrane decay :math:`\beta` in [0, 1], float or per-neuron tensor.
        threshold: :math:`\theta` (> 0), float or per-neuron tensor; the one shared option
            that may also be given by position, as in snnTorch. Default: 1.0.
        learn_beta: learnable :math:`\beta` (clamped to [0, 1] in the forward). Default: False.
        **options: the other shared neuron options, by keyword, documented on
            :class:`~snncore.Neuron`: ``surrogate`` ("atan"), ``reset``
            ("subtract"), ``reset_delay`` (True), ``learn_threshold``, ``graded_spikes_factor``
            (1.0), ``learn_graded_spikes_factor``, ``state_quant``, ``inhibition``,
            ``stateful``, ``detach_reset`` (True), ``backend``.

    Shape:
        - Input: ``(*)`` for one step, ``(T, *)`` for :meth:`run`.
        - Output: spikes of the input's shape and dtype.

    State:
        :class:`LeakyState` ``(mem,)`` shaped like the input; zeros when ``state=None``.

    Attributes:
        beta, threshold, graded_spikes_factor: buffers, or ``nn.Parameter`` when learnable.

    Example::

        >>> lif = snn.create("leaky", beta=0.9)
        >>> x = torch.rand(25, 8, 100)           # [T, B, N]
        >>> spk, state = lif.run(x)              # whole sequence
        >>> spk0, state = lif(x[0])              # or one step at a time
    """

    State = LeakyState
    #: kernel family used by the ``fused`` and ``triton`` backends
    fused_kind = "leaky"

    def __init__(self, beta: float | Tensor, threshold: float | Tensor | None = None, *,
                 learn_beta: bool = False, **options: Any) -> None:
        if threshold is not None:  # also positional, as in snnTorch: Leaky(0.9, 0.5)
            options["threshold"] = threshold
        super().__init__(**options)
        self.add_param("beta", beta, learn_beta, low=0.0, high=1.0)

    def step(self, x: Tensor, state: LeakyState) -> tuple[Tensor, LeakyState]:
        beta = self.param("beta", x, clamp01=True)
        thr = self.param("threshold", x)
        mem = self.integrate(beta, state.mem, x, thr)
        spk, mem = self.fire_and_reset(mem, thr)
        return spk, LeakyState(mem)

    def fused_step(self, x: Tensor, state: LeakyState) -> tuple[Tensor, LeakyState]:
        """:meth:`step` through one autograd function: the same spikes, membrane and gradients
        (the same floating-point operations in the same order), with one graph node per step
        instead of about ten, for step-by-step loops (snnTorch-style programs).

        Its backward is not itself differentiable (no double backward, no ``torch.func``
        transforms); where it does not apply (learnable parameters, ``reset_delay=False``,
        ``detach_reset=False``, ``state_quant``, ``inhibition``, a non-:class:`Surrogate`
        spike function) it is :meth:`step`. Like :meth:`step` it does not check its arguments.
        When ``state.mem`` is the membrane the previous call returned, unmodified (and the
        threshold and a factor ``g = 1`` are unchanged), the reset signal
        :math:`H(U_{t-1} - \theta)` is that call's spikes, reused instead of recomputed.
        """
        if not self._fused_step_ok():
            return Leaky.step(self, x, state)
        beta = self.param("beta", x)
        thr = self.param("threshold", x)
        g = self.param("graded_spikes_factor", x)
        unit_g = self._is_one("graded_spikes_factor")
        # the previous call's spikes are this step's reset signal H(U_{t-1} - θ) when U_{t-1}
        # is the membrane it returned, θ is unchanged and the spikes are unscaled and unchanged
        prev = _LAST_SPIKES.get(self) if unit_g else None
        thr_buf = self.threshold
        r = None
        if prev is not None and prev[0]() is state.mem and prev[5] == state.mem._version and \
                prev[1] is thr_buf and prev[2] == thr_buf._version and \
                prev[3] == prev[4]._version and prev[4].dtype == x.dtype:
            r = prev[4]
        spk, mem = _LeakyStep.apply(x, state.mem, beta, thr, None if unit_g else g,
                                    self.surrogate, self.reset_mechanism,
                                    self._is_one("threshold"), r)
        if unit_g and self.reset_mechanism != "none":
            base = spk.detach()
            _LAST_SPIKES[self] = (weakref.ref(mem), thr_buf, thr_buf._version, base._version,
                                  base, mem._version)
        return spk, LeakyState(mem)

    def _is_one(self, name: str) -> bool:
        """Whether buffer ``name`` is exactly 1 (a CPU scalar), cached per tensor version."""
        t = getattr(self, name)
        cache = self.__dict__.setdefault("_fused_unit", {})
        hit = cache.get(name)
        if hit is not None and hit[0] is t and hit[1] == t._version:
            return hit[2]
        one = t.dim() == 0 and t.device.type == "cpu" and bool(t == 1)
        cache[name] = (t, t._version, one)
        return one

    def _fused_step_ok(self) -> bool:
        return (self.reset_delay and self.detach_reset and self.state_quant is None
                and not self.inhibition and isinstance(self.surrogate, Surrogate)
                and not self._parameters)


#: neuron -> (weak ref to the membrane it returned last, threshold buffer and version, spikes'
#: version, spikes, membrane version): the reset signal of the next step (not on the module:
#: copies and pickles of a neuron never carry it)
_LAST_SPIKES: weakref.WeakKeyDictionary[Leaky, tuple[Any, ...]] = weakref.WeakKeyDictionary()


class _LeakyStep(torch.autograd.Function):
    """One :class:`Leaky` step (``reset_delay=True``, detached reset) with the arithmetic of
    :meth:`Leaky.step` and its autograd graph written out by hand."""

    @staticmethod
    def forward(ctx: Any, x: Tensor, mem: Tensor, beta: Tensor, thr: Tensor, g: Tensor | None,
                surrogate: Surrogate, reset: str, thr_one: bool,
                r: Tensor | None) -> tuple[Tensor, Tensor]:
        # ``g=None`` stands for a factor of exactly 1 and ``thr_one`` for a threshold of exactly
        # 1: multiplying by them is skipped, which leaves every value unchanged
        keep = None
        h = beta * mem
        inplace = h.shape == x.shape
        if reset == "subtract":
            r = heaviside(mem - thr) if r is None else r
            h = h.add_(x) if inplace else h + x
            h = h.sub_(r if thr_one else r * thr) if inplace else h - (r if thr_one else r * thr)
        elif reset == "zero":
            keep = 1 - (heaviside(mem - thr) if r is None else r)
            h = beta * (keep * mem) + x
        else:
            h = h.add_(x) if inplace else h + x
        shifted = h - thr
        spk = heaviside(shifted)
        if g is not None:
            spk = spk * g
        ctx.save_for_backward(shifted, beta, g, keep)
        ctx.surrogate = surrogate
        return spk, h

    @staticmethod
    def backward(ctx: Any, gspk: Tensor, gh: Tensor) -> tuple[Tensor | None, ...]:
        shifted, beta, g, keep = ctx.saved_tensors
        if g is not None:
            gspk = gspk * g
        gt = gh + gspk * ctx.surrogate.derivative(shifted)
        gmem = None
        if ctx.needs_input_grad[1]:
            gmem = gt * beta if keep is None else gt * beta * keep
        return (gt if ctx.needs_input_grad[0] else None), gmem, *([None] * 7)
