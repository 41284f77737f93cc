"""Top-level registry functions: ``snn.create``, ``snn.surrogate``, registration helpers."""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import Any, TypeVar

from . import _catalogue
from ._backends import get_backend
from ._plugins import manager
from ._registry import BUILTIN_PLUGIN, Entry, Registry

__all__ = [
    "registries",
    "create",
    "surrogate",
    "encoder",
    "backend",
    "register_neuron",
    "register_surrogate",
    "register_encoder",
    "register_backend",
    "register_plugin",
    "unregister_plugin",
    "plugin_report",
]

F = TypeVar("F", bound=Callable[..., Any])


def registries() -> dict[str, Registry[Any]]:
    """The four registries, keyed by kind: ``neuron``, ``surrogate``, ``encoder``, ``backend``."""
    return manager.registries


def create(name: str, /, *args: Any, **kwargs: Any) -> Any:
    """Build the neuron registered as ``name`` (or ``plugin:name``).

    Example: ``snn.create("leaky", beta=0.9)``.
    """
    return manager.registries["neuron"].create(name, *args, **kwargs)


def surrogate(name: str, /, **params: Any) -> Any:
    """Build the surrogate registered as ``name``, e.g. ``snn.surrogate("atan", alpha=2)``."""
    return manager.registries["surrogate"].create(name, **params)


class _BoundEncoder:
    """An encoder function with its arguments after ``data`` bound: ``enc(data)``."""

    def __init__(self, name: str, fn: Any, args: tuple[Any, ...], kwargs: dict[str, Any]
                 ) -> None:
        self.name, self.fn, self.args, self.kwargs = name, fn, args, kwargs

    def __call__(self, data: Any) -> Any:
        return self.fn(data, *self.args, **self.kwargs)

    def __repr__(self) -> str:
        shown = [repr(a) for a in self.args] + [f"{k}={v!r}" for k, v in self.kwargs.items()]
        return f"encoder {self.name!r}(data, {', '.join(shown)})"


def encoder(name: str, /, *args: Any, **kwargs: Any) -> Any:
    """The encoder registered as ``name``, configured with the arguments: a module class is
    built with them (``snn.encoder("rate", num_steps=25)``); a function is bound to them as the
    arguments after ``data`` (the result ``enc(data)`` calls ``fn(data, *args, **kwargs)``),
    and returned as it is without any."""
    entry = manager.registries["encoder"].get(name)
    if isinstance(entry.factory, type):
        return entry.factory(*args, **kwargs)
    if args or kwargs:
        return _BoundEncoder(name, entry.factory, args, kwargs)
    return entry.factory


def backend(name: str, /) -> Any:
    """The backend instance registered as ``name``."""
    return get_backend(name)


def _register(kind: str, name: str, factory: Any, plugin: str, description: str | None) -> Any:
    def add(f: F) -> F:
        if not callable(f):
            raise TypeError(f"register_{kind}: the {kind} factory must be callable, got {f!r}")
        registry = manager.registries[kind]
        registry._load()
        desc = description
        if desc is None:
            doc = (getattr(f, "__doc__", None) or "").strip()
            desc = doc.splitlines()[0] if doc else ""
        registry.add(Entry(name, f, plugin, None, None, desc), strict=True)
        return f

    if factory is None:
        return add
    return add(factory)


def register_neuron(name: str, factory: Any = None, *, plugin: str = "user",
                    description: str | None = None) -> Any:
    """Register a neuron class in-process; usable as ``@snn.register_neuron("my_lif")``.

    A name that another provider already registered raises :class:`~snncore.DuplicateNameError`.
    The entry is also reachable as ``"user:my_lif"`` (or ``f"{plugin}:{name}"``).
    """
    return _register("neuron", name, factory, plugin, description)


def register_surrogate(name: str, factory: Any = None, *, plugin: str = "user",
                       description: str | None = None) -> Any:
    """Register a surrogate class in-process (see :func:`register_neuron`)."""
    return _register("surrogate", name, factory, plugin, description)


def register_encoder(name: str, factory: Any = None, *, plugin: str = "user",
                     description: str | None = None) -> Any:
    """Register an encoder in-process (see :func:`register_neuron`)."""
    return _register("encoder", name, factory, plugin, description)


def register_backend(name: str, factory: Any = None, *, plugin: str = "user",
                     description: str | None = None) -> Any:
    """Register a backend class in-process (see :func:`register_neuron`)."""
    return _register("backend", name, factory, plugin, description)


def register_plugin(plugin: Any, name: str | None = None) -> str:
    """Register a plugin object (with ``@snncore.hookimpl`` functions) in-process."""
    return manager.register(plugin, name)


def unregister_plugin(name: str) -> None:
    """Remove an in-process or loaded plugin and everything it registered."""
    manager.unregister(name)


def plugin_report() -> dict[str, Any]:
    """What ``snncore plugins --json`` prints: plugins, failures, conflicts, backends."""
    return manager.report()


def plugin_class(name: str) -> Any:
    """A public class called ``name`` of a plugin that registered neurons: a registered
    factory of that name, or a name in the ``__all__`` of the package providing one."""
    for entry in manager.registries["neuron"].entries():
        if entry.plugin == BUILTIN_PLUGIN:
            continue
        if getattr(entry.factory, "__name__", None) == name:
            return entry.factory
        package = sys.modules.get(getattr(entry.factory, "__module__", "").split(".")[0])
        if package is not None and name in getattr(package, "__all__", ()):
            return getattr(package, name)
    return None


def plugin_class_hint(name: str) -> str | None:
    """What to install to get class ``name`` from a known optional plugin, if one provides it."""
    for plugin in _catalogue.PLUGINS:
        if name in plugin["classes"]:
            return (f"{name} is provided by the optional plugin {plugin['distribution']}, which "
                    f"is not installed or not loaded; install it with: "
                    f"{_catalogue.install_command(plugin)}")
    return None
