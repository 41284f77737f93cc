"""What the bridge does where a graph or a model could be read two ways: a shared node on a
cycle, the order of a file's nodes and edges, edited values under snncore metadata, subclasses
with their own forward, the import's dtype."""

from __future__ import annotations

import warnings

import nir
import numpy as np
import pytest
import torch
from torch import nn

import snn_nir
import snncore as snn

snn_extra = pytest.importorskip("snn_neurons_extra")


def _if() -> nir.IF:
    return nir.IF(r=np.array([1.0]), v_threshold=np.array([0.5]), v_reset=np.array([0.0]))


def _io() -> dict:
    return {"input": nir.Input(np.array([1])), "output": nir.Output(np.array([1]))}


def _graph(nodes, edges) -> nir.NIRGraph:
    return nir.NIRGraph(nodes=nodes, edges=edges, type_check=False)


def _run(g, x):
    m = snn_nir.import_from_nir(g, dt=1e-3, dtype=torch.float64)
    return m.run(x)[0].flatten().tolist()


def test_a_cycle_node_that_also_feeds_the_output_is_warned_about():
    w_in, w = np.array([[1.0]]), np.array([[2.0]])
    shared = _graph({**_io(), "A": nir.Linear(weight=w_in), "lif": _if(),
                     "W": nir.Linear(weight=w)},
                    [("input", "A"), ("A", "lif"), ("lif", "W"), ("W", "lif"), ("W", "output")])
    copied = _graph({**_io(), "A": nir.Linear(weight=w_in), "lif": _if(),
                     "W_rec": nir.Linear(weight=w), "W_out": nir.Linear(weight=w)},
                    [("input", "A"), ("A", "lif"), ("lif", "W_rec"), ("W_rec", "lif"),
                     ("lif", "W_out"), ("W_out", "output")])
    x = torch.tensor([1.0, 0, 0, 0, 0], dtype=torch.float64).reshape(5, 1, 1)
    with pytest.warns(snn_nir.NIRImportWarning, match="'W'.*feeds 'output'.*own copy"):
        assert _run(shared, x) == [0.0, 2.0, 2.0, 2.0, 2.0]  # the documented reading
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert _run(copied, x) == [2.0, 2.0, 2.0, 2.0, 2.0]


def _two_neuron_cycle(node_order, reverse_feed):
    nodes = {"in1": nir.Input(np.array([1])), "in2": nir.Input(np.array([1])),
             "lif1": _if(), "lif2": _if(), "A": nir.Linear(weight=np.array([[1.0]])),
             "B": nir.Linear(weight=np.array([[1.0]])), "out": nir.Output(np.array([1]))}
    feed = [("in1", "lif1"), ("in2", "lif2")]
    if reverse_feed:
        feed.reverse()
    edges = feed + [("lif1", "A"), ("A", "lif2"), ("lif2", "B"), ("B", "lif1"), ("lif2", "out")]
    return _graph({k: nodes[k] for k in node_order}, edges)


def test_the_order_of_nodes_and_edges_does_not_change_a_two_neuron_cycle(tmp_path):
    x = {"in1": torch.tensor([1.0, 0, 0, 0], dtype=torch.float64).reshape(4, 1, 1),
         "in2": torch.zeros(4, 1, 1, dtype=torch.float64)}
    names = ["in1", "in2", "lif1", "lif2", "A", "B", "out"]
    results = []
    for order in (names, names[1::-1] + names[2:], names[::-1]):
        for rev in (False, True):
            g = _two_neuron_cycle(order, rev)
            results.append(_run(g, x))
            path = tmp_path / f"g{len(results)}.nir"
            snn_nir.write(str(path), g)
            results.append(_run(str(path), x))
    assert all(r == results[0] for r in results), results


def _exported_leaky():
    torch.manual_seed(0)
    net = snn.Sequential(nn.Linear(2, 3), snn.Leaky(beta=0.9, threshold=0.5, reset="zero",
                                                    reset_delay=False)).double()
    return net, snn_nir.export_to_nir(net, (2,), dt=1e-3)


@pytest.mark.parametrize("edit", ["v_reset", "v_leak", "scale"])
def test_an_edited_plain_value_is_followed_not_the_metadata(edit):
    if edit == "scale":
        torch.manual_seed(0)
        net = snn.Sequential(nn.Linear(2, 3), snn_extra.RLeaky(
            beta=0.8, all_to_all=False, V=0.5, threshold=0.5, reset="zero",
            reset_delay=False)).double()
        g = snn_nir.export_to_nir(net, (2,), dt=1e-3)
        g.nodes["1"].nodes["w_rec"].scale = np.full(3, -4.0)
    else:
        net, g = _exported_leaky()
        setattr(g.nodes["1"], edit, np.full(3, 0.3 if edit == "v_reset" else 5.0))
    x = torch.rand(40, 1, 2, dtype=torch.float64, generator=torch.Generator().manual_seed(1))
    with pytest.warns(snn_nir.NIRImportWarning, match="no longer matches its snncore metadata"):
        m = snn_nir.import_from_nir(g, dt=1e-3, dtype=torch.float64)
    plain = snn_nir.import_from_nir(g, dt=1e-3, dtype=torch.float64, use_metadata=False)
    with torch.no_grad():
        assert torch.equal(m.run(x)[0], plain.run(x)[0])
        assert not torch.equal(m.run(x)[0], net(x)[0])


def test_an_unedited_export_still_restores_from_metadata():
    net, g = _exported_leaky()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        m = snn_nir.import_from_nir(g, dt=1e-3, dtype=torch.float64)
    assert type(m.layer("1")) is snn.Leaky


class _Residual(nn.Sequential):
    def forward(self, x):
        return x + super().forward(x)


class _Doubled(nn.Linear):
    def forward(self, x):
        return 2 * super().forward(x)


class _Named(nn.Linear):
    """A subclass that computes what nn.Linear does: exported with its mapping."""


@pytest.mark.parametrize("model,match", [
    (nn.Sequential(nn.Linear(3, 3), _Residual(nn.Linear(3, 3))),
     "overrides forward\\(\\) of its Sequential base"),
    (nn.Sequential(_Doubled(3, 2)), "overrides forward\\(\\) of Linear"),
])
def test_a_subclass_with_its_own_forward_is_not_exported_as_its_base(model, match):
    with pytest.raises(snn_nir.NIRMappingError, match=match):
        snn_nir.export_to_nir(model, (3,), dt=1e-3)
    assert "0" in snn_nir.export_to_nir(nn.Sequential(_Named(3, 2)), (3,), dt=1e-3).nodes


def test_an_unmapped_neuron_family_is_named_with_its_state():
    net = snn.Sequential(nn.Linear(3, 3), snn_extra.ALIF(beta=0.9))
    with pytest.raises(snn_nir.NIRMappingError, match=r"ALIF.*state: mem, b.*have no NIR node"):
        snn_nir.export_to_nir(net, (3,), dt=1e-3)


def test_restored_recurrent_weights_take_the_import_dtype():
    net = snn.Sequential(nn.Linear(2, 3), snn_extra.RLeaky(beta=0.8, linear_features=3,
                                                           threshold=0.2))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        m = snn_nir.import_from_nir(snn_nir.export_to_nir(net, (2,), dt=1e-3), dt=1e-3,
                                    dtype=torch.float64)
    assert {p.dtype for p in m.parameters()} == {torch.float64}


def test_delay_runs_a_step_and_a_sequence():
    d = snn_nir.Delay(torch.tensor([1, 2]))
    y, state = d(torch.ones(3, 2))
    assert y.eq(0).all() and state.shape == (2, 3, 2)
    ys, _ = d.run(torch.ones(4, 3, 2))
    assert ys[:, 0].tolist() == [[0, 0], [1, 0], [1, 1], [1, 1]]
