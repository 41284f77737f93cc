"""An independent float64 forward-Euler integrator of NIR graphs, written from NIR's equations.

It shares no code with snn_nir: it reads the ``nir`` node objects, flattens subgraphs, orders the
nodes itself and integrates every neuron ODE with one explicit Euler step per time step
(``x += dt/τ · (rhs)``), the input of step t acting in step t. Cycles follow the stated
convention: each cycle that a depth-first search from the inputs (successors in edge order)
closes is delayed on the edge leaving its last neuron, which delivers that neuron's output of
the previous step (zero at t = 0).
"""

from __future__ import annotations

import nir
import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

__all__ = ["simulate", "flatten_graph"]


def flatten_graph(graph, prefix=""):
    nodes, edges = {}, []
    ends = {}
    for name, node in graph.nodes.items():
        if isinstance(node, nir.NIRGraph):
            sub_nodes, sub_edges = flatten_graph(node, prefix + name + ".")
            nodes.update(sub_nodes)
            edges += sub_edges
            ins = [k for k, v in node.nodes.items() if isinstance(v, nir.Input)]
            outs = [k for k, v in node.nodes.items() if isinstance(v, nir.Output)]
            ends[name] = (prefix + name + "." + ins[0], prefix + name + "." + outs[0])
        else:
            nodes[prefix + name] = node
    for a, b in graph.edges:
        src = ends[a][1] if a in ends else prefix + a
        dst = ends[b][0] if b in ends else prefix + b
        edges.append((src, dst))
    return nodes, edges


_STATELESS = (nir.Affine, nir.Linear, nir.Scale, nir.Conv1d, nir.Conv2d, nir.SumPool2d,
              nir.AvgPool2d, nir.Flatten, nir.Threshold, nir.Input, nir.Output)


def _dfs(nodes, edges, starts):
    """Delayed edges: each cycle closed by a DFS back edge is delayed on the edge leaving the
    last neuron on that cycle. Order: repeatedly take the earliest-finished-last node whose
    non-delayed inputs are all computed."""
    succ = {n: [b for a, b in edges if a == n] for n in nodes}
    color, post, delayed, path = {}, [], set(), []

    def visit(n):
        color[n] = "grey"
        path.append(n)
        for m in succ[n]:
            if color.get(m) == "grey":
                ring = path[path.index(m):] + [m]
                stateful = [i for i in range(len(ring) - 1)
                            if not isinstance(nodes[ring[i]], _STATELESS)]
                i = stateful[-1] if stateful else len(ring) - 2
                delayed.add((ring[i], ring[i + 1]))
            elif m not in color:
                visit(m)
        path.pop()
        color[n] = "black"
        post.append(n)

    for s in starts + list(nodes):
        if s not in color:
            visit(s)
    rank = {n: i for i, n in enumerate(post[::-1])}
    order, done = [], set()
    while len(order) < len(nodes):
        ready = [n for n in nodes if n not in done and all(
            a in done for a, b in edges if b == n and (a, b) not in delayed)]
        n = min(ready, key=rank.__getitem__)
        order.append(n)
        done.add(n)
    return order, delayed


def _pair(v, n):
    a = np.asarray(v).reshape(-1)
    if a.size == 1:
        a = np.repeat(a, n)
    return [int(i) for i in a]


def _conv(x, w, b, stride, padding, dilation, groups):
    nd = w.ndim - 2
    if nd == 1:
        y = _conv(x[:, :, None, :], w[:, :, None, :], b, [1] + stride, [0] + padding,
                  [1] + dilation, groups)
        return y[:, :, 0, :]
    ph, pw = padding
    xp = np.pad(x, ((0, 0), (0, 0), (ph, ph), (pw, pw)))
    kh, kw = w.shape[2:]
    dh, dw = dilation
    eh, ew = dh * (kh - 1) + 1, dw * (kw - 1) + 1
    win = sliding_window_view(xp, (eh, ew), axis=(2, 3))[..., ::dh, ::dw]
    win = win[:, :, :: stride[0], :: stride[1]]
    cin = x.shape[1] // groups
    cout = w.shape[0] // groups
    parts = []
    for g in range(groups):
        xs = win[:, g * cin:(g + 1) * cin]
        ws = w[g * cout:(g + 1) * cout]
        parts.append(np.einsum("bchwij,ocij->bohw", xs, ws))
    return np.concatenate(parts, 1) + b.reshape(1, -1, 1, 1)


def _pool(x, k, s, p, avg):
    xp = np.pad(x, ((0, 0), (0, 0), (p[0], p[0]), (p[1], p[1])))
    win = sliding_window_view(xp, tuple(k), axis=(2, 3))[:, :, :: s[0], :: s[1]]
    tot = win.sum(axis=(-1, -2))
    return tot / (k[0] * k[1]) if avg else tot


def _stateless(node, x):
    if isinstance(node, nir.Affine):
        return x @ np.asarray(node.weight, np.float64).T + np.asarray(node.bias, np.float64)
    if isinstance(node, nir.Linear):
        return x @ np.asarray(node.weight, np.float64).T
    if isinstance(node, nir.Scale):
        return x * np.asarray(node.scale, np.float64)
    if isinstance(node, (nir.Conv1d, nir.Conv2d)):
        nd = 1 if isinstance(node, nir.Conv1d) else 2
        w = np.asarray(node.weight, np.float64)
        pad = node.padding
        if isinstance(pad, str):
            assert pad == "valid"
            pad = 0
        return _conv(x, w, np.asarray(node.bias, np.float64).reshape(-1), _pair(node.stride, nd),
                     _pair(pad, nd), _pair(node.dilation, nd), int(np.asarray(node.groups)))
    if isinstance(node, (nir.SumPool2d, nir.AvgPool2d)):
        return _pool(x, _pair(node.kernel_size, 2), _pair(node.stride, 2),
                     _pair(node.padding, 2), isinstance(node, nir.AvgPool2d))
    if isinstance(node, nir.Flatten):
        start = int(node.start_dim) + 1
        end = int(node.end_dim)
        end = x.ndim - 1 if end == -1 else end + 1
        return x.reshape(*x.shape[:start], -1, *x.shape[end + 1:])
    if isinstance(node, nir.Threshold):
        return (x > np.asarray(node.threshold, np.float64)).astype(np.float64)
    if isinstance(node, (nir.Input, nir.Output)):
        return x
    raise NotImplementedError(type(node).__name__)


def _p(node, name):
    return np.asarray(getattr(node, name), np.float64)


def _neuron_step(node, x, st, dt):
    """One forward-Euler step; returns (output, new state dict)."""
    if isinstance(node, nir.LIF):
        v = st["v"] + dt / _p(node, "tau") * (_p(node, "v_leak") - st["v"] + _p(node, "r") * x)
        z = v > _p(node, "v_threshold")
        v = np.where(z, _p(node, "v_reset"), v)
        return z.astype(np.float64), {"v": v}
    if isinstance(node, nir.IF):
        v = st["v"] + _p(node, "r") * x
        z = v > _p(node, "v_threshold")
        v = np.where(z, _p(node, "v_reset"), v)
        return z.astype(np.float64), {"v": v}
    if isinstance(node, nir.LI):
        v = st["v"] + dt / _p(node, "tau") * (_p(node, "v_leak") - st["v"] + _p(node, "r") * x)
        return v, {"v": v}
    if isinstance(node, nir.I):
        v = st["v"] + _p(node, "r") * x
        return v, {"v": v}
    if isinstance(node, (nir.CubaLIF, nir.CubaLI)):
        i = st["I"] + dt / _p(node, "tau_syn") * (-st["I"] + _p(node, "w_in") * x)
        v = st["v"] + dt / _p(node, "tau_mem") * (_p(node, "v_leak") - st["v"]
                                                  + _p(node, "r") * i)
        if isinstance(node, nir.CubaLI):
            return v, {"I": i, "v": v}
        z = v > _p(node, "v_threshold")
        v = np.where(z, _p(node, "v_reset"), v)
        return z.astype(np.float64), {"I": i, "v": v}
    return None


_NEURONS = (nir.LIF, nir.IF, nir.LI, nir.I, nir.CubaLIF, nir.CubaLI)


def _out_shape(node):
    t = node.output_type
    v = t.get("output", next(iter(t.values())))
    return tuple(int(i) for i in np.asarray(v).reshape(-1))


def simulate(graph, x_seq, dt, v0_leak=False):
    """Run ``graph`` on ``x_seq`` ``[T, B, ...]`` (float64). Returns ``(outputs [T, B, ...],
    {node: {variable: [T, B, ...]}})``. ``v0_leak``: membranes start at v_leak, not 0."""
    nodes, edges = flatten_graph(graph)
    inputs = [k for k, v in graph.nodes.items() if isinstance(v, nir.Input)]
    outputs = [k for k, v in graph.nodes.items() if isinstance(v, nir.Output)]
    order, back = _dfs(nodes, edges, inputs)
    x_seq = np.asarray(x_seq, np.float64)
    T, B = x_seq.shape[:2]
    state = {n: None for n in nodes}
    prev = {a: np.zeros((B, *_out_shape(nodes[a]))) for a, _ in back}
    outs, trace = [], {n: {} for n in nodes if isinstance(nodes[n], _NEURONS)}
    for t in range(T):
        cur = {}
        for n in order:
            node = nodes[n]
            if n in inputs:
                cur[n] = x_seq[t]
                continue
            parts = [prev[a] if (a, b) in back else cur[a] for a, b in edges if b == n]
            x = parts[0]
            for p in parts[1:]:
                x = x + p
            if isinstance(node, _NEURONS):
                st = state[n]
                if st is None:
                    st = {"v": np.zeros_like(x)}
                    if v0_leak and hasattr(node, "v_leak"):
                        st["v"] = st["v"] + _p(node, "v_leak")
                    if isinstance(node, (nir.CubaLIF, nir.CubaLI)):
                        st["I"] = np.zeros_like(x)
                y, state[n] = _neuron_step(node, x, st, dt)
                for k, v in state[n].items():
                    trace[n].setdefault(k, []).append(v)
            else:
                y = _stateless(node, x)
            cur[n] = y
        for a in prev:
            prev[a] = cur[a]
        outs.append(cur[outputs[0]])
    stacked = {n: {k: np.stack(v) for k, v in d.items()} for n, d in trace.items()}
    return np.stack(outs), stacked
