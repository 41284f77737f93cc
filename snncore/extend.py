"""The public extension API: everything needed to write a neuron, surrogate, encoder or backend.

Plugins (and in-house extensions) import from here, from :mod:`snncore` and from its public
submodules (:mod:`snncore.encoders`, :mod:`snncore.losses`, ...), never from a private
``snncore._*`` module, and call no underscore method of snncore's classes.

Stability promise
-----------------
Every name in ``__all__`` below, and every method and attribute documented as part of the
extension API on these classes (listed in ``docs/extend.md``), keeps its meaning and its
signature's existing arguments within a major version of snncore: within ``0.x``/``1.x`` new
optional arguments and new names may be added, nothing is removed or changes meaning. A name
that has to go is first deprecated (a ``DeprecationWarning`` for at least one minor release,
with the replacement named). Anything not listed here is private and may change in any release.

What is here
------------
Neurons
    :class:`Neuron` (subclass it: a ``State`` NamedTuple and :meth:`Neuron.step`, built from the
    shared pieces :meth:`~Neuron.add_param`, :meth:`~Neuron.param`, :meth:`~Neuron.integrate`,
    :meth:`~Neuron.fire`, :meth:`~Neuron.fire_and_reset`, :meth:`~Neuron.reset_signal`,
    :meth:`~Neuron.quantize`, and the checks :meth:`~Neuron.check_input`,
    :meth:`~Neuron.check_state`, :meth:`~Neuron.check_params_broadcast`), :class:`Leaky` (the
    reference neuron), :data:`RESET_RULES`, :data:`StateQuantizer` (the type of the
    ``state_quant`` option), :func:`as_surrogate`, :func:`neurons_of`.
Kernel description
    :func:`describe` (what the fused loops see of a neuron: its state fields, its parameters
    and its step recorded as elementwise programs), :class:`KernelDescription`,
    :class:`NotFusable` (why a neuron runs eager); the class attribute ``fusable = "reason"``
    opts a neuron out.
Surrogates
    :class:`Surrogate` (subclass it: ``name``, ``derivative(x)``, ``params()``), :func:`heaviside`,
    :func:`spike`.
Encoders
    an encoder is a function ``(data, ...) -> Tensor [T, ...]`` or an ``nn.Module`` class; the
    argument checks below give its errors the same form as snncore's.
Backends
    :class:`Backend` (subclass it: ``name``, ``priority``, ``available()``, ``supports()``,
    ``run()``, optionally ``record()``), :class:`EagerBackend`, :func:`select_backend`,
    :func:`get_backend`,
    :func:`use_backend`, :func:`backend_availability`.
Plugins and registries
    :data:`hookimpl`, :data:`hookspec`, the typed registry views the hooks receive
    (:data:`NeuronRegistry`, ...), :class:`Registry`, :class:`RegistryView`, :class:`Entry`,
    :func:`registries`, :func:`add_hookspecs` and :func:`call_hook` (a plugin's own hooks),
    :func:`optional_plugins` (the catalogue of snncore's optional plugins).
Recording
    :func:`register_run_hook` (a hook called after every ``neuron.run(...)``) and
    :func:`records_runs` (marks a neuron's module hook whose recorder also has a run hook, so
    that ``snn.Sequential`` need not step the neuron for it).
Argument checks
    :func:`check_tensor`, :func:`as_float`, :func:`check_bool`, :func:`check_int`,
    :func:`check_number`, :func:`check_choice`, :func:`check_unit`;
    :func:`value_checks_disabled` / :func:`value_checks_enabled`: skip the checks that read
    tensor values on the host (for tracers such as poptorch or ``torch.jit.trace``).
Errors
    :class:`SnncoreError`, :class:`UnknownNameError`, :class:`DuplicateNameError`,
    :class:`AmbiguousNameError`, :class:`BackendUnavailableError`, :class:`PluginWarning`.
"""

from __future__ import annotations

from typing import Any

from . import _catalogue
from ._api import registries
from ._backends import Backend, backend_availability, get_backend, select_backend, use_backend
from ._errors import (
    AmbiguousNameError,
    BackendUnavailableError,
    DuplicateNameError,
    PluginWarning,
    SnncoreError,
    UnknownNameError,
)
from ._hookspecs import (
    BackendRegistry,
    EncoderRegistry,
    NeuronRegistry,
    SurrogateRegistry,
    hookimpl,
    hookspec,
)
from ._kernel import KernelDescription, NotFusable, describe
from ._leaky import Leaky, LeakyState
from ._monitor import records_runs, register_run_hook
from ._neuron import (
    NEURON_OPTIONS,
    RESET_RULES,
    Neuron,
    StateQuantizer,
    as_surrogate,
    neurons_of,
    not_taken,
)
from ._plugins import manager
from ._registry import Entry, Registry, RegistryView
from ._surrogate import Surrogate, heaviside, spike
from ._validate import (
    as_float,
    check_bool,
    check_choice,
    check_int,
    check_number,
    check_tensor,
    check_unit,
    value_checks_disabled,
    value_checks_enabled,
)
from .backends._eager import EagerBackend

__all__ = [
    # neurons
    "Neuron",
    "Leaky",
    "LeakyState",
    "RESET_RULES",
    "NEURON_OPTIONS",
    "not_taken",
    "StateQuantizer",
    "as_surrogate",
    "neurons_of",
    # kernel description
    "describe",
    "KernelDescription",
    "NotFusable",
    # surrogates
    "Surrogate",
    "heaviside",
    "spike",
    # backends
    "Backend",
    "EagerBackend",
    "select_backend",
    "get_backend",
    "records_runs",
    "register_run_hook",
    "use_backend",
    "backend_availability",
    # plugins and registries
    "hookimpl",
    "hookspec",
    "NeuronRegistry",
    "SurrogateRegistry",
    "EncoderRegistry",
    "BackendRegistry",
    "Registry",
    "RegistryView",
    "Entry",
    "registries",
    "add_hookspecs",
    "call_hook",
    "optional_plugins",
    # argument checks
    "check_tensor",
    "as_float",
    "check_bool",
    "check_int",
    "check_number",
    "check_choice",
    "check_unit",
    "value_checks_disabled",
    "value_checks_enabled",
    # errors
    "SnncoreError",
    "UnknownNameError",
    "DuplicateNameError",
    "AmbiguousNameError",
    "BackendUnavailableError",
    "PluginWarning",
]


def add_hookspecs(specs: Any) -> None:
    """Add hook specifications of your own to snncore's plugin manager.

    ``specs`` is a module or class whose functions are marked ``@snncore.extend.hookspec``; their
    names must not start with ``snncore_`` (prefix them with your package, e.g.
    ``snn_nir_register_mappings``). Other plugins then implement them with ``@hookimpl`` like
    snncore's own hooks, and :func:`call_hook` calls them. Call this when your plugin is imported
    (its entry-point module), so the specification exists before the hooks are called.
    """
    manager.add_hookspecs(specs)


def call_hook(hook: str, /, **kwargs: Any) -> list[Any]:
    """Call ``hook`` (added by :func:`add_hookspecs`) on every loaded plugin implementing it.

    Loads the plugins first. Returns the non-None results. An implementation that raises is
    reported like a failing core hook (a :class:`PluginWarning`, and listed by
    ``snncore plugins``) and skipped; the others still run.
    """
    return manager.call_hook(hook, **kwargs)


def optional_plugins() -> tuple[dict[str, Any], ...]:
    """The catalogue of snncore's optional plugins: for each, ``distribution``, ``package``,
    ``extra``, ``summary``, ``provides`` (registry kind -> names) and ``classes``."""
    return tuple(dict(p) for p in _catalogue.PLUGINS)
