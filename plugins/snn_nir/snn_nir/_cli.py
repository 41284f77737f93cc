"""``snncore nir inspect FILE``: nodes, shapes, cycles, and how snncore imports the graph."""

from __future__ import annotations

import argparse
import json
import sys
import warnings
from collections.abc import Sequence
from typing import Any, TextIO

import nir

import snncore

from ._errors import NIRError
from ._graph import load_graph, plan_graph, shape_of

__all__ = ["inspect_nir", "format_inspection", "add_arguments", "run", "main"]


def _backend_of(module: Any) -> str:
    if isinstance(module, snncore.Neuron):
        return f"{type(module).__name__} ({_select(module)})"
    inner = getattr(module, "neuron", None)
    if isinstance(inner, snncore.Neuron):
        return f"{type(inner).__name__} with NIR input scaling ({_select(inner)})"
    if getattr(module, "nir_stateful", False):
        return f"{type(module).__name__} (eager)"
    return type(module).__name__


def _select(neuron: Any) -> str:
    """The backend ``auto`` picks for ``neuron`` on CPU (by asking each registered backend)."""
    import torch

    x = torch.zeros(2, 1, 1)
    entries = sorted(snncore.registries()["backend"].entries(),
                     key=lambda e: -getattr(e.factory, "priority", 0))
    for e in entries:
        try:
            if not e.factory.available()[0]:
                continue
            ok, _ = snncore.backend(e.qualified_name).supports(neuron, x)
        except Exception:
            continue
        if ok:
            return e.name
    return "eager"


def inspect_nir(graph_or_path: Any, *, dt: float = 1e-4,
                discretization: str = "euler") -> dict[str, Any]:
    """Describe a NIR graph: its nodes (type, shapes, snncore metadata), edges, cycles and
    delayed edges, and whether :func:`snn_nir.import_from_nir` can import it at ``dt`` (with
    the module each node becomes, or the error)."""
    from ._convert import import_from_nir

    report: dict[str, Any] = {"source": str(graph_or_path) if not isinstance(
        graph_or_path, nir.NIRNode) else "<graph>", "dt": dt, "discretization": discretization}
    try:
        graph = load_graph(graph_or_path)
    except (NIRError, FileNotFoundError, TypeError) as exc:
        report.update(readable=False, importable=False, error=str(exc), nodes=[], edges=[],
                      cycles=[], delayed_edges=[])
        return report
    report["readable"] = True
    nodes: list[dict[str, Any]] = []

    def walk(g: nir.NIRGraph, prefix: str) -> None:
        for name, node in g.nodes.items():
            q = prefix + name
            nodes.append({
                "name": q,
                "type": type(node).__name__,
                "input_shape": _shape(getattr(node, "input_type", None), "input"),
                "output_shape": _shape(getattr(node, "output_type", None), "output"),
                "snncore_metadata": isinstance(getattr(node, "metadata", None), dict)
                and "snncore" in node.metadata,
            })
            if isinstance(node, nir.NIRGraph):
                walk(node, q + ".")

    walk(graph, "")
    report["nodes"] = nodes
    report["edges"] = [list(e) for e in graph.edges]
    try:
        plan = plan_graph(graph)
        report["cycles"] = plan.cycles
        report["delayed_edges"] = sorted(
            [s, d] for d, ins in plan.inputs.items() for s, dl in ins if dl)
    except NIRError as exc:
        report.update(importable=False, error=str(exc), cycles=[], delayed_edges=[])
        return report
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            module = import_from_nir(graph, dt=dt, discretization=discretization)
        report["importable"] = True
        report["warnings"] = [str(w.message) for w in caught]
        report["modules"] = {n: _backend_of(module.layer(n)) for n in module.node_names
                             if n in module.layer_names}
    except (NIRError, ValueError, TypeError) as exc:
        report.update(importable=False, error=str(exc))
    return report


def _shape(types: Any, key: str) -> list[int] | None:
    s = shape_of(types, key)
    return None if s is None else list(s)


def format_inspection(report: dict[str, Any]) -> str:
    """Human-readable form of :func:`inspect_nir`."""
    lines = [f"NIR graph: {report['source']}"]
    if not report.get("readable", False):
        lines.append(f"cannot read: {report['error']}")
        return "\n".join(lines)
    lines.append(f"nodes ({len(report['nodes'])}):")
    for n in report["nodes"]:
        meta = " [snncore metadata]" if n["snncore_metadata"] else ""
        lines.append(f"  {n['name']}: {n['type']} {n['input_shape']} -> "
                     f"{n['output_shape']}{meta}")
    lines.append("edges: " + ", ".join(f"{a} -> {b}" for a, b in report["edges"]))
    if report["cycles"]:
        lines.append("cycles (nodes in evaluation order): "
                     + "; ".join(", ".join(c) for c in report["cycles"]))
        lines.append("delayed edges (deliver the previous step's output, zeros at t=0): "
                     + ", ".join(f"{a} -> {b}" for a, b in report["delayed_edges"]))
    else:
        lines.append("cycles: none")
    if report.get("importable"):
        lines.append(f"snncore can import it (dt={report['dt']:g}, "
                     f"{report['discretization']}):")
        for name, how in report["modules"].items():
            lines.append(f"  {name}: {how}")
        for w in report.get("warnings", []):
            lines.append(f"  warning: {w}")
    else:
        lines.append(f"snncore cannot import it: {report['error']}")
    return "\n".join(lines)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Add the ``nir`` command's sub-commands to ``parser``."""
    sub = parser.add_subparsers(dest="nir_command", required=True)
    p = sub.add_parser("inspect", help="nodes, shapes, cycles, and how snncore imports a file")
    p.add_argument("file", help="a .nir file")
    p.add_argument("--dt", type=float, default=1e-4, help="time step for the import check "
                   "(default: 1e-4)")
    p.add_argument("--discretization", choices=("euler", "exact"), default="euler")
    p.add_argument("--json", action="store_true", help="machine-readable output")


def run(args: argparse.Namespace, out: TextIO) -> int:
    """Run a parsed ``nir`` command; returns the exit status (1 when the file cannot be
    imported)."""
    report = inspect_nir(args.file, dt=args.dt, discretization=args.discretization)
    if args.json:
        json.dump(report, out, indent=2, default=str)
        out.write("\n")
    else:
        out.write(format_inspection(report) + "\n")
    return 0 if report.get("importable") else 1


def main(argv: Sequence[str] | None = None, out: TextIO | None = None) -> int:
    """``snncore nir ...`` as a standalone entry point (``python -m snn_nir inspect FILE``)."""
    parser = argparse.ArgumentParser(prog="snncore nir", description="NIR tools of snn-nir")
    add_arguments(parser)
    return run(parser.parse_args(argv), out or sys.stdout)
