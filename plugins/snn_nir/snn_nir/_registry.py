"""The mapping registry and the hook through which plugins contribute NIR mappings.

A mapping turns a torch module into a NIR node (export) or a NIR node into a torch module
(import). snn_nir's own mappings are registered through the same hook as a third party's::

    import snncore

    @snncore.hookimpl
    def snn_nir_register_mappings(registry):
        registry.register_export(MyNeuron, my_neuron_to_nir)
        registry.register_import("MyNode", my_node_to_torch)   # a nir node class or type name

A plugin ships the hook in the module of its ``snncore`` entry point (or registers an object
in-process with :func:`register_mappings`).
"""

from __future__ import annotations

import dataclasses
import importlib.metadata as md
import threading
from collections.abc import Callable
from typing import Any

import nir
import numpy as np
import pluggy
from torch import nn

import snncore

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

ExportFn = Callable[[nn.Module, "ExportContext"], "nir.NIRNode"]
ImportFn = Callable[["nir.NIRNode", "ImportContext"], nn.Module]


class MappingHookSpecs:
    """Hook specifications that snn_nir adds to snncore's plugin manager."""

    @snncore.hookspec
    def snn_nir_register_mappings(self, registry: MappingRegistry) -> None:
        """Register NIR mappings: ``registry.register_export(ModuleType, fn)`` (fn(module, ctx)
        returns a ``nir.NIRNode``) and ``registry.register_import(NodeType, fn)`` (fn(node, ctx)
        returns a torch module)."""


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


class MappingRegistry:
    """Export mappings keyed by module class, import mappings keyed by NIR node type name."""

    def __init__(self) -> None:
        self._export: dict[type, _Mapping] = {}
        self._import: dict[str, _Mapping] = {}
        self._plugin = "user"

    def _bound(self, plugin: str) -> MappingRegistry:
        view = MappingRegistry.__new__(MappingRegistry)
        view._export, view._import, view._plugin = self._export, self._import, plugin
        return view

    def register_export(self, module_type: type, fn: ExportFn) -> None:
        """Map modules of ``module_type`` (and subclasses without their own mapping) to NIR."""
        if not isinstance(module_type, type) or not issubclass(module_type, nn.Module):
            raise TypeError(f"register_export: module_type must be a torch.nn.Module subclass, "
                            f"got {module_type!r}")
        if not callable(fn):
            raise TypeError(f"register_export: fn must be callable, got {fn!r}")
        old = self._export.get(module_type)
        if old is not None and old.plugin != self._plugin:
            raise NIRMappingError(
                f"the export mapping for {module_type.__qualname__} is registered by both "
                f"{old.plugin!r} and {self._plugin!r}; unregister one of them"
            )
        self._export[module_type] = _Mapping(module_type, fn, self._plugin)

    def register_import(self, node_type: type | str, fn: ImportFn) -> None:
        """Map NIR nodes of ``node_type`` (a ``nir`` class or its type name) to torch modules."""
        name = node_type if isinstance(node_type, str) else getattr(node_type, "__name__", None)
        if not isinstance(name, str) or not name:
            raise TypeError(f"register_import: node_type must be a nir node class or its type "
                            f"name, got {node_type!r}")
        if not callable(fn):
            raise TypeError(f"register_import: fn must be callable, got {fn!r}")
        old = self._import.get(name)
        if old is not None and old.plugin != self._plugin:
            raise NIRMappingError(
                f"the import mapping for NIR node type {name!r} is registered by both "
                f"{old.plugin!r} and {self._plugin!r}; unregister one of them"
            )
        self._import[name] = _Mapping(name, fn, self._plugin)

    def export_mapping(self, module: nn.Module) -> tuple[ExportFn, str] | None:
        """The most specific export mapping for ``module`` and its provider, or None."""
        for cls in type(module).__mro__:
            m = self._export.get(cls)
            if m is not None:
                return m.fn, m.plugin
        return None

    def import_mapping(self, node: nir.NIRNode) -> tuple[ImportFn, str] | None:
        """The import mapping for ``node``'s type and its provider, or None."""
        m = self._import.get(type(node).__name__)
        return (m.fn, m.plugin) if m is not None else None

    def exported_types(self) -> list[str]:
        return sorted(f"{c.__module__}.{c.__qualname__}" for c in self._export)

    def imported_types(self) -> list[str]:
        return sorted(self._import)

    def remove_plugin(self, plugin: str) -> None:
        for table in (self._export, self._import):
            for k in [k for k, m in table.items() if m.plugin == plugin]:
                del table[k]

    def providers(self) -> dict[str, dict[str, list[str]]]:
        """``{plugin: {"export": [...], "import": [...]}}``."""
        out: dict[str, dict[str, list[str]]] = {}
        for c, m in self._export.items():
            out.setdefault(m.plugin, {"export": [], "import": []})["export"].append(c.__name__)
        for n, m in self._import.items():
            out.setdefault(m.plugin, {"export": [], "import": []})["import"].append(n)
        return out


class _Loader:
    """Collects the mappings of every plugin that implements :data:`HOOK_NAME`."""

    def __init__(self) -> None:
        self.registry = MappingRegistry()
        self._pm = pluggy.PluginManager("snncore")
        self._pm.add_hookspecs(MappingHookSpecs)
        self._loaded = False
        self._lock = threading.RLock()
        self.failures: list[str] = []

    def load(self) -> MappingRegistry:
        if self._loaded:
            return self.registry
        with self._lock:
            if self._loaded:
                return self.registry
            self._loaded = True
            from . import _builtin

            self._add(_builtin, "snn_nir")
            snncore.registries()  # make snncore load its plugins first (its own switches apply)
            loaded = {p["name"] for p in snncore.plugin_report()["plugins"]}
            for ep in sorted(md.entry_points(group="snncore"), key=lambda e: e.name):
                if ep.name not in loaded or ep.name == "nir":
                    continue
                obj = ep.load()  # already imported by snncore's loader
                if hasattr(obj, HOOK_NAME):
                    self._add(obj, ep.name, strict=False)
        return self.registry

    def _add(self, obj: Any, name: str, strict: bool = True) -> None:
        try:
            self._pm.register(obj, name=name)
            for impl in self._pm.hook.snn_nir_register_mappings.get_hookimpls():
                if impl.plugin is obj:
                    impl.function(registry=self.registry._bound(name))
        except Exception as exc:
            self.registry.remove_plugin(name)
            if self._pm.is_registered(obj):
                self._pm.unregister(obj)
            if strict:
                raise NIRMappingError(
                    f"plugin {name!r} failed in {HOOK_NAME}: {type(exc).__name__}: {exc}"
                ) from exc
            import warnings

            msg = f"snn_nir: plugin {name!r} failed in {HOOK_NAME}: {type(exc).__name__}: {exc}"
            self.failures.append(msg)
            warnings.warn(msg + "; its NIR mappings are not available", snncore.PluginWarning,
                          stacklevel=3)

    def register(self, obj: Any, name: str | None) -> str:
        self.load()
        name = name or getattr(obj, "__name__", None) or type(obj).__name__
        if self._pm.has_plugin(name):
            raise ValueError(f"register_mappings: a plugin named {name!r} is already registered; "
                             "pass another name=")
        self._add(obj, name)
        return name

    def unregister(self, name: str) -> None:
        obj = self._pm.get_plugin(name)
        if obj is None or name == "snn_nir":
            raise ValueError(f"unregister_mappings: no removable plugin named {name!r}")
        self.registry.remove_plugin(name)
        self._pm.unregister(obj)


_loader = _Loader()


def mappings() -> MappingRegistry:
    """The registry of every NIR mapping (built-ins first, then plugins), loaded on first use."""
    return _loader.load()


def register_mappings(plugin: Any, name: str | None = None) -> str:
    """Register an object with a ``snn_nir_register_mappings`` hook in-process; returns its name.

    A mapping for a type that another provider already maps raises :class:`NIRMappingError`.
    """
    return _loader.register(plugin, name)


def unregister_mappings(name: str) -> None:
    """Remove an in-process mapping plugin and everything it registered."""
    _loader.unregister(name)
