"""Plugin manager: loads the built-ins and entry points (group ``snncore``) into the registries.

This is the composition root of snncore: the only module that imports the built-in hook modules
(``snncore._builtins.<area>``, by name) and runs plugin code.

Loading is lazy (first registry use), idempotent and isolating: a plugin that fails to import
or whose hook raises is recorded as a failure (with its distribution, version and error), its
partial registrations are removed, a :class:`PluginWarning` is issued, and everything else keeps
working. A hook implementation whose name starts with ``snncore_`` but matches no hook
specification (``snncore_register_neuron``) is reported the same way (pluggy's pending-hook
check), as are names in ``SNNCORE_PLUGINS``/``SNNCORE_BLOCK_PLUGINS`` that match no plugin.

Environment switches (read when loading happens, see :mod:`snncore._env`):

- ``SNNCORE_DISABLE_PLUGIN_AUTOLOAD=1``: load no entry points (built-ins and in-process plugins
  still load).
- ``SNNCORE_PLUGINS=a,b``: allow-list; load only entry points whose name or distribution is listed.
- ``SNNCORE_BLOCK_PLUGINS=c,d``: block-list; never load those entry points or built-in areas
  (``snncore.triton``, ``snncore.fused``, ...).
"""

from __future__ import annotations

import difflib
import importlib
import importlib.metadata as md
import threading
import traceback
import warnings
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import pluggy

from . import _env, _hookspecs
from ._backends import backend_availability, probe_errors
from ._builtins import AREAS, PREFIX
from ._errors import PluginWarning
from ._hookspecs import PROJECT
from ._registry import BUILTIN_PLUGIN, Entry, Registry, RegistryView, install

__all__ = [
    "ENTRY_POINT_GROUP",
    "ENV_DISABLE_AUTOLOAD",
    "ENV_ALLOW",
    "ENV_BLOCK",
    "KINDS",
    "BUILTIN_NAMES",
    "PluginInfo",
    "PluginFailure",
    "PluginWarning",
    "PluginManager",
    "manager",
]

ENTRY_POINT_GROUP = "snncore"
ENV_DISABLE_AUTOLOAD = _env.DISABLE_AUTOLOAD
ENV_ALLOW = _env.PLUGINS
ENV_BLOCK = _env.BLOCK_PLUGINS

#: registry kind -> hook that fills it
KINDS: dict[str, str] = {
    "neuron": "snncore_register_neurons",
    "surrogate": "snncore_register_surrogates",
    "encoder": "snncore_register_encoders",
    "backend": "snncore_register_backends",
}
#: plugin names of the built-in areas (what SNNCORE_BLOCK_PLUGINS accepts besides entry points)
BUILTIN_NAMES = tuple(PREFIX + area for area in AREAS)


@dataclass
class PluginInfo:
    """A loaded plugin and what it registered."""

    name: str
    source: str  # "builtin", "entry point" or "in-process"
    distribution: str | None = None
    version: str | None = None
    registered: dict[str, list[str]] = field(default_factory=dict)
    entries: list[tuple[str, Entry[Any]]] = field(default_factory=list, repr=False)


@dataclass
class PluginFailure:
    """A plugin that could not be loaded, or plugin code that raised."""

    name: str
    distribution: str | None
    version: str | None
    stage: str  # "import", "registration", "validation" or the hook that raised
    error: str
    traceback: str = ""

    def __str__(self) -> str:
        dist = ""
        if self.distribution:
            dist = f" from {self.distribution} {self.version or ''}".rstrip()
        return f"plugin {self.name!r}{dist} failed during {self.stage}: {self.error}"


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
        self.skipped: dict[str, str] = {}  # plugin name -> why it was not loaded
        self.problems: list[str] = []  # warnings that are not failures (unknown names, ...)
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
            allow, block = _env.names(ENV_ALLOW), _env.names(ENV_BLOCK)
            version = _version("snncore")
            for area, name in zip(AREAS, BUILTIN_NAMES, strict=True):
                if block is not None and name in block:
                    self.skipped[name] = f"blocked by {ENV_BLOCK}"
                    continue
                try:  # the composition root: built-in hook modules are imported by name
                    module = importlib.import_module(f"{__package__}._builtins.{area}")
                except Exception as exc:
                    self._fail(name, "snncore", version, "import",
                               f"{type(exc).__name__}: {exc}", traceback.format_exc())
                    continue
                self._add(module, name, "builtin", "snncore", version, provider=BUILTIN_PLUGIN)
            eps = _entry_points()
            if not _env.flag(ENV_DISABLE_AUTOLOAD, False):
                self._load_entry_points(eps, allow, block)
            self._check_env_names(eps, allow, block)
            self._check_pending()

    def _load_entry_points(self, eps: list[Any], allow: set[str] | None,
                           block: set[str] | None) -> None:
        for ep in eps:
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

    def _check_env_names(self, eps: list[Any], allow: set[str] | None,
                         block: set[str] | None) -> None:
        """Warn about names in the allow/block lists that match no plugin."""
        known = set(BUILTIN_NAMES)
        for ep in eps:
            known.add(ep.name)
            if ep.dist is not None:
                known.add(ep.dist.name)
        for var, listed in ((ENV_ALLOW, allow), (ENV_BLOCK, block)):
            for name in sorted((listed or set()) - known):
                close = difflib.get_close_matches(name, sorted(known), n=3, cutoff=0.6)
                hint = f"; did you mean {', '.join(map(repr, close))}?" if close else \
                    f"; known: {', '.join(sorted(known))}"
                self._problem(f"{var} names {name!r}, which is no installed plugin or built-in "
                              f"area{hint}")

    def _check_pending(self, only: Any = None) -> None:
        """pluggy's pending-hook check, reported instead of raised: ``snncore_*`` hook
        implementations without a specification (misspelled hook names)."""
        specs = [n for n in dir(self._pm.hook) if not n.startswith("_")]
        for name in specs:
            caller = getattr(self._pm.hook, name)
            if caller.has_spec() or not name.startswith("snncore_"):
                continue  # a plugin's own hook may get its specification later
            for impl in caller.get_hookimpls():
                if (only is not None and impl.plugin is not only) or impl.optionalhook:
                    continue
                known = [n for n in specs if getattr(self._pm.hook, n).has_spec()]
                close = difflib.get_close_matches(name, known, n=1, cutoff=0.6)
                hint = f"; did you mean {close[0]!r}?" if close else ""
                self._problem(f"plugin {impl.plugin_name!r} implements {name!r}, which is not an "
                              f"snncore hook (it is never called){hint}")

    def _problem(self, message: str) -> None:
        if message not in self.problems:
            self.problems.append(message)
            warnings.warn(f"snncore: {message}", PluginWarning, stacklevel=5)

    def _fail(self, name: str, dist: str | None, version: str | None, stage: str, error: str,
              tb: str = "") -> None:
        failure = PluginFailure(name, dist, version, stage, error, tb)
        self.failures.append(failure)
        warnings.warn(f"snncore: {failure}; the other plugins keep working", PluginWarning,
                      stacklevel=4)

    def _add(self, obj: Any, name: str, source: str, dist: str | None, version: str | None,
             strict: bool = False, provider: str | None = None) -> bool:
        """Register ``obj`` and run its hooks. Failures are isolated, or raised if ``strict``."""
        provider = provider or name
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
            before = {id(e) for e in registry._entries_flat()}
            for impl in impls:
                try:
                    impl.function(registry=RegistryView(registry, provider, dist, version))
                except Exception as exc:
                    info.entries += _added(kind, registry, before)
                    self._remove(info)
                    self._pm.unregister(obj)
                    if strict:
                        raise RuntimeError(
                            f"plugin {name!r} failed in {hook_name}: {type(exc).__name__}: {exc}"
                        ) from exc
                    self._fail(name, dist, version, hook_name, f"{type(exc).__name__}: {exc}",
                               traceback.format_exc())
                    return False
            added = _added(kind, registry, before)
            info.entries += added
            if added:
                info.registered[kind] = sorted(e.name for _, e in added)
        self.plugins[name] = info
        return True

    def _remove(self, info: PluginInfo) -> None:
        for kind, entry in info.entries:
            self.registries[kind].remove_entry(entry)

    # -- in-process plugins -------------------------------------------------------------------
    def register(self, plugin: Any, name: str | None = None) -> str:
        """Register a plugin object (module, class or instance with hook implementations)."""
        self.load()
        name = name or getattr(plugin, "__name__", None) or type(plugin).__name__
        if name in self.plugins:
            raise ValueError(f"a plugin named {name!r} is already registered; pass another name=")
        self._add(plugin, name, "in-process", None, None, strict=True)
        self._check_pending(only=plugin)
        return name

    def unregister(self, name: str) -> None:
        """Remove a plugin and everything it registered."""
        if name not in self.plugins:
            raise ValueError(f"no plugin named {name!r}; loaded: {sorted(self.plugins)}")
        info = self.plugins.pop(name)
        self._remove(info)
        for reg in self.registries.values():  # entries added later through the decorators
            reg.remove_plugin(name)
        plugin = self._pm.get_plugin(name)
        if plugin is not None:
            self._pm.unregister(plugin)

    # -- plugin-defined hooks -----------------------------------------------------------------
    def add_hookspecs(self, specs: Any) -> None:
        """Add a plugin's own hook specifications (marked ``@snncore.hookspec``)."""
        names = [n for n in dir(specs) if self._pm.parse_hookspec_opts(specs, n) is not None]
        if not names:
            raise ValueError(f"add_hookspecs: {specs!r} has no function marked @snncore.hookspec")
        reserved = [n for n in names if n.startswith("snncore_")
                    and not getattr(self._pm.hook, n, None)]
        if reserved:
            raise ValueError(f"add_hookspecs: hook names starting with 'snncore_' are reserved "
                             f"for snncore itself: {reserved}; prefix them with your package")
        self._pm.add_hookspecs(specs)

    def call_hook(self, hook: str, **kwargs: Any) -> list[Any]:
        """Call hook ``hook`` on every plugin implementing it, isolating failures.

        Returns the non-None results (in pluggy's order: last registered first). An
        implementation that raises is recorded as a failure of its plugin and warned about; the
        other implementations still run.
        """
        self.load()
        caller = getattr(self._pm.hook, hook, None)
        if caller is None or not caller.has_spec():
            raise ValueError(f"call_hook: no hook specification named {hook!r}; add it first "
                             "with snncore.extend.add_hookspecs()")
        results = []
        for impl in reversed(caller.get_hookimpls()):
            args = {a: kwargs[a] for a in impl.argnames if a in kwargs}
            missing = [a for a in impl.argnames if a not in kwargs]
            try:
                if missing:
                    raise TypeError(f"{hook} needs the arguments {missing}")
                result = impl.function(**args)
            except Exception as exc:  # third-party code: isolate, record, go on
                info = self.plugins.get(impl.plugin_name)
                self._fail(impl.plugin_name, info.distribution if info else None,
                           info.version if info else None, hook, f"{type(exc).__name__}: {exc}",
                           traceback.format_exc())
                continue
            if result is not None:
                results.append(result)
        return results

    # -- reporting ----------------------------------------------------------------------------
    def report(self) -> dict[str, Any]:
        """Everything ``snncore plugins --json`` prints."""
        self.load()
        conflicts = {
            kind: {n: [e.plugin for e in es] for n, es in reg.conflicts().items()}
            for kind, reg in self.registries.items()
        }
        backends = backend_availability()
        problems = list(self.problems) + [
            f"backend {b!r}: {why}" for (b, _), why in sorted(probe_errors.items())
        ]
        return {
            "autoload": _env.flag(ENV_DISABLE_AUTOLOAD, False) is False,
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
            "problems": problems,
            "conflicts": {k: v for k, v in conflicts.items() if v},
            "backends": backends,
        }


def _added(kind: str, registry: Registry[Any], before: set[int]) -> list[tuple[str, Entry[Any]]]:
    return [(kind, e) for e in registry._entries_flat() if id(e) not in before]


def _entry_points() -> list[Any]:
    """The ``snncore`` entry points, sorted by name, each (name, value) once."""
    seen: set[tuple[str, str]] = set()
    out = []
    eps: Iterable[Any] = md.entry_points(group=ENTRY_POINT_GROUP)
    for ep in sorted(eps, key=lambda e: e.name):
        if (ep.name, ep.value) not in seen:
            seen.add((ep.name, ep.value))
            out.append(ep)
    return out


def _version(dist: str) -> str | None:
    try:
        return md.version(dist)
    except md.PackageNotFoundError:
        return None


#: the process-wide manager used by :func:`snncore.create` and friends
manager = PluginManager()
install(manager.registries)
