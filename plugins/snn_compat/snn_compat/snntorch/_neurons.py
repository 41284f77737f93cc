"""snnTorch's neuron classes as thin adapters over snncore's neurons.

Each class subclasses the snncore neuron with the same dynamics (``snncore.Leaky``,
``snn_neurons_extra.Synaptic``, ...), so it *is* a :class:`snncore.Neuron`: ``run()`` over a
whole sequence and :class:`snncore.Sequential` use the fused backends. What the adapter adds is
snnTorch's calling convention:

- constructor arguments ``spike_grad``, ``surrogate_disable``, ``init_hidden``,
  ``reset_mechanism``, ``state_quant=False``, ``output``;
- flat states: ``spk, mem = lif(x, mem)``, ``spk, syn, mem = syn_lif(x, syn, mem)``; the state is
  also kept on the module (``lif.mem``), so ``lif(x)`` continues from the last call;
- ``init_hidden=True``: returns spikes only (``(spk, *states)`` with ``output=True``), for
  ``nn.Sequential``; ``init_leaky()``/``reset_mem()``, ``Leaky.reset_hidden()``,
  ``Leaky.detach_hidden()`` and ``snn_compat.snntorch.utils.reset(net)``.

A state returned by ``init_*()``/``reset_mem()`` is an empty tensor, which means "start from
zeros shaped like the input" (as snnTorch's first call does). A non-empty state whose shape does
not fit the input raises ``ValueError`` (snnTorch silently replaces it by zeros).
"""

from __future__ import annotations

import math
import warnings
import weakref
from typing import Any, ClassVar

import torch
from torch import Tensor, nn

import snn_neurons_extra as extra
import snncore
from snncore import surrogates as _s

from .._warn import warn_difference
from . import _checkpoint as _ckpt
from . import surrogate as _s_compat

__all__ = [
    "SpikingNeuron", "LIF", "Leaky", "Synaptic", "Alpha", "Lapicque", "RLeaky", "RSynaptic",
    "SLSTM", "SConv2dLSTM", "LeakyParallel", "StateLeaky", "LinearLeaky", "DeltaLeaky",
    "AssociativeLeaky", "to_surrogate", "to_state_quant",
]

_RESET_DICT = {"subtract": 0, "zero": 1, "none": 2}

DIFF_ZERO_RESET = ("reset_mechanism='zero' zeroes the carried membrane and keeps this step's "
                   "input (one rule for every neuron); snnTorch zeroes the whole new membrane")
DIFF_RESET_DELAY = ("reset_delay=False fires and resets in the same step (U ← U − S·θ or "
                    "U·(1 − S)); snnTorch subtracts (spike − reset) and can stay above threshold")
DIFF_INHIBITION_GRADED = ("inhibition=True with graded_spikes_factor: the winner's spike is the "
                          "factor, as without inhibition; snnTorch's winner-take-all ignores the "
                          "factor (spike 1)")
DIFF_LSTM_INHIBITION = ("inhibition=True applies winner-take-all (one spike per sample); "
                        "snnTorch 1.0.0's LSTM cells accept the flag and ignore it")


class _CallableSpike(snncore.Surrogate):
    """A user's own ``spike_grad`` function (e.g. ``MySpike.apply``) used as the spike op.

    Runs on the eager backend (it is not declared deterministic); :meth:`derivative` is taken by
    autograd through the function.
    """

    name = "callable"
    deterministic = False

    def __init__(self, fn: Any) -> None:
        self.fn = fn

    def __call__(self, x: Tensor) -> Tensor:
        return self.fn(x)

    def derivative(self, x: Tensor) -> Tensor:
        with torch.enable_grad():
            xx = x.detach().requires_grad_(True)
            (g,) = torch.autograd.grad(self.fn(xx).sum(), xx)
        return g

    def params(self) -> dict[str, Any]:  # type: ignore[override]
        return {"fn": getattr(self.fn, "__qualname__", repr(self.fn))}


def _no_gradient(x: Tensor) -> Tensor:
    return torch.zeros_like(x)


def to_surrogate(spike_grad: Any, surrogate_disable: bool = False,
                 owner: str = "neuron") -> snncore.Surrogate:
    """snnTorch's ``spike_grad``/``surrogate_disable`` as an :class:`snncore.Surrogate`.

    ``None`` is ``atan(alpha=2)``; a surrogate from :mod:`snn_compat.snntorch.surrogate` (or any
    snncore surrogate) is used as is; any other callable is used as the spike function itself.
    ``surrogate_disable=True`` gives Heaviside spikes without a gradient.
    """
    if not isinstance(surrogate_disable, bool):
        raise TypeError(f"{owner}: surrogate_disable must be a bool, got {surrogate_disable!r}")
    if surrogate_disable:
        return _s.Custom(_no_gradient, name="disabled")
    if spike_grad is None:
        return _s.ATan(2.0)
    if isinstance(spike_grad, snncore.Surrogate):
        return spike_grad
    if getattr(spike_grad, "__module__", None) == _s_compat.__name__ and \
            getattr(spike_grad, "__name__", "") in _s_compat.__all__ and \
            not isinstance(spike_grad, type):
        raise TypeError(
            f"{owner}: spike_grad={spike_grad.__name__} is the surrogate factory; call it: "
            f"spike_grad=surrogate.{spike_grad.__name__}()"
        )
    bound = getattr(spike_grad, "__self__", None)
    if isinstance(bound, type) and issubclass(bound, _s_compat._Apply):
        return bound.factory()  # e.g. surrogate.FastSigmoid.apply: its default parameters
    if callable(spike_grad):
        return _CallableSpike(spike_grad)
    raise TypeError(
        f"{owner}: spike_grad must be None, a surrogate such as surrogate.atan() or "
        f"surrogate.fast_sigmoid(slope=25), or a spike function, got {spike_grad!r}"
    )


def to_state_quant(state_quant: Any, owner: str = "neuron") -> Any:
    """snnTorch's ``state_quant`` (``False`` or a callable) as snncore's (``None`` or callable)."""
    if state_quant is False or state_quant is None:
        return None
    if callable(state_quant):
        return state_quant
    raise TypeError(f"{owner}: state_quant must be False or a callable such as "
                    f"functional.quant.state_quant(num_bits=8), got {state_quant!r}")


def _check_flag(owner: str, name: str, value: Any) -> bool:
    if not isinstance(value, bool):
        raise TypeError(f"{owner}: {name} must be a bool, got {value!r}")
    return value


class _SpikeGrad:
    """snnTorch's ``spike_grad`` attribute: read and set after construction (snnTorch calls it
    on every step), here the neuron's :attr:`surrogate`."""

    @property
    def spike_grad(self) -> snncore.Surrogate:
        """The surrogate spike function (snncore's :attr:`surrogate`)."""
        return self.surrogate  # type: ignore[attr-defined]

    @spike_grad.setter
    def spike_grad(self, value: Any) -> None:
        self.surrogate = to_surrogate(value, False, type(self).__name__)


class SpikingNeuron(_SpikeGrad, snncore.Neuron):
    """Base of the compat neurons: snnTorch's arguments on :class:`snncore.Neuron`.

    ``instances`` is a weak set of every live compat neuron (snnTorch keeps a list); it serves
    the class-wide ``reset_hidden()``/``detach_hidden()``. To act on one network only, use
    ``utils.reset(net)`` or ``snncore.reset(net)``.
    """

    instances: ClassVar[weakref.WeakSet[SpikingNeuron]] = weakref.WeakSet()
    reset_dict: ClassVar[dict[str, int]] = dict(_RESET_DICT)
    #: state fields returned by ``forward`` after the spikes (default: every state field)
    _returned: ClassVar[tuple[str, ...] | None] = None

    def __init__(self, threshold: float | Tensor = 1.0, spike_grad: Any = None,
                 surrogate_disable: bool = False, init_hidden: bool = False,
                 inhibition: bool = False, learn_threshold: bool = False,
                 reset_mechanism: str = "subtract", state_quant: Any = False,
                 output: bool = False, graded_spikes_factor: float | Tensor = 1.0,
                 learn_graded_spikes_factor: bool = False) -> None:
        owner = type(self).__name__
        snncore.Neuron.__init__(
            self, threshold=threshold, surrogate=to_surrogate(spike_grad, surrogate_disable,
                                                              owner),
            reset=reset_mechanism, learn_threshold=learn_threshold,
            graded_spikes_factor=graded_spikes_factor,
            learn_graded_spikes_factor=learn_graded_spikes_factor,
            state_quant=to_state_quant(state_quant, owner), inhibition=inhibition,
            stateful=_check_flag(owner, "init_hidden", init_hidden))
        self._compat_setup(output, surrogate_disable)

    def _compat_setup(self, output: bool, surrogate_disable: bool) -> None:
        owner = type(self).__name__
        g = getattr(self, "graded_spikes_factor", None)
        if self.inhibition and isinstance(g, Tensor) and (
                isinstance(g, nn.Parameter) or bool((g != 1).any())):
            warn_difference(f"{owner}(inhibition=True, graded_spikes_factor)",
                            DIFF_INHIBITION_GRADED, stacklevel=4)
        self.output = _check_flag(owner, "output", output)
        self.surrogate_disable = surrogate_disable
        self.register_buffer("reset_mechanism_val",
                             torch.as_tensor(_RESET_DICT[self.reset_mechanism]))
        _float32_scalars(self)
        self._compat_sig: Any = None   # (input shape, dtype, device, state) of the last call
        SpikingNeuron.instances.add(self)

    # -- snnTorch attributes --------------------------------------------------------------------
    @property
    def reset_mechanism(self) -> str:
        """``"subtract"``, ``"zero"`` or ``"none"``; setting it also updates the
        ``reset_mechanism_val`` buffer (0, 1, 2) as in snnTorch."""
        return self.__dict__.get("_compat_reset", "subtract")

    @reset_mechanism.setter
    def reset_mechanism(self, value: str) -> None:
        if not isinstance(value, str) or value not in _RESET_DICT:
            raise ValueError(f"{type(self).__name__}: reset_mechanism must be one of "
                             f"{tuple(_RESET_DICT)}, got {value!r}")
        self.__dict__["_compat_reset"] = value
        if "reset_mechanism_val" in self._buffers:
            self.reset_mechanism_val = torch.as_tensor(_RESET_DICT[value])

    @property
    def init_hidden(self) -> bool:
        """snnTorch's name for :attr:`stateful`."""
        return self.stateful

    @init_hidden.setter
    def init_hidden(self, value: bool) -> None:
        self.stateful = _check_flag(type(self).__name__, "init_hidden", value)

    # -- snnTorch's helper methods --------------------------------------------------------------
    def fire(self, mem: Tensor, thr: Tensor | None = None) -> Any:
        """snnTorch's ``fire(mem)``: quantize (``state_quant``), then spikes ``H(mem − θ)·g`` with
        the surrogate gradient. With ``thr`` given this is snncore's ``Neuron.fire(mem, thr)``."""
        if thr is not None:
            return super().fire(mem, thr)  # type: ignore[misc]
        if self.state_quant is not None:
            mem = self.state_quant(mem)
        return self.surrogate(mem - self.threshold.to(mem.dtype)) * \
            self.graded_spikes_factor.to(mem.dtype)

    def fire_inhibition(self, batch_size: int, mem: Tensor) -> Tensor:
        """Spikes of only the largest ``mem − θ`` of each sample (``[B, N]`` input)."""
        shift = mem - self.threshold.to(mem.dtype)
        spk = self.surrogate(shift)
        mask = torch.zeros_like(spk)
        mask[torch.arange(batch_size), torch.argmax(shift, dim=1)] = 1
        return spk * mask

    def mem_reset(self, mem: Tensor) -> Tensor:
        """The detached reset signal ``H(mem − θ)``."""
        return snncore.heaviside(mem - self.threshold.to(mem.dtype)).detach()

    @classmethod
    def init(cls) -> None:
        """Forget every instance (snnTorch clears its instance list)."""
        SpikingNeuron.instances = weakref.WeakSet()

    @staticmethod
    def detach(*args: Tensor) -> None:
        """Detach each given tensor in place from the autograd graph."""
        for state in args:
            state.detach_()

    @staticmethod
    def zeros(*args: Tensor) -> None:
        """Set each given tensor to zero in place (snnTorch's version leaves them unchanged)."""
        warn_difference("SpikingNeuron.zeros", "the tensors are zeroed in place; snnTorch's "
                        "zeros(*t) rebinds a local name and leaves them unchanged",
                        stacklevel=3)
        with torch.no_grad():
            for state in args:
                state.zero_()

    @classmethod
    def detach_hidden(cls) -> None:
        """Detach the stored state of every live instance of this class from the graph."""
        for n in list(SpikingNeuron.instances):
            if _counts_as(n, cls):
                n.detach_state()

    @classmethod
    def reset_hidden(cls) -> None:
        """Clear the stored state of every live instance of this class."""
        for n in list(SpikingNeuron.instances):
            if _counts_as(n, cls):
                n.reset_state()

    def reset_mem(self) -> Any:
        """Clear the stored state; returns empty tensors meaning "zeros on the next call"."""
        self.reset_state()
        empty = [torch.zeros(0, device=self.threshold.device) for _ in self._returned_fields()]
        return empty[0] if len(empty) == 1 else tuple(empty)

    # -- the flat calling convention ------------------------------------------------------------
    @classmethod
    def _returned_fields(cls) -> tuple[str, ...]:
        fields = cls.State._fields
        return cls._returned if cls._returned is not None else fields

    def _compat_forward(self, input_: Tensor, given: dict[str, Any]) -> Any:
        owner = type(self).__name__
        passed = [k for k, v in given.items() if v is not None]
        if self.stateful and passed:
            raise TypeError(
                f"{owner}: {', '.join('`' + k + '`' for k in passed)} should not be passed as "
                "an argument while `init_hidden=True`"
            )
        first = next(iter(given.values()))
        if isinstance(first, self.State) and len(passed) == 1:
            # snncore's convention (e.g. from snncore.Sequential.step): (spk, state)
            spk, new = self._compat_step(input_, self.prepare(input_, first))
            self.state = new
            return spk, new
        stored = self.state
        sig = self._compat_sig
        if stored is not None and sig is not None and sig[3] is stored and \
                sig[:3] == (input_.shape, input_.dtype, input_.device) and \
                all(v is None or v is getattr(stored, k) for k, v in given.items()):
            # continuing from the state this module returned last, with an input like the last
            # one: everything prepare() checks is unchanged
            spk, new = self._compat_step(input_, stored)
            self.state = new
            self._compat_sig = (*sig[:3], new)
            return self._compat_return(spk, new)
        fields: list[Any] = []
        for name in self.State._fields:
            value = given.get(name)
            if value is None and stored is not None:
                value = getattr(stored, name)
            fields.append(value)
        if any(f is None or (isinstance(f, Tensor) and f.numel() == 0) for f in fields):
            fresh = self.init_state(input_)
            fields = [fresh[i] if f is None or (isinstance(f, Tensor) and f.numel() == 0)
                      else f for i, f in enumerate(fields)]
        state = self.prepare(input_, self.State(*fields))
        spk, new = self._compat_step(input_, state)
        self.state = new
        self._compat_sig = (input_.shape, input_.dtype, input_.device, new)
        return self._compat_return(spk, new)

    def _compat_step(self, x: Tensor, state: Any) -> tuple[Tensor, Any]:
        """The update of one flat-convention call (the neuron's ``step``)."""
        return self.step(x, state)

    def _compat_return(self, spk: Tensor, new: Any) -> Any:
        if self.stateful and not self.output:
            return spk
        return (spk, *(getattr(new, n) for n in self._returned_fields()))


def _float32_scalars(module: nn.Module) -> None:
    """Store float64 scalar buffers (snncore keeps Python numbers in float64) in the default
    dtype, as snnTorch does (``torch.as_tensor(0.9)``): the same numbers as snnTorch, and no
    per-step dtype conversion."""
    for name, buf in list(module.named_buffers(recurse=False)):
        if buf is not None and buf.dtype == torch.float64 and buf.dim() == 0:
            setattr(module, name, buf.to(torch.get_default_dtype()))


def _state_property(field: str) -> property:
    def get(self: SpikingNeuron) -> Tensor:
        if self.state is None:
            return torch.zeros(0, device=self.threshold.device)
        return getattr(self.state, field)

    def set_(self: SpikingNeuron, value: Tensor) -> None:
        if not isinstance(value, Tensor):
            raise TypeError(f"{type(self).__name__}.{field} must be a tensor, got "
                            f"{type(value).__name__}")
        current = self.state
        if current is None:
            current = self.State(*(torch.zeros_like(value) for _ in self.State._fields))
        self.state = current._replace(**{field: value})

    return property(get, set_, doc=f"The stored state field ``{field}`` (empty if unset).")


def _with_state_properties(cls: type) -> type:
    for field in cls.State._fields:  # type: ignore[attr-defined]
        setattr(cls, field, _state_property(field))
    return cls


class LIF(SpikingNeuron):
    """Base of snnTorch's leaky integrate-and-fire models: :class:`SpikingNeuron` plus ``beta``."""

    def __init__(self, beta: float | Tensor, threshold: float | Tensor = 1.0,
                 spike_grad: Any = None, surrogate_disable: bool = False,
                 init_hidden: bool = False, inhibition: bool = False, learn_beta: bool = False,
                 learn_threshold: bool = False, reset_mechanism: str = "subtract",
                 state_quant: Any = False, output: bool = False,
                 graded_spikes_factor: float | Tensor = 1.0,
                 learn_graded_spikes_factor: bool = False) -> None:
        super().__init__(threshold, spike_grad, surrogate_disable, init_hidden, inhibition,
                         learn_threshold, reset_mechanism, state_quant, output,
                         graded_spikes_factor, learn_graded_spikes_factor)
        beta_t = torch.as_tensor(beta)
        if _check_flag(type(self).__name__, "learn_beta", learn_beta):
            self.beta = nn.Parameter(beta_t)
        else:
            self.register_buffer("beta", beta_t)


def _common(owner: str, spike_grad: Any, surrogate_disable: bool, init_hidden: bool,
            state_quant: Any) -> dict[str, Any]:
    return {"surrogate": to_surrogate(spike_grad, surrogate_disable, owner),
            "stateful": _check_flag(owner, "init_hidden", init_hidden),
            "state_quant": to_state_quant(state_quant, owner)}


def _warn_resets(owner: str, reset_mechanism: str, reset_delay: bool,
                 zero_differs: bool = True) -> None:
    if zero_differs and reset_mechanism == "zero":
        warn_difference(f"{owner}(reset_mechanism='zero')", DIFF_ZERO_RESET, stacklevel=4)
    if reset_delay is False and reset_mechanism != "none":
        warn_difference(f"{owner}(reset_delay=False)", DIFF_RESET_DELAY, stacklevel=4)


@_with_state_properties
class Leaky(LIF, snncore.Leaky):
    r"""snnTorch's ``Leaky`` on :class:`snncore.Leaky`:
    :math:`U_t = \beta U_{t-1} + X_t - R_t\theta`, :math:`S_t = H(U_t - \theta)`.

    Same numbers as snnTorch 1.0.0 for every reset rule; ``reset_delay=False`` differs (fires and
    resets in the same step).

    Example::

        >>> lif = Leaky(beta=0.9)
        >>> mem = lif.init_leaky()
        >>> spk, mem = lif(torch.rand(8, 100), mem)
    """

    #: the same dynamics as snncore.Leaky (``fire(mem, thr)`` is that class's), so the fused
    #: loops of its kind apply
    fused_kind = snncore.Leaky.fused_kind

    def __init__(self, beta: float | Tensor, threshold: float | Tensor = 1.0,
                 spike_grad: Any = None, surrogate_disable: bool = False,
                 init_hidden: bool = False, inhibition: bool = False, learn_beta: bool = False,
                 learn_threshold: bool = False, reset_mechanism: str = "subtract",
                 state_quant: Any = False, output: bool = False,
                 graded_spikes_factor: float | Tensor = 1.0,
                 learn_graded_spikes_factor: bool = False, reset_delay: bool = True) -> None:
        owner = type(self).__name__
        snncore.Leaky.__init__(
            self, beta, threshold=threshold, reset=reset_mechanism, reset_delay=reset_delay,
            learn_beta=learn_beta, learn_threshold=learn_threshold,
            graded_spikes_factor=graded_spikes_factor,
            learn_graded_spikes_factor=learn_graded_spikes_factor, inhibition=inhibition,
            **_common(owner, spike_grad, surrogate_disable, init_hidden, state_quant))
        self._compat_setup(output, surrogate_disable)
        _warn_resets(owner, reset_mechanism, reset_delay, zero_differs=False)

    def forward(self, input_: Tensor, mem: Tensor | None = None) -> Any:
        """One step: ``(spk, mem)``, or ``spk`` with ``init_hidden=True`` and ``output=False``."""
        return self._compat_forward(input_, {"mem": mem})

    def _compat_step(self, x: Tensor, state: Any) -> tuple[Tensor, Any]:
        # one autograd node per step (the same numbers as step())
        return self.fused_step(x, state)

    def init_leaky(self) -> Tensor:
        """Clear the stored membrane; returns an empty tensor (zeros on the next call)."""
        return self.reset_mem()


class _SynMemForward:
    """``forward(input_, syn, mem)`` of the neurons whose state is ``(syn, mem)``."""

    _compat_forward: Any

    def forward(self, input_: Tensor, syn: Tensor | None = None,
                mem: Tensor | None = None) -> Any:
        """One step: ``(spk, syn, mem)``, or ``spk`` with ``init_hidden=True``."""
        return self._compat_forward(input_, {"syn": syn, "mem": mem})


@_with_state_properties
class Synaptic(_SynMemForward, LIF, extra.Synaptic):
    r"""snnTorch's ``Synaptic`` on :class:`snn_neurons_extra.Synaptic`:
    :math:`I_t = \alpha I_{t-1} + X_t`, :math:`U_t = \beta U_{t-1} + I_t - R_t\theta`.

    Same numbers for ``"subtract"``/``"none"``; ``"zero"`` and ``reset_delay=False`` differ.
    Returns ``(spk, syn, mem)``.
    """

    #: the same dynamics as extra.Synaptic (``fire(mem, thr)`` is that class's), so the fused
    #: loops of its kind apply
    fused_kind = extra.Synaptic.fused_kind

    def __init__(self, alpha: float | Tensor, beta: float | Tensor,
                 threshold: float | Tensor = 1.0, spike_grad: Any = None,
                 surrogate_disable: bool = False, init_hidden: bool = False,
                 inhibition: bool = False, learn_alpha: bool = False, learn_beta: bool = False,
                 learn_threshold: bool = False, reset_mechanism: str = "subtract",
                 state_quant: Any = False, output: bool = False,
                 reset_delay: bool = True) -> None:
        owner = type(self).__name__
        extra.Synaptic.__init__(
            self, alpha, beta, threshold=threshold, reset=reset_mechanism,
            reset_delay=reset_delay, learn_alpha=learn_alpha, learn_beta=learn_beta,
            learn_threshold=learn_threshold, inhibition=inhibition,
            **_common(owner, spike_grad, surrogate_disable, init_hidden, state_quant))
        self._compat_setup(output, surrogate_disable)
        _warn_resets(owner, reset_mechanism, reset_delay)

    def init_synaptic(self) -> tuple[Tensor, Tensor]:
        """Clear the stored state; returns empty ``(syn, mem)``."""
        return self.reset_mem()


@_with_state_properties
class Alpha(LIF, extra.Alpha):
    r"""snnTorch's ``Alpha`` on :class:`snn_neurons_extra.Alpha` (two currents of opposite sign).

    Same numbers for ``"subtract"``/``"none"``; the default ``"zero"`` differs.
    Returns ``(spk, syn_exc, syn_inh, mem)``.
    """

    def __init__(self, alpha: float | Tensor, beta: float | Tensor,
                 threshold: float | Tensor = 1.0, spike_grad: Any = None,
                 surrogate_disable: bool = False, init_hidden: bool = False,
                 inhibition: bool = False, learn_alpha: bool = False, learn_beta: bool = False,
                 learn_threshold: bool = False, reset_mechanism: str = "zero",
                 state_quant: Any = False, output: bool = False) -> None:
        owner = type(self).__name__
        extra.Alpha.__init__(
            self, alpha, beta, threshold=threshold, reset=reset_mechanism,
            learn_alpha=learn_alpha, learn_beta=learn_beta, learn_threshold=learn_threshold,
            inhibition=inhibition,
            **_common(owner, spike_grad, surrogate_disable, init_hidden, state_quant))
        self._compat_setup(output, surrogate_disable)
        if reset_mechanism == "zero":
            warn_difference("Alpha(reset_mechanism='zero')",
                            "the carried currents are zeroed and this step's input is kept; "
                            "snnTorch zeroes the new currents and membrane", stacklevel=3)

    def forward(self, input_: Tensor, syn_exc: Tensor | None = None,
                syn_inh: Tensor | None = None, mem: Tensor | None = None) -> Any:
        """One step: ``(spk, syn_exc, syn_inh, mem)``, or ``spk`` with ``init_hidden=True``."""
        return self._compat_forward(input_, {"syn_exc": syn_exc, "syn_inh": syn_inh,
                                             "mem": mem})

    def init_alpha(self) -> tuple[Tensor, Tensor, Tensor]:
        """Clear the stored state; returns empty ``(syn_exc, syn_inh, mem)``."""
        return self.reset_mem()


def _optional(value: Any) -> Any:
    """snnTorch's ``False`` for "not given" as ``None``."""
    return None if value is False else value


@_with_state_properties
class Lapicque(_ckpt.SnntorchKeys, LIF, extra.Lapicque):
    r"""snnTorch's ``Lapicque`` (RC circuit, forward Euler) on
    :class:`snn_neurons_extra.Lapicque`; give ``beta``, ``R`` and/or ``C`` as in snnTorch.

    Same numbers for ``"subtract"``/``"none"``; ``"zero"`` differs.
    """

    def __init__(self, beta: Any = False, R: Any = False, C: Any = False,
                 time_step: float = 1, threshold: float | Tensor = 1.0, spike_grad: Any = None,
                 surrogate_disable: bool = False, init_hidden: bool = False,
                 inhibition: bool = False, learn_beta: bool = False,
                 learn_threshold: bool = False, reset_mechanism: str = "subtract",
                 state_quant: Any = False, output: bool = False) -> None:
        owner = type(self).__name__
        extra.Lapicque.__init__(
            self, beta=_optional(beta), R=_optional(R), C=_optional(C),
            time_step=float(time_step), threshold=threshold, reset=reset_mechanism,
            learn_beta=learn_beta, learn_threshold=learn_threshold, inhibition=inhibition,
            **_common(owner, spike_grad, surrogate_disable, init_hidden, state_quant))
        self._compat_setup(output, surrogate_disable)
        _warn_resets(owner, reset_mechanism, True)

    def _snntorch_keys(self, sd: dict[str, Any], prefix: str) -> None:
        _ckpt.same_step(self, sd, prefix)
        _ckpt.own_shapes(self, sd, prefix, ("beta", "R", "C"))

    def forward(self, input_: Tensor, mem: Tensor | None = None) -> Any:
        """One step: ``(spk, mem)``, or ``spk`` with ``init_hidden=True``."""
        return self._compat_forward(input_, {"mem": mem})

    def init_lapicque(self) -> Tensor:
        """Clear the stored membrane; returns an empty tensor."""
        return self.reset_mem()


@_with_state_properties
class RLeaky(_ckpt.SnntorchKeys, LIF, extra.RLeaky):
    r"""snnTorch's ``RLeaky`` on :class:`snn_neurons_extra.RLeaky`:
    :math:`U_t = \beta U_{t-1} + X_t + V(S_{t-1}) - R_t\theta`.

    Same numbers for ``"subtract"``/``"none"``; ``"zero"`` and ``reset_delay=False`` differ.
    ``forward(input_, spk, mem)`` returns ``(spk, mem)``.
    """

    #: the same dynamics as extra.RLeaky (``fire(mem, thr)`` is that class's): declared on
    #: this class so that the fused loops of its kind apply to it; ``__init__`` sets the
    #: instance's kind (element-wise or all-to-all), as extra.RLeaky's does
    fused_kind: str | None = None

    _returned = ("mem",)

    def __init__(self, beta: float | Tensor, V: float | Tensor = 1.0, all_to_all: bool = True,
                 linear_features: int | None = None, conv2d_channels: int | None = None,
                 kernel_size: int | None = None, threshold: float | Tensor = 1.0,
                 spike_grad: Any = None, surrogate_disable: bool = False,
                 init_hidden: bool = False, inhibition: bool = False, learn_beta: bool = False,
                 learn_threshold: bool = False, learn_recurrent: bool = True,
                 reset_mechanism: str = "subtract", state_quant: Any = False,
                 output: bool = False, reset_delay: bool = True) -> None:
        owner = type(self).__name__
        extra.RLeaky.__init__(
            self, beta, V=V, all_to_all=all_to_all, linear_features=linear_features,
            conv2d_channels=conv2d_channels, kernel_size=kernel_size, threshold=threshold,
            reset=reset_mechanism, reset_delay=reset_delay, learn_beta=learn_beta,
            learn_threshold=learn_threshold, learn_recurrent=learn_recurrent,
            inhibition=inhibition,
            **_common(owner, spike_grad, surrogate_disable, init_hidden, state_quant))
        self._compat_setup(output, surrogate_disable)
        _warn_resets(owner, reset_mechanism, reset_delay)

    def _snntorch_keys(self, sd: dict[str, Any], prefix: str) -> None:
        _ckpt.one_to_one_weight(self, sd, prefix)

    def forward(self, input_: Tensor, spk: Tensor | None = None,
                mem: Tensor | None = None) -> Any:
        """One step: ``(spk, mem)``, or ``spk`` with ``init_hidden=True``."""
        return self._compat_forward(input_, {"spk": spk, "mem": mem})

    def reset_mem(self) -> tuple[Tensor, Tensor]:
        """Clear the stored state; returns empty ``(spk, mem)``."""
        self.reset_state()
        return (torch.zeros(0, device=self.threshold.device),
                torch.zeros(0, device=self.threshold.device))

    def init_rleaky(self) -> tuple[Tensor, Tensor]:
        """Clear the stored state; returns empty ``(spk, mem)``."""
        return self.reset_mem()


@_with_state_properties
class RSynaptic(_ckpt.SnntorchKeys, LIF, extra.RSynaptic):
    r"""snnTorch's ``RSynaptic`` on :class:`snn_neurons_extra.RSynaptic`:
    :math:`I_t = \alpha I_{t-1} + X_t + V(S_{t-1})`, :math:`U_t = \beta U_{t-1} + I_t - R_t\theta`.

    Same numbers for ``"subtract"``/``"none"``; ``"zero"`` and ``reset_delay=False`` differ.
    ``forward(input_, spk, syn, mem)`` returns ``(spk, syn, mem)``.
    """

    #: the same dynamics as extra.RSynaptic (``fire(mem, thr)`` is that class's): declared on
    #: this class so that the fused loops of its kind apply to it; ``__init__`` sets the
    #: instance's kind (element-wise or all-to-all), as extra.RSynaptic's does
    fused_kind: str | None = None

    _returned = ("syn", "mem")

    def __init__(self, alpha: float | Tensor, beta: float | Tensor, V: float | Tensor = 1.0,
                 all_to_all: bool = True, linear_features: int | None = None,
                 conv2d_channels: int | None = None, kernel_size: int | None = None,
                 threshold: float | Tensor = 1.0, spike_grad: Any = None,
                 surrogate_disable: bool = False, init_hidden: bool = False,
                 inhibition: bool = False, learn_alpha: bool = False, learn_beta: bool = False,
                 learn_threshold: bool = False, learn_recurrent: bool = True,
                 reset_mechanism: str = "subtract", state_quant: Any = False,
                 output: bool = False, reset_delay: bool = True) -> None:
        owner = type(self).__name__
        extra.RSynaptic.__init__(
            self, alpha, beta, V=V, all_to_all=all_to_all, linear_features=linear_features,
            conv2d_channels=conv2d_channels, kernel_size=kernel_size, threshold=threshold,
            reset=reset_mechanism, reset_delay=reset_delay, learn_alpha=learn_alpha,
            learn_beta=learn_beta, learn_threshold=learn_threshold,
            learn_recurrent=learn_recurrent, inhibition=inhibition,
            **_common(owner, spike_grad, surrogate_disable, init_hidden, state_quant))
        self._compat_setup(output, surrogate_disable)
        _warn_resets(owner, reset_mechanism, reset_delay)

    def _snntorch_keys(self, sd: dict[str, Any], prefix: str) -> None:
        _ckpt.one_to_one_weight(self, sd, prefix)

    def forward(self, input_: Tensor, spk: Tensor | None = None, syn: Tensor | None = None,
                mem: Tensor | None = None) -> Any:
        """One step: ``(spk, syn, mem)``, or ``spk`` with ``init_hidden=True``."""
        return self._compat_forward(input_, {"spk": spk, "syn": syn, "mem": mem})

    def reset_mem(self) -> tuple[Tensor, Tensor, Tensor]:
        """Clear the stored state; returns empty ``(spk, syn, mem)``."""
        self.reset_state()
        return tuple(torch.zeros(0, device=self.threshold.device) for _ in range(3))  # type: ignore[return-value]

    def init_rsynaptic(self) -> tuple[Tensor, Tensor, Tensor]:
        """Clear the stored state; returns empty ``(spk, syn, mem)``."""
        return self.reset_mem()


@_with_state_properties
class SLSTM(_SynMemForward, SpikingNeuron, extra.SLSTM):
    """snnTorch's ``SLSTM`` on :class:`snn_neurons_extra.SLSTM` (LSTM cell whose hidden state
    fires). ``forward(input_, syn, mem)`` returns ``(spk, syn, mem)``.

    Same numbers with ``input_size == hidden_size`` and resets ``"none"``/``"subtract"``;
    ``"zero"`` and ``input_size != hidden_size`` (snnTorch re-zeroes its state) differ.
    """

    def __init__(self, input_size: int, hidden_size: int, bias: bool = True,
                 threshold: float | Tensor = 1.0, spike_grad: Any = None,
                 surrogate_disable: bool = False, init_hidden: bool = False,
                 inhibition: bool = False, learn_threshold: bool = False,
                 reset_mechanism: str = "none", state_quant: Any = False,
                 output: bool = False) -> None:
        owner = type(self).__name__
        extra.SLSTM.__init__(
            self, input_size, hidden_size, bias=bias, threshold=threshold,
            reset=reset_mechanism, learn_threshold=learn_threshold, inhibition=inhibition,
            **_common(owner, spike_grad, surrogate_disable, init_hidden, state_quant))
        self._compat_setup(output, surrogate_disable)
        _warn_resets(owner, reset_mechanism, True)
        if inhibition:
            warn_difference(f"{owner}(inhibition=True)", DIFF_LSTM_INHIBITION, stacklevel=3)
        if input_size != hidden_size:
            warn_difference("SLSTM(input_size != hidden_size)",
                            "the state has the hidden shape and is carried; snnTorch re-zeroes "
                            "it every step", stacklevel=3)

    def init_slstm(self) -> tuple[Tensor, Tensor]:
        """Clear the stored state; returns empty ``(syn, mem)``."""
        return self.reset_mem()


@_with_state_properties
class SConv2dLSTM(_SynMemForward, SpikingNeuron, extra.SConv2dLSTM):
    """snnTorch's ``SConv2dLSTM`` on :class:`snn_neurons_extra.SConv2dLSTM`.
    ``forward(input_, syn, mem)`` returns ``(spk, syn, mem)``.

    Same numbers for ``"none"``/``"subtract"`` (with and without pooling); ``"zero"`` differs.
    """

    def __init__(self, in_channels: int, out_channels: int, kernel_size: Any,
                 bias: bool = True, max_pool: int = 0, avg_pool: int = 0,
                 threshold: float | Tensor = 1.0, spike_grad: Any = None,
                 surrogate_disable: bool = False, init_hidden: bool = False,
                 inhibition: bool = False, learn_threshold: bool = False,
                 reset_mechanism: str = "none", state_quant: Any = False,
                 output: bool = False) -> None:
        owner = type(self).__name__
        extra.SConv2dLSTM.__init__(
            self, in_channels, out_channels, kernel_size, bias=bias, max_pool=max_pool,
            avg_pool=avg_pool, threshold=threshold, reset=reset_mechanism,
            learn_threshold=learn_threshold, inhibition=inhibition,
            **_common(owner, spike_grad, surrogate_disable, init_hidden, state_quant))
        self._compat_setup(output, surrogate_disable)
        _warn_resets(owner, reset_mechanism, True)
        if inhibition:
            warn_difference(f"{owner}(inhibition=True)", DIFF_LSTM_INHIBITION, stacklevel=3)

    def init_sconv2dlstm(self) -> tuple[Tensor, Tensor]:
        """Clear the stored state; returns empty ``(syn, mem)``."""
        return self.reset_mem()


class LeakyParallel(_ckpt.SnntorchKeys, _SpikeGrad, extra.LeakyParallel):
    r"""snnTorch's ``LeakyParallel`` on :class:`snn_neurons_extra.LeakyParallel`: a whole
    sequence ``[T, B, input_size]`` at once, :math:`U_t = \mathrm{ReLU}(\beta U_{t-1} + W X_t
    + b)`, no reset. ``forward(input_)`` returns the spikes ``[T, B, hidden_size]``.

    Same numbers with a scalar β; a per-neuron β is used per neuron (snnTorch drops it).
    """

    def __init__(self, input_size: int, hidden_size: int, beta: Any = None, bias: bool = True,
                 threshold: float | Tensor = 1.0, dropout: float = 0.0, spike_grad: Any = None,
                 surrogate_disable: bool = False, learn_beta: bool = False,
                 learn_threshold: bool = False, graded_spikes_factor: float | Tensor = 1.0,
                 learn_graded_spikes_factor: bool = False, weight_hh_enable: bool = False,
                 device: Any = None, dtype: Any = None) -> None:
        owner = type(self).__name__
        if beta is None:
            raise ValueError(
                f"{owner}: beta=None (a random recurrent diagonal) is not supported; give the "
                "decay, e.g. beta=0.9 (a float or a per-neuron tensor of length hidden_size)"
            )
        if dropout:
            warn_difference("LeakyParallel(dropout)",
                            "input features are dropped with probability dropout in training; "
                            "snnTorch passes it to a one-layer nn.RNN, where it has no effect",
                            stacklevel=3)
        if isinstance(beta, Tensor) and beta.numel() == 1:
            beta = beta.reshape(())
        if isinstance(beta, Tensor) and beta.numel() > 1:
            warn_difference("LeakyParallel(per-neuron beta)",
                            "a per-neuron beta decays each neuron by its own beta; snnTorch "
                            "keeps a random recurrent diagonal instead", stacklevel=3)
        extra.LeakyParallel.__init__(
            self, input_size, hidden_size, beta, bias=bias, threshold=threshold,
            surrogate=to_surrogate(spike_grad, surrogate_disable, owner), learn_beta=learn_beta,
            learn_threshold=learn_threshold, graded_spikes_factor=graded_spikes_factor,
            learn_graded_spikes_factor=learn_graded_spikes_factor, dropout=float(dropout),
            weight_hh_enable=weight_hh_enable)
        self.surrogate_disable = surrogate_disable
        if device is not None or dtype is not None:
            self.to(device=device, dtype=dtype)
        if self.weight_hh is None and isinstance(self.beta, nn.Parameter):
            # snnTorch learns a per-neuron diagonal from a scalar beta: keep one decay per neuron
            self.beta = nn.Parameter(self.beta.detach().expand(hidden_size).clone())

    def _snntorch_keys(self, sd: dict[str, Any], prefix: str) -> None:
        _ckpt.rnn_weights(self, sd, prefix)

    #: snnTorch's default spike function, usable as ``LeakyParallel.ATan.apply(x, alpha)``
    ATan = _s_compat.ATan

    def forward(self, input_: Tensor) -> Tensor:  # type: ignore[override]
        """Spikes ``[T, B, hidden_size]`` of the whole sequence ``input_``."""
        spk, _ = self.run(input_)
        return spk

    def weight_hh_enable(self) -> None:
        """Restrict the recurrent matrix to its diagonal (snnTorch calls this when
        ``weight_hh_enable=False``): zeroes the off-diagonal entries of a dense ``weight_hh``;
        the default recurrence ``diag(beta)`` is diagonal already."""
        if self.weight_hh is not None:
            with torch.no_grad():
                self.weight_hh.mul_(torch.eye(self.hidden_size, device=self.weight_hh.device,
                                              dtype=self.weight_hh.dtype))

    def grad_hook(self, grad: Tensor) -> Tensor:
        """``grad`` masked to the diagonal (the recurrent matrix stays ``diag(β)``)."""
        return grad * torch.eye(self.hidden_size, device=grad.device, dtype=grad.dtype)


class StateLeaky(_ckpt.SnntorchKeys, _SpikeGrad, extra.StateLeaky):
    r"""snnTorch's ``StateLeaky`` on :class:`snn_neurons_extra.StateLeaky`: the whole sequence
    ``[T, B, channels]`` at once, :math:`U_t = \sum_k \beta^k X_{t-k}`, no reset.
    ``forward(input_)`` returns ``(spk, mem)`` (``mem`` only with ``output=False``).

    Differs: the decay per step is β (snnTorch decays by ``exp(β − 1)``) and spikes are
    multiplied by ``graded_spikes_factor`` once.
    """

    def __init__(self, beta: float | Tensor, channels: int, threshold: float | Tensor = 1.0,
                 spike_grad: Any = None, surrogate_disable: bool = False,
                 learn_beta: bool = False, learn_threshold: bool = False,
                 state_quant: Any = False, output: bool = True,
                 graded_spikes_factor: float | Tensor = 1.0,
                 learn_graded_spikes_factor: bool = False,
                 kernel_truncation_steps: int | None = None) -> None:
        owner = type(self).__name__
        extra.StateLeaky.__init__(
            self, beta, threshold=threshold,
            surrogate=to_surrogate(spike_grad, surrogate_disable, owner), learn_beta=learn_beta,
            learn_threshold=learn_threshold, graded_spikes_factor=graded_spikes_factor,
            learn_graded_spikes_factor=learn_graded_spikes_factor,
            kernel_truncation_steps=kernel_truncation_steps,
            state_quant=to_state_quant(state_quant, owner))
        _stateleaky_setup(self, owner, channels, output, surrogate_disable)

    def _snntorch_keys(self, sd: dict[str, Any], prefix: str) -> None:
        _ckpt.time_parallel_leaky(self, sd, prefix)

    def forward(self, input_: Tensor) -> Any:  # type: ignore[override]
        """``(spk [T, B, C], mem [T, B, C])``, or ``mem`` with ``output=False``."""
        return _stateleaky_forward(self, input_)

    def fire_inhibition(self, batch_size: int, mem: Tensor) -> Tensor:
        """Not available: the time-parallel layer has no inhibition (as in snnTorch)."""
        raise NotImplementedError("StateLeaky does not support inhibition; use Leaky for "
                                  "inhibition paths")

    def mem_reset(self, mem: Tensor) -> Tensor:
        """Not available: the time-parallel layer has no reset (as in snnTorch)."""
        raise NotImplementedError("StateLeaky does not reset; mem_reset is not applicable")


def _stateleaky_setup(n: Any, owner: str, channels: int, output: bool,
                      surrogate_disable: bool) -> None:
    n.channels = channels
    n.output = _check_flag(owner, "output", output)
    n.surrogate_disable = surrogate_disable
    warn_difference(f"{owner}", "decays by beta per step (snnTorch: exp(beta − 1)) and applies "
                    "graded_spikes_factor once (snnTorch: twice)", stacklevel=4)


def _stateleaky_forward(n: Any, input_: Tensor) -> Any:
    spk, states = n.trace(input_)
    return (spk, states.mem) if n.output else states.mem


class LinearLeaky(_ckpt.SnntorchKeys, _SpikeGrad, extra.LinearLeaky):
    """snnTorch's ``LinearLeaky``: ``StateLeaky`` on ``W·X_t + b`` (whole sequence at once).

    Differs from snnTorch as :class:`StateLeaky` does.
    """

    def __init__(self, beta: float | Tensor, in_features: int, out_features: int,
                 bias: bool = True, device: Any = None, dtype: Any = None,
                 threshold: float | Tensor = 1.0, spike_grad: Any = None,
                 surrogate_disable: bool = False, learn_beta: bool = False,
                 learn_threshold: bool = False, state_quant: Any = False, output: bool = True,
                 graded_spikes_factor: float | Tensor = 1.0,
                 learn_graded_spikes_factor: bool = False,
                 kernel_truncation_steps: int | None = None) -> None:
        owner = type(self).__name__
        extra.LinearLeaky.__init__(
            self, beta, in_features, out_features, bias=bias, threshold=threshold,
            surrogate=to_surrogate(spike_grad, surrogate_disable, owner), learn_beta=learn_beta,
            learn_threshold=learn_threshold, graded_spikes_factor=graded_spikes_factor,
            learn_graded_spikes_factor=learn_graded_spikes_factor,
            kernel_truncation_steps=kernel_truncation_steps,
            state_quant=to_state_quant(state_quant, owner))
        _stateleaky_setup(self, owner, out_features, output, surrogate_disable)
        if device is not None or dtype is not None:
            self.to(device=device, dtype=dtype)

    def _snntorch_keys(self, sd: dict[str, Any], prefix: str) -> None:
        _ckpt.time_parallel_leaky(self, sd, prefix)

    def forward(self, input_: Tensor) -> Any:  # type: ignore[override]
        """``(spk [T, B, out], mem [T, B, out])``, or ``mem`` with ``output=False``."""
        return _stateleaky_forward(self, input_)


def _counts_as(neuron: Any, cls: type) -> bool:
    """Whether snnTorch's ``cls.reset_hidden()`` / ``detach_hidden()`` reach ``neuron``: an
    instance of ``cls``, or of a class that derives from ``cls`` in snnTorch although it does
    not here (``_snntorch_bases``)."""
    return isinstance(neuron, cls) or any(
        issubclass(base, cls) for base in getattr(type(neuron), "_snntorch_bases", ()))


class DeltaLeaky(_ckpt.SnntorchKeys, _SpikeGrad, extra.DeltaLeaky):
    r"""snnTorch's ``DeltaLeaky`` on :class:`snn_neurons_extra.DeltaLeaky`: fires where the
    membrane changed by more than ``delta_threshold``, :math:`S_t = H(|U_t - U_{t-1}| - \delta)`.

    ``DeltaLeaky(delta_threshold, beta, ...)`` takes :class:`Leaky`'s other arguments;
    ``forward(input_, mem)`` takes and returns the pair ``(mem, mem_prev)`` as snnTorch does.
    """

    #: snnTorch's DeltaLeaky derives from Leaky: Leaky.reset_hidden() reaches it
    _snntorch_bases: tuple[type, ...] = (Leaky,)

    def _snntorch_keys(self, sd: dict[str, Any], prefix: str) -> None:
        # snnTorch's DeltaLeaky never resets ("delta SNNs encode change"): its buffer is unused
        _ckpt.drop_unused(self, sd, prefix, ("reset_mechanism_val",))

    def __init__(self, delta_threshold: float = 1.0, *args: Any, **kwargs: Any) -> None:
        owner = type(self).__name__
        names = ("beta", "threshold", "spike_grad", "surrogate_disable", "init_hidden",
                 "inhibition", "learn_beta", "learn_threshold", "reset_mechanism", "state_quant",
                 "output", "graded_spikes_factor", "learn_graded_spikes_factor", "reset_delay")
        if len(args) > len(names):
            raise TypeError(f"{owner}: too many positional arguments ({len(args) + 1})")
        opts = dict(zip(names, args, strict=False))
        for k, v in kwargs.items():
            if k not in names:
                raise TypeError(f"{owner}: unexpected keyword argument {k!r}")
            if k in opts:
                raise TypeError(f"{owner}: got multiple values for argument {k!r}")
            opts[k] = v
        if "beta" not in opts:
            raise TypeError(f"{owner}: missing required argument 'beta'")
        init_hidden = _check_flag(owner, "init_hidden", opts.get("init_hidden", False))
        # snnTorch 1.0.0's DeltaLeaky.forward fires H(|ΔU| - δ) itself: it never applies these
        ignored = [name for name, default in (
            ("graded_spikes_factor", 1.0), ("learn_graded_spikes_factor", False),
            ("state_quant", False), ("inhibition", False))
            if name in opts and not (isinstance(opts[name], (bool, int, float))
                                     and opts[name] == default)]
        if ignored:
            warnings.warn(f"{owner} ignores {', '.join(ignored)}, as snnTorch 1.0.0's "
                          "DeltaLeaky does", UserWarning, stacklevel=2)
        extra.DeltaLeaky.__init__(
            self, opts["beta"], delta_threshold=delta_threshold,
            surrogate=to_surrogate(opts.get("spike_grad"), opts.get("surrogate_disable", False),
                                   owner),
            learn_beta=opts.get("learn_beta", False), stateful=init_hidden)
        self.output = _check_flag(owner, "output", opts.get("output", False))
        SpikingNeuron.instances.add(self)  # type: ignore[arg-type]

    @property
    def init_hidden(self) -> bool:
        """snnTorch's name for :attr:`stateful`."""
        return self.stateful

    @property
    def mem(self) -> Tensor | None:
        """The stored membrane (None before the first call, as in snnTorch)."""
        return None if self.state is None else self.state.mem

    def forward(self, input_: Tensor, mem: Any = None) -> Any:  # type: ignore[override]
        """One step: ``(spk, (mem, mem_prev))``."""
        owner = type(self).__name__
        if self.stateful:
            state = self.state
        else:
            if mem is None:
                raise TypeError(f"{owner}: `mem` must be provided when init_hidden=False "
                                "(the pair returned by reset_mem(), or by the previous call)")
            if not isinstance(mem, tuple) or len(mem) != 2:
                raise TypeError(f"{owner}: mem must be the pair (mem, mem_prev), got "
                                f"{type(mem).__name__}")
            state = None if mem[0] is None else (mem[0],)
        state = self.prepare(input_, state)
        spk, new = self.step(input_, state)
        self.state = new
        return spk, (new.mem, state.mem)

    def reset_mem(self) -> tuple[None, None]:
        """Clear the stored state; returns ``(None, None)`` as snnTorch does."""
        self.reset_state()
        return (None, None)


class AssociativeLeaky(SpikingNeuron, extra.AssociativeLeaky):
    r"""snnTorch's ``AssociativeLeaky`` on :class:`snn_neurons_extra.AssociativeLeaky`: a leaky
    matrix memory :math:`M_t = M_{t-1}\mathrm{diag}(\alpha_t) + v_t k_t^\top` whose entries
    spike, read out by a query projection. ``forward(x)`` takes the whole sequence
    ``[T, B, in_dim]`` and returns ``[T, B, d_value²]`` (``[T, B, d_value·d_key]`` without the
    query projection).

    Differs: the memory is computed step by step (snnTorch divides by a prefix product of the
    decays, which loses precision once it nears 1e-8); equal to 1e-6 before that.
    """

    def __init__(self, in_dim: int, d_value: int, d_key: int, num_spiking_neurons: Any,
                 use_q_projection: bool = True) -> None:
        extra.AssociativeLeaky.__init__(self, in_dim, d_value, d_key, num_spiking_neurons,
                                        use_q_projection)
        self._compat_setup(True, False)
        warn_difference("AssociativeLeaky", "the memory is a step-by-step scan; snnTorch's "
                        "prefix-product form loses precision once the product of the decays "
                        "nears 1e-8", stacklevel=3)

    @classmethod
    def from_num_spiking_neurons(cls, in_dim: int, num_spiking_neurons: int,  # type: ignore[override]
                                 use_q_projection: bool = True) -> AssociativeLeaky:
        """A square memory: ``d_value = d_key = sqrt(num_spiking_neurons)``."""
        m = math.isqrt(num_spiking_neurons) if isinstance(num_spiking_neurons, int) \
            and num_spiking_neurons > 0 else 0
        if m == 0 or m * m != num_spiking_neurons:
            raise ValueError(f"AssociativeLeaky: num_spiking_neurons={num_spiking_neurons!r} "
                             "must be a positive perfect square to set d = n = sqrt(N)")
        return cls(in_dim, m, m, num_spiking_neurons, use_q_projection)

    def forward(self, x: Tensor) -> Tensor:  # type: ignore[override]
        """Outputs ``[T, B, ...]`` of the whole sequence ``x`` ``[T, B, in_dim]``."""
        if not isinstance(x, Tensor) or x.dim() != 3:
            raise ValueError("AssociativeLeaky: x must be a sequence [T, B, in_dim], got "
                             f"{tuple(x.shape) if isinstance(x, Tensor) else type(x).__name__}")
        out = self.run(x)
        return out if self.stateful else out[0]
