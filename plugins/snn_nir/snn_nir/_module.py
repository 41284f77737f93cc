"""The torch module that runs an imported NIR graph, one step at a time or over a sequence."""

from __future__ import annotations

from typing import Any, NamedTuple

import torch
from torch import Tensor, nn

import snncore

from ._graph import Plan, shape_of

__all__ = ["NIRModule", "GraphState"]


class GraphState(NamedTuple):
    """State of :class:`NIRModule`.

    Attributes:
        nodes: node name -> that node's state (only stateful nodes appear).
        feedback: node name -> its output of the last step, for every node whose output
            reaches a cycle's delayed edge (what that edge delivers in the next step).
    """

    nodes: dict[str, Any]
    feedback: dict[str, Tensor]


_STATELESS, _NEURON, _PROTOCOL, _RUNNER, _PASS = range(5)


class NIRModule(nn.Module):
    r"""A NIR graph as a torch module: ``y_t, state = m(x_t, state)`` for one time step
    ``[B, *input_shape]``, ``y_seq, state = m.run(x_seq, state)`` over ``[T, B, *input_shape]``.

    Edges deliver the same step's output, except the delayed edges that close a cycle (the back
    edges of a depth-first search from the inputs, successors in the order the edges are
    listed): those deliver the source's output of the previous step, zeros at ``t = 0`` (or the
    ``feedback`` of a passed state). Several edges into one node are summed. In :meth:`run`,
    nodes outside cycles process the whole sequence at once (stateless layers with time folded
    into the batch, neurons through ``Neuron.run`` on the fused backends where they apply);
    the nodes of a cycle run step by step together.

    Attributes:
        graph: the ``nir.NIRGraph`` this module was built from.
        dt, discretization: the time step and discretisation it was imported with.
        node_names: every node's name in evaluation order.
        layers: the torch modules of the nodes (``nn.ModuleDict``, keys are node names with
            ``.`` replaced by ``__``).

    Shape:
        - Input: ``(B, *input_shape)`` for one step, ``(T, B, *input_shape)`` for :meth:`run`;
          a dict by Input node name when the graph has several Input nodes.
        - Output: the Output node's value (a dict by name when there are several).
    """

    def __init__(self, plan: Plan, modules: dict[str, nn.Module | None], graph: Any, dt: float,
                 discretization: str) -> None:
        super().__init__()
        self.graph = graph
        self.dt = dt
        self.discretization = discretization
        self._plan = plan
        self.node_names = list(plan.order)
        self._keys: dict[str, str] = {}
        self._kind: dict[str, int] = {}
        layers = {}
        for name in plan.order:
            m = modules.get(name)
            if m is None:
                self._kind[name] = _PASS
                continue
            key = name.replace(".", "__")
            while key in layers:
                key += "_"
            self._keys[name] = key
            layers[key] = m
            if isinstance(m, snncore.Sequential):
                self._kind[name] = _RUNNER
            elif isinstance(m, snncore.Neuron):
                self._kind[name] = _NEURON
            elif getattr(m, "nir_stateful", False):
                self._kind[name] = _PROTOCOL
            else:
                self._kind[name] = _STATELESS
        self.layers = nn.ModuleDict(layers)
        self._in_shapes = {n: shape_of(plan.nodes[n].input_type, "input")
                           for n in plan.inputs_of_graph}
        self._fb_shapes = {}
        for src in plan.delayed_sources:
            self._fb_shapes[src] = shape_of(getattr(plan.nodes[src], "output_type", None),
                                            "output")
        self._cyclic = [len(b) > 1 or any(s == b[0] for s, _ in plan.inputs[b[0]])
                        for b in plan.blocks]

    # -- helpers ------------------------------------------------------------------------------
    @property
    def layer_names(self) -> list[str]:
        """Names of the nodes that have a torch module (not Input/Output), in order."""
        return [n for n in self.node_names if n in self._keys]

    def layer(self, name: str) -> nn.Module:
        """The torch module of node ``name``."""
        if name not in self._keys:
            raise KeyError(f"NIRModule: no module for node {name!r}; nodes with modules: "
                           f"{sorted(self._keys)}")
        return self.layers[self._keys[name]]

    def _inputs(self, x: Any, lead: int, where: str) -> dict[str, Tensor]:
        names = self._plan.inputs_of_graph
        if isinstance(x, Tensor):
            if len(names) != 1:
                raise TypeError(f"NIRModule.{where}: the graph has {len(names)} Input nodes "
                                f"{names}; pass a dict of tensors by name")
            xs = {names[0]: x}
        elif isinstance(x, dict) and set(x) == set(names):
            xs = dict(x)
        else:
            raise TypeError(f"NIRModule.{where}: input must be a tensor (or a dict with keys "
                            f"{names}), got {type(x).__name__}")
        for n, t in xs.items():
            if not isinstance(t, Tensor) or not t.is_floating_point():
                raise TypeError(f"NIRModule.{where}: input {n!r} must be a floating-point "
                                f"tensor, got {getattr(t, 'dtype', type(t).__name__)}")
            shape = self._in_shapes[n]
            if shape is not None and (t.dim() != lead + len(shape)
                                      or tuple(t.shape[lead:]) != shape):
                lead_s = "[T, B, ...]" if lead == 2 else "[B, ...]"
                raise ValueError(
                    f"NIRModule.{where}: Input node {n!r} takes {lead_s} with a sample shape "
                    f"{list(shape)}, got a tensor of shape {list(t.shape)}")
        return xs

    def _state(self, state: Any, where: str) -> GraphState:
        if state is None:
            return GraphState({}, {})
        if not isinstance(state, GraphState):
            raise TypeError(f"NIRModule.{where}: state must be a GraphState from an earlier call "
                            f"(or None), got {type(state).__name__}")
        return GraphState(dict(state.nodes), dict(state.feedback))

    def _zeros_for(self, src: str, like: Tensor, lead: tuple[int, ...]) -> Tensor:
        shape = self._fb_shapes.get(src)
        if shape is None:
            raise ValueError(f"NIRModule: node {src!r} feeds a cycle but its output shape is "
                             "unknown; give the node a complete output_type")
        return like.new_zeros((*lead, *shape))

    def _step_node(self, name: str, x: Tensor, st: Any) -> tuple[Tensor, Any]:
        kind = self._kind[name]
        if kind == _PASS:
            return x, None
        m = self.layers[self._keys[name]]
        if kind == _STATELESS:
            return m(x), None
        if kind == _RUNNER:
            return m.step(x, st)
        if kind == _NEURON:
            return m(x, st)
        return m.step(x, st)

    def _run_node(self, name: str, x: Tensor, st: Any) -> tuple[Tensor, Any]:
        kind = self._kind[name]
        if kind == _PASS:
            return x, None
        m = self.layers[self._keys[name]]
        if kind == _STATELESS:
            t, b = x.shape[0], x.shape[1]
            y = m(x.reshape(t * b, *x.shape[2:]))
            return y.reshape(t, b, *y.shape[1:]), None
        if kind == _RUNNER:
            return m(x, st)
        return m.run(x, st)

    @staticmethod
    def _sum(parts: list[Tensor]) -> Tensor:
        out = parts[0]
        for p in parts[1:]:
            out = out + p
        return out

    def _outputs(self, values: dict[str, Tensor]) -> Any:
        outs = self._plan.outputs_of_graph
        if len(outs) == 1:
            return values[outs[0]]
        return {n: values[n] for n in outs}

    # -- one step -----------------------------------------------------------------------------
    def forward(self, x: Any, state: GraphState | None = None) -> tuple[Any, GraphState]:
        """One time step. Returns ``(output, state)``."""
        xs = self._inputs(x, 1, "forward")
        st = self._state(state, "forward")
        like = next(iter(xs.values()))
        cur: dict[str, Tensor] = {}
        plan = self._plan
        for name in plan.order:
            if name in xs:
                cur[name] = xs[name]
                continue
            parts = []
            for src, delayed in plan.inputs[name]:
                if delayed:
                    fb = st.feedback.get(src)
                    parts.append(fb if fb is not None else self._zeros_for(
                        src, like, (like.shape[0],)))
                else:
                    parts.append(cur[src])
            y, s = self._step_node(name, self._sum(parts), st.nodes.get(name))
            if s is not None:
                st.nodes[name] = s
            cur[name] = y
        for src in plan.delayed_sources:
            st.feedback[src] = cur[src]
        return self._outputs(cur), st

    # -- whole sequence -----------------------------------------------------------------------
    def run(self, x_seq: Any, state: GraphState | None = None) -> tuple[Any, GraphState]:
        """Run over a time-first sequence ``[T, B, ...]``. Returns ``(outputs [T, B, ...],
        final state)``."""
        xs = self._inputs(x_seq, 2, "run")
        st = self._state(state, "run")
        like = next(iter(xs.values()))
        T, B = like.shape[0], like.shape[1]
        plan = self._plan
        seq: dict[str, Tensor] = {}
        for block, cyclic in zip(plan.blocks, self._cyclic, strict=True):
            if not cyclic:
                name = block[0]
                if name in xs:
                    seq[name] = xs[name]
                    continue
                x = self._sum([seq[s] for s, _ in plan.inputs[name]])
                y, s = self._run_node(name, x, st.nodes.get(name))
                if s is not None:
                    st.nodes[name] = s
                seq[name] = y
                continue
            members = set(block)
            prev = {}
            for src in plan.delayed_sources:
                if src in members:
                    fb = st.feedback.get(src)
                    prev[src] = fb if fb is not None else self._zeros_for(src, like, (B,))
            outs: dict[str, list[Tensor]] = {n: [] for n in block}
            for t in range(T):
                cur: dict[str, Tensor] = {}
                for name in block:
                    parts = []
                    for src, delayed in plan.inputs[name]:
                        if delayed:
                            parts.append(prev[src])
                        elif src in members:
                            parts.append(cur[src])
                        else:
                            parts.append(seq[src][t])
                    y, s = self._step_node(name, self._sum(parts), st.nodes.get(name))
                    if s is not None:
                        st.nodes[name] = s
                    cur[name] = y
                    outs[name].append(y)
                prev = {src: cur[src] for src in prev}
            for name in block:
                seq[name] = torch.stack(outs[name])
            st.feedback.update(prev)
        return self._outputs(seq), st

    # -- inspection ---------------------------------------------------------------------------
    def nir_states(self, state: GraphState) -> dict[str, dict[str, Tensor]]:
        """Every stateful node's state in NIR's variables: ``{"v": membrane, "I": synaptic
        current}`` (plus ``"spk"``, the last spikes, for recurrent snncore neurons)."""
        if not isinstance(state, GraphState):
            raise TypeError(f"NIRModule.nir_states: state must be a GraphState, got "
                            f"{type(state).__name__}")
        out: dict[str, dict[str, Tensor]] = {}
        for name, s in state.nodes.items():
            m = self.layers[self._keys[name]]
            if hasattr(m, "nir_state"):
                out[name] = m.nir_state(s)
            elif hasattr(s, "_fields"):
                rename = {"mem": "v", "syn": "I"}
                out[name] = {rename.get(f, f): v for f, v in zip(s._fields, s, strict=True)}
        return out

    def extra_repr(self) -> str:
        return f"dt={self.dt:g}, discretization={self.discretization!r}"
