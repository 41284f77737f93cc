"""Neuron base class: parameters, firing, the three reset rules, state handling, stateful mode."""

from __future__ import annotations

import difflib
import inspect
from collections.abc import Callable, Iterator, Mapping
from types import MappingProxyType
from typing import Any, ClassVar, NamedTuple

import torch
from torch import Tensor, nn

from . import _backends
from ._registry import active
from ._surrogate import BUILTIN_BY_NAME, Surrogate, heaviside
from ._validate import check_bool, check_choice

__all__ = [
    "Neuron", "RESET_RULES", "NEURON_OPTIONS", "StateQuantizer", "as_surrogate", "not_taken",
    "reset", "detach", "neurons_of",
]

RESET_RULES = ("subtract", "zero", "none")

#: the options every neuron shares, declared once (name -> default); documented on
#: :class:`Neuron`, forwarded by subclasses as ``**options``, read back as attributes
NEURON_OPTIONS: Mapping[str, Any] = MappingProxyType({
    "threshold": 1.0,
    "surrogate": "atan",
    "reset": "subtract",
    "reset_delay": True,
    "learn_threshold": False,
    "graded_spikes_factor": 1.0,
    "learn_graded_spikes_factor": False,
    "state_quant": None,
    "inhibition": False,
    "stateful": False,
    "detach_reset": True,
    "backend": None,
})

#: type of the ``state_quant`` option: any callable mapping a state tensor to its quantized value
#: (for example a :class:`snncore.StateQuant` module)
StateQuantizer = Callable[[Tensor], Tensor]


def _as_param_tensor(name: str, value: Any, owner: str, learnable: bool = True) -> Tensor:
    """A float tensor from a Python number or a tensor (copied, detached).

    A tensor that requires grad is refused when the parameter is not learnable: storing it
    as a buffer would silently cut it from the graph it belongs to."""
    if isinstance(value, bool):
        raise TypeError(f"{owner}: {name} must be a float or a tensor, got bool")
    if isinstance(value, (int, float)):
        # float64 keeps the given number exact for float64 inputs; param() casts per input dtype
        return torch.tensor(float(value), dtype=torch.float64)
    if isinstance(value, Tensor):
        if value.requires_grad and not learnable:
            raise ValueError(
                f"{owner}: {name} is a tensor that requires grad, but {name} is not learnable "
                f"here, so it would be detached from its graph; pass learn_{name}=True to make "
                f"{name} a learnable parameter (initialised from a copy of this tensor), or pass "
                f"{name}.detach() to use its value as a constant"
            )
        t = value.detach().clone()
        if not t.is_floating_point():
            t = t.to(torch.get_default_dtype())
        return t
    raise TypeError(
        f"{owner}: {name} must be a float or a tensor (scalar or per-neuron), got "
        f"{type(value).__name__}"
    )


#: (low, high, low_open) of a parameter added with :meth:`Neuron.add_param`
_Range = tuple[float | None, float | None, bool]


def _range_text(low: float | None, high: float | None, low_open: bool) -> str:
    if low is not None and high is not None:
        return f"in {'(' if low_open else '['}{low:g}, {high:g}]"
    if low is not None:
        return f"> {low:g}" if low_open else f">= {low:g}"
    return f"<= {high:g}"


def _check_range(owner: str, name: str, t: Tensor, spec: _Range, given: Any = None,
                 learned: bool = False) -> None:
    """A ``ValueError`` naming ``name`` unless every element of ``t`` is finite and in range."""
    low, high, low_open = spec
    what = f"learned {name}" if learned else name
    with torch.no_grad():
        if not bool(torch.isfinite(t).all()):
            raise ValueError(f"{owner}: {what} must be finite, got "
                             f"{_shown(t if given is None else given, t)}")
        bad = torch.zeros((), dtype=torch.bool, device=t.device)
        if low is not None:
            bad = bad | ((t <= low) if low_open else (t < low)).any()
        if high is not None:
            bad = bad | (t > high).any()
        if not bool(bad):
            return
    msg = f"{owner}: {what} must be {_range_text(low, high, low_open)}, got " \
        f"{_shown(t if given is None else given, t)}"
    if learned:
        msg += ("; an optimizer step moved it out of range: lower the learning rate, or clamp it "
                f"after each step (with torch.no_grad(): neuron.{name}.clamp_(...))")
    raise ValueError(msg)


def _broadcasts_to(shape: torch.Size, target: torch.Size) -> bool:
    """Whether ``shape`` broadcasts to ``target`` without growing it."""
    try:
        return torch.broadcast_shapes(shape, target) == target
    except RuntimeError:
        return False


def _shown(value: Any, t: Tensor) -> Any:
    if isinstance(value, Tensor):
        if value.numel() == 1:
            return f"{value.detach().reshape(()).item():g}"
        if value.numel() > 8:
            return f"a tensor with min {t.min().item():g} and max {t.max().item():g}"
        return value.detach().tolist()
    return value


def not_taken(reason: str, /, *names: str, **values: Any) -> dict[str, tuple[Any, str]]:
    """A :attr:`Neuron.fixed_options` mapping: shared options a neuron deliberately does not take.

    ``names`` keep their usual default, ``values`` give the value the neuron uses instead;
    ``reason`` is what the TypeError says when one of them is passed. Example::

        fixed_options = not_taken("LI does not spike", "threshold", "surrogate", reset="none")
    """
    unknown = sorted((set(names) | set(values)) - set(NEURON_OPTIONS))
    if unknown:
        raise ValueError(f"not_taken: {unknown} are not shared neuron options "
                         f"({', '.join(NEURON_OPTIONS)})")
    return {**{n: (NEURON_OPTIONS[n], reason) for n in names},
            **{n: (v, reason) for n, v in values.items()}}


def as_surrogate(surrogate: str | Surrogate) -> Surrogate:
    """A :class:`Surrogate` from an object or a name.

    A built-in name (``"atan"``, ``"fast_sigmoid"``, ...) builds snncore's own surrogate directly,
    without a registry lookup (so no plugin is loaded and no plugin can replace it); any other
    name goes through the surrogate registry (``"plugin:name"`` reaches a plugin's surrogate
    whose bare name clashes with a built-in).
    """
    if isinstance(surrogate, Surrogate):
        return surrogate
    if isinstance(surrogate, str):
        builtin = BUILTIN_BY_NAME.get(surrogate)
        if builtin is not None:
            return builtin()
        return active("surrogate").create(surrogate)
    raise TypeError(
        f"surrogate must be a registered surrogate name (e.g. 'atan') or a snncore.Surrogate, "
        f"got {surrogate!r}; wrap a derivative function with snncore.surrogates.Custom(fn)"
    )


def _option_surrogate(owner: str, name: str, value: Any) -> Any:
    try:
        return as_surrogate(value)
    except TypeError as e:
        raise TypeError(f"{owner}: {e}") from None


def _option_reset(owner: str, name: str, value: Any) -> Any:
    return check_choice(value, name, owner, RESET_RULES)


def _option_flag(owner: str, name: str, value: Any) -> Any:
    check_bool(value, name, owner)
    return value


def _option_state_quant(owner: str, name: str, value: Any) -> Any:
    if value is not None and not callable(value):
        raise TypeError(f"{owner}: {name} must be callable or None, got {value!r}")
    return value


def _option_backend(owner: str, name: str, value: Any) -> Any:
    if value is not None and not isinstance(value, str):
        raise TypeError(f"{owner}: {name} must be a backend name or None, got {value!r}")
    return value


#: the shared options a neuron keeps as plain attributes, checked on every assignment as at
#: construction (a surrogate name becomes the surrogate object, as in ``__init__``)
_OPTION_CHECKS: dict[str, Callable[[str, str, Any], Any]] = {
    "surrogate": _option_surrogate, "reset_mechanism": _option_reset,
    "reset_delay": _option_flag, "inhibition": _option_flag, "stateful": _option_flag,
    "detach_reset": _option_flag, "state_quant": _option_state_quant,
    "backend": _option_backend,
}


class Neuron(nn.Module):
    r"""Base class of snncore's threshold neurons.

    Subclasses define a ``State`` NamedTuple and :meth:`step` (one update, no checks), using the
    shared pieces here so that spiking and reset mean the same in every model:

    - spike :math:`S_t = H(U_t - \theta)\cdot g` with the surrogate's derivative in backward;
    - reset signal with ``reset_delay=True``: :math:`R_t = H(U_{t-1} - \theta)` (detached);
    - reset rules ``"subtract"`` (:math:`-R_t\theta`), ``"zero"`` (carried membrane times
      :math:`1-R_t`) and ``"none"``; with ``reset_delay=False`` the reset is applied in the step
      that fires.

    Keyword Args:
        threshold: :math:`\theta`, a float or per-neuron tensor (> 0). Default: 1.0.
        surrogate: a registered surrogate name or a :class:`~snncore.Surrogate`. Default: "atan".
        reset: ``"subtract"``, ``"zero"`` or ``"none"``. Default: "subtract".
        reset_delay: apply the reset one step after the spike (snnTorch's behaviour). Default: True.
        learn_threshold: make :math:`\theta` a learnable parameter. Default: False.
        graded_spikes_factor: :math:`g`, multiplies emitted spikes. Default: 1.0.
        learn_graded_spikes_factor: make :math:`g` learnable. Default: False.
        state_quant: callable applied to every state after the update (and so to ``U`` before
            firing). Default: None.
        inhibition: winner-take-all: only the neuron with the largest :math:`U-\theta` in each
            sample may spike; every neuron above threshold is still reset. Default: False.
        stateful: keep the state inside the module between calls and return spikes only (for
            ``nn.Sequential``); clear it with :func:`snncore.reset`. Default: False.
        detach_reset: no gradient through the reset signal. Default: True.
        backend: backend used by :meth:`run` (a registered name, or None to select). Default: None.
    """

    State: ClassVar[type[NamedTuple]]  # type: ignore[misc]

    #: defaults of shared options that differ for this neuron, e.g. ``{"reset": "zero"}``
    option_defaults: ClassVar[Mapping[str, Any]] = {}
    #: shared options this neuron deliberately does not take: name -> (the value it uses, why);
    #: passing one raises a TypeError that says why
    fixed_options: ClassVar[Mapping[str, tuple[Any, str]]] = {}

    def __init__(self, **options: Any) -> None:
        """Shared options only (keyword arguments, see the class docstring); a subclass takes
        its own arguments and forwards the rest with ``super().__init__(**options)``."""
        o = self._resolve_options(options)
        super().__init__()
        owner = type(self).__name__
        # the shared options are checked (and a surrogate name resolved) on assignment
        # (_OPTION_CHECKS), the learn_* flags by add_param
        self.surrogate = o["surrogate"]
        self.reset_mechanism = check_choice(o["reset"], "reset", owner, RESET_RULES)
        self.reset_delay: bool = o["reset_delay"]
        self.inhibition: bool = o["inhibition"]
        self.stateful: bool = o["stateful"]
        self.detach_reset: bool = o["detach_reset"]
        self.state_quant: StateQuantizer | None = o["state_quant"]
        self.backend: str | None = o["backend"]
        self.add_param("threshold", o["threshold"], o["learn_threshold"], low=0.0, low_open=True)
        self.add_param("graded_spikes_factor", o["graded_spikes_factor"],
                       o["learn_graded_spikes_factor"])
        self.state: Any = None

    @classmethod
    def _resolve_options(cls, options: dict[str, Any]) -> dict[str, Any]:
        """The shared options given, completed with this class's defaults and fixed values."""
        owner = cls.__name__
        for name in options:
            if name in cls.fixed_options:
                raise TypeError(f"{owner} does not take {name}: {cls.fixed_options[name][1]}")
            if name not in NEURON_OPTIONS:
                own = [p for p in inspect.signature(cls.__init__).parameters
                       if p not in ("self", "options")]
                accepted = own + [n for n in NEURON_OPTIONS
                                  if n not in cls.fixed_options and n not in own]
                close = difflib.get_close_matches(name, accepted, n=1)
                hint = f"; did you mean {close[0]!r}?" if close else ""
                raise TypeError(f"{owner}: unexpected argument {name!r}{hint} (accepted: "
                                f"{', '.join(accepted)})")
        fixed = {name: value for name, (value, _) in cls.fixed_options.items()}
        return {**NEURON_OPTIONS, **cls.option_defaults, **fixed, **options}

    # -- construction helpers -----------------------------------------------------------------
    def add_param(
        self,
        name: str,
        value: float | Tensor,
        learnable: bool,
        *,
        low: float | None = None,
        high: float | None = None,
        low_open: bool = False,
    ) -> None:
        """Add parameter ``name``: a validated scalar or per-neuron tensor, stored as a buffer,
        or as an ``nn.Parameter`` when ``learnable``.

        Args:
            name: attribute name (calling again replaces the parameter).
            value: a Python number (kept exactly, cast per input by :meth:`param`) or a tensor
                (copied and detached; integer tensors become the default float dtype).
            learnable: register an ``nn.Parameter`` instead of a buffer (a bool; anything else
                raises a TypeError naming ``learn_<name>``).
            low, high: accepted range (``value > low`` with ``low_open=True``); a value outside
                it raises a ``ValueError`` naming the parameter, as does a non-finite value.
        """
        owner = type(self).__name__
        check_bool(learnable, f"learn_{name}", owner)
        t = _as_param_tensor(name, value, owner, learnable)
        spec: _Range = (low, high, low_open)
        _check_range(owner, name, t, spec, value)
        self.__dict__.setdefault("_param_ranges", {})[name] = spec
        if name in self._parameters or name in self._buffers:
            delattr(self, name)
        if learnable:
            if t.dtype == torch.float64 and not isinstance(value, Tensor):
                t = t.to(torch.get_default_dtype())
            self.register_parameter(name, nn.Parameter(t))
        else:
            self.register_buffer(name, t)

    # -- every other path into a parameter: assignment, load_state_dict, training ---------------
    def __setattr__(self, name: str, value: Any) -> None:
        check = _OPTION_CHECKS.get(name)
        if check is not None:  # a shared option: the constructor's check on every assignment
            value = check(type(self).__name__, name, value)
        ranges = self.__dict__.get("_param_ranges")
        if ranges is None or name not in ranges or (
                name not in self._parameters and name not in self._buffers):
            super().__setattr__(name, value)
            return
        before = getattr(self, name)
        kept = before.detach().clone()
        self._assign_param(name, value, ranges)
        if self.__dict__.get("_snncore_loading"):  # load_state_dict checks them all at the end
            return
        try:
            self.check_params()
        except Exception:  # refused: the neuron keeps its previous value
            if getattr(self, name) is before:  # the value was copied into the parameter
                with torch.no_grad():
                    before.copy_(kept)
            elif isinstance(before, nn.Parameter):
                self._buffers.pop(name, None)
                nn.Module.__setattr__(self, name, before)
            else:
                low, high, low_open = ranges[name]
                self.add_param(name, kept, False, low=low, high=high, low_open=low_open)
            raise

    def check_params(self) -> None:
        """Constraints between parameters, beyond each one's range (e.g. ``alpha > beta``):
        raise a ``ValueError`` naming them. Called after every assignment of a parameter (the
        previous value is kept when it raises) and by :meth:`check_learned`; a subclass with
        such constraints overrides it (the base class has none)."""

    def _assign_param(self, name: str, value: Any, ranges: dict[str, Any]) -> None:
        owner = type(self).__name__
        if isinstance(value, nn.Parameter):  # a (possibly shared) parameter: kept as it is
            _check_range(owner, name, value.detach(), ranges[name], value)
            self._buffers.pop(name, None)
            super().__setattr__(name, value)
            return
        if name in self._parameters:
            # keep the Parameter object (an optimizer holds it) and copy the value in
            current = self._parameters[name]
            t = _as_param_tensor(name, value, owner)
            _check_range(owner, name, t, ranges[name], value)
            if not _broadcasts_to(t.shape, current.shape):
                raise ValueError(
                    f"{owner}: cannot assign a value of shape {tuple(t.shape)} to the learnable "
                    f"{name} of shape {tuple(current.shape)}; assign an nn.Parameter to replace it"
                )
            with torch.no_grad():
                current.copy_(t)
            return
        low, high, low_open = ranges[name]
        self.add_param(name, value, False, low=low, high=high, low_open=low_open)

    def _load_from_state_dict(self, state_dict: Any, prefix: str, *args: Any,
                              **kwargs: Any) -> None:
        owner = type(self).__name__
        problems = []
        for name, spec in self.__dict__.get("_param_ranges", {}).items():
            value = state_dict.get(prefix + name)
            if isinstance(value, Tensor) and name in (*self._parameters, *self._buffers):
                try:
                    _check_range(owner, name, value.detach(), spec, value)
                except ValueError as exc:
                    problems.append(str(exc).removeprefix(f"{owner}: "))
        if problems:  # before anything is copied: the neuron keeps its values
            raise ValueError(f"{owner}: load_state_dict: " + "; ".join(problems))
        names = [n for n in self.__dict__.get("_param_ranges", {})
                 if n in self._parameters or n in self._buffers]
        kept = {n: getattr(self, n).detach().clone() for n in names}
        self.__dict__["_snncore_loading"] = True  # constraints between parameters: at the end
        try:
            super()._load_from_state_dict(state_dict, prefix, *args, **kwargs)
        finally:
            del self.__dict__["_snncore_loading"]
        try:
            self.check_params()
        except ValueError as exc:  # the loaded values together are refused: keep the old ones
            with torch.no_grad():
                for n, v in kept.items():
                    getattr(self, n).copy_(v)
            raise ValueError(f"{owner}: load_state_dict: "
                             f"{str(exc).removeprefix(owner + ': ')}") from None

    def check_learned(self) -> None:
        """Check learnable parameters that training may have moved out of their range.

        Learnable decays (range [0, 1]) are not checked: the update uses them clamped to [0, 1]
        (:meth:`param` with ``clamp01``). Any other learnable parameter with a range (e.g. the
        threshold, > 0) outside it raises a ``ValueError`` naming it. Called by :meth:`prepare`
        (once per :meth:`run` or single step); skipped while ``torch.compile``, ``torch.func``
        transforms or a backend's graph compiler (:meth:`Backend.graph_tracing`, e.g. poptorch)
        trace the model."""
        ranges = self.__dict__.get("_param_ranges")
        if not ranges or not self._parameters or _backends.graph_tracing():
            return  # nothing learned, or a graph compiler (e.g. poptorch) traces the values
        for name, spec in ranges.items():
            p = self._parameters.get(name)
            if p is None or spec[1] == 1.0:
                continue
            _check_range(type(self).__name__, name, p.detach(), spec, learned=True)
        if any(name in self._parameters for name in ranges):
            self.check_params()

    def __getstate__(self) -> dict[str, Any]:
        """For ``copy.deepcopy`` and pickle: the stored state without its autograd history
        (a stateful neuron copied after a training forward holds the values, the original
        keeps its graph)."""
        state = dict(self.__dict__)
        if state.get("state") is not None:
            state["state"] = detach_tree(state["state"])
        return state

    def is_learnable(self, name: str) -> bool:
        """Whether parameter ``name`` (added with :meth:`add_param`) is an ``nn.Parameter``."""
        if name not in self._parameters and name not in self._buffers:
            raise ValueError(f"{type(self).__name__}: no parameter named {name!r}; parameters: "
                             f"{sorted([*self._parameters, *self._buffers])}")
        return name in self._parameters

    def param(self, name: str, x: Tensor, clamp01: bool = False) -> Tensor:
        """Parameter ``name`` in ``x``'s dtype; with ``clamp01`` a learnable parameter is clamped
        to [0, 1] (for decays, so that training cannot make them unstable)."""
        t = getattr(self, name)
        if t.dtype != x.dtype:
            t = t.to(x.dtype)
        if clamp01 and name in self._parameters:
            t = t.clamp(0.0, 1.0)
        return t

    # -- state ----------------------------------------------------------------------------------
    def state_shapes(self, x: Tensor) -> tuple[torch.Size, ...]:
        """Shape of each state field for input ``x`` (default: every field shaped like ``x``)."""
        return (x.shape,) * len(self.State._fields)

    def init_state(self, x: Tensor) -> Any:
        """A zero state made from ``x`` (its shape, dtype and device)."""
        return self.State(*(x.new_zeros(s) for s in self.state_shapes(x)))

    def check_state(self, state: Any, x: Tensor) -> Any:
        """Check a passed state against input ``x``; raise a clear error if it does not fit."""
        owner = type(self).__name__
        fields = self.State._fields
        if isinstance(state, Tensor) and len(fields) == 1:
            state = (state,)
        if not isinstance(state, tuple) or len(state) != len(fields):
            raise TypeError(
                f"{owner}: state must be a {self.State.__name__}{fields} (or None for a fresh "
                f"state), got {type(state).__name__}"
            )
        if not isinstance(state, self.State):
            if hasattr(state, "_fields"):
                raise TypeError(
                    f"{owner}: state must be a {self.State.__name__}{fields} (or None for a fresh "
                    f"state), got a {type(state).__name__}{tuple(state._fields)}: a state of "
                    f"another neuron type; pass tuple(state) to reuse its values as "
                    f"{self.State.__name__} fields"
                )
            state = self.State(*state)
        for field, value, shape in zip(fields, state, self.state_shapes(x), strict=True):
            if not isinstance(value, Tensor):
                raise TypeError(
                    f"{owner}: state.{field} must be a tensor, got {type(value).__name__}"
                )
            if value.shape != shape:
                raise ValueError(
                    f"{owner}: state.{field} has shape {tuple(value.shape)} but this input needs "
                    f"{tuple(shape)} (input shape {tuple(x.shape)}); pass state=None for a fresh "
                    "state" + (" or call snncore.reset(model)" if self.stateful else "")
                )
            if value.dtype != x.dtype:
                raise ValueError(
                    f"{owner}: state.{field} has dtype {value.dtype} but the input has {x.dtype}"
                )
            if value.device != x.device:
                raise ValueError(
                    f"{owner}: state.{field} is on {value.device} but the input is on {x.device}"
                )
        return state

    def check_input(self, x: Any, what: str = "input") -> None:
        """A ``TypeError`` unless ``x`` is a floating-point tensor (``what`` names it)."""
        if not isinstance(x, Tensor):
            raise TypeError(
                f"{type(self).__name__}: {what} must be a tensor, got {type(x).__name__}"
            )
        if not x.is_floating_point():
            raise TypeError(
                f"{type(self).__name__}: {what} must be a floating-point tensor, got {x.dtype}"
            )

    def check_params_broadcast(self, x: Tensor) -> None:
        """Per-neuron parameters must broadcast to the input shape without growing it."""
        for name, t in list(self.named_parameters(recurse=False)) + list(
                self.named_buffers(recurse=False)):
            if t.dim() == 0:
                continue
            if not _broadcasts_to(t.shape, x.shape):
                raise ValueError(
                    f"{type(self).__name__}: {name} has shape {tuple(t.shape)}, which does not "
                    f"broadcast to the input shape {tuple(x.shape)}; per-neuron parameters must "
                    "match the trailing (feature) dimensions"
                )

    # -- the shared dynamics pieces -------------------------------------------------------------
    def quantize(self, t: Tensor) -> Tensor:
        """``state_quant(t)``, or ``t`` when the neuron has no state quantizer."""
        return self.state_quant(t) if self.state_quant is not None else t

    def reset_signal(self, mem: Tensor, thr: Tensor) -> Tensor:
        """``H(mem - θ)``: detached by default, through the surrogate with detach_reset=False."""
        if self.detach_reset:
            return heaviside(mem - thr).detach()
        return self.surrogate(mem - thr)

    def integrate(self, decay: Tensor, mem: Tensor, drive: Tensor, thr: Tensor) -> Tensor:
        r"""``decay·U_{t−1} + drive`` with the delayed reset term of :attr:`reset_mechanism`."""
        if self.reset_delay and self.reset_mechanism != "none":
            r = self.reset_signal(mem, thr)
            if self.reset_mechanism == "subtract":
                return decay * mem + drive - r * thr
            return decay * ((1 - r) * mem) + drive
        return decay * mem + drive

    def fire(self, mem: Tensor, thr: Tensor) -> Tensor:
        """Spikes ``H(U−θ)·g`` (winner-take-all if ``inhibition``)."""
        shifted = mem - thr
        spk = self.surrogate(shifted)
        if self.inhibition:
            spk = spk * _winner_mask(shifted)
        return spk * self.param("graded_spikes_factor", mem)

    def fire_and_reset(self, mem: Tensor, thr: Tensor) -> tuple[Tensor, Tensor]:
        """Quantize, fire, and (with ``reset_delay=False``) reset in the same step."""
        mem = self.quantize(mem)
        spk = self.fire(mem, thr)
        if not self.reset_delay and self.reset_mechanism != "none":
            r = self.reset_signal(mem, thr)
            mem = mem - r * thr if self.reset_mechanism == "subtract" else mem * (1 - r)
            mem = self.quantize(mem)
        return spk, mem

    # former private spellings (kept so existing subclasses keep working; use the public names)
    _register = add_param
    _value = param
    _coerce_state = check_state
    _check_input = check_input
    _check_params_broadcast = check_params_broadcast
    _quant = quantize
    _reset_signal = reset_signal
    _integrate = integrate
    _fire = fire
    _fire_and_reset = fire_and_reset

    # -- public API -----------------------------------------------------------------------------
    def step(self, x: Tensor, state: Any) -> tuple[Tensor, Any]:  # pragma: no cover - abstract
        """One update without argument checks: ``(spikes, new_state)``."""
        raise NotImplementedError

    def prepare(self, x: Tensor, state: Any) -> Any:
        """Check ``x`` (one time step) and ``state`` and return the state to start from."""
        self.check_input(x)
        self.check_params_broadcast(x)
        self.check_learned()
        if state is None:
            return self.init_state(x)
        return self.check_state(state, x)

    def forward(self, x: Tensor, state: Any = None) -> Any:
        """One time step. Returns ``(spikes, state)``, or only spikes when ``stateful``."""
        if self.stateful:
            state = self.prepare(x, self.state if state is None else state)
            spk, self.state = self.step(x, state)
            return spk
        spk, new_state = self.step(x, self.prepare(x, state))
        return spk, new_state

    def run(self, x_seq: Tensor, state: Any = None, *, backend: str | None = None) -> Any:
        """Run over a time-first sequence ``[T, ...]`` on the selected backend.

        Returns ``(spikes [T, ...], final state)``, or only the spikes when ``stateful``.
        """
        self.check_input(x_seq, "x_seq")
        if x_seq.dim() < 1 or x_seq.shape[0] < 1:
            raise ValueError(
                f"{type(self).__name__}.run: x_seq must be time-first [T, ...] with T >= 1, "
                f"got shape {tuple(x_seq.shape)}"
            )
        if self.stateful and state is None:
            state = self.state
        state = self.prepare(x_seq[0], state)
        impl = _backends.select_backend(self, x_seq, backend)
        spk, new_state = impl.run(self, x_seq, state)
        if self.stateful:
            self.state = new_state
            return spk
        return spk, new_state

    def record(self, x_seq: Tensor, fields: str | tuple[str, ...] | list[str], state: Any = None,
               *, backend: str | None = None) -> tuple[Tensor, Any, dict[str, Tensor]]:
        """Run over ``x_seq`` ``[T, ...]`` and also return the listed state fields at every step.

        Returns ``(spikes [T, ...], final state, {field: [T, ...]})`` where ``recorded[f][t]`` is
        field ``f`` after step ``t`` (as in :meth:`trace`). On the ``fused`` backend this runs in
        the fused loops, costing memory only for the fields asked for; gradients flow through
        the recorded states (e.g. a loss on the membrane). Does not touch the stored state of a
        stateful neuron.

        Example::

            >>> spk, state, rec = lif.record(x, ("mem",))
            >>> loss = ((rec["mem"] - target) ** 2).mean()
        """
        from ._backends import select_backend

        if isinstance(fields, str):
            fields = (fields,)
        if not isinstance(fields, (tuple, list)) or not all(isinstance(f, str) for f in fields):
            raise TypeError(f"{type(self).__name__}.record: fields must be a state field name or "
                            f"a tuple of them {self.State._fields}, got {fields!r}")
        unknown = [f for f in fields if f not in self.State._fields]
        if unknown:
            raise ValueError(f"{type(self).__name__}.record: unknown state field(s) {unknown}; "
                             f"this neuron's state fields are {self.State._fields}")
        fields = tuple(dict.fromkeys(fields))
        self.check_input(x_seq, "x_seq")
        if x_seq.dim() < 1 or x_seq.shape[0] < 1:
            raise ValueError(
                f"{type(self).__name__}.record: x_seq must be time-first [T, ...] with T >= 1, "
                f"got shape {tuple(x_seq.shape)}"
            )
        state = self.prepare(x_seq[0], state)
        impl = select_backend(self, x_seq, backend)
        return impl.record(self, x_seq, state, fields)

    def trace(self, x_seq: Tensor, state: Any = None) -> tuple[Tensor, Any]:
        """Run eagerly and return ``(spikes [T, ...], states)`` with every state field stacked
        over time (``states.mem[t]`` is the membrane after step ``t``). Does not touch the
        stored state of a stateful neuron."""
        self.check_input(x_seq, "x_seq")
        if x_seq.dim() < 1 or x_seq.shape[0] < 1:
            raise ValueError(
                f"x_seq must be time-first [T, ...] with T >= 1, got {tuple(x_seq.shape)}"
            )
        state = self.prepare(x_seq[0], state)
        spikes, states = [], []
        for x in x_seq.unbind(0):
            spk, state = self.step(x, state)
            spikes.append(spk)
            states.append(state)
        stacked = self.State(*(torch.stack(f) for f in zip(*states, strict=True)))
        return torch.stack(spikes), stacked

    def reset_state(self) -> None:
        """Forget the stored state (stateful mode)."""
        self.state = None

    def detach_state(self) -> None:
        """Cut the autograd history of the stored state (stateful mode, truncated BPTT)."""
        if self.state is not None:
            self.state = detach_tree(self.state)

    def extra_repr(self) -> str:
        parts = []
        # every parameter added with add_param: beta and alpha first, then the class's own,
        # the threshold, and the graded spike factor where it is not 1
        added = list(self.__dict__.get("_param_ranges", ()))
        first = [n for n in ("beta", "alpha") if n in added]
        last = ["threshold", "graded_spikes_factor"]
        for name in first + [n for n in added if n not in first + last] + last:
            t = getattr(self, name, None)
            if not isinstance(t, Tensor):
                continue
            if name == "graded_spikes_factor" and t.dim() == 0 and t.item() == 1 \
                    and not t.requires_grad:
                continue
            shown = f"{t.item():g}" if t.dim() == 0 else f"<{tuple(t.shape)}>"
            parts.append(f"{name}={shown}")
        parts.append(f"reset={self.reset_mechanism!r}")
        if not self.reset_delay:
            parts.append("reset_delay=False")
        parts.append(f"surrogate={self.surrogate!r}")
        if self.inhibition:
            parts.append("inhibition=True")
        if self.stateful:
            parts.append("stateful=True")
        if self.backend:
            parts.append(f"backend={self.backend!r}")
        return ", ".join(parts)


def detach_tree(state: Any) -> Any:
    """Every tensor of a state tree (tensors, NamedTuples, tuples, lists, dicts) detached."""
    if isinstance(state, Tensor):
        return state.detach()
    if isinstance(state, tuple) and hasattr(state, "_fields"):
        return type(state)(*(detach_tree(s) for s in state))
    if isinstance(state, (tuple, list)):
        return type(state)(detach_tree(s) for s in state)
    if isinstance(state, dict):
        return {k: detach_tree(v) for k, v in state.items()}
    return state


def _winner_mask(shifted: Tensor) -> Tensor:
    """One-hot mask of the largest entry per sample (dim 0 is the batch for rank >= 2)."""
    flat = shifted.reshape(1, -1) if shifted.dim() <= 1 else shifted.reshape(shifted.shape[0], -1)
    idx = flat.argmax(dim=1, keepdim=True)
    mask = torch.zeros_like(flat).scatter(1, idx, 1.0)
    return mask.reshape(shifted.shape).detach()


def neurons_of(module: nn.Module) -> Iterator[Neuron]:
    """Every :class:`Neuron` in ``module``'s tree (including ``module`` itself)."""
    for m in module.modules():
        if isinstance(m, Neuron):
            yield m


def _call_on_state_holders(module: nn.Module, method: str, where: str) -> nn.Module:
    """Call ``method`` on every neuron in ``module``'s tree and on every state-holding container
    there (such as :class:`snncore.Sequential`)."""
    if not isinstance(module, nn.Module):
        raise TypeError(f"{where}: module must be a torch.nn.Module, got {type(module).__name__}")
    for m in module.modules():
        if isinstance(m, Neuron) or getattr(m, "_snncore_state_holder", False):
            getattr(m, method)()
    return module


def reset(module: nn.Module) -> nn.Module:
    """Clear the stored state of every neuron in ``module``'s tree (and only there)."""
    return _call_on_state_holders(module, "reset_state", "reset")


def detach(module: nn.Module) -> nn.Module:
    """Detach the stored state of every neuron in ``module``'s tree from the autograd graph."""
    return _call_on_state_holders(module, "detach_state", "detach")
