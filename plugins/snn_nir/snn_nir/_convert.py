"""``export_to_nir``, ``import_from_nir``, ``write`` and ``read``."""

from __future__ import annotations

import math
import os
import warnings
from collections.abc import Iterator
from typing import Any

import nir
import numpy as np
import torch
from torch import Tensor, nn

import snncore

from ._errors import NIRError, NIRExportWarning, NIRFormatError, NIRMappingError
from ._graph import load_graph, plan_graph, shape_of
from ._module import NIRModule
from ._registry import (
    FORMAT,
    HOOK_NAME,
    METADATA_KEY,
    ExportContext,
    ImportContext,
    mappings,
    overridden,
)

__all__ = ["export_to_nir", "import_from_nir", "write", "read", "DISCRETIZATIONS"]

DISCRETIZATIONS = ("euler", "exact")


def _version() -> str:
    from . import __version__

    return __version__


def _check_dt(dt: Any, where: str) -> float:
    if isinstance(dt, bool) or not isinstance(dt, (int, float)) or not math.isfinite(dt) \
            or dt <= 0:
        raise ValueError(f"{where}: dt must be a finite number > 0 (seconds per step), got "
                         f"{dt!r}; NIR stores no time step, so give the one the model stands for "
                         "(the NIR paper's graphs use dt=1e-4)")
    return float(dt)


def _check_disc(d: Any, where: str) -> str:
    if d not in DISCRETIZATIONS:
        raise ValueError(f"{where}: discretization must be one of {DISCRETIZATIONS}, got {d!r}")
    return str(d)


# =============================================================================================
# import
# =============================================================================================
def import_from_nir(graph_or_path: Any, *, dt: float, discretization: str = "euler",
                    initial_v: str = "zero", dtype: torch.dtype | None = None,
                    use_metadata: bool = True, surrogate: str = "atan") -> NIRModule:
    r"""Build a torch module that runs a NIR graph.

    Without snncore metadata NIR's semantics hold: strict ``v > v_threshold``, reset to
    ``v_reset`` in the step that fires, membranes starting at 0, IF and I without ``dt``
    (:math:`v_t = v_{t-1} + R I_t`). Nodes with snncore metadata written by
    :func:`export_to_nir` at the same ``dt`` and discretisation become the exported snncore
    modules again (reset rule, ``reset_delay``, graded spikes, surrogate, learnable flags).

    Args:
        graph_or_path: a ``nir.NIRGraph`` (or a single node), or the path of a ``.nir`` file.
        dt: simulation time step in seconds (> 0).
        discretization: ``"euler"`` (:math:`\beta = 1 - dt/\tau`) or ``"exact"``
            (:math:`\beta = e^{-dt/\tau}`). Default: "euler".
        initial_v: ``"zero"`` (NIR) or ``"v_leak"`` (membranes start at ``v_leak``, as Norse
            does). Default: "zero".
        dtype: dtype of weights (default: torch's default dtype).
        use_metadata: restore snncore modules from their metadata. Default: True.
        surrogate: surrogate of plainly imported spiking neurons. Default: "atan".

    Returns:
        :class:`NIRModule`: ``m(x_t, state)`` for one step, ``m.run(x_seq, state)`` for a
        sequence ``[T, B, ...]``.

    Raises:
        NIRFormatError: a malformed graph or unreadable file (the message names the node or edge).
        NIRMappingError: a node type without mapping (names the type and the hook to add one).
    """
    dt = _check_dt(dt, "import_from_nir")
    discretization = _check_disc(discretization, "import_from_nir")
    if initial_v not in ("zero", "v_leak"):
        raise ValueError(f"import_from_nir: initial_v must be 'zero' or 'v_leak', got "
                         f"{initial_v!r}")
    if not isinstance(use_metadata, bool):
        raise TypeError(f"import_from_nir: use_metadata must be a bool, got {use_metadata!r}")
    dtype = dtype or torch.get_default_dtype()
    if not isinstance(dtype, torch.dtype) or not dtype.is_floating_point:
        raise TypeError(f"import_from_nir: dtype must be a floating torch.dtype, got {dtype!r}")
    snncore.surrogate(surrogate)  # a clear error for an unknown name, before anything is built
    graph = load_graph(graph_or_path)
    registry = mappings()

    def ctx_for(name: str) -> ImportContext:
        return ImportContext(dt, discretization, initial_v, name, dtype, use_metadata, surrogate)

    def build(name: str, node: Any) -> nn.Module | None:
        found = registry.import_mapping(node)
        if found is None:
            raise NIRMappingError(
                f"node {name!r}: NIR node type {type(node).__name__!r} has no import mapping; "
                f"a plugin can add one through the {HOOK_NAME!r} hook "
                "(registry.register_import(NodeType, fn)); mapped types: "
                f"{registry.imported_types()}")
        fn, plugin = found
        try:
            return fn(node, ctx_for(name))
        except NIRError as exc:
            msg = str(exc)
            raise type(exc)(msg if repr(name) in msg else f"node {name!r}: {msg}") from exc
        except Exception as exc:
            raise NIRFormatError(f"node {name!r} ({type(node).__name__}, mapping from "
                                 f"{plugin!r}): {type(exc).__name__}: {exc}") from exc

    modules: dict[str, nn.Module | None] = {}
    keep: set[str] = set()

    def collect(g: nir.NIRGraph, prefix: str) -> None:
        if not isinstance(getattr(g, "nodes", None), dict):
            raise NIRFormatError(f"subgraph {prefix[:-1]!r} has no dict of nodes")
        for name, node in g.nodes.items():
            if isinstance(node, nir.NIRGraph):
                q = prefix + str(name)
                m = build(q, node)
                if m is not None:
                    modules[q] = m
                    keep.add(q)
                else:
                    collect(node, q + ".")

    collect(graph, "")
    plan = plan_graph(graph, keep)
    for name in plan.order:
        node = plan.nodes[name]
        if name in modules or isinstance(node, (nir.Input, nir.Output)):
            continue
        modules[name] = build(name, node)
    for src in plan.delayed_sources:
        if shape_of(getattr(plan.nodes[src], "output_type", None), "output") is None:
            raise NIRFormatError(f"node {src!r} feeds a cycle but its output shape is unknown; "
                                 "give it a complete output_type")
    return NIRModule(plan, modules, graph, dt, discretization)


def read(path: str | os.PathLike[str]) -> nir.NIRGraph:
    """Read a ``.nir`` file; a file nir cannot read raises :class:`NIRFormatError` naming the
    broken edge or node."""
    return load_graph(os.fspath(path))


# =============================================================================================
# export
# =============================================================================================
def _chain(model: nn.Module, prefix: str) -> Iterator[tuple[str, nn.Module]]:
    # a container traced as the chain of its children: only with the base class's forward
    # (a subclass with its own, e.g. a residual block, is a module that needs a mapping)
    base = snncore.Sequential if isinstance(model, snncore.Sequential) else nn.Sequential
    if isinstance(model, nn.Sequential) and not overridden(model, base):
        for name, child in model.named_children():
            yield from _chain(child, f"{prefix}{name}_")
    else:
        yield prefix[:-1] if prefix else type(model).__name__.lower(), model


def _why_unmapped(module: nn.Module) -> str:
    """Why no mapping applies, for the error."""
    if isinstance(module, nn.Sequential):
        return ("its class overrides forward() of its Sequential base, so it is not traced as "
                "a chain of its layers")
    for cls in type(module).__mro__[1:]:
        if mappings().export_mapping_of(cls) is not None:
            method = overridden(module, cls)
            return (f"its class overrides {method}() of {cls.__qualname__}, so the mapping of "
                    f"{cls.__qualname__} would not describe what it computes")
    if isinstance(module, snncore.Neuron):
        fields = ", ".join(getattr(getattr(module, "State", None), "_fields", ()) or ("?",))
        return (f"its dynamics (state: {fields}) have no NIR node; NIR's neuron nodes are LIF, "
                "CubaLIF, IF, LI, CubaLI, I and Integrator")
    return "NIR has no node for it"


def _model_dtype(model: nn.Module, sample: Tensor | None) -> Any:
    if sample is not None and sample.dtype == torch.float64:
        return np.float64
    for p in model.parameters():
        if p.is_floating_point():
            return np.float64 if p.dtype == torch.float64 else np.float32
    return np.float32


def export_to_nir(model: nn.Module, shape_or_sample: Any, *, dt: float,
                  discretization: str = "euler") -> nir.NIRGraph:
    r"""Export a network to a ``nir.NIRGraph``.

    Supported: ``nn.Linear`` (Affine, or Linear without bias), ``nn.Conv1d``/``nn.Conv2d``,
    ``nn.AvgPool2d``, :class:`snn_nir.SumPool2d`, ``nn.Flatten``, snncore's ``Leaky`` and
    snn_neurons_extra's ``Synaptic``, ``Lapicque``, ``IF``, ``LI``, ``RLeaky``, ``RSynaptic``
    (a subgraph whose recurrent weight closes a cycle), inside ``snn.Sequential`` /
    ``nn.Sequential`` chains; ``nn.Identity`` and ``nn.Dropout`` are left out; plugins add more
    through the ``snn_nir_register_mappings`` hook. Neuron parameters are broadcast to the layer
    shape. What plain NIR cannot carry goes into each node's ``metadata["snncore"]``; when the
    plain-NIR reading differs from the model's behaviour one :class:`NIRExportWarning` names
    the modules and reasons.

    Args:
        model: the network (on any device, any floating dtype).
        shape_or_sample: the shape of one input sample without batch and time (a tuple of ints),
            or a sample tensor of one time step ``[B, *shape]``.
        dt: the time step the model's discrete dynamics stand for, in seconds (> 0).
        discretization: how decays map to time constants: ``"euler"``
            (:math:`\tau = dt/(1-\beta)`, :math:`R = \tau/dt`) or ``"exact"``
            (:math:`\tau = -dt/\ln\beta`, :math:`R = 1/(1-\beta)`). Default: "euler".

    Returns:
        ``nir.NIRGraph`` with nodes ``input``, one per layer (named by their position, nested
        positions joined by ``_``), and ``output``; all input/output types complete.
    """
    dt = _check_dt(dt, "export_to_nir")
    discretization = _check_disc(discretization, "export_to_nir")
    if not isinstance(model, nn.Module):
        raise TypeError(f"export_to_nir: model must be a torch.nn.Module, got "
                        f"{type(model).__name__}")
    sample = None
    if isinstance(shape_or_sample, Tensor):
        if shape_or_sample.dim() < 2:
            raise ValueError("export_to_nir: a sample must be one time step [B, *shape] (with a "
                             f"batch dimension), got shape {list(shape_or_sample.shape)}")
        sample = shape_or_sample
        shape = tuple(int(s) for s in shape_or_sample.shape[1:])
    elif isinstance(shape_or_sample, (tuple, list)) and shape_or_sample and all(
            isinstance(s, int) and not isinstance(s, bool) and s > 0 for s in shape_or_sample):
        shape = tuple(shape_or_sample)
    else:
        raise TypeError("export_to_nir: shape_or_sample must be the sample shape without batch "
                        "(a non-empty tuple of positive ints) or a sample tensor [B, *shape], "
                        f"got {shape_or_sample!r}")
    out_dtype = _model_dtype(model, sample)
    registry = mappings()
    reasons: list[str] = []  # from snn_nir's own mappings, which write snncore metadata
    foreign: list[str] = []  # from other packages' mappings
    nodes: dict[str, nir.NIRNode] = {"input": nir.Input(input_type=np.asarray(shape))}
    edges: list[tuple[str, str]] = []
    last = "input"
    for name, module in _chain(model, ""):
        if name in ("input", "output") or name in nodes:
            name = f"layer_{name}"
        found = registry.export_mapping(module)
        if found is None:
            raise NIRMappingError(
                f"export_to_nir: module {name!r} ({type(module).__module__}."
                f"{type(module).__qualname__}) has no NIR export mapping: "
                f"{_why_unmapped(module)}"
                f"; a plugin can add one through the {HOOK_NAME!r} hook "
                "(registry.register_export(ModuleType, fn)); only snn.Sequential / nn.Sequential "
                "chains of mapped modules are traced")
        fn, plugin = found
        own: list[str] = []
        ctx = ExportContext(dt, discretization, shape, name, own.append, out_dtype)
        node = fn(module, ctx)
        (reasons if plugin == "snn_nir" or _restorable(node, registry) else foreign).extend(
            f"{type(module).__name__} {name!r} {r}" for r in own)
        if node is None:
            continue
        if not isinstance(node, nir.NIRNode):
            raise NIRMappingError(f"export_to_nir: the mapping for {type(module).__name__} "
                                  f"returned {type(node).__name__}, not a nir node")
        nodes[name] = node
        edges.append((last, name))
        last = name
        shape = _next_shape(module, node, shape, name)
    nodes["output"] = nir.Output(output_type=np.asarray(shape))
    edges.append((last, "output"))
    meta = {METADATA_KEY: {"format": FORMAT, "dt": dt, "discretization": discretization,
                           "exporter": f"snn_nir {_version()}"}}
    try:
        graph = nir.NIRGraph(nodes=nodes, edges=edges, metadata=meta, type_check=True)
    except Exception as exc:
        raise NIRFormatError(f"export_to_nir: nir rejects the exported graph: "
                             f"{type(exc).__name__}: {exc}") from exc
    if reasons or foreign:
        said = []
        if reasons:
            said.append("; ".join(reasons) + ". snn_nir.import_from_nir restores these modules "
                        "from their 'snncore' metadata")
        if foreign:
            said.append("; ".join(foreign) + ". These modules were mapped by other packages "
                        "without restorable metadata (ExportContext.metadata with "
                        "register_restore): import_from_nir reads them as plain NIR")
        warnings.warn("export_to_nir: a reader of plain NIR will not reproduce this model "
                      "exactly: " + ". ".join(said) + ".", NIRExportWarning, stacklevel=2)
    return graph


def _restorable(node: Any, registry: Any) -> bool:
    """Whether ``node`` carries snncore metadata of a kind a restore function is registered
    for (a plugin's module exported with ``ctx.metadata``)."""
    meta = getattr(node, "metadata", None)
    m = meta.get(METADATA_KEY) if isinstance(meta, dict) else None
    kind = m.get("module") if isinstance(m, dict) else None
    return isinstance(kind, str) and registry.restore_mapping(kind) is not None


def _next_shape(module: nn.Module, node: nir.NIRNode, shape: tuple[int, ...],
                name: str) -> tuple[int, ...]:
    if isinstance(module, snncore.Neuron):
        return shape
    out = shape_of(getattr(node, "output_type", None), "output")
    if out is not None:
        return out
    try:
        p = next(iter(module.parameters()), None)
        if p is None:
            p = next(iter(module.buffers()), None)
        dev = p.device if p is not None else torch.device("cpu")
        dtype = p.dtype if p is not None and p.is_floating_point() else torch.float32
        with torch.no_grad():
            y = module(torch.zeros((1, *shape), dtype=dtype, device=dev))
    except Exception as exc:
        raise NIRMappingError(f"export_to_nir: cannot tell the output shape of {name!r} "
                              f"({type(module).__name__}) for input {list(shape)}: "
                              f"{type(exc).__name__}: {exc}") from exc
    return tuple(int(s) for s in y.shape[1:])


def write(path: str | os.PathLike[str], model_or_graph: Any, shape_or_sample: Any = None, *,
          dt: float | None = None, discretization: str = "euler") -> nir.NIRGraph:
    """Write a ``nir.NIRGraph``, or export a model (as :func:`export_to_nir`) and write it, to
    ``path`` (HDF5). Returns the graph written."""
    if isinstance(model_or_graph, nir.NIRGraph):
        graph = model_or_graph
    else:
        if dt is None or shape_or_sample is None:
            raise ValueError("write: exporting a model needs shape_or_sample and dt= (see "
                             "export_to_nir)")
        graph = export_to_nir(model_or_graph, shape_or_sample, dt=dt,
                              discretization=discretization)
    nir.write(os.fspath(path), graph)
    return graph
