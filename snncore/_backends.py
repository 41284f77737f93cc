"""Backends run a neuron over a whole time-first sequence; selection rules live here.

Which backend :meth:`Neuron.run` uses, first match wins:

1. the ``backend=`` argument of the call;
2. the neuron's ``backend`` attribute;
3. the innermost :func:`use_backend` context;
4. the environment variable ``SNNCORE_BACKEND``;
5. ``"auto"``: the available backend with the highest ``priority`` that supports the neuron,
   its options and the input's device.

A named backend that is not available on this machine raises
:class:`~snncore.BackendUnavailableError`; one that is available but does not support this neuron,
option set or device falls back to ``eager`` (logged at debug level). Backends are plugin code:
a probe (``available``, ``supports``, the constructor) that raises counts as "no", is warned
about once (:class:`~snncore.PluginWarning`) and listed by ``snncore plugins``. While
``torch.compile`` traces a model, ``eager`` is used: the compiler then sees (and fuses) the
step functions.
"""

from __future__ import annotations

import contextlib
import contextvars
import logging
import warnings
from collections.abc import Callable, Iterator
from typing import Any, ClassVar, Protocol

import torch
from torch import Tensor

from . import _env
from ._errors import BackendUnavailableError, PluginWarning
from ._registry import active


class Neuron(Protocol):
    """What a backend sees of a neuron (:class:`snncore.Neuron`, one layer up, fulfils it)."""

    backend: str | None

    def step(self, x: Tensor, state: Any) -> tuple[Tensor, Any]: ...

__all__ = [
    "Backend",
    "ENV_BACKEND",
    "use_backend",
    "select_backend",
    "get_backend",
    "backend_availability",
    "probe_errors",
]

log = logging.getLogger("snncore.backends")
ENV_BACKEND = _env.BACKEND
_context: contextvars.ContextVar[str | None] = contextvars.ContextVar(
    "snncore_backend", default=None
)
_instances: dict[type, Backend] = {}


class Backend:
    """Base class of backends.

    Subclasses set ``name`` and ``priority`` (higher wins in ``"auto"``) and implement
    :meth:`run`; :meth:`available` and :meth:`supports` say when they can be used.
    """

    name: ClassVar[str] = ""
    priority: ClassVar[int] = 0

    @classmethod
    def available(cls) -> tuple[bool, str]:
        """Whether this backend can run on this machine at all, and if not, why."""
        return True, ""

    def supports(self, neuron: Neuron, x_seq: Tensor) -> tuple[bool, str]:
        """Whether this backend can run ``neuron`` with its options on ``x_seq``, and why not."""
        return True, ""

    def run(self, neuron: Neuron, x_seq: Tensor, state: Any) -> tuple[Tensor, Any]:
        """Spikes ``[T, ...]`` and the final state; ``state`` has been checked already."""
        raise NotImplementedError  # pragma: no cover - abstract

    def record(self, neuron: Neuron, x_seq: Tensor, state: Any, fields: tuple[str, ...]
               ) -> tuple[Tensor, Any, dict[str, Tensor]]:
        """Like :meth:`run`, plus ``{field: [T, ...]}`` for the state fields in ``fields``
        (their values after each step). The default steps through :meth:`Neuron.step`."""
        spikes = []
        kept: dict[str, list[Tensor]] = {f: [] for f in fields}
        for x in x_seq.unbind(0):
            spk, state = neuron.step(x, state)
            spikes.append(spk)
            for f in fields:
                kept[f].append(getattr(state, f))
        return torch.stack(spikes), state, {f: torch.stack(v) for f, v in kept.items()}


@contextlib.contextmanager
def use_backend(name: str | None) -> Iterator[None]:
    """Within this block, :meth:`Neuron.run` uses backend ``name`` (``"auto"`` or None: select)."""
    if name is not None:
        _validate_name(name, "use_backend")
    token = _context.set(name)
    try:
        yield
    finally:
        _context.reset(token)


def _validate_name(name: Any, where: str) -> str:
    if not isinstance(name, str):
        raise TypeError(f"{where}: backend must be a backend name (str), got {name!r}")
    if name != "auto":
        active("backend").get(name)  # raises a clear UnknownNameError
    return name


def get_backend(name: str) -> Backend:
    """The (cached) instance of backend ``name``."""
    cls = active("backend").get(name).factory
    inst = _instances.get(cls)
    if inst is None:
        inst = _instances[cls] = cls()
    return inst


#: (backend, probe) -> what went wrong, for every backend probe that raised in this process
probe_errors: dict[tuple[str, str], str] = {}


def _probe(name: str, probe: str, fn: Callable[[], Any]) -> tuple[bool, str]:
    """Call a backend's ``available``/``supports``/constructor, isolating what it raises.

    A raising probe counts as "no", is recorded in :data:`probe_errors` (listed by
    ``snncore plugins``) and is warned about once per backend and probe.
    """
    try:
        result = fn()
        ok, why = (True, "") if probe == "instance" else result
    except Exception as exc:  # third-party code: isolate, record, skip
        why = f"{probe} raised {type(exc).__name__}: {exc}"
        if (name, probe) not in probe_errors:
            probe_errors[(name, probe)] = why
            warnings.warn(f"snncore: backend {name!r}: {why}; the backend is skipped",
                          PluginWarning, stacklevel=4)
        return False, why
    return bool(ok), str(why)


def select_backend(neuron: Neuron, x_seq: Tensor, requested: str | None = None) -> Backend:
    """Pick the backend for ``neuron.run(x_seq)`` following the module docstring's rules."""
    if torch.compiler.is_compiling():
        # torch.compile traces the step functions themselves (fused kernels are opaque to it)
        return get_backend("eager")
    name = requested or neuron.backend or _context.get() or _env.text(ENV_BACKEND) or "auto"
    if name == "auto":
        return _auto(neuron, x_seq)
    _validate_name(name, "run")
    cls = active("backend").get(name).factory
    ok, why = _probe(name, "available", cls.available)
    if ok:
        ok, why = _probe(name, "instance", lambda: get_backend(name))
    if not ok:
        raise BackendUnavailableError(f"backend {name!r} is not available here: {why}")
    backend = get_backend(name)
    ok, why = _probe(name, "supports", lambda: backend.supports(neuron, x_seq))
    if not ok:
        log.debug("backend %r cannot run %s (%s); falling back to 'eager'",
                  name, type(neuron).__name__, why)
        return get_backend("eager")
    return backend


def _auto(neuron: Neuron, x_seq: Tensor) -> Backend:
    entries = active("backend").entries()
    ranked = sorted(entries, key=lambda e: -getattr(e.factory, "priority", 0))
    for entry in ranked:
        name = entry.qualified_name
        if not _probe(name, "available", entry.factory.available)[0]:
            continue
        if not _probe(name, "instance", lambda n=name: get_backend(n))[0]:
            continue
        backend = get_backend(name)
        ok, why = _probe(name, "supports", lambda b=backend: b.supports(neuron, x_seq))
        if ok:
            return backend
        log.debug("auto: backend %r skipped for %s: %s", entry.name, type(neuron).__name__, why)
    return get_backend("eager")


def backend_availability() -> dict[str, dict[str, Any]]:
    """``{name: {"available": bool, "reason": str, "priority": int, "plugin": str}}``."""
    out: dict[str, dict[str, Any]] = {}
    for entry in active("backend").entries():
        ok, why = _probe(entry.qualified_name, "available", entry.factory.available)
        out[entry.qualified_name if entry.name in out else entry.name] = {
            "available": bool(ok),
            "reason": why,
            "priority": getattr(entry.factory, "priority", 0),
            "plugin": entry.plugin,
        }
    return out
