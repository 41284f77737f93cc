"""Malformed input fails with a message naming what is wrong; nothing half-built is returned."""

from __future__ import annotations

import nir
import numpy as np
import pytest
import torch
from torch import nn

import snn_nir
import snncore as snn


def lif(n: int) -> nir.LIF:
    return nir.LIF(tau=np.full(n, 1e-2), r=np.ones(n), v_leak=np.zeros(n),
                   v_threshold=np.ones(n))


def graph(nodes, edges) -> nir.NIRGraph:
    return nir.NIRGraph(nodes=nodes, edges=edges, type_check=False)


def good_nodes():
    return {"in": nir.Input(input_type=np.array([3])),
            "fc": nir.Affine(weight=np.ones((4, 3)), bias=np.zeros(4)),
            "lif": lif(4), "out": nir.Output(output_type=np.array([4]))}


def test_edge_to_missing_node():
    g = graph(good_nodes(), [("in", "fc"), ("fc", "lfi"), ("lif", "out")])
    with pytest.raises(snn_nir.NIRFormatError, match=r"'fc' -> 'lfi'.*'lfi'.*does not exist"):
        snn_nir.import_from_nir(g, dt=1e-3)


def test_edge_to_missing_node_in_subgraph():
    sub = graph({"i": nir.Input(input_type=np.array([4])), "n": lif(4),
                 "o": nir.Output(output_type=np.array([4]))}, [("i", "n"), ("nn", "o")])
    nodes = good_nodes()
    nodes["lif"] = sub
    g = graph(nodes, [("in", "fc"), ("fc", "lif"), ("lif", "out")])
    with pytest.raises(snn_nir.NIRFormatError, match=r"in subgraph 'lif'.*'nn'"):
        snn_nir.import_from_nir(g, dt=1e-3)


def test_mismatched_shapes():
    nodes = good_nodes()
    nodes["lif"] = lif(5)
    g = graph(nodes, [("in", "fc"), ("fc", "lif"), ("lif", "out")])
    with pytest.raises(snn_nir.NIRFormatError, match=r"'fc' -> 'lif': shape mismatch.*\[4\].*"
                                                     r"\[5\]"):
        snn_nir.import_from_nir(g, dt=1e-3)


class Unknown(nir.NIRNode):
    def __init__(self) -> None:
        self.input_type = {"input": np.array([4])}
        self.output_type = {"output": np.array([4])}
        self.metadata = {}


def test_unknown_node_type_names_type_and_hook():
    nodes = good_nodes()
    nodes["lif"] = Unknown()
    g = graph(nodes, [("in", "fc"), ("fc", "lif"), ("lif", "out")])
    with pytest.raises(snn_nir.NIRMappingError) as err:
        snn_nir.import_from_nir(g, dt=1e-3)
    assert "'Unknown'" in str(err.value) and snn_nir.HOOK_NAME in str(err.value)
    assert "node 'lif'" in str(err.value)


def test_unreadable_files(tmp_path):
    bad = tmp_path / "garbage.nir"
    bad.write_bytes(b"not hdf5 at all")
    with pytest.raises(snn_nir.NIRFormatError, match="garbage.nir.*nir cannot read"):
        snn_nir.import_from_nir(bad, dt=1e-3)
    with pytest.raises(FileNotFoundError, match="no NIR file"):
        snn_nir.import_from_nir(tmp_path / "missing.nir", dt=1e-3)


def test_invalid_parameters_name_the_node():
    nodes = good_nodes()
    nodes["lif"] = nir.LIF(tau=np.array([1e-2, -1, 1e-2, 1e-2]), r=np.ones(4),
                           v_leak=np.zeros(4), v_threshold=np.ones(4))
    g = graph(nodes, [("in", "fc"), ("fc", "lif"), ("lif", "out")])
    with pytest.raises(snn_nir.NIRFormatError, match=r"node 'lif'.*tau must be finite and > 0"):
        snn_nir.import_from_nir(g, dt=1e-3)


def test_no_input_or_output_node_and_dangling_node():
    nodes = good_nodes()
    del nodes["in"]
    with pytest.raises(snn_nir.NIRFormatError, match="no Input node"):
        snn_nir.import_from_nir(graph(nodes, [("fc", "lif"), ("lif", "out")]), dt=1e-3)
    nodes = good_nodes()
    nodes["extra"] = lif(4)
    with pytest.raises(snn_nir.NIRFormatError, match="'extra'.*no incoming edge"):
        snn_nir.import_from_nir(graph(nodes, [("in", "fc"), ("fc", "lif"), ("lif", "out"),
                                              ("extra", "out")]), dt=1e-3)


@pytest.mark.parametrize("kwargs,match", [
    (dict(dt=0), "dt must be a finite number > 0"),
    (dict(dt=float("nan")), "dt must be"),
    (dict(dt=1e-3, discretization="rk4"), "discretization must be one of"),
    (dict(dt=1e-3, initial_v="rest"), "initial_v must be"),
    (dict(dt=1e-3, dtype=torch.int32), "dtype must be a floating"),
])
def test_import_arguments_are_checked(kwargs, match):
    g = graph(good_nodes(), [("in", "fc"), ("fc", "lif"), ("lif", "out")])
    with pytest.raises((ValueError, TypeError), match=match):
        snn_nir.import_from_nir(g, **kwargs)


def test_run_checks_input_shape():
    g = graph(good_nodes(), [("in", "fc"), ("fc", "lif"), ("lif", "out")])
    m = snn_nir.import_from_nir(g, dt=1e-3)
    with pytest.raises(ValueError, match=r"Input node 'in'.*\[3\]"):
        m.run(torch.zeros(5, 2, 4))
    with pytest.raises(ValueError, match=r"Input node 'in'"):
        m(torch.zeros(5, 2, 3))
    with pytest.raises(TypeError, match="state must be a GraphState"):
        m(torch.zeros(2, 3), state=(1, 2))


def test_export_errors_name_the_module():
    class Custom(nn.Module):
        def forward(self, x):
            return x

    with pytest.raises(snn_nir.NIRMappingError, match=r"'1'.*Custom.*no NIR export mapping.*"
                                                      + snn_nir.HOOK_NAME):
        snn_nir.export_to_nir(snn.Sequential(nn.Linear(2, 2), Custom()), (2,), dt=1e-3)
    with pytest.raises(snn_nir.NIRMappingError, match="beta = 1"):
        snn_nir.export_to_nir(snn.Leaky(beta=torch.tensor([1.0, 0.5]), reset="zero",
                                        reset_delay=False), (2,), dt=1e-3)
    with pytest.raises(snn_nir.NIRMappingError, match="does not broadcast"):
        snn_nir.export_to_nir(snn.Leaky(beta=torch.tensor([0.5, 0.5, 0.5])), (2,), dt=1e-3)
    with pytest.raises(snn_nir.NIRMappingError, match="padding_mode"):
        snn_nir.export_to_nir(nn.Conv2d(1, 1, 3, padding=1, padding_mode="circular"), (1, 4, 4),
                              dt=1e-3)
    with pytest.raises(TypeError, match="shape_or_sample"):
        snn_nir.export_to_nir(nn.Linear(2, 2), 2, dt=1e-3)
    with pytest.raises(ValueError, match="dt must be"):
        snn_nir.export_to_nir(nn.Linear(2, 2), (2,), dt=-1)


def test_edited_metadata_falls_back_to_plain_nir_with_a_warning():
    g = snn_nir.export_to_nir(snn.Leaky(beta=0.9, reset="zero", reset_delay=False), (2,),
                              dt=1e-3)
    g.nodes["leaky"].tau = g.nodes["leaky"].tau * 2  # a foreign tool changed the time constant
    with pytest.warns(snn_nir.NIRImportWarning, match="no longer matches"):
        m = snn_nir.import_from_nir(g, dt=1e-3)
    assert isinstance(m.layer("leaky"), snn_nir.NeuronNode)
    with pytest.warns(snn_nir.NIRImportWarning, match="exported for dt=0.001"):
        snn_nir.import_from_nir(snn_nir.export_to_nir(
            snn.Leaky(beta=0.9, reset="zero", reset_delay=False), (2,), dt=1e-3), dt=1e-4)
