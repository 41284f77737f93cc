"""Exception types raised by snncore registries and plugins."""

from __future__ import annotations

__all__ = [
    "BackendError",
    "BackendFallbackWarning",
    "NativeBuildWarning",
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
        limits: the plugin allow/block-list settings in effect (``SNNCORE_PLUGINS``,
            ``SNNCORE_BLOCK_PLUGINS``), or None.
    """

    def __init__(
        self,
        kind: str,
        name: str,
        suggestions: list[str] | None = None,
        install_hint: str | None = None,
        plugin: str | None = None,
        limits: str | None = None,
    ) -> None:
        self.kind = kind
        self.name = name
        self.suggestions = list(suggestions or [])
        self.install_hint = install_hint
        self.plugin = plugin
        self.limits = limits
        msg = f"unknown {kind} {name!r}"
        if install_hint:
            which = f"the optional plugin {plugin}" if plugin else "an optional plugin"
            msg += f": it is provided by {which}, which is not installed or not loaded; " \
                f"install it with: {install_hint}"
        elif self.suggestions:
            msg += f"; did you mean: {', '.join(repr(s) for s in self.suggestions)}?"
        else:
            msg += "; run `snncore plugins` to list what is registered"
        if limits:
            msg += (f" (plugins are limited by {limits}: a plugin left out registers nothing; "
                    "`snncore plugins` lists the skipped ones)")
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


class BackendError(SnncoreError, RuntimeError):
    """A backend cannot do what was asked of it here (double backward through a backend that
    is differentiable once, a backend under ``torch.func`` transforms it cannot run under);
    the message names the backend and the remedy (usually ``backend="eager"``)."""


class BackendFallbackWarning(UserWarning):
    """An explicitly requested backend cannot run a neuron (its type, options or input) and
    ``eager`` runs instead (the results are the same; the speed is not). Warned once per
    backend, neuron type and reason."""


class NativeBuildWarning(UserWarning):
    """The fused backend's native (C++) loops cannot be built or loaded (no compiler, a failing
    compiler); its PyTorch loop runs instead, with the same results but slower."""
