"""The first-order leaky integrate-and-fire neuron."""

from __future__ import annotations

from typing import NamedTuple

from torch import Tensor

from ._neuron import Neuron, StateQuantizer
from ._surrogate import Surrogate

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
        threshold: :math:`\theta` (> 0). Default: 1.0.
        surrogate: surrogate name or object. Default: "atan".
        reset: "subtract", "zero" or "none". Default: "subtract".
        reset_delay: reset one step after the spike. Default: True.
        learn_beta: learnable :math:`\beta` (clamped to [0, 1] in the forward). Default: False.
        learn_threshold: learnable :math:`\theta`. Default: False.
        graded_spikes_factor: :math:`g`. Default: 1.0.
        learn_graded_spikes_factor: learnable :math:`g`. Default: False.
        state_quant: callable applied to the membrane after each update. Default: None.
        inhibition: winner-take-all firing per sample. Default: False.
        stateful: keep the state inside the module (``nn.Sequential`` style). Default: False.
        detach_reset: no gradient through the reset. Default: True.
        backend: backend for :meth:`run`; None selects. Default: None.

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

    def __init__(
        self,
        beta: float | Tensor,
        threshold: float | Tensor = 1.0,
        surrogate: str | Surrogate = "atan",
        reset: str = "subtract",
        reset_delay: bool = True,
        learn_beta: bool = False,
        learn_threshold: bool = False,
        graded_spikes_factor: float | Tensor = 1.0,
        learn_graded_spikes_factor: bool = False,
        state_quant: StateQuantizer | None = None,
        inhibition: bool = False,
        stateful: bool = False,
        detach_reset: bool = True,
        backend: str | None = None,
    ) -> None:
        super().__init__(
            threshold=threshold, surrogate=surrogate, reset=reset, reset_delay=reset_delay,
            learn_threshold=learn_threshold, graded_spikes_factor=graded_spikes_factor,
            learn_graded_spikes_factor=learn_graded_spikes_factor, state_quant=state_quant,
            inhibition=inhibition, stateful=stateful, detach_reset=detach_reset, backend=backend,
        )
        if not isinstance(learn_beta, bool):
            raise TypeError(f"Leaky: learn_beta must be a bool, got {learn_beta!r}")
        self.add_param("beta", beta, learn_beta, low=0.0, high=1.0)

    def step(self, x: Tensor, state: LeakyState) -> tuple[Tensor, LeakyState]:
        beta = self.param("beta", x, clamp01=True)
        thr = self.param("threshold", x)
        mem = self.integrate(beta, state.mem, x, thr)
        spk, mem = self.fire_and_reset(mem, thr)
        return spk, LeakyState(mem)
