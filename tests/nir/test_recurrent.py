"""Cycles: which edge is delayed, the t = 0 convention, nested subgraphs in any order."""

from __future__ import annotations

import random

import nir
import numpy as np
import pytest
import torch
from nir_reference import simulate

import snn_nir

DT = 1e-3


def lif(n: int = 1) -> nir.LIF:
    # tau = dt with Euler: v_t = R·I_t (no memory), spike when v > 0.5, reset to 0
    return nir.LIF(tau=np.full(n, DT), r=np.ones(n), v_leak=np.zeros(n),
                   v_threshold=np.full(n, 0.5))


def w(value: float) -> nir.Linear:
    return nir.Linear(weight=np.array([[value]]))


def two_neuron_cycle(order_seed: int | None = None, nested: bool = False) -> nir.NIRGraph:
    """input -> a -> b -> output, and b -> a (through the weights ``ab`` and ``ba``): the DFS
    from the input enters ``a`` first, ``ba -> a`` closes the cycle, and the delay sits on the
    edge leaving the cycle's last neuron, ``b -> ba``."""
    inner_nodes = {"a": lif(), "ab": w(1.0), "b": lif(), "ba": w(1.0)}
    inner_edges = [("a", "ab"), ("ab", "b"), ("b", "ba"), ("ba", "a")]
    if nested:
        inner_nodes.update({"in": nir.Input(input_type=np.array([1])),
                            "out": nir.Output(output_type=np.array([1]))})
        inner_edges += [("in", "a"), ("b", "out")]
        if order_seed is not None:
            rng = random.Random(order_seed)
            items = list(inner_nodes.items())
            rng.shuffle(items)
            inner_nodes = dict(items)
            rng.shuffle(inner_edges)
        sub = nir.NIRGraph(nodes=inner_nodes, edges=inner_edges, type_check=False)
        nodes = {"output": nir.Output(output_type=np.array([1])), "core": sub,
                 "input": nir.Input(input_type=np.array([1]))}
        edges = [("core", "output"), ("input", "core")]
    else:
        nodes = {"input": nir.Input(input_type=np.array([1])), **inner_nodes,
                 "output": nir.Output(output_type=np.array([1]))}
        edges = [("input", "a"), *inner_edges, ("b", "output")]
        if order_seed is not None:
            random.Random(order_seed).shuffle(edges)
    return nir.NIRGraph(nodes=nodes, edges=edges, type_check=False)


def run(graph, x):
    m = snn_nir.import_from_nir(graph, dt=DT, dtype=torch.float64)
    with torch.no_grad():
        y, state = m.run(torch.tensor(x, dtype=torch.float64))
    return m, y[:, 0, 0].tolist(), state


def test_delayed_edge_and_t0_convention():
    x = np.zeros((5, 1, 1))
    x[0] = 1.0
    m, y, state = run(two_neuron_cycle(), x)
    # t=0: a fires on the input, b fires on a's spike of the same step; from then on a fires on
    # b's previous spike (through the delayed edge b -> ba), b on a's same-step spike
    assert y == [1.0, 1.0, 1.0, 1.0, 1.0]
    plan = snn_nir.inspect_nir(two_neuron_cycle())
    assert plan["delayed_edges"] == [["b", "ba"]]
    assert plan["cycles"] == [["ba", "a", "ab", "b"]]
    assert set(state.feedback) == {"b"}
    # at t=0 the delayed edge delivers zeros: with no input nothing ever fires
    _, y0, _ = run(two_neuron_cycle(), np.zeros((4, 1, 1)))
    assert y0 == [0.0] * 4


def test_feedback_in_a_passed_state_is_used_at_t0():
    m, _, state = run(two_neuron_cycle(), np.zeros((2, 1, 1)))
    st = snn_nir.GraphState(state.nodes, {"b": torch.ones(1, 1, dtype=torch.float64)})
    with torch.no_grad():
        y, _ = m.run(torch.zeros(3, 1, 1, dtype=torch.float64), st)
    assert y[:, 0, 0].tolist() == [1.0, 1.0, 1.0]


def test_order_of_edges_and_nodes_and_nesting_does_not_matter():
    x = (np.random.default_rng(0).random((30, 2, 1)) < 0.2).astype(np.float64)
    _, ref, _ = run(two_neuron_cycle(), x)
    for seed in range(4):
        for nested in (False, True):
            g = two_neuron_cycle(seed, nested)
            _, y, _ = run(g, x)
            assert y == ref, (seed, nested)
            np.testing.assert_array_equal(simulate(g, x, DT)[0][:, 0, 0], ref)


def test_chunks_and_steps_continue_the_sequence():
    g = two_neuron_cycle()
    x = torch.tensor((np.random.default_rng(1).random((20, 3, 1)) < 0.3).astype(np.float64))
    m = snn_nir.import_from_nir(g, dt=DT, dtype=torch.float64)
    with torch.no_grad():
        full, _ = m.run(x)
        a, st = m.run(x[:7])
        b, st = m.run(x[7:12], st)
        ys = [a, b]
        for t in range(12, 20):
            yt, st = m(x[t], st)
            ys.append(yt[None])
    assert torch.equal(torch.cat(ys), full)


def test_recurrent_bias_acts_at_t0():
    """A stateless layer inside a cycle runs in the current step on the previous step's spikes
    (zeros at t = 0), so a recurrent Affine adds its bias from the first step on (as snnTorch's
    and snncore's RLeaky do)."""
    nodes = {"input": nir.Input(input_type=np.array([1])), "n": lif(),
             "rec": nir.Affine(weight=np.array([[0.0]]), bias=np.array([0.7])),
             "output": nir.Output(output_type=np.array([1]))}
    g = nir.NIRGraph(nodes=nodes, edges=[("input", "n"), ("n", "rec"), ("rec", "n"),
                                         ("n", "output")], type_check=False)
    _, y, _ = run(g, np.zeros((3, 1, 1)))
    assert y == [1.0, 1.0, 1.0]
    assert snn_nir.inspect_nir(g)["delayed_edges"] == [["n", "rec"]]


def test_self_loop_and_gradients_flow_through_a_cycle():
    nodes = {"input": nir.Input(input_type=np.array([2])),
             "fc": nir.Affine(weight=np.eye(2), bias=np.zeros(2)),
             "n": nir.CubaLIF(tau_syn=np.full(2, 2e-3), tau_mem=np.full(2, 4e-3), r=np.full(2, 4.0),
                              v_leak=np.zeros(2), v_threshold=np.full(2, 0.3),
                              w_in=np.full(2, 2.0)),
             "rec": nir.Linear(weight=np.array([[0.0, 0.5], [0.5, 0.0]])),
             "output": nir.Output(output_type=np.array([2]))}
    edges = [("input", "fc"), ("fc", "n"), ("n", "rec"), ("rec", "n"), ("n", "output")]
    g = nir.NIRGraph(nodes=nodes, edges=edges, type_check=False)
    x = (np.random.default_rng(2).random((40, 2, 2)) < 0.4).astype(np.float64)
    m = snn_nir.import_from_nir(g, dt=DT, dtype=torch.float64)
    xt = torch.tensor(x, requires_grad=True)
    y, state = m.run(xt)
    ref, states = simulate(g, x, DT)
    np.testing.assert_array_equal(y.detach().numpy(), ref)
    np.testing.assert_allclose(m.nir_states(state)["n"]["I"].detach().numpy(),
                               states["n"]["I"][-1], atol=1e-12)
    y.sum().backward()
    assert xt.grad is not None and torch.isfinite(xt.grad).all() and xt.grad.abs().sum() > 0


def test_several_inputs_and_outputs_are_dicts():
    nodes = {"a": nir.Input(input_type=np.array([1])), "b": nir.Input(input_type=np.array([1])),
             "n": lif(), "s": nir.Scale(scale=np.array([2.0])),
             "spikes": nir.Output(output_type=np.array([1])),
             "scaled": nir.Output(output_type=np.array([1]))}
    edges = [("a", "n"), ("b", "n"), ("n", "spikes"), ("b", "s"), ("s", "scaled")]
    m = snn_nir.import_from_nir(nir.NIRGraph(nodes=nodes, edges=edges, type_check=False), dt=DT)
    xa = torch.tensor([[[0.3]], [[0.0]]])
    xb = torch.tensor([[[0.3]], [[0.1]]])
    with torch.no_grad():
        y, _ = m.run({"a": xa, "b": xb})
    assert set(y) == {"spikes", "scaled"}
    assert y["spikes"][:, 0, 0].tolist() == [1.0, 0.0]  # 0.3 + 0.3 > 0.5: edges are summed
    assert torch.allclose(y["scaled"], 2 * xb)
    with pytest.raises(TypeError, match="2 Input nodes"):
        m.run(xa)
