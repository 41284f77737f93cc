"""The first-order leaky integrate-and-fire neuron."""

from __future__ import annotations

from typing import Any, NamedTuple

from torch import Tensor

from ._neuron import Neuron

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
        learn_beta: learnable :math:`\beta` (clamped to [0, 1] in the forward). Default: False.
        **options: the shared neuron options, by keyword, documented on
            :class:`~snncore.Neuron`: ``threshold`` (1.0), ``surrogate`` ("atan"), ``reset``
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

    def __init__(self, beta: float | Tensor, *, learn_beta: bool = False, **options: Any) -> None:
        super().__init__(**options)
        self.add_param("beta", beta, learn_beta, low=0.0, high=1.0)

    def step(self, x: Tensor, state: LeakyState) -> tuple[Tensor, LeakyState]:
        beta = self.param("beta", x, clamp01=True)
        thr = self.param("threshold", x)
        mem = self.integrate(beta, state.mem, x, thr)
        spk, mem = self.fire_and_reset(mem, thr)
        return spk, LeakyState(mem)
