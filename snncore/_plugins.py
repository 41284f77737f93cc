"""Plugin manager: loads built-ins and entry points (group ``snncore``) into the registries.

Loading is lazy (first registry use), idempotent and isolating: a plugin that fails to import
or whose hook raises is recorded as a failure (with its distribution, version and error), its
partial registrations are removed, a :class:`PluginWarning` is issued, and everything else keeps
working.

Environment switches (read when loading happens):

- ``SNNCORE_DISABLE_PLUGIN_AUTOLOAD=1``: load no entry points (built-ins and in-process plugins
  still load).
- ``SNNCORE_PLUGINS=a,b``: allow-list; load only entry points whose name or distribution is listed.
- ``SNNCORE_BLOCK_PLUGINS=c,d``: block-list; never load those entry points.
"""

from __future__ import annotations

import importlib.metadata as md
import os
import threading
import traceback
import warnings
from dataclasses import dataclass, field
from typing import Any

import pluggy

from . import _hookspecs
from ._hookspecs import PROJECT
from ._registry import Registry, RegistryView

__all__ = [
    "ENTRY_POINT_GROUP",
    "ENV_DISABLE_AUTOLOAD",
    "ENV_ALLOW",
    "ENV_BLOCK",
    "KINDS",
    "PluginInfo",
    "PluginFailure",
    "PluginWarning",
    "PluginManager",
    "manager",
]

ENTRY_POINT_GROUP = "snncore"
ENV_DISABLE_AUTOLOAD = "SNNCORE_DISABLE_PLUGIN_AUTOLOAD"
ENV_ALLOW = "SNNCORE_PLUGINS"
ENV_BLOCK = "SNNCORE_BLOCK_PLUGINS"

#: registry kind -> hook that fills it
KINDS: dict[str, str] = {
    "neuron": "snncore_register_neurons",
    "surrogate": "snncore_register_surrogates",
    "encoder": "snncore_register_encoders",
    "backend": "snncore_register_backends",
}


class PluginWarning(UserWarning):
    """A plugin could not be loaded; the rest of snncore keeps working."""


@dataclass
class PluginInfo:
    """A loaded plugin and what it registered."""

    name: str
    source: str  # "builtin", "entry point" or "in-process"
    distribution: str | None = None
    version: str | None = None
    registered: dict[str, list[str]] = field(default_factory=dict)


@dataclass
class PluginFailure:
    """A plugin that could not be loaded."""

    name: str
    distribution: str | None
    version: str | None
    stage: str  # "import" or the hook that raised
    error: str
    traceback: str = ""

    def __str__(self) -> str:
        dist = ""
        if self.distribution:
            dist = f" from {self.distribution} {self.version or ''}".rstrip()
        return f"plugin {self.name!r}{dist} failed during {self.stage}: {self.error}"


def _env_list(name: str) -> set[str] | None:
    raw = os.environ.get(name)
    if raw is None or not raw.strip():
        return None
    return {p.strip() for p in raw.split(",") if p.strip()}


def _truthy(name: str) -> bool:
    return os.environ.get(name, "").strip().lower() in {"1", "true", "yes", "on"}


class PluginManager:
    """Owns the pluggy manager and the four registries (neuron, surrogate, encoder, backend)."""

    def __init__(self) -> None:
        self._pm = pluggy.PluginManager(PROJECT)
        self._pm.add_hookspecs(_hookspecs)
        self.registries: dict[str, Registry[Any]] = {
            kind: Registry(kind, _ensure_loaded=self.load) for kind in KINDS
        }
        self.plugins: dict[str, PluginInfo] = {}
        self.failures: list[PluginFailure] = []
        self.skipped: dict[str, str] = {}  # entry point name -> why it was not loaded
        self._loaded = False
        self._lock = threading.RLock()

    # -- loading ------------------------------------------------------------------------------
    @property
    def loaded(self) -> bool:
        return self._loaded

    def load(self) -> None:
        """Load built-ins and (unless disabled) entry points; later calls do nothing."""
        if self._loaded:
            return
        with self._lock:
            if self._loaded:
                return
            self._loaded = True  # set first: hooks may use registries while loading
            from . import _builtins

            self._add(_builtins, "snncore", "builtin", "snncore", _version("snncore"))
            if _truthy(ENV_DISABLE_AUTOLOAD):
                return
            self._load_entry_points()

    def _load_entry_points(self) -> None:
        allow, block = _env_list(ENV_ALLOW), _env_list(ENV_BLOCK)
        seen: set[tuple[str, str]] = set()
        for ep in sorted(md.entry_points(group=ENTRY_POINT_GROUP), key=lambda e: e.name):
            if (ep.name, ep.value) in seen:
                continue
            seen.add((ep.name, ep.value))
            dist = ep.dist.name if ep.dist is not None else None
            version = ep.dist.version if ep.dist is not None else None
            names = {ep.name} | ({dist} if dist else set())
            if block is not None and names & block:
                self.skipped[ep.name] = f"blocked by {ENV_BLOCK}"
                continue
            if allow is not None and not names & allow:
                self.skipped[ep.name] = f"not in {ENV_ALLOW}"
                continue
            if ep.name in self.plugins:
                self._fail(ep.name, dist, version, "import",
                           f"a plugin named {ep.name!r} is already loaded "
                           f"(from {self.plugins[ep.name].distribution})")
                continue
            try:
                obj = ep.load()
            except Exception as exc:  # isolate: a broken plugin must not break the core
                self._fail(ep.name, dist, version, "import", f"{type(exc).__name__}: {exc}",
                           traceback.format_exc())
                continue
            self._add(obj, ep.name, "entry point", dist, version)

    def _fail(self, name: str, dist: str | None, version: str | None, stage: str, error: str,
              tb: str = "") -> None:
        failure = PluginFailure(name, dist, version, stage, error, tb)
        self.failures.append(failure)
        warnings.warn(f"snncore: {failure}; the other plugins keep working", PluginWarning,
                      stacklevel=4)

    def _add(self, obj: Any, name: str, source: str, dist: str | None, version: str | None,
             strict: bool = False) -> bool:
        """Register ``obj`` and run its hooks. Failures are isolated, or raised if ``strict``."""
        try:
            self._pm.register(obj, name=name)
        except Exception as exc:
            if strict:
                raise RuntimeError(f"plugin {name!r} cannot be registered: {exc}") from exc
            self._fail(name, dist, version, "registration", f"{type(exc).__name__}: {exc}")
            return False
        info = PluginInfo(name, source, dist, version)
        for kind, hook_name in KINDS.items():
            registry = self.registries[kind]
            caller = getattr(self._pm.hook, hook_name)
            impls = [i for i in caller.get_hookimpls() if i.plugin is obj]
            before = {e.qualified_name for e in registry._entries_flat()}
            for impl in impls:
                try:
                    impl.function(registry=RegistryView(registry, name, dist, version))
                except Exception as exc:
                    for reg in self.registries.values():
                        reg.remove_plugin(name)
                    self._pm.unregister(obj)
                    if strict:
                        raise RuntimeError(
                            f"plugin {name!r} failed in {hook_name}: {type(exc).__name__}: {exc}"
                        ) from exc
                    self._fail(name, dist, version, hook_name, f"{type(exc).__name__}: {exc}",
                               traceback.format_exc())
                    return False
            added = [e.name for e in registry._entries_flat()
                     if e.plugin == name and e.qualified_name not in before]
            if added:
                info.registered[kind] = sorted(added)
        self.plugins[name] = info
        return True

    # -- in-process plugins -------------------------------------------------------------------
    def register(self, plugin: Any, name: str | None = None) -> str:
        """Register a plugin object (module, class or instance with hook implementations)."""
        self.load()
        name = name or getattr(plugin, "__name__", None) or type(plugin).__name__
        if name in self.plugins:
            raise ValueError(f"a plugin named {name!r} is already registered; pass another name=")
        self._add(plugin, name, "in-process", None, None, strict=True)
        return name

    def unregister(self, name: str) -> None:
        """Remove a plugin and everything it registered."""
        if name not in self.plugins:
            raise ValueError(f"no plugin named {name!r}; loaded: {sorted(self.plugins)}")
        for reg in self.registries.values():
            reg.remove_plugin(name)
        plugin = self._pm.get_plugin(name)
        if plugin is not None:
            self._pm.unregister(plugin)
        del self.plugins[name]

    # -- reporting ----------------------------------------------------------------------------
    def report(self) -> dict[str, Any]:
        """Everything ``snncore plugins --json`` prints."""
        self.load()
        from ._backends import backend_availability

        conflicts = {
            kind: {n: [e.plugin for e in es] for n, es in reg.conflicts().items()}
            for kind, reg in self.registries.items()
        }
        return {
            "autoload": not _truthy(ENV_DISABLE_AUTOLOAD),
            "plugins": [
                {
                    "name": p.name,
                    "source": p.source,
                    "distribution": p.distribution,
                    "version": p.version,
                    "registered": p.registered,
                }
                for p in self.plugins.values()
            ],
            "failures": [
                {"name": f.name, "distribution": f.distribution, "version": f.version,
                 "stage": f.stage, "error": f.error}
                for f in self.failures
            ],
            "skipped": dict(self.skipped),
            "conflicts": {k: v for k, v in conflicts.items() if v},
            "backends": backend_availability(),
        }


def _version(dist: str) -> str | None:
    try:
        return md.version(dist)
    except md.PackageNotFoundError:
        return None


#: the process-wide manager used by :func:`snncore.create` and friends
manager = PluginManager()
