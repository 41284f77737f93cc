"""The mapping registry and the hook through which plugins contribute NIR mappings.

A mapping turns a torch module into a NIR node (export) or a NIR node into a torch module
(import). snn_nir's own mappings are registered through the same hook as a third party's::

    import snncore
import snncore.extend as extend

    @snncore.hookimpl
    def snn_nir_register_mappings(registry):
        registry.register_export(MyNeuron, my_neuron_to_nir)
        registry.register_import("MyNode", my_node_to_torch)   # a nir node class or type name

A plugin ships the hook in the module of its ``snncore`` entry point (or registers an object
in-process with :func:`register_mappings`). snn_nir adds the hook's specification to snncore's
plugin manager (``snncore.extend.add_hookspecs``) and calls it through
``snncore.extend.call_hook``; a plugin whose hook raises is reported like a failing core hook
(``snncore plugins`` lists it) and the others still contribute. Each mapping is credited to the
top-level package of its function's module (or to the name given to
:func:`register_mappings`).
"""

from __future__ import annotations

import dataclasses
import threading
from collections.abc import Callable
from typing import Any

import nir
import numpy as np
from torch import nn

import snncore
import snncore.extend as extend

from ._errors import NIRMappingError

__all__ = [
    "HOOK_NAME",
    "ExportContext",
    "ImportContext",
    "MappingRegistry",
    "MappingHookSpecs",
    "mappings",
    "register_mappings",
    "unregister_mappings",
]

HOOK_NAME = "snn_nir_register_mappings"
#: the key of snncore's own data in a node's ``metadata``, and the version of its layout
METADATA_KEY = "snncore"
FORMAT = 1

ExportFn = Callable[[nn.Module, "ExportContext"], "nir.NIRNode"]
ImportFn = Callable[["nir.NIRNode", "ImportContext"], nn.Module]
RestoreFn = Callable[["nir.NIRNode", dict[str, Any], "ImportContext"], nn.Module]


class MappingHookSpecs:
    """Hook specifications that snn_nir adds to snncore's plugin manager."""

    @extend.hookspec
    def snn_nir_register_mappings(self, registry: MappingRegistry) -> None:
        """Register NIR mappings: ``registry.register_export(ModuleType, fn)`` (fn(module, ctx)
        returns a ``nir.NIRNode``), ``registry.register_import(NodeType, fn)`` (fn(node, ctx)
        returns a torch module) and ``registry.register_restore(kind, fn)`` (fn(node,
        metadata, ctx) rebuilds a module exported with ``ctx.metadata(kind, ...)``)."""


@dataclasses.dataclass(frozen=True)
class ExportContext:
    """What an export mapping gets besides the module.

    Attributes:
        dt: the time step the model's discrete dynamics stand for (seconds).
        discretization: ``"euler"`` or ``"exact"``.
        input_shape: shape of one sample's input to the module, without batch and time.
        name: the node name the module gets in the graph.
        warn: ``warn(reason)`` records that the plain-NIR reading differs from the module's own
            behaviour (collected into one warning per export call).
        dtype: numpy dtype of derived neuron parameters (float32 unless the model is float64).
    """

    dt: float
    discretization: str
    input_shape: tuple[int, ...]
    name: str
    warn: Callable[[str], None]
    dtype: Any = np.float32

    def metadata(self, kind: str, **data: Any) -> dict[str, Any]:
        """A node's ``metadata`` that lets :func:`~snn_nir.import_from_nir` rebuild the module
        exactly: ``{"snncore": {"format", "module": kind, "dt", "discretization", **data}}``.
        ``kind`` names a restore function registered with
        :meth:`MappingRegistry.register_restore`; ``data`` holds what it needs (numbers,
        strings, lists, NumPy arrays: what a NIR file stores)."""
        if not isinstance(kind, str) or not kind:
            raise TypeError(f"ExportContext.metadata: kind must be a non-empty str, got {kind!r}")
        clash = {"format", "module", "dt", "discretization"} & set(data)
        if clash:
            raise ValueError(f"ExportContext.metadata: {sorted(clash)} are set by snn_nir; "
                             "choose other names")
        return {METADATA_KEY: {"format": FORMAT, "module": kind, "dt": float(self.dt),
                               "discretization": self.discretization, **data}}


@dataclasses.dataclass(frozen=True)
class ImportContext:
    """What an import mapping gets besides the node.

    Attributes:
        dt: the simulation time step (seconds).
        discretization: ``"euler"`` or ``"exact"``.
        initial_v: ``"zero"`` (NIR's convention) or ``"v_leak"`` (start membranes at v_leak).
        name: the node's (qualified) name in the graph.
        dtype: floating dtype of the created parameters.
        use_metadata: whether ``snncore`` metadata may restore the exported module exactly.
        surrogate: surrogate used for spikes of plainly imported neurons.
    """

    dt: float
    discretization: str
    initial_v: str
    name: str
    dtype: Any
    use_metadata: bool = True
    surrogate: str = "atan"


@dataclasses.dataclass(frozen=True)
class _Mapping:
    key: Any
    fn: Callable[..., Any]
    plugin: str


def overridden(module: nn.Module, base: type) -> str:
    """The method through which ``module``'s class computes differently from ``base`` (a
    class it derives from): a neuron's ``step``, any other module's ``forward``; "" if none.
    A mapping (or the chain tracing) of ``base`` does not describe such a subclass."""
    import snncore

    name = "step" if isinstance(module, snncore.Neuron) else "forward"
    mine, theirs = getattr(type(module), name, None), getattr(base, name, None)
    return name if mine is not theirs else ""


class MappingRegistry:
    """Export mappings keyed by module class, import mappings keyed by NIR node type name."""

    def __init__(self) -> None:
        self._export: dict[type, _Mapping] = {}
        self._import: dict[str, _Mapping] = {}
        self._restore: dict[str, _Mapping] = {}
        self._plugin = "user"

    def _bound(self, plugin: str) -> MappingRegistry:
        view = MappingRegistry.__new__(MappingRegistry)
        view._export, view._import, view._plugin = self._export, self._import, plugin
        view._restore = self._restore
        return view

    def register_export(self, module_type: type, fn: ExportFn) -> None:
        """Map modules of ``module_type`` (and subclasses without their own mapping) to NIR."""
        if not isinstance(module_type, type) or not issubclass(module_type, nn.Module):
            raise TypeError(f"register_export: module_type must be a torch.nn.Module subclass, "
                            f"got {module_type!r}")
        self._add(self._export, module_type, fn, f"the export mapping for "
                  f"{module_type.__qualname__}")

    def register_import(self, node_type: type | str, fn: ImportFn) -> None:
        """Map NIR nodes of ``node_type`` (a ``nir`` class or its type name) to torch modules."""
        name = node_type if isinstance(node_type, str) else getattr(node_type, "__name__", None)
        if not isinstance(name, str) or not name:
            raise TypeError(f"register_import: node_type must be a nir node class or its type "
                            f"name, got {node_type!r}")
        self._add(self._import, name, fn, f"the import mapping for NIR node type {name!r}")

    def register_restore(self, kind: str, fn: RestoreFn) -> None:
        """Rebuild modules exported with ``ctx.metadata(kind, ...)``: when a node's snncore
        metadata names ``kind`` and was written for the import's ``dt`` and discretisation,
        the built-in import of its node type calls ``fn(node, metadata, ctx)`` for the module
        instead of reading the node as plain NIR (an exception there warns and falls back to
        plain NIR). ``fn`` should check that the node's plain parameters still agree with the
        metadata, as snn_nir does for its own modules."""
        if not isinstance(kind, str) or not kind:
            raise TypeError(f"register_restore: kind must be a non-empty str, got {kind!r}")
        self._add(self._restore, kind, fn, f"the restore function for snncore metadata kind "
                  f"{kind!r}")

    def _add(self, table: dict[Any, _Mapping], key: Any, fn: Any, what: str) -> None:
        if not callable(fn):
            raise TypeError(f"{what}: fn must be callable, got {fn!r}")
        old = table.get(key)
        if old is not None and old.plugin != self._plugin:
            raise NIRMappingError(f"{what} is registered by both {old.plugin!r} and "
                                  f"{self._plugin!r}; unregister one of them")
        table[key] = _Mapping(key, fn, self._plugin)

    def copy(self) -> MappingRegistry:
        """A registry with the same mappings (changes to it do not reach this one)."""
        other = MappingRegistry()
        other._export, other._import = dict(self._export), dict(self._import)
        other._restore = dict(self._restore)
        return other

    def export_mapping(self, module: nn.Module) -> tuple[ExportFn, str] | None:
        """The most specific export mapping for ``module`` and its provider, or None (also for
        a subclass of a mapped class that computes something else: see :func:`overridden`)."""
        for cls in type(module).__mro__:
            m = self._export.get(cls)
            if m is not None:
                return None if overridden(module, cls) else (m.fn, m.plugin)
        return None

    def export_mapping_of(self, cls: type) -> ExportFn | None:
        """The export mapping registered for exactly ``cls``, or None."""
        m = self._export.get(cls)
        return m.fn if m is not None else None

    def restore_mapping(self, kind: str) -> RestoreFn | None:
        """The restore function registered for metadata ``kind``, or None."""
        m = self._restore.get(kind)
        return m.fn if m is not None else None

    def import_mapping(self, node: nir.NIRNode) -> tuple[ImportFn, str] | None:
        """The import mapping for ``node``'s type and its provider, or None."""
        m = self._import.get(type(node).__name__)
        return (m.fn, m.plugin) if m is not None else None

    def exported_types(self) -> list[str]:
        return sorted(f"{c.__module__}.{c.__qualname__}" for c in self._export)

    def imported_types(self) -> list[str]:
        return sorted(self._import)

    def remove_plugin(self, plugin: str) -> None:
        for table in (self._export, self._import, self._restore):
            for k in [k for k, m in table.items() if m.plugin == plugin]:
                del table[k]

    def providers(self) -> dict[str, dict[str, list[str]]]:
        """``{plugin: {"export": [...], "import": [...], "restore": [...]}}``."""
        out: dict[str, dict[str, list[str]]] = {}

        def row(plugin: str) -> dict[str, list[str]]:
            return out.setdefault(plugin, {"export": [], "import": [], "restore": []})

        for c, m in self._export.items():
            row(m.plugin)["export"].append(c.__name__)
        for n, m in self._import.items():
            row(m.plugin)["import"].append(n)
        for n, m in self._restore.items():
            row(m.plugin)["restore"].append(n)
        return out


class _Loader:
    """Builds the registry: snn_nir's built-ins, then every plugin implementing
    :data:`HOOK_NAME` (called through snncore's plugin manager), rebuilt when the set of
    loaded plugins changes."""

    def __init__(self) -> None:
        self._registry: MappingRegistry | None = None
        self._key: tuple[str, ...] = ()
        self._names: dict[str, str] = {}  # module of an in-process plugin -> its name
        self._lock = threading.RLock()

    def _provider(self, fn: Any) -> str:
        module = getattr(fn, "__module__", None) or "user"
        return self._names.get(module, module.split(".")[0])

    def load(self) -> MappingRegistry:
        key = tuple(p["name"] for p in snncore.plugin_report()["plugins"])
        with self._lock:
            if self._registry is not None and key == self._key:
                return self._registry
            from . import _builtin

            registry = MappingRegistry()
            _builtin.snn_nir_register_mappings(registry._bound("snn_nir"))
            extend.call_hook(HOOK_NAME, registry=_Attributing(registry, self._provider))
            self._registry, self._key = registry, key
            return registry

    def register(self, obj: Any, name: str | None) -> str:
        hook = getattr(obj, HOOK_NAME, None)
        if not callable(hook):
            raise TypeError(f"register_mappings: {obj!r} has no {HOOK_NAME} hook")
        name = name or getattr(obj, "__name__", None) or type(obj).__name__
        module = getattr(hook, "__module__", None) or name
        with self._lock:
            previous = self._names.get(module)
            self._names[module] = name
            scratch = self.load().copy()
            try:  # a clash raises here, before anything is registered
                hook(registry=_Attributing(scratch, self._provider))
                snncore.register_plugin(obj, name)
            except Exception:
                if previous is None:
                    self._names.pop(module, None)
                else:
                    self._names[module] = previous
                raise
            self._registry = None
        return name

    def unregister(self, name: str) -> None:
        if name == "snn_nir" or name not in self._names.values():
            raise ValueError(f"unregister_mappings: no mapping plugin named {name!r} was "
                             "registered with register_mappings")
        with self._lock:
            snncore.unregister_plugin(name)
            for module in [m for m, n in self._names.items() if n == name]:
                del self._names[module]
            self._registry = None


class _Attributing:
    """What the hook receives: a :class:`MappingRegistry` that records each mapping's provider
    from the module of its function (or the name it was registered in-process under)."""

    def __init__(self, registry: MappingRegistry, provider: Callable[[Any], str]) -> None:
        self._registry = registry
        self._provider = provider

    def register_export(self, module_type: type, fn: ExportFn) -> None:
        self._registry._bound(self._provider(fn)).register_export(module_type, fn)

    def register_import(self, node_type: type | str, fn: ImportFn) -> None:
        self._registry._bound(self._provider(fn)).register_import(node_type, fn)

    def register_restore(self, kind: str, fn: RestoreFn) -> None:
        self._registry._bound(self._provider(fn)).register_restore(kind, fn)


_loader = _Loader()
extend.add_hookspecs(MappingHookSpecs)


def mappings() -> MappingRegistry:
    """The registry of every NIR mapping (built-ins first, then plugins), loaded on first use."""
    return _loader.load()


def register_mappings(plugin: Any, name: str | None = None) -> str:
    """Register an object with a ``snn_nir_register_mappings`` hook in-process (it becomes a
    snncore plugin named ``name``); returns its name.

    A mapping for a type that another provider already maps raises :class:`NIRMappingError`
    and registers nothing.
    """
    return _loader.register(plugin, name)


def unregister_mappings(name: str) -> None:
    """Remove an in-process mapping plugin and everything it registered."""
    _loader.unregister(name)
