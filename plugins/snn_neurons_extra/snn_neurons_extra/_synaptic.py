"""Second-order and RC-circuit neurons: Synaptic, Alpha, Lapicque."""

from __future__ import annotations

from typing import Any, NamedTuple

import torch
from torch import Tensor

from snncore import Neuron
from snncore.extend import check_bool, check_number, not_taken

__all__ = ["Synaptic", "SynapticState", "Alpha", "AlphaState", "Lapicque", "LapicqueState"]


class SynapticState(NamedTuple):
    """State of :class:`Synaptic`: synaptic current ``syn`` and membrane ``mem``."""

    syn: Tensor
    mem: Tensor


class Synaptic(Neuron):
    r"""Current-based (second-order) leaky integrate-and-fire neuron (registry name
    ``"synaptic"``).

    .. math::
        I_t = \alpha I_{t-1} + X_t, \qquad
        U_t = \beta U_{t-1} + I_t - R_t\theta, \qquad S_t = H(U_t - \theta)\cdot g

    with :math:`R_t = H(U_{t-1} - \theta)` (``reset_delay=True``, detached). Reset ``"zero"``
    zeroes the carried membrane, :math:`U_t = \beta(1 - R_t)U_{t-1} + I_t` (the current and this
    step's input are kept); ``"none"`` drops the reset term. With ``reset_delay=False`` the
    membrane fires and is reset in the same step.

    Args:
        alpha: synaptic decay :math:`\alpha` in [0, 1], float or per-neuron tensor.
        beta: membrane decay :math:`\beta` in [0, 1], float or per-neuron tensor.
        learn_alpha: learnable :math:`\alpha` (clamped to [0, 1] in the forward). Default: False.
        learn_beta: learnable :math:`\beta` (clamped to [0, 1] in the forward). Default: False.
        **options: the shared neuron options (keyword-only), see :class:`~snncore.Neuron`.

    Shape:
        - Input: ``(*)`` for one step, ``(T, *)`` for :meth:`run`.
        - Output: spikes of the input's shape and dtype.

    State:
        :class:`SynapticState` ``(syn, mem)``, each shaped like the input.

    Example::

        >>> lif2 = snn.create("synaptic", alpha=0.8, beta=0.9)
        >>> spk, state = lif2.run(torch.rand(25, 8, 100))
    """

    State = SynapticState
    fused_kind = "synaptic"

    def __init__(self, alpha: float | Tensor, beta: float | Tensor, *, learn_alpha: bool = False,
                 learn_beta: bool = False, **options: Any) -> None:
        super().__init__(**options)
        self.add_param("alpha", alpha, learn_alpha, low=0.0, high=1.0)
        self.add_param("beta", beta, learn_beta, low=0.0, high=1.0)

    def step(self, x: Tensor, state: SynapticState) -> tuple[Tensor, SynapticState]:
        alpha = self.param("alpha", x, clamp01=True)
        beta = self.param("beta", x, clamp01=True)
        thr = self.param("threshold", x)
        syn = alpha * state.syn + x
        mem = self.integrate(beta, state.mem, syn, thr)
        spk, mem = self.fire_and_reset(mem, thr)
        # state_quant acts on every state after the update (the membrane integrates the
        # current before it is quantized)
        return spk, SynapticState(self.quantize(syn), mem)


class AlphaState(NamedTuple):
    """State of :class:`Alpha`: excitatory current ``syn_exc``, inhibitory current ``syn_inh``
    and membrane ``mem``."""

    syn_exc: Tensor
    syn_inh: Tensor
    mem: Tensor


#: why Alpha does not take some shared options
_ALPHA_RESET = "the alpha kernel's reset always acts one step after the spike"


class Alpha(Neuron):
    r"""Alpha-kernel neuron: two exponential currents of opposite sign (registry name
    ``"alpha"``).

    .. math::
        E_t = \alpha E_{t-1} + X_t, \qquad F_t = \beta F_{t-1} - X_t, \qquad
        U_t = c\,(E_t + F_t), \qquad c = \frac{\ln\alpha}{\ln\beta - \ln\alpha} + 1

    so that the membrane follows the difference of two exponentials, and
    :math:`S_t = H(U_t - \theta)\cdot g`. Requires :math:`\alpha > \beta` element-wise and
    :math:`0 < \beta < 1`. Reset (always delayed one step, :math:`R_t = H(U_{t-1} - \theta)`):

    - ``"zero"`` (default): both carried currents are zeroed,
      :math:`E_t = \alpha(1-R_t)E_{t-1} + X_t`, :math:`F_t = \beta(1-R_t)F_{t-1} - X_t`
      (this step's input is kept, so :math:`U_t = 0` in the step after a spike);
    - ``"subtract"``: :math:`E_t = \alpha E_{t-1} + X_t - R_t\theta`,
      :math:`F_t = (1-R_t)(\beta F_{t-1} - X_t)`,
      :math:`U_t = c(\alpha E_{t-1} + X_t + \beta F_{t-1} - X_t) + R_t F_{t-1}`
      (snnTorch's rule, kept for parity);
    - ``"none"``: no reset.

    Args:
        alpha: decay :math:`\alpha` of the excitatory current, in (0, 1], float or per-neuron.
        beta: decay :math:`\beta` of the inhibitory current, in (0, 1), smaller than alpha.
        learn_alpha: learnable :math:`\alpha` (clamped to [0, 1] in the forward). Default: False.
        learn_beta: learnable :math:`\beta` (clamped to [0, 1] in the forward). Default: False.
        **options: the shared neuron options (keyword-only), see :class:`~snncore.Neuron`; defaults
            here: ``reset='zero'``; not taken: ``reset_delay`` (see ``fixed_options``).

    Shape:
        - Input: ``(*)`` for one step, ``(T, *)`` for :meth:`run`.
        - Output: spikes of the input's shape and dtype.

    State:
        :class:`AlphaState` ``(syn_exc, syn_inh, mem)``, each shaped like the input.

    Example::

        >>> n = snn.create("alpha", alpha=0.9, beta=0.8)
        >>> spk, state = n.run(torch.rand(25, 8, 100))
    """

    State = AlphaState

    option_defaults = {"reset": "zero"}
    fixed_options = not_taken(_ALPHA_RESET, "reset_delay")

    def __init__(self, alpha: float | Tensor, beta: float | Tensor, *, learn_alpha: bool = False,
                 learn_beta: bool = False, **options: Any) -> None:
        super().__init__(**options)
        self.add_param("alpha", alpha, learn_alpha, low=0.0, high=1.0, low_open=True)
        self.add_param("beta", beta, learn_beta, low=0.0, high=1.0, low_open=True)
        self.check_params()

    def check_params(self) -> None:
        """``β < 1`` and ``α > β`` element-wise (the kernel's constant needs both), checked at
        construction, on every assignment and for learned values before each run."""
        owner = type(self).__name__
        alpha, beta = self.alpha.detach(), self.beta.detach()
        if bool((beta >= 1).any()):
            raise ValueError(f"{owner}: beta must be < 1 (c = ln α / (ln β − ln α) + 1), "
                             f"got {_shown(beta)}")
        if bool((alpha <= beta).any()):
            raise ValueError(f"{owner}: alpha must be greater than beta element-wise, got "
                             f"alpha={_shown(alpha)}, beta={_shown(beta)}")

    def step(self, x: Tensor, state: AlphaState) -> tuple[Tensor, AlphaState]:
        alpha = self.param("alpha", x, clamp01=True)
        beta = self.param("beta", x, clamp01=True)
        thr = self.param("threshold", x)
        log_a = torch.log(alpha)
        c = log_a / (torch.log(beta) - log_a) + 1
        exc = alpha * state.syn_exc + x
        inh = beta * state.syn_inh - x
        if self.reset_mechanism == "none":
            mem = c * (exc + inh)
        else:
            r = self.reset_signal(state.mem, thr)
            if self.reset_mechanism == "zero":
                exc = alpha * ((1 - r) * state.syn_exc) + x
                inh = beta * ((1 - r) * state.syn_inh) - x
                mem = c * (exc + inh)
            else:
                mem = c * (exc + inh) + r * state.syn_inh
                exc = exc - r * thr
                inh = (1 - r) * inh
        exc, inh = self.quantize(exc), self.quantize(inh)
        spk, mem = self.fire_and_reset(mem, thr)
        return spk, AlphaState(exc, inh, mem)


class LapicqueState(NamedTuple):
    """State of :class:`Lapicque`: the membrane potential ``mem``."""

    mem: Tensor


class Lapicque(Neuron):
    r"""Lapicque's RC-circuit neuron, forward Euler (registry name ``"lapicque"``).

    .. math::
        U_t = \Big(1 - \frac{\Delta t}{RC}\Big)U_{t-1} + \frac{\Delta t}{C}X_t - R_t\theta,
        \qquad S_t = H(U_t - \theta)\cdot g

    Give either ``beta`` (optionally with one of ``R`` or ``C``) or both ``R`` and ``C``:

    - ``beta`` alone: :math:`R = 1`, :math:`C = \Delta t/\ln(1/\beta)`;
    - ``beta`` and ``R``: :math:`C = \Delta t/(R\ln(1/\beta))`;
    - ``beta`` and ``C``: :math:`R = \Delta t/(C\ln(1/\beta))`;
    - ``R`` and ``C``: used as given (``beta`` is reported as :math:`e^{-\Delta t/(RC)}`).

    Given ``beta``, the decay factor is :math:`1 - \ln(1/\beta)` (the Euler step of the RC
    circuit whose exact decay is :math:`\beta`); it is close to :math:`\beta` for
    :math:`\beta` near 1. With ``learn_beta=True`` R or C are derived from the learned
    :math:`\beta` in every forward. Resets as in :class:`~snncore.Leaky`.

    Args:
        beta: decay in (0, 1), float or per-neuron tensor. Default: None.
        R: resistance (> 0), float or per-neuron tensor. Default: None.
        C: capacitance (> 0), float or per-neuron tensor. Default: None.
        time_step: :math:`\Delta t` (> 0). Default: 1.0.
        learn_beta: learnable :math:`\beta` (only when ``beta`` is given). Default: False.
        **options: the shared neuron options (keyword-only), see :class:`~snncore.Neuron`.

    Shape:
        - Input: ``(*)`` for one step, ``(T, *)`` for :meth:`run`.
        - Output: spikes of the input's shape and dtype.

    State:
        :class:`LapicqueState` ``(mem,)`` shaped like the input.

    Example::

        >>> n = snn.create("lapicque", R=5.0, C=5e-3, time_step=1e-3)
        >>> spk, state = n.run(torch.rand(25, 8, 100))
    """

    State = LapicqueState

    def __init__(self, beta: float | Tensor | None = None, R: float | Tensor | None = None,
                 C: float | Tensor | None = None, time_step: float = 1.0, *,
                 learn_beta: bool = False, **options: Any) -> None:
        super().__init__(**options)
        owner = type(self).__name__
        learn_beta = check_bool(learn_beta, "learn_beta", owner)
        self.time_step = check_number(time_step, "time_step", owner, positive=True)
        given = {k for k, v in (("beta", beta), ("R", R), ("C", C)) if v is not None}
        if given == {"beta", "R", "C"}:
            raise ValueError(
                f"{owner}: give beta, or beta with one of R and C, or R and C; not all three "
                "(they over-determine the circuit)"
            )
        if given in (set(), {"R"}, {"C"}):
            raise ValueError(
                f"{owner}: give beta, or beta with one of R and C, or both R and C; got only "
                f"{sorted(given) or 'none of them'}"
            )
        if learn_beta and beta is None:
            raise ValueError(f"{owner}: learn_beta=True needs beta (R and C were given)")
        if R is not None:
            self.add_param("R", R, False, low=0.0, low_open=True)
        if C is not None:
            self.add_param("C", C, False, low=0.0, low_open=True)
        self._mode = "".join(sorted(given))  # "Cbeta", "Rbeta", "beta" or "CR"
        if beta is not None:
            self.add_param("beta", beta, learn_beta, low=0.0, high=1.0, low_open=True)
            self.check_params()
            ln_inv = torch.log(1 / self.beta.detach())
            if R is None and C is None:
                self.add_param("R", torch.ones_like(ln_inv), False)
                self.add_param("C", self.time_step / ln_inv, False)
            elif C is None:
                self.add_param("C", self.time_step / (self.R * ln_inv), False)
            else:
                self.add_param("R", self.time_step / (self.C * ln_inv), False)
        else:
            self.add_param("beta", torch.exp(-self.time_step / (self.R * self.C)), False)

    def check_params(self) -> None:
        """``0 < β < 1`` (the input gain ``ln(1/β)`` vanishes at 1 and is infinite at 0), checked
        at construction, on every assignment and for a learned value before each run (a
        learned β is not clamped into range as other decays are: at either end of [0, 1] the
        model is undefined)."""
        if getattr(self, "_mode", "beta") == "CR":  # beta derived from R and C, not used
            return
        beta = getattr(self, "beta", None)
        if beta is not None and bool((beta.detach() >= 1).any()):
            raise ValueError(f"{type(self).__name__}: beta must be < 1, got {_shown(beta)}")
        if beta is not None and bool((beta.detach() <= 0).any()):
            raise ValueError(f"{type(self).__name__}: beta must be > 0, got {_shown(beta)}")

    def coefficients(self, x: Tensor) -> tuple[Tensor, Tensor]:
        """Decay ``1 − Δt/(RC)`` and input gain ``Δt/C`` in ``x``'s dtype."""
        dt = self.time_step
        if self._mode == "CR":
            r, c = self.param("R", x), self.param("C", x)
            return 1 - dt / (r * c), dt / c
        ln_inv = torch.log(1 / self.param("beta", x, clamp01=True))
        if self._mode == "Cbeta":
            gain = dt / self.param("C", x)
        elif self._mode == "Rbeta":
            gain = self.param("R", x) * ln_inv
        else:
            gain = ln_inv
        return 1 - ln_inv, gain

    def step(self, x: Tensor, state: LapicqueState) -> tuple[Tensor, LapicqueState]:
        decay, gain = self.coefficients(x)
        thr = self.param("threshold", x)
        mem = self.integrate(decay, state.mem, gain * x, thr)
        spk, mem = self.fire_and_reset(mem, thr)
        return spk, LapicqueState(mem)

    def extra_repr(self) -> str:
        return f"time_step={self.time_step:g}, " + super().extra_repr()


def _shown(t: Tensor) -> Any:
    """A parameter value for an error message: the number, or the tensor's values."""
    t = t.detach()
    return t.item() if t.numel() == 1 else t.tolist()
