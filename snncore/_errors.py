"""Exception types raised by snncore registries and plugins."""

from __future__ import annotations

__all__ = [
    "SnncoreError",
    "UnknownNameError",
    "DuplicateNameError",
    "AmbiguousNameError",
    "BackendUnavailableError",
    "PluginWarning",
]


class SnncoreError(Exception):
    """Base class of snncore's own exceptions."""


class UnknownNameError(SnncoreError, LookupError):
    """A registry has no entry of that name.

    Attributes:
        kind: registry kind ("neuron", "surrogate", "encoder", "backend").
        name: the name that was asked for.
        suggestions: close matches among the registered names.
        install_hint: ``pip install ...`` command of a known optional plugin providing ``name``.
        plugin: that plugin's distribution name.
    """

    def __init__(
        self,
        kind: str,
        name: str,
        suggestions: list[str] | None = None,
        install_hint: str | None = None,
        plugin: str | None = None,
    ) -> None:
        self.kind = kind
        self.name = name
        self.suggestions = list(suggestions or [])
        self.install_hint = install_hint
        self.plugin = plugin
        msg = f"unknown {kind} {name!r}"
        if install_hint:
            which = f"the optional plugin {plugin}" if plugin else "an optional plugin"
            msg += f": it is provided by {which}, which is not installed or not loaded; " \
                f"install it with: {install_hint}"
        elif self.suggestions:
            msg += f"; did you mean: {', '.join(repr(s) for s in self.suggestions)}?"
        else:
            msg += "; run `snncore plugins` to list what is registered"
        super().__init__(msg)

    def __str__(self) -> str:  # LookupError/KeyError style quoting is not wanted
        return str(self.args[0])


class DuplicateNameError(SnncoreError, ValueError):
    """Two providers registered one name."""

    def __init__(self, kind: str, name: str, first: str, second: str) -> None:
        self.kind = kind
        self.name = name
        self.providers = (first, second)
        super().__init__(
            f"{kind} {name!r} is registered by two providers: {first!r} and {second!r}; "
            f"use a qualified name ('{first}:{name}' or '{second}:{name}') or remove one plugin "
            "(environment variable SNNCORE_BLOCK_PLUGINS)"
        )


class AmbiguousNameError(DuplicateNameError, LookupError):
    """An unqualified name was asked for that two providers registered."""


class BackendUnavailableError(SnncoreError, RuntimeError):
    """A backend was requested that cannot run here or cannot run this neuron."""


class PluginWarning(UserWarning):
    """Plugin code misbehaved (failed to load, raised in a hook or probe, named an unknown hook)
    and was skipped; the rest of snncore keeps working."""
