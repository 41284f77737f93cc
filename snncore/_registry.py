"""Name -> factory registries with provenance (who registered what)."""

from __future__ import annotations

import difflib
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

from . import _catalogue, _env
from ._errors import AmbiguousNameError, DuplicateNameError, UnknownNameError

__all__ = [
    "Entry", "Registry", "RegistryView", "KINDS", "BUILTIN_PLUGIN", "active", "ensure_loaded",
    "install",
    "optional_provider",
]

T = TypeVar("T")

#: plugin names of snncore's own built-ins (entries they register win a bare-name clash)
BUILTIN_PLUGIN = "snncore"


def optional_provider(kind: str, name: str) -> dict[str, Any] | None:
    """The catalogue entry of the optional plugin that provides ``kind`` ``name``, if any."""
    for plugin in _catalogue.PLUGINS:
        if name in plugin["provides"].get(kind, ()):
            return plugin
    return None


@dataclass(frozen=True)
class Entry(Generic[T]):
    """One registered item.

    Attributes:
        name: the unqualified name (``"leaky"``).
        factory: the class or callable that builds the item.
        plugin: name of the plugin that registered it (``"snncore"`` for built-ins).
        distribution: the installed distribution providing the plugin, if known.
        version: that distribution's version, if known.
        description: one line shown by ``snncore plugins``.
    """

    name: str
    factory: Callable[..., T]
    plugin: str
    distribution: str | None = None
    version: str | None = None
    description: str = ""

    @property
    def qualified_name(self) -> str:
        return f"{self.plugin}:{self.name}"

    def provider(self) -> str:
        if self.distribution and self.distribution != self.plugin:
            version = f" {self.version}" if self.version else ""
            return f"{self.plugin} ({self.distribution}{version})"
        return self.plugin


def _limits() -> str | None:
    """The plugin allow/block-list settings in effect, for error messages (None if none)."""
    parts = [f"{var}={value}" for var in (_env.PLUGINS, _env.BLOCK_PLUGINS)
             if (value := _env.text(var))]
    return ", ".join(parts) or None


def _check_name(name: object, what: str) -> str:
    if not isinstance(name, str) or not name or ":" in name or name != name.strip():
        raise ValueError(
            f"{what} must be a non-empty string without ':' or surrounding spaces, got {name!r}"
        )
    return name


@dataclass
class Registry(Generic[T]):
    """A name -> factory mapping of one kind, filled by plugins.

    Lookups accept ``name`` or the qualified ``plugin:name``. Registering a name that another
    provider already registered does not overwrite it: both stay reachable by qualified name.
    A bare name then resolves to snncore's built-in when one of the providers is the built-in
    (a plugin cannot hijack ``"atan"`` or ``"leaky"``; use ``"plugin:atan"`` for the plugin's);
    between two plugins it raises :class:`~snncore.AmbiguousNameError` naming both providers.
    Both cases are listed as conflicts by ``snncore plugins``.
    """

    kind: str
    _entries: dict[str, list[Entry[T]]] = field(default_factory=dict)
    _ensure_loaded: Callable[[], None] | None = None

    # -- registration -------------------------------------------------------------------------
    def add(self, entry: Entry[T], *, strict: bool = False) -> Entry[T]:
        """Add ``entry``; with ``strict=True`` a clash raises :class:`DuplicateNameError`."""
        _check_name(entry.name, f"{self.kind} name")
        existing = self._entries.setdefault(entry.name, [])
        for other in existing:
            if other.plugin == entry.plugin:
                if other.factory is entry.factory:
                    return other  # idempotent re-registration
                raise DuplicateNameError(self.kind, entry.name, other.plugin, entry.plugin)
        if existing and strict:
            raise DuplicateNameError(self.kind, entry.name, existing[0].plugin, entry.plugin)
        existing.append(entry)
        return entry

    def remove_plugin(self, plugin: str) -> None:
        """Forget everything ``plugin`` registered."""
        for name in list(self._entries):
            kept = [e for e in self._entries[name] if e.plugin != plugin]
            if kept:
                self._entries[name] = kept
            else:
                del self._entries[name]

    def remove_entry(self, entry: Entry[T]) -> None:
        """Forget one entry (the very object ``add`` stored)."""
        kept = [e for e in self._entries.get(entry.name, []) if e is not entry]
        if kept:
            self._entries[entry.name] = kept
        else:
            self._entries.pop(entry.name, None)

    def _entries_flat(self) -> list[Entry[T]]:
        return [e for es in self._entries.values() for e in es]

    # -- lookup -------------------------------------------------------------------------------
    def _load(self) -> None:
        if self._ensure_loaded is not None:
            self._ensure_loaded()

    def get(self, name: str) -> Entry[T]:
        """The entry for ``name`` or ``plugin:name``."""
        self._load()
        if not isinstance(name, str):
            raise TypeError(f"{self.kind} name must be a str, got {type(name).__name__}")
        plugin, sep, bare = name.rpartition(":")
        key = bare
        candidates = self._entries.get(key, [])
        if sep:
            for e in candidates:
                if e.plugin == plugin:
                    return e
            raise UnknownNameError(self.kind, name, self._suggest(name), limits=_limits())
        if len(candidates) == 1:
            return candidates[0]
        if len(candidates) > 1:
            builtin = [e for e in candidates if e.plugin == BUILTIN_PLUGIN]
            if builtin:  # the documented rule: a bare built-in name always means the built-in
                return builtin[0]
            raise AmbiguousNameError(self.kind, key, candidates[0].plugin, candidates[1].plugin)
        known = optional_provider(self.kind, key)
        install = _catalogue.install_command(known) if known else None
        plugin = known["distribution"] if known else None
        raise UnknownNameError(self.kind, name, self._suggest(name), install, plugin,
                               _limits())

    def _suggest(self, name: str) -> list[str]:
        pool = list(self._entries) + [e.qualified_name for es in self._entries.values() for e in es]
        return difflib.get_close_matches(name, pool, n=3, cutoff=0.6)

    def create(self, name: str, /, *args: Any, **kwargs: Any) -> T:
        """Build the item registered as ``name`` with the given arguments."""
        return self.get(name).factory(*args, **kwargs)

    def names(self) -> list[str]:
        """Sorted unqualified names."""
        self._load()
        return sorted(self._entries)

    def entries(self) -> list[Entry[T]]:
        """Every entry, including each provider of a clashing name."""
        self._load()
        return [e for n in sorted(self._entries) for e in self._entries[n]]

    def conflicts(self) -> dict[str, list[Entry[T]]]:
        """Names registered by more than one provider."""
        self._load()
        return {n: list(es) for n, es in self._entries.items() if len(es) > 1}

    def __contains__(self, name: object) -> bool:
        if not isinstance(name, str):
            return False
        try:
            self.get(name)
        except LookupError:
            return False
        return True

    def __iter__(self) -> Iterator[str]:
        return iter(self.names())

    def __len__(self) -> int:
        self._load()
        return len(self._entries)

    def __repr__(self) -> str:
        return f"Registry(kind={self.kind!r}, names={list(self._entries)})"


class RegistryView(Generic[T]):
    """What a hook implementation receives: a registry bound to one provider.

    ``registry.register("name", factory)`` or, as a decorator, ``@registry.register("name")``.
    """

    def __init__(
        self,
        registry: Registry[T],
        plugin: str,
        distribution: str | None = None,
        version: str | None = None,
    ) -> None:
        self._registry = registry
        self.plugin = plugin
        self.distribution = distribution
        self.version = version
        self.kind = registry.kind

    def register(
        self,
        name: str,
        factory: Callable[..., T] | None = None,
        description: str | None = None,
    ) -> Any:
        """Register ``factory`` under ``name`` (``description``: one line for listings,
        default the first line of its docstring); without ``factory``, return a decorator."""
        _check_name(name, f"{self.kind} name")
        if description is not None and not isinstance(description, str):
            raise TypeError(f"{self.kind} description for {name!r} must be a str or None, got "
                            f"{type(description).__name__} {description!r}")

        def _add(f: Callable[..., T]) -> Callable[..., T]:
            if not callable(f):
                raise TypeError(f"{self.kind} factory for {name!r} must be callable, got {f!r}")
            desc = description
            if desc is None:
                doc = (getattr(f, "__doc__", None) or "").strip()
                desc = doc.splitlines()[0] if doc else ""
            self._registry.add(
                Entry(name, f, self.plugin, self.distribution, self.version, desc)
            )
            return f

        if factory is None:
            return _add
        _add(factory)
        return factory

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and name in self._registry._entries


#: the four kinds of registry
KINDS = ("neuron", "surrogate", "encoder", "backend")
_active: dict[str, Registry[Any]] | None = None


def install(registries: dict[str, Registry[Any]]) -> None:
    """Make ``registries`` the process-wide ones (done once by the plugin loader)."""
    global _active
    _active = registries


def ensure_loaded() -> None:
    """Load the plugins now unless they are loaded: :class:`snncore.Sequential` does this
    when it is built, so that a first call traced by ``torch.compile`` (which cannot run the
    loader) finds them."""
    if _active:  # every registry shares the one loader: loading one loads them all
        next(iter(_active.values()))._load()


def active(kind: str) -> Registry[Any]:
    """The process-wide registry of ``kind``; using it loads the plugins (lazily, once)."""
    if _active is None:
        raise RuntimeError("snncore's registries are not set up yet: import snncore first")
    return _active[kind]
