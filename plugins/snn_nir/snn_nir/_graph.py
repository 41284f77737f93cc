"""Reading NIR graphs: validation, flattening of nested subgraphs, evaluation order, cycles."""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Iterable
from typing import Any

import nir
import numpy as np

from ._errors import NIRFormatError

__all__ = ["Plan", "load_graph", "plan_graph", "shape_of", "input_shape"]


def load_graph(graph_or_path: Any) -> nir.NIRGraph:
    """A ``nir.NIRGraph`` from a graph, a single node, or a path to a ``.nir`` file."""
    if isinstance(graph_or_path, nir.NIRGraph):
        return graph_or_path
    if isinstance(graph_or_path, nir.NIRNode):
        return nir.NIRGraph.from_list(graph_or_path, type_check=False)
    if isinstance(graph_or_path, (str, os.PathLike)):
        path = os.fspath(graph_or_path)
        if not os.path.isfile(path):
            raise FileNotFoundError(f"import_from_nir: no NIR file at {path!r}")
        try:
            return nir.read(path, type_check=False)
        except Exception as exc:
            problem = _diagnose_file(path)
            detail = problem or f"{type(exc).__name__}: {exc}"
            raise NIRFormatError(f"{path}: nir cannot read this file: {detail}") from exc
    raise TypeError(
        "import_from_nir: graph_or_path must be a nir.NIRGraph, a nir node or a path to a .nir "
        f"file, got {type(graph_or_path).__name__}"
    )


def _diagnose_file(path: str) -> str | None:
    """Name the first broken edge of a file that nir cannot read (walking nested graphs)."""
    try:
        import h5py
        from nir.serialization import hdf2dict

        with h5py.File(path, "r") as f:
            data = hdf2dict(f["node"])
    except Exception as exc:  # not even HDF5
        return f"not a readable NIR/HDF5 file ({type(exc).__name__}: {exc})"

    def walk(d: dict[str, Any], where: str) -> str | None:
        nodes = d.get("nodes", {})
        for e in d.get("edges", []):
            a, b = (_s(x) for x in e)
            for end, role in ((a, "source"), (b, "target")):
                if end not in nodes and end.split(".")[0] not in nodes:
                    return (f"{where}edge ({a!r} -> {b!r}) names {role} node {end!r}, which does "
                            f"not exist there (nodes: {sorted(nodes)})")
        for name, sub in nodes.items():
            if isinstance(sub, dict) and _s(sub.get("type", "")) == "NIRGraph":
                found = walk(sub, f"{where}in subgraph {name!r}: ")
                if found:
                    return found
        return None

    return walk(data, "")


def _s(x: Any) -> str:
    return x.decode("utf8") if isinstance(x, bytes) else str(x)


def shape_of(types: Any, key: str) -> tuple[int, ...] | None:
    """The shape stored under ``key`` of a node's input/output type dict, or None."""
    if not isinstance(types, dict) or not types:
        return None
    v = types.get(key, next(iter(types.values())))
    if v is None:
        return None
    arr = np.asarray(v).reshape(-1)
    return tuple(int(i) for i in arr)


def input_shape(node: Any) -> tuple[int, ...] | None:
    """A node's input shape; for grouped convolutions with the channel count that nir 1.0.8
    derives wrongly (it reads ``weight.shape[1]``, the channels per group)."""
    shape = shape_of(getattr(node, "input_type", None), "input")
    if shape is not None and isinstance(node, (nir.Conv1d, nir.Conv2d)):
        groups = int(np.asarray(node.groups).reshape(-1)[0])
        if groups > 1 and shape[0] == node.weight.shape[1]:
            shape = (shape[0] * groups, *shape[1:])
    return shape


@dataclasses.dataclass
class Plan:
    """A flattened graph ready to run.

    Attributes:
        nodes: qualified name -> NIR node (inner Input/Output nodes of subgraphs included).
        order: evaluation order (reverse postorder of a depth-first search from the inputs).
        inputs: in-edges per node, ``(source, delayed)``; delayed edges deliver the source's
            previous-step output.
        inputs_of_graph / outputs_of_graph: names of the top-level Input / Output nodes.
        blocks: groups of the order: a group of one node without a delayed in-edge runs over a
            whole sequence at once; a strongly connected group runs step by step.
    """

    nodes: dict[str, Any]
    order: list[str]
    inputs: dict[str, list[tuple[str, bool]]]
    inputs_of_graph: list[str]
    outputs_of_graph: list[str]
    blocks: list[list[str]]

    @property
    def delayed_sources(self) -> list[str]:
        return sorted({s for ins in self.inputs.values() for s, d in ins if d})

    @property
    def cycles(self) -> list[list[str]]:
        return [b for b in self.blocks if len(b) > 1 or any(
            s == b[0] for s, _ in self.inputs[b[0]])]


def plan_graph(graph: nir.NIRGraph, keep: Iterable[str] = ()) -> Plan:
    """Validate ``graph``, flatten its subgraphs (except the names in ``keep``, qualified) and
    compute the evaluation order. Raises :class:`NIRFormatError` naming the node or edge."""
    keep = set(keep)
    nodes: dict[str, Any] = {}
    edges: list[tuple[str, str]] = []
    _flatten(graph, "", nodes, edges, keep)
    ins_g = [n for n, v in graph.nodes.items() if isinstance(v, nir.Input)]
    outs_g = [n for n, v in graph.nodes.items() if isinstance(v, nir.Output)]
    if not ins_g:
        raise NIRFormatError("the graph has no Input node; add nir.Input(shape) and an edge from "
                             "it to the first node")
    if not outs_g:
        raise NIRFormatError("the graph has no Output node; add nir.Output(shape) and an edge "
                             "from the last node to it")
    seen: set[tuple[str, str]] = set()
    for e in edges:
        if e in seen:
            raise NIRFormatError(f"duplicate edge {e[0]!r} -> {e[1]!r}")
        seen.add(e)
    for name, node in nodes.items():
        if isinstance(node, nir.Input) and any(d == name for _, d in edges) and "." not in name:
            raise NIRFormatError(f"edge into the graph's Input node {name!r}")
    _check_shapes(nodes, edges)
    order, delayed = _order(nodes, edges, [n for n in nodes if n in ins_g])
    inputs: dict[str, list[tuple[str, bool]]] = {n: [] for n in nodes}
    for a, b in edges:
        inputs[b].append((a, (a, b) in delayed))
    for n in order:
        if not inputs[n] and not isinstance(nodes[n], nir.Input):
            raise NIRFormatError(f"node {n!r} ({type(nodes[n]).__name__}) has no incoming edge; "
                                 "connect it or remove it")
    blocks = _blocks(order, edges)
    _warn_delayed_readers(nodes, edges, delayed, blocks)
    return Plan(nodes, order, inputs, ins_g, outs_g, blocks)


def _warn_delayed_readers(nodes: dict[str, Any], edges: list[tuple[str, str]],
                          delayed: set[tuple[str, str]], blocks: list[list[str]]) -> None:
    """A stateless node after a cycle's delayed edge computes on the previous step's values;
    when it also feeds a node outside the cycle, that reader gets the previous step too (not
    what a duplicate of the node would give it): say so."""
    import warnings

    from ._errors import NIRImportWarning

    block_of = {n: i for i, block in enumerate(blocks) for n in block}
    succ: dict[str, list[str]] = {n: [] for n in nodes}
    for a, b in edges:
        if (a, b) not in delayed:
            succ[a].append(b)
    for a, b in sorted(delayed):
        if not is_stateful(nodes[a]) or is_stateful(nodes[b]):
            continue  # a delay on a cycle's own back edge
        seen, todo = set(), [b]
        while todo:
            s = todo.pop()
            if s in seen or is_stateful(nodes[s]):
                continue
            seen.add(s)
            for r in succ[s]:
                if block_of.get(r) != block_of[b]:
                    warnings.warn(
                        f"snn_nir: node {s!r} is on a recurrent cycle that is delayed on the edge "
                        f"{a!r} -> {b!r}, and it also feeds {r!r} outside the cycle, which "
                        f"therefore reads {s!r}'s value computed from the previous step; give "
                        f"{r!r} its own copy of {s!r} in the graph if it should see the current "
                        "step", NIRImportWarning, stacklevel=4)
                else:
                    todo.append(r)


def _flatten(graph: nir.NIRGraph, prefix: str, nodes: dict[str, Any],
             edges: list[tuple[str, str]], keep: set[str]) -> tuple[list[str], list[str]]:
    """Add ``graph``'s nodes (qualified by ``prefix``) and edges; returns its Input and Output
    node names (qualified)."""
    if not isinstance(graph.nodes, dict) or not isinstance(graph.edges, (list, tuple)):
        raise NIRFormatError(f"{_where(prefix)}a NIRGraph needs a dict of nodes and a list of "
                             "edges")
    entries: dict[str, tuple[list[str], list[str]]] = {}
    local_in, local_out = [], []
    for name, node in graph.nodes.items():
        if not isinstance(name, str) or not name:
            raise NIRFormatError(f"{_where(prefix)}node names must be non-empty strings, got "
                                 f"{name!r}")
        q = prefix + name
        if not isinstance(node, nir.NIRNode):
            raise NIRFormatError(f"{_where(prefix)}node {name!r} is not a NIR node (got "
                                 f"{type(node).__name__})")
        if isinstance(node, nir.NIRGraph) and q not in keep:
            entries[name] = _flatten(node, q + ".", nodes, edges, keep)
            continue
        if q in nodes:
            raise NIRFormatError(f"node name {q!r} is used twice after flattening subgraphs")
        nodes[q] = node
        if isinstance(node, nir.Input):
            local_in.append(q)
        elif isinstance(node, nir.Output):
            local_out.append(q)
    for edge in graph.edges:
        if not (isinstance(edge, (tuple, list)) and len(edge) == 2):
            raise NIRFormatError(f"{_where(prefix)}an edge must be a (source, target) pair, "
                                 f"got {edge!r}")
        a, b = (_s(x) for x in edge)
        src = _endpoint(a, "source", graph, entries, prefix, (a, b))
        dst = _endpoint(b, "target", graph, entries, prefix, (a, b))
        edges.append((src, dst))
    return local_in, local_out


def _endpoint(name: str, role: str, graph: nir.NIRGraph,
              entries: dict[str, tuple[list[str], list[str]]], prefix: str,
              edge: tuple[str, str]) -> str:
    if name in entries:  # a flattened subgraph: its single Input (as target) or Output (source)
        ins, outs = entries[name]
        ends = outs if role == "source" else ins
        kind = "Output" if role == "source" else "Input"
        if len(ends) != 1:
            raise NIRFormatError(
                f"{_where(prefix)}edge {edge[0]!r} -> {edge[1]!r}: subgraph {name!r} has "
                f"{len(ends)} {kind} nodes; name one as {name!r}.<node>")
        return ends[0]
    if name in graph.nodes:
        return prefix + name
    head, _, rest = name.partition(".")
    if rest and head in entries:
        q = prefix + name
        return q
    raise NIRFormatError(
        f"{_where(prefix)}edge {edge[0]!r} -> {edge[1]!r} names {role} node {name!r}, which does "
        f"not exist (nodes: {sorted(graph.nodes)})")


def _where(prefix: str) -> str:
    return f"in subgraph {prefix[:-1]!r}: " if prefix else ""


def _check_shapes(nodes: dict[str, Any], edges: list[tuple[str, str]]) -> None:
    for a, b in edges:
        if a not in nodes or b not in nodes:
            missing = a if a not in nodes else b
            raise NIRFormatError(f"edge {a!r} -> {b!r} names node {missing!r}, which does not "
                                 "exist")
        out = shape_of(getattr(nodes[a], "output_type", None), "output")
        inp = input_shape(nodes[b])
        if out is not None and inp is not None and out != inp:
            raise NIRFormatError(
                f"edge {a!r} -> {b!r}: shape mismatch: {a!r} ({type(nodes[a]).__name__}) "
                f"outputs {list(out)} but {b!r} ({type(nodes[b]).__name__}) takes {list(inp)}")


_STATELESS_TYPES = ("Affine", "Linear", "Scale", "Conv1d", "Conv2d", "SumPool2d", "AvgPool2d",
                    "Flatten", "Threshold", "Input", "Output", "Identity")


def is_stateful(node: Any) -> bool:
    """Whether a node keeps state between steps (neurons, delays, kept subgraphs)."""
    return type(node).__name__ not in _STATELESS_TYPES


def _order(nodes: dict[str, Any], edges: list[tuple[str, str]], starts: list[str]
           ) -> tuple[list[str], set[tuple[str, str]]]:
    """The evaluation order and the delayed edges.

    A depth-first search from the inputs (roots and successors in name order, so that the
    order of nodes and edges in a file cannot change the result) finds the back edges, one
    per cycle it closes. Each such cycle is delayed on the edge leaving its last stateful node
    (so the stateless layers of a cycle act, in the current step, on the previous step's
    spikes); a cycle without a stateful node keeps the delay on its back edge. The order is a
    topological order of the graph without the delayed edges, ties broken by the search's
    reverse postorder."""
    succ: dict[str, list[str]] = {n: [] for n in nodes}
    for a, b in edges:
        succ[a].append(b)
    for targets in succ.values():
        targets.sort()
    state: dict[str, int] = {}  # 1 open, 2 done
    parent: dict[str, str] = {}
    post: list[str] = []
    back: list[tuple[str, str]] = []
    for root in sorted(starts) + sorted(n for n in nodes if n not in starts):
        if root in state:
            continue
        stack = [(root, iter(succ[root]))]
        state[root] = 1
        while stack:
            node, it = stack[-1]
            nxt = next(it, None)
            if nxt is None:
                stack.pop()
                state[node] = 2
                post.append(node)
            elif state.get(nxt) == 1:
                back.append((node, nxt))
            elif nxt not in state:
                state[nxt] = 1
                parent[nxt] = node
                stack.append((nxt, iter(succ[nxt])))
    rank = {n: i for i, n in enumerate(reversed(post))}
    delayed: set[tuple[str, str]] = set()
    for u, v in back:
        path = [u]
        while path[-1] != v:
            path.append(parent[path[-1]])
        path.reverse()  # v ... u, then the back edge closes it
        ring = path + [v]
        chosen = (u, v)
        for i in range(len(path) - 1, -1, -1):
            if is_stateful(nodes[path[i]]):
                chosen = (ring[i], ring[i + 1])
                break
        delayed.add(chosen)
    order = _topological(nodes, edges, delayed, rank)
    if order is None:  # moving the delays left a cycle: keep them on the back edges
        delayed = set(back)
        order = sorted(nodes, key=rank.__getitem__)
    return order, delayed


def _topological(nodes: dict[str, Any], edges: list[tuple[str, str]],
                 skip: set[tuple[str, str]], rank: dict[str, int]) -> list[str] | None:
    import heapq

    indeg = {n: 0 for n in nodes}
    succ: dict[str, list[str]] = {n: [] for n in nodes}
    for a, b in edges:
        if (a, b) not in skip:
            indeg[b] += 1
            succ[a].append(b)
    ready = [(rank[n], n) for n, d in indeg.items() if d == 0]
    heapq.heapify(ready)
    order = []
    while ready:
        _, n = heapq.heappop(ready)
        order.append(n)
        for m in succ[n]:
            indeg[m] -= 1
            if indeg[m] == 0:
                heapq.heappush(ready, (rank[m], m))
    return order if len(order) == len(nodes) else None


def _blocks(order: list[str], edges: list[tuple[str, str]]) -> list[list[str]]:
    """Strongly connected components (Tarjan), each in evaluation order, in a topological order
    of the component graph (ties by first position)."""
    pos = {n: i for i, n in enumerate(order)}
    succ: dict[str, list[str]] = {n: [] for n in order}
    for a, b in edges:
        succ[a].append(b)
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    on: set[str] = set()
    stack: list[str] = []
    comps: list[list[str]] = []
    counter = 0
    for root in order:
        if root in index:
            continue
        work = [(root, iter(succ[root]))]
        index[root] = low[root] = counter
        counter += 1
        stack.append(root)
        on.add(root)
        while work:
            v, it = work[-1]
            w = next(it, None)
            if w is not None:
                if w not in index:
                    index[w] = low[w] = counter
                    counter += 1
                    stack.append(w)
                    on.add(w)
                    work.append((w, iter(succ[w])))
                elif w in on:
                    low[v] = min(low[v], index[w])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[v])
            if low[v] == index[v]:
                comp = []
                while True:
                    w = stack.pop()
                    on.discard(w)
                    comp.append(w)
                    if w == v:
                        break
                comps.append(sorted(comp, key=pos.__getitem__))
    which = {n: i for i, c in enumerate(comps) for n in c}
    cedges = {(which[a], which[b]) for a, b in edges if which[a] != which[b]}
    cnodes = {i: None for i in range(len(comps))}
    corder = _topological(cnodes, sorted(cedges), set(),  # type: ignore[arg-type]
                          {i: pos[c[0]] for i, c in enumerate(comps)})
    assert corder is not None  # a condensation is acyclic
    return [comps[i] for i in corder]
