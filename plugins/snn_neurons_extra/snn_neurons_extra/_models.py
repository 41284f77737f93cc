"""Models beyond snnTorch: IF, LI (readout), ALIF (adaptive threshold), Izhikevich, AdEx."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, NamedTuple

import torch
from torch import Tensor

from snncore import Neuron
from snncore.extend import check_number, not_taken

__all__ = [
    "IF",
    "IFState",
    "LI",
    "LIState",
    "ALIF",
    "ALIFState",
    "Izhikevich",
    "IzhikevichState",
    "IZHIKEVICH_PARAMETER_SETS",
    "AdEx",
    "AdExState",
]


class IFState(NamedTuple):
    """State of :class:`IF`: the membrane ``mem``."""

    mem: Tensor


class IF(Neuron):
    r"""Integrate-and-fire neuron without leak (registry name ``"if"``).

    .. math::
        U_t = U_{t-1} + X_t - R_t\theta, \qquad S_t = H(U_t - \theta)\cdot g

    i.e. :class:`~snncore.Leaky` with :math:`\beta = 1`; the same reset rules and
    ``reset_delay`` apply.

    Args:
        **options: the shared neuron options (keyword-only), see :class:`~snncore.Neuron`.

    Shape:
        - Input: ``(*)`` for one step, ``(T, *)`` for :meth:`run`.
        - Output: spikes of the input's shape and dtype.

    State:
        :class:`IFState` ``(mem,)`` shaped like the input.

    Example::

        >>> n = snn.create("if", threshold=1.0)
        >>> spk, state = n.run(torch.rand(25, 8, 100))
    """

    State = IFState

    def __init__(self, **options: Any) -> None:
        super().__init__(**options)

    def step(self, x: Tensor, state: IFState) -> tuple[Tensor, IFState]:
        thr = self.param("threshold", x)
        mem = self.integrate(x.new_ones(()), state.mem, x, thr)
        spk, mem = self.fire_and_reset(mem, thr)
        return spk, IFState(mem)


class LIState(NamedTuple):
    """State of :class:`LI`: the membrane ``mem``."""

    mem: Tensor


#: why LI does not take some shared options
_NO_SPIKES = "LI does not spike: its output is the membrane itself"


class LI(Neuron):
    r"""Leaky integrator without spikes: a readout layer (registry name ``"li"``).

    .. math::
        U_t = \beta U_{t-1} + X_t

    The output of each step is the membrane :math:`U_t` itself (``out, state = n(x, state)``
    with ``out`` equal to ``state.mem``), so losses on membrane potentials can be used directly.

    Args:
        beta: decay in [0, 1], float or per-neuron tensor.
        learn_beta: learnable :math:`\beta` (clamped to [0, 1]). Default: False.
        **options: the shared neuron options (keyword-only), see :class:`~snncore.Neuron`; not
            taken: ``threshold``, ``surrogate``, ``reset``, ``reset_delay``, ``learn_threshold``,
            ``graded_spikes_factor``, ``learn_graded_spikes_factor``, ``inhibition``,
            ``detach_reset`` (see ``fixed_options``).

    Shape:
        - Input: ``(*)`` for one step, ``(T, *)`` for :meth:`run`.
        - Output: membrane of the input's shape.

    State:
        :class:`LIState` ``(mem,)`` shaped like the input.

    Example::

        >>> readout = snn.create("li", beta=0.95)
        >>> mem_seq, state = readout.run(torch.rand(25, 8, 10))
    """

    State = LIState

    fixed_options = not_taken(_NO_SPIKES, "threshold", "surrogate", "reset_delay",
                              "learn_threshold", "graded_spikes_factor",
                              "learn_graded_spikes_factor", "inhibition", "detach_reset",
                              reset="none")

    def __init__(self, beta: float | Tensor, learn_beta: bool = False, **options: Any) -> None:
        super().__init__(**options)
        self.add_param("beta", beta, learn_beta, low=0.0, high=1.0)

    def step(self, x: Tensor, state: LIState) -> tuple[Tensor, LIState]:
        mem = self.quantize(self.param("beta", x, clamp01=True) * state.mem + x)
        return mem, LIState(mem)

    def extra_repr(self) -> str:
        b = self.beta
        return f"beta={b.item():g}" if b.dim() == 0 else f"beta=<{tuple(b.shape)}>"


class ALIFState(NamedTuple):
    """State of :class:`ALIF`: membrane ``mem``, threshold adaptation ``b`` (the amount added to
    the base threshold in this step) and the spikes ``spk`` of this step."""

    mem: Tensor
    b: Tensor
    spk: Tensor


class ALIF(Neuron):
    r"""Adaptive leaky integrate-and-fire neuron: each spike raises the threshold, which relaxes
    back (registry name ``"alif"``; Bellec et al. 2018).

    .. math::
        b_t &= \rho\, b_{t-1} + (1-\rho)\,\gamma\, S_{t-1}, \qquad \theta_t = \theta_0 + b_t \\
        U_t &= \beta U_{t-1} + X_t - R_t\,\theta_{t-1}, \qquad
        S_t = H(U_t - \theta_t)\cdot g

    with :math:`R_t = H(U_{t-1} - \theta_{t-1})` (``reset_delay=True``): the reset subtracts the
    threshold that was crossed. ``"zero"`` zeroes the carried membrane; with
    ``reset_delay=False`` the membrane is reset by :math:`\theta_t` in the step that fires.
    Gradients flow through the adaptation (the spike's surrogate) into :math:`\rho` and
    :math:`\gamma`.

    Args:
        beta: membrane decay in [0, 1], float or per-neuron tensor.
        rho: adaptation decay :math:`\rho` in [0, 1]. Default: 0.95.
        adapt_scale: adaptation strength :math:`\gamma` (>= 0). Default: 1.0.
        learn_beta: learnable :math:`\beta`. Default: False.
        learn_rho: learnable :math:`\rho` (clamped to [0, 1]). Default: False.
        learn_adapt_scale: learnable :math:`\gamma`. Default: False.
        **options: the shared neuron options (keyword-only), see :class:`~snncore.Neuron`.

    Shape:
        - Input: ``(*)`` for one step, ``(T, *)`` for :meth:`run`.
        - Output: spikes of the input's shape and dtype.

    State:
        :class:`ALIFState` ``(mem, b, spk)``, each shaped like the input.

    Example::

        >>> n = snn.create("alif", beta=0.9, rho=0.98, adapt_scale=1.8)
        >>> spk, state = n.run(torch.rand(25, 8, 100))
    """

    State = ALIFState

    def __init__(self, beta: float | Tensor, rho: float | Tensor = 0.95,
                 adapt_scale: float | Tensor = 1.0, *, learn_beta: bool = False,
                 learn_rho: bool = False, learn_adapt_scale: bool = False, **options: Any) -> None:
        super().__init__(**options)
        self.add_param("beta", beta, learn_beta, low=0.0, high=1.0)
        self.add_param("rho", rho, learn_rho, low=0.0, high=1.0)
        self.add_param("adapt_scale", adapt_scale, learn_adapt_scale, low=0.0)

    def step(self, x: Tensor, state: ALIFState) -> tuple[Tensor, ALIFState]:
        beta = self.param("beta", x, clamp01=True)
        rho = self.param("rho", x, clamp01=True)
        thr0 = self.param("threshold", x)
        thr_prev = thr0 + state.b
        b = self.quantize(rho * state.b + (1 - rho) * self.param("adapt_scale", x) * state.spk)
        thr = thr0 + b
        mem = self.integrate(beta, state.mem, x, thr_prev)
        spk, mem = self.fire_and_reset(mem, thr)
        return spk, ALIFState(mem, b, spk)


def _learn_set(owner: str, learn: Iterable[str], allowed: tuple[str, ...]) -> set[str]:
    if isinstance(learn, str):
        learn = (learn,)
    names = set(learn)
    unknown = names - set(allowed)
    if unknown:
        raise ValueError(f"{owner}: learn may name only {allowed}, got {sorted(unknown)}")
    return names


#: The classic parameter sets of Izhikevich (2003), name -> (a, b, c, d).
IZHIKEVICH_PARAMETER_SETS: dict[str, tuple[float, float, float, float]] = {
    "regular_spiking": (0.02, 0.2, -65.0, 8.0),
    "intrinsically_bursting": (0.02, 0.2, -55.0, 4.0),
    "chattering": (0.02, 0.2, -50.0, 2.0),
    "fast_spiking": (0.1, 0.2, -65.0, 2.0),
    "low_threshold_spiking": (0.02, 0.25, -65.0, 2.0),
    "thalamo_cortical": (0.02, 0.25, -65.0, 0.05),
    "resonator": (0.1, 0.26, -65.0, 2.0),
}


class IzhikevichState(NamedTuple):
    """State of :class:`Izhikevich`: membrane ``v`` (mV) and recovery variable ``u``."""

    v: Tensor
    u: Tensor


#: why Izhikevich does not take some shared options
_OWN_RESET = ("the model resets itself (the membrane to its reset value, the adaptation variable "
              "up by its jump); the generic reset rules do not apply")


class Izhikevich(Neuron):
    r"""Izhikevich (2003) neuron, forward Euler (registry name ``"izhikevich"``).

    .. math::
        v_t &= v^{*} + \Delta t\,(0.04 {v^{*}}^2 + 5 v^{*} + 140 - u^{*} + X_t) \\
        u_t &= u^{*} + \Delta t\, a (b v^{*} - u^{*}), \qquad S_t = H(v_t - v_{peak})\cdot g

    and after a spike :math:`v \leftarrow c`, :math:`u \leftarrow u + d`. With
    ``reset_delay=False`` (default, the classic model) the reset is applied in the step that
    fires, so :math:`(v^{*}, u^{*}) = (v_{t-1}, u_{t-1})` and the stored :math:`v_t` is
    :math:`c` after a spike; with ``reset_delay=True`` the reset is applied at the start of the
    next step: :math:`v^{*} = R_t c + (1-R_t) v_{t-1}`, :math:`u^{*} = u_{t-1} + R_t d` with
    :math:`R_t = H(v_{t-1} - v_{peak})`. Units: mV and ms; the input is the current :math:`I` of
    the 2003 paper (about 10 drives regular spiking). A fresh state starts at rest,
    :math:`v = c`, :math:`u = b c`.

    Args:
        a, b, c, d: model parameters (floats or per-neuron tensors); those not given come from
            ``parameter_set``.
        parameter_set: one of :data:`IZHIKEVICH_PARAMETER_SETS`: "regular_spiking",
            "intrinsically_bursting", "chattering", "fast_spiking", "low_threshold_spiking",
            "thalamo_cortical", "resonator". Default: "regular_spiking".
        time_step: :math:`\Delta t` in ms (> 0). Default: 0.5.
        threshold: :math:`v_{peak}` in mV (any finite value). Default: 30.0.
        learn: names among "a", "b", "c", "d" to make learnable. Default: ().
        learn_threshold: learnable :math:`v_{peak}`. Default: False.
        **options: the shared neuron options (keyword-only), see :class:`~snncore.Neuron`; defaults
            here: ``reset_delay=False``; not taken: ``reset`` (see ``fixed_options``).

    Shape:
        - Input: ``(*)`` for one step, ``(T, *)`` for :meth:`run`.
        - Output: spikes of the input's shape and dtype.

    State:
        :class:`IzhikevichState` ``(v, u)``, each shaped like the input.

    Example::

        >>> n = snn.create("izhikevich", parameter_set="chattering")
        >>> spk, state = n.run(torch.full((400, 1, 1), 10.0))
    """

    State = IzhikevichState

    option_defaults = {"reset_delay": False}
    fixed_options = not_taken(_OWN_RESET, reset="none")

    def __init__(self, a: float | Tensor | None = None, b: float | Tensor | None = None,
                 c: float | Tensor | None = None, d: float | Tensor | None = None,
                 parameter_set: str = 'regular_spiking', time_step: float = 0.5,
                 threshold: float | Tensor = 30.0, *, learn: Iterable[str] = (),
                 learn_threshold: bool = False, **options: Any) -> None:
        super().__init__(**options)
        owner = "Izhikevich"
        if parameter_set not in IZHIKEVICH_PARAMETER_SETS:
            raise ValueError(f"{owner}: parameter_set must be one of "
                             f"{sorted(IZHIKEVICH_PARAMETER_SETS)}, got {parameter_set!r}")
        self.parameter_set = parameter_set
        self.time_step = check_number(time_step, "time_step", owner, positive=True)
        learned = _learn_set(owner, learn, ("a", "b", "c", "d"))
        self.add_param("threshold", threshold, learn_threshold)
        defaults = IZHIKEVICH_PARAMETER_SETS[parameter_set]
        for name, value, default in zip("abcd", (a, b, c, d), defaults, strict=True):
            self.add_param(name, default if value is None else value, name in learned)

    def init_state(self, x: Tensor) -> IzhikevichState:
        c = self.param("c", x).expand(x.shape)
        v = c.detach().clone()
        return IzhikevichState(v, (self.param("b", x) * v).detach())

    def _reset(self, r: Tensor, v: Tensor, u: Tensor, x: Tensor) -> tuple[Tensor, Tensor]:
        return r * self.param("c", x) + (1 - r) * v, u + r * self.param("d", x)

    def step(self, x: Tensor, state: IzhikevichState) -> tuple[Tensor, IzhikevichState]:
        thr = self.param("threshold", x)
        v, u = state.v, state.u
        if self.reset_delay:
            v, u = self._reset(self.reset_signal(v, thr), v, u, x)
        dt = self.time_step
        a, b = self.param("a", x), self.param("b", x)
        v_new = v + dt * (0.04 * v * v + 5 * v + 140 - u + x)
        u_new = u + dt * a * (b * v - u)
        v, u = self.quantize(v_new), self.quantize(u_new)
        spk, v = self.fire_and_reset(v, thr)
        if not self.reset_delay:
            v, u = self._reset(self.reset_signal(v, thr), v, u, x)
        return spk, IzhikevichState(v, u)

    def extra_repr(self) -> str:
        return (f"parameter_set={self.parameter_set!r}, time_step={self.time_step:g}, "
                f"reset_delay={self.reset_delay}")


class AdExState(NamedTuple):
    """State of :class:`AdEx`: membrane ``v`` (mV) and adaptation current ``w`` (pA)."""

    v: Tensor
    w: Tensor


_ADEX_PARAMS = ("C", "g_L", "E_L", "V_T", "delta_T", "tau_w", "a", "b", "V_reset")


class AdEx(Neuron):
    r"""Adaptive exponential integrate-and-fire neuron (Brette & Gerstner 2005), forward Euler
    (registry name ``"adex"``).

    .. math::
        C\frac{dV}{dt} &= -g_L (V - E_L) + g_L \Delta_T
            \exp\!\Big(\frac{V - V_T}{\Delta_T}\Big) - w + I \\
        \tau_w \frac{dw}{dt} &= a (V - E_L) - w

    stepped with :math:`\Delta t`; :math:`S_t = H(V_t - V_{peak})\cdot g` and after a spike
    :math:`V \leftarrow V_{reset}`, :math:`w \leftarrow w + b`. The exponent uses
    :math:`\min(V, V_{peak})`, so a membrane past the peak (before its reset) cannot overflow.
    Reset timing as in :class:`Izhikevich` (default: in the step that fires). Units: pF, nS,
    mV, ms, pA. Defaults are the paper's regular-spiking cell; a fresh state starts at
    :math:`V = E_L`, :math:`w = 0`.

    Args:
        C: capacitance (pF, > 0). Default: 281.0.
        g_L: leak conductance (nS, > 0). Default: 30.0.
        E_L: leak reversal potential (mV). Default: -70.6.
        V_T: threshold slope centre (mV). Default: -50.4.
        delta_T: slope factor (mV, > 0). Default: 2.0.
        tau_w: adaptation time constant (ms, > 0). Default: 144.0.
        a: sub-threshold adaptation (nS). Default: 4.0.
        b: spike-triggered adaptation (pA). Default: 80.5.
        V_reset: reset potential (mV). Default: -70.6.
        time_step: :math:`\Delta t` in ms (> 0). Default: 0.1.
        threshold: :math:`V_{peak}` in mV (any finite value). Default: 20.0.
        learn: names of parameters above to make learnable. Default: ().
        learn_threshold: learnable :math:`V_{peak}`. Default: False.
        **options: the shared neuron options (keyword-only), see :class:`~snncore.Neuron`; defaults
            here: ``reset_delay=False``; not taken: ``reset`` (see ``fixed_options``).

    Shape:
        - Input: ``(*)`` for one step, ``(T, *)`` for :meth:`run`; the current in pA.
        - Output: spikes of the input's shape and dtype.

    State:
        :class:`AdExState` ``(v, w)``, each shaped like the input.

    Example::

        >>> n = snn.create("adex")
        >>> spk, state = n.run(torch.full((5000, 1, 1), 800.0))   # 500 ms at 800 pA
    """

    State = AdExState

    option_defaults = {"reset_delay": False}
    fixed_options = not_taken(_OWN_RESET, reset="none")

    def __init__(self, C: float | Tensor = 281.0, g_L: float | Tensor = 30.0,
                 E_L: float | Tensor = -70.6, V_T: float | Tensor = -50.4,
                 delta_T: float | Tensor = 2.0, tau_w: float | Tensor = 144.0,
                 a: float | Tensor = 4.0, b: float | Tensor = 80.5, V_reset: float | Tensor = -70.6,
                 time_step: float = 0.1, threshold: float | Tensor = 20.0, *,
                 learn: Iterable[str] = (), learn_threshold: bool = False, **options: Any) -> None:
        super().__init__(**options)
        owner = "AdEx"
        self.time_step = check_number(time_step, "time_step", owner, positive=True)
        learned = _learn_set(owner, learn, _ADEX_PARAMS)
        self.add_param("threshold", threshold, learn_threshold)
        values: dict[str, Any] = {"C": C, "g_L": g_L, "E_L": E_L, "V_T": V_T, "delta_T": delta_T,
                                  "tau_w": tau_w, "a": a, "b": b, "V_reset": V_reset}
        positive = {"C", "g_L", "delta_T", "tau_w"}
        for name in _ADEX_PARAMS:
            self.add_param(name, values[name], name in learned,
                           low=0.0 if name in positive else None, low_open=name in positive)

    def init_state(self, x: Tensor) -> AdExState:
        v = self.param("E_L", x).expand(x.shape).detach().clone()
        return AdExState(v, torch.zeros_like(x))

    def _reset(self, r: Tensor, v: Tensor, w: Tensor, x: Tensor) -> tuple[Tensor, Tensor]:
        return r * self.param("V_reset", x) + (1 - r) * v, w + r * self.param("b", x)

    def step(self, x: Tensor, state: AdExState) -> tuple[Tensor, AdExState]:
        p = {name: self.param(name, x) for name in _ADEX_PARAMS}
        thr = self.param("threshold", x)
        v, w = state.v, state.w
        if self.reset_delay:
            v, w = self._reset(self.reset_signal(v, thr), v, w, x)
        dt = self.time_step
        exp_term = torch.exp((torch.minimum(v, thr) - p["V_T"]) / p["delta_T"])
        dv = (-p["g_L"] * (v - p["E_L"]) + p["g_L"] * p["delta_T"] * exp_term - w + x) / p["C"]
        dw = (p["a"] * (v - p["E_L"]) - w) / p["tau_w"]
        v, w = self.quantize(v + dt * dv), self.quantize(w + dt * dw)
        spk, v = self.fire_and_reset(v, thr)
        if not self.reset_delay:
            v, w = self._reset(self.reset_signal(v, thr), v, w, x)
        return spk, AdExState(v, w)

    def extra_repr(self) -> str:
        return f"time_step={self.time_step:g}, reset_delay={self.reset_delay}"
