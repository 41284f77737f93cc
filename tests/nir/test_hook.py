"""Plugins contribute NIR mappings both ways through snn_nir's hook."""

from __future__ import annotations

import nir
import numpy as np
import pytest
import torch
from torch import nn

import snn_nir
import snncore as snn


class Gain(nn.Module):
    """A third-party layer: y = g·x."""

    def __init__(self, g: float) -> None:
        super().__init__()
        self.g = g

    def forward(self, x):
        return x * self.g


class Offset(nir.NIRNode):
    """A node type snn_nir does not know: y = x + c."""

    def __init__(self, c: np.ndarray) -> None:
        self.c = c
        self.input_type = {"input": np.array(c.shape)}
        self.output_type = {"output": np.array(c.shape)}
        self.metadata = {}


class AddOffset(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.register_buffer("c", torch.as_tensor(c))

    def forward(self, x):
        return x + self.c.to(x.dtype)


class GainPlugin:
    @staticmethod
    @snn.hookimpl
    def snn_nir_register_mappings(registry):
        registry.register_export(
            Gain, lambda m, ctx: nir.Scale(scale=np.full(ctx.input_shape, m.g, np.float32)))
        registry.register_import(Offset, lambda node, ctx: AddOffset(node.c))


class ClashingPlugin:
    @staticmethod
    @snn.hookimpl
    def snn_nir_register_mappings(registry):
        registry.register_import("LIF", lambda node, ctx: nn.Identity())


@pytest.fixture
def gain_plugin():
    name = snn_nir.register_mappings(GainPlugin, name="gain-plugin")
    yield name
    snn_nir.unregister_mappings(name)


def test_plugin_mappings_both_ways(gain_plugin):
    net = snn.Sequential(nn.Linear(3, 2), Gain(2.5))
    g = snn_nir.export_to_nir(net, (3,), dt=1e-3)
    assert isinstance(g.nodes["1"], nir.Scale)
    nodes = {"input": nir.Input(input_type=np.array([2])), "off": Offset(np.array([1.0, -1.0])),
             "output": nir.Output(output_type=np.array([2]))}
    m = snn_nir.import_from_nir(nir.NIRGraph(nodes=nodes, edges=[("input", "off"),
                                                                  ("off", "output")],
                                             type_check=False), dt=1e-3)
    y, _ = m.run(torch.zeros(2, 1, 2))
    assert y[0, 0].tolist() == [1.0, -1.0]
    providers = snn_nir.mappings().providers()
    assert providers["gain-plugin"] == {"export": ["Gain"], "import": ["Offset"], "restore": []}


def test_unregistered_plugin_mappings_are_gone(gain_plugin):
    snn_nir.unregister_mappings(gain_plugin)
    with pytest.raises(snn_nir.NIRMappingError, match="Gain.*no NIR export mapping"):
        snn_nir.export_to_nir(Gain(2.0), (3,), dt=1e-3)
    snn_nir.register_mappings(GainPlugin, name=gain_plugin)


def test_two_providers_of_one_type_is_an_error_naming_both():
    with pytest.raises(snn_nir.NIRMappingError, match="'LIF'.*'snn_nir'.*'clash'"):
        snn_nir.register_mappings(ClashingPlugin, name="clash")
    assert "clash" not in snn_nir.mappings().providers()
    # the built-in mapping still works
    g = snn_nir.export_to_nir(snn.Leaky(beta=0.9, reset="zero", reset_delay=False), (2,),
                              dt=1e-3)
    assert isinstance(snn_nir.import_from_nir(g, dt=1e-3).layer("leaky"), snn.Leaky)


def test_builtin_mappings_cover_every_listed_type():
    reg = snn_nir.mappings()
    assert set(reg.imported_types()) >= {
        "LIF", "CubaLIF", "IF", "LI", "CubaLI", "I", "Affine", "Linear", "Scale", "Conv1d",
        "Conv2d", "SumPool2d", "AvgPool2d", "Flatten", "Threshold", "Delay", "NIRGraph"}
    exported = " ".join(reg.exported_types())
    for name in ("Leaky", "Synaptic", "Lapicque", ".IF", ".LI", "RLeaky", "RSynaptic", "Linear",
                 "Conv1d", "Conv2d", "AvgPool2d", "SumPool2d", "Flatten"):
        assert name in exported, name


class BrokenPlugin:
    @staticmethod
    @snn.hookimpl
    def snn_nir_register_mappings(registry):
        raise RuntimeError("broken on purpose")


def test_plugins_registered_with_snncore_contribute_and_failures_are_isolated():
    """Any snncore plugin (entry point or snncore.register_plugin) implementing the hook is
    called through snncore's plugin manager; one that raises is reported, the rest work."""
    snn.register_plugin(GainPlugin, name="gain-direct")
    try:
        g = snn_nir.export_to_nir(Gain(3.0), (2,), dt=1e-3)
        assert float(g.nodes["gain"].scale[0]) == 3.0
    finally:
        snn.unregister_plugin("gain-direct")
    with pytest.raises(snn_nir.NIRMappingError, match="Gain"):
        snn_nir.export_to_nir(Gain(3.0), (2,), dt=1e-3)
    with pytest.warns(snn.PluginWarning, match="broken on purpose"):
        snn.register_plugin(BrokenPlugin, name="broken")
        try:
            snn_nir.mappings()
        finally:
            snn.unregister_plugin("broken")
    assert isinstance(snn_nir.import_from_nir(snn_nir.export_to_nir(
        nn.Linear(2, 2), (2,), dt=1e-3), dt=1e-3).layer("linear"), nn.Linear)


class Doubled(snn.Leaky):
    """A third-party neuron NIR has no node for: U = β·U + 2·X (written as a LIF with R = 2τ/dt
    would be exact; here it is written as the plain LIF of 1·X, so only the metadata knows)."""

    def step(self, x, state):
        return super().step(2 * x, state)


def _doubled_export(m, ctx):
    beta = np.full(ctx.input_shape, float(m.beta), np.float32)
    tau = ctx.dt / (1 - beta)
    node = nir.LIF(tau=tau, r=tau / ctx.dt, v_leak=np.zeros_like(beta),
                   v_threshold=np.full_like(beta, float(m.threshold)), v_reset=np.zeros_like(beta))
    ctx.warn("doubles its input")
    node.metadata = ctx.metadata("test_plugin:doubled", beta=float(m.beta),
                                 threshold=float(m.threshold))
    return node


def _doubled_restore(node, meta, ctx):
    return Doubled(beta=float(meta["beta"]), threshold=float(meta["threshold"]))


class DoubledPlugin:
    @staticmethod
    @snn.hookimpl
    def snn_nir_register_mappings(registry):
        registry.register_export(Doubled, _doubled_export)
        registry.register_restore("test_plugin:doubled", _doubled_restore)


class DoubledExportOnly:
    @staticmethod
    @snn.hookimpl
    def snn_nir_register_mappings(registry):
        registry.register_export(Doubled, _doubled_export)


def test_a_plugin_neuron_round_trips_exactly_through_its_restore_function():
    name = snn_nir.register_mappings(DoubledPlugin, name="doubled-plugin")
    try:
        torch.manual_seed(0)
        net = snn.Sequential(nn.Linear(3, 4), Doubled(beta=0.8, threshold=0.7))
        with pytest.warns(snn_nir.NIRExportWarning, match="restores these modules") as rec:
            g = snn_nir.export_to_nir(net, (3,), dt=1e-3)
        assert "other packages" not in str(rec[0].message)
        assert g.nodes["1"].metadata["snncore"]["module"] == "test_plugin:doubled"
        m = snn_nir.import_from_nir(g, dt=1e-3)
        x = torch.rand(12, 2, 3)
        assert torch.equal(m.run(x)[0], net(x)[0])
        assert snn_nir.mappings().providers()["doubled-plugin"]["restore"] == [
            "test_plugin:doubled"]
        # another dt: the metadata does not apply, plain NIR with a warning naming the node
        with pytest.warns(snn_nir.NIRImportWarning, match="exported for dt"):
            snn_nir.import_from_nir(g, dt=2e-3)
    finally:
        snn_nir.unregister_mappings(name)


def test_metadata_nobody_restores_is_read_as_plain_nir_and_the_export_says_so():
    name = snn_nir.register_mappings(DoubledExportOnly, name="doubled-export")
    try:
        net = snn.Sequential(nn.Linear(3, 4), Doubled(beta=0.8, threshold=0.7))
        with pytest.warns(snn_nir.NIRExportWarning, match="other packages") as rec:
            g = snn_nir.export_to_nir(net, (3,), dt=1e-3)
        assert "restores these modules" not in str(rec[0].message)
        with pytest.warns(snn_nir.NIRImportWarning, match="no installed package restores"):
            m = snn_nir.import_from_nir(g, dt=1e-3)
        x = torch.full((12, 2, 3), 0.5)  # drive 0.375: plain LIF first fires at step 3
        with torch.no_grad():
            net[0].weight.fill_(0.25)
            net[0].bias.zero_()
            m = snn_nir.import_from_nir(snn_nir.export_to_nir(net, (3,), dt=1e-3), dt=1e-3)
        first = [s[:, 0, 0].nonzero()[0].item() for s in (m.run(x)[0], net(x)[0])]
        assert first == [2, 0]  # plain LIF: the input is not doubled
    finally:
        snn_nir.unregister_mappings(name)


def test_restore_and_metadata_arguments_are_checked():
    reg = snn_nir.MappingRegistry()
    with pytest.raises(TypeError, match="kind must be a non-empty str"):
        reg.register_restore("", lambda n, m, c: nn.Identity())
    with pytest.raises(TypeError, match="must be callable"):
        reg.register_restore("k", 3)
    ctx = snn_nir.ExportContext(1e-3, "euler", (3,), "n", lambda r: None)
    with pytest.raises(ValueError, match="set by snn_nir"):
        ctx.metadata("k", dt=1.0)
    assert ctx.metadata("k", a=1)["snncore"] == {"format": 1, "module": "k", "dt": 1e-3,
                                                 "discretization": "euler", "a": 1}


class BadRestorePlugin:
    @staticmethod
    @snn.hookimpl
    def snn_nir_register_mappings(registry):
        registry.register_export(Doubled, _doubled_export)
        registry.register_restore("test_plugin:doubled", lambda node, meta, ctx: 42)


def test_a_restore_function_that_returns_no_module_falls_back_with_a_warning():
    name = snn_nir.register_mappings(BadRestorePlugin, name="bad-restore")
    try:
        net = snn.Sequential(nn.Linear(3, 4), Doubled(beta=0.8, threshold=0.7))
        with pytest.warns(snn_nir.NIRExportWarning):
            g = snn_nir.export_to_nir(net, (3,), dt=1e-3)
        with pytest.warns(snn_nir.NIRImportWarning, match="returned int, not a torch module"):
            snn_nir.import_from_nir(g, dt=1e-3)
    finally:
        snn_nir.unregister_mappings(name)
