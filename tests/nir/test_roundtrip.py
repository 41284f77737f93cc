"""snncore -> .nir file -> snncore: identical spikes and states over 100 steps."""

from __future__ import annotations

import warnings

import nir
import numpy as np
import pytest
import torch
from torch import nn

import snn_neurons_extra as extra
import snn_nir
import snncore as snn

T = 100
RESETS = [(r, d) for r in ("subtract", "zero", "none") for d in (True, False)]
KINDS = ["leaky", "synaptic", "lapicque_rc", "lapicque_beta", "if", "li"]


def _p(per_neuron: bool, shape: tuple[int, ...], low: float, high: float) -> float | torch.Tensor:
    if not per_neuron:
        return float((low + high) / 2)
    return torch.rand(shape, dtype=torch.float64) * (high - low) + low


def make_neuron(kind: str, per_neuron: bool, reset: str, delay: bool, shape: tuple[int, ...]):
    thr = _p(per_neuron, shape, 0.3, 1.2)
    common = dict(threshold=thr, reset=reset, reset_delay=delay)
    if kind == "leaky":
        return snn.Leaky(beta=_p(per_neuron, shape, 0.5, 0.95), **common)
    if kind == "synaptic":
        return extra.Synaptic(alpha=_p(per_neuron, shape, 0.4, 0.9),
                              beta=_p(per_neuron, shape, 0.5, 0.95), **common)
    if kind == "lapicque_rc":
        return extra.Lapicque(R=_p(per_neuron, shape, 2.0, 5.0), C=_p(per_neuron, shape, 5e-3,
                                                                       1e-2),
                              time_step=1e-3, **common)
    if kind == "lapicque_beta":
        return extra.Lapicque(beta=_p(per_neuron, shape, 0.6, 0.9), **common)
    if kind == "if":
        return extra.IF(**common)
    if kind == "li":
        return extra.LI(beta=_p(per_neuron, shape, 0.5, 0.95))
    raise AssertionError(kind)


def roundtrip(net, shape, tmp_path, disc, x):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", snn_nir.NIRExportWarning)
        graph = snn_nir.export_to_nir(net, shape, dt=1e-3, discretization=disc)
    path = tmp_path / "net.nir"
    snn_nir.write(path, graph)
    with warnings.catch_warnings():
        warnings.simplefilter("error", snn_nir.NIRImportWarning)
        m = snn_nir.import_from_nir(path, dt=1e-3, discretization=disc)
    with torch.no_grad():
        y0, s0 = net(x)
        y1, s1 = m.run(x)
        st, ys = None, []
        for t in range(x.shape[0]):
            yt, st = m(x[t], st)
            ys.append(yt)
    assert torch.equal(y0, y1)
    assert torch.equal(torch.stack(ys), y1)
    for i, layer in enumerate(net):
        if isinstance(layer, snn.Neuron):
            for a, b, c in zip(s0[i], s1.nodes[str(i)], st.nodes[str(i)], strict=True):
                # same modules and backend; snn.Sequential may run convolutions channels-last
                # (docs/backends.md), whose sums round differently from the imported graph's
                torch.testing.assert_close(b, a, rtol=1e-6, atol=1e-6)
                # stepwise runs the eager steps, the sequence the fused loop: float round-off
                torch.testing.assert_close(c, a, rtol=1e-5, atol=1e-5)
    return m, graph


def _active(net, x) -> None:
    with torch.no_grad():
        y = net(x)[0]
    assert 0 < float(y.abs().sum()), "the layer must be active for a meaningful check"


@pytest.mark.parametrize("disc", ["euler", "exact"])
@pytest.mark.parametrize("reset,delay", RESETS)
@pytest.mark.parametrize("per_neuron", [False, True])
@pytest.mark.parametrize("kind", KINDS)
def test_feedforward_roundtrip(tmp_path, kind, per_neuron, reset, delay, disc):
    torch.manual_seed(1)
    net = snn.Sequential(nn.Linear(6, 10), make_neuron(kind, per_neuron, reset, delay, (10,)),
                         nn.Linear(10, 4), snn.Leaky(beta=0.8, threshold=0.4))
    x = torch.rand(T, 3, 6) * 4.0
    m, _ = roundtrip(net, (6,), tmp_path, disc, x)
    assert type(m.layer("1")) is type(net[1])
    _active(net[:2], x)


@pytest.mark.parametrize("disc", ["euler", "exact"])
@pytest.mark.parametrize("reset,delay", RESETS)
@pytest.mark.parametrize("per_neuron", [True])
@pytest.mark.parametrize("kind", ["leaky", "synaptic"])
def test_conv_roundtrip(tmp_path, kind, per_neuron, reset, delay, disc):
    torch.manual_seed(2)
    net = snn.Sequential(
        nn.Conv2d(2, 4, 3, padding=1, stride=1, bias=True),
        make_neuron(kind, per_neuron, reset, delay, (4, 1, 1)),
        nn.AvgPool2d(2),
        snn_nir.SumPool2d(3, stride=1, padding=1),
        nn.Conv2d(4, 4, 3, padding=2, dilation=2, groups=2),
        snn.Leaky(beta=0.7, threshold=0.3, reset=reset, reset_delay=delay),
        nn.Flatten(),
        nn.Linear(4 * 3 * 3, 5),
        snn.Leaky(beta=0.9, threshold=0.2),
    )
    x = (torch.rand(T, 2, 2, 6, 6) < 0.4).float()
    roundtrip(net, (2, 6, 6), tmp_path, disc, x)
    _active(net, x)


@pytest.mark.parametrize("disc", ["euler", "exact"])
@pytest.mark.parametrize("reset,delay", RESETS)
@pytest.mark.parametrize("variant", ["rleaky_linear", "rleaky_elementwise", "rleaky_conv",
                                     "rsynaptic_linear", "rsynaptic_elementwise"])
def test_recurrent_roundtrip(tmp_path, variant, reset, delay, disc):
    torch.manual_seed(3)
    common = dict(threshold=0.6, reset=reset, reset_delay=delay)
    if variant == "rleaky_conv":
        rec = extra.RLeaky(beta=0.8, conv2d_channels=3, kernel_size=3, **common)
        net = snn.Sequential(nn.Conv2d(1, 3, 3, padding=1), rec, nn.Flatten(),
                             nn.Linear(3 * 5 * 5, 4), snn.Leaky(beta=0.9, threshold=0.3))
        x, shape = (torch.rand(T, 2, 1, 5, 5) < 0.3).float(), (1, 5, 5)
    else:
        if variant == "rleaky_linear":
            rec = extra.RLeaky(beta=torch.rand(8, dtype=torch.float64) * 0.4 + 0.5,
                               linear_features=8, **common)
        elif variant == "rleaky_elementwise":
            rec = extra.RLeaky(beta=0.85, all_to_all=False, V=torch.rand(8) - 0.3, **common)
        elif variant == "rsynaptic_linear":
            rec = extra.RSynaptic(alpha=0.7, beta=0.85, linear_features=8, **common)
        else:
            rec = extra.RSynaptic(alpha=0.6, beta=0.9, all_to_all=False, V=0.4, **common)
        net = snn.Sequential(nn.Linear(5, 8), rec, nn.Linear(8, 3),
                             snn.Leaky(beta=0.9, threshold=0.3))
        x, shape = torch.rand(T, 3, 5) * 3, (5,)
    m, graph = roundtrip(net, shape, tmp_path, disc, x)
    sub = graph.nodes["1"]
    assert isinstance(sub, nir.NIRGraph)
    assert ("w_rec", "lif") in [tuple(e) for e in sub.edges]
    assert type(m.layer("1")) is type(rec)
    _active(net[:2], x)


def test_options_and_learnable_flags_survive(tmp_path):
    n = snn.Leaky(beta=torch.tensor([0.8, 0.9, 0.7]), threshold=0.5, learn_beta=True,
                  learn_threshold=True, graded_spikes_factor=0.5, surrogate=snn.surrogate(
                      "fast_sigmoid", slope=10.0), detach_reset=False, reset="subtract")
    net = snn.Sequential(nn.Linear(2, 3), n)
    m, _ = roundtrip(net, (2,), tmp_path, "euler", torch.rand(T, 2, 2) * 2)
    back = m.layer("1")
    assert isinstance(back.beta, nn.Parameter) and isinstance(back.threshold, nn.Parameter)
    assert not isinstance(back.graded_spikes_factor, nn.Parameter)
    assert back.surrogate == n.surrogate and back.detach_reset is False
    assert float(back.graded_spikes_factor) == 0.5


def test_export_warns_once_naming_module_and_reason():
    net = snn.Sequential(nn.Linear(2, 3), snn.Leaky(beta=0.9), nn.Linear(3, 2),
                         snn.Leaky(beta=0.9, reset="zero", reset_delay=False))
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        snn_nir.export_to_nir(net, (2,), dt=1e-3)
    msgs = [str(w.message) for w in caught if issubclass(w.category, snn_nir.NIRExportWarning)]
    assert len(msgs) == 1
    assert "Leaky '1'" in msgs[0] and "subtract" in msgs[0] and "reset_delay" in msgs[0]
    assert "'3'" not in msgs[0]
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        snn_nir.export_to_nir(snn.Sequential(nn.Linear(2, 3), snn.Leaky(
            beta=0.9, reset="zero", reset_delay=False)), (2,), dt=1e-3)


def test_plain_reading_of_zero_reset_export_matches_model(tmp_path):
    """Without metadata (a foreign reader's view) a zero-reset, same-step model still runs the
    same: plain NIR expresses it."""
    torch.manual_seed(4)
    net = snn.Sequential(
        nn.Linear(4, 6), snn.Leaky(beta=torch.rand(6) * 0.4 + 0.5, threshold=0.5, reset="zero",
                                   reset_delay=False),
        nn.Linear(6, 3), extra.Synaptic(alpha=0.7, beta=0.8, threshold=0.4, reset="zero",
                                        reset_delay=False)).double()
    graph = snn_nir.export_to_nir(net, (4,), dt=1e-3)
    m = snn_nir.import_from_nir(graph, dt=1e-3, use_metadata=False, dtype=torch.float64)
    assert isinstance(m.layer("1"), snn_nir.NeuronNode)
    x = torch.rand(T, 2, 4, dtype=torch.float64) * 2
    with torch.no_grad():
        y0, s0 = net(x)
        y1, s1 = m.run(x)
    assert torch.equal(y0, y1)
    np.testing.assert_allclose(m.nir_states(s1)["3"]["v"], s0[3].mem, atol=1e-9)
    np.testing.assert_allclose(m.nir_states(s1)["3"]["I"], s0[3].syn, atol=1e-9)


def test_every_node_type_is_complete_and_parameters_broadcast():
    net = snn.Sequential(nn.Conv2d(1, 2, 3), snn.Leaky(beta=0.9, reset="zero",
                                                       reset_delay=False), nn.Flatten(),
                         nn.Linear(8, 3, bias=False), extra.Synaptic(
                             alpha=0.5, beta=torch.tensor([0.9, 0.8, 0.7]), reset="zero",
                             reset_delay=False))
    graph = snn_nir.export_to_nir(net, torch.zeros(5, 1, 4, 4), dt=1e-4)
    for name, node in graph.nodes.items():
        for t in (node.input_type, node.output_type):
            assert all(v is not None for v in t.values()), name
    assert graph.nodes["1"].tau.shape == (2, 2, 2)
    assert isinstance(graph.nodes["3"], nir.Linear)
    assert graph.nodes["4"].tau_syn.shape == (3,)
    assert graph.nodes["2"].start_dim == 0
    np.testing.assert_allclose(graph.nodes["1"].tau, 1e-4 / 0.1, rtol=1e-6)
    np.testing.assert_allclose(graph.nodes["1"].r, 10.0, rtol=1e-6)


def test_exact_discretisation_formulas():
    beta = 0.9
    g = snn_nir.export_to_nir(snn.Leaky(beta=beta, reset="zero", reset_delay=False), (3,),
                              dt=1e-3, discretization="exact")
    lif = g.nodes["leaky"]
    np.testing.assert_allclose(lif.tau, -1e-3 / np.log(beta), rtol=1e-6)
    np.testing.assert_allclose(lif.r, 1 / (1 - beta), rtol=1e-6)


@pytest.mark.parametrize("dtype", [torch.float64, torch.bfloat16, torch.float16])
def test_any_dtype_exports(dtype):
    net = snn.Sequential(nn.Linear(3, 4), snn.Leaky(beta=0.9)).to(dtype)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", snn_nir.NIRExportWarning)
        g = snn_nir.export_to_nir(net, (3,), dt=1e-3)
    assert g.nodes["0"].weight.dtype in (np.float64, np.float32, np.float16)


def test_nn_sequential_and_single_modules_export(tmp_path):
    net = nn.Sequential(nn.Linear(3, 4), nn.Sequential(nn.Dropout(0.1), nn.Identity(),
                                                       nn.Linear(4, 2)))
    g = snn_nir.export_to_nir(net, (3,), dt=1e-3)
    assert set(g.nodes) == {"input", "0", "1_2", "output"}
    m = snn_nir.import_from_nir(g, dt=1e-3)
    x = torch.rand(4, 2, 3)
    with torch.no_grad():
        assert torch.allclose(m.run(x)[0], net.eval()(x))


def test_plain_reading_of_recurrent_export_matches_model():
    """A foreign reader of an RLeaky/RSynaptic export (zero reset, same step) gets the same
    spikes: the recurrent Affine acts on the previous step's spikes, bias from t = 0."""
    torch.manual_seed(5)
    for rec in (extra.RLeaky(beta=0.8, linear_features=6, threshold=0.5, reset="zero",
                             reset_delay=False),
                extra.RSynaptic(alpha=0.6, beta=0.8, linear_features=6, threshold=0.5,
                                reset="zero", reset_delay=False)):
        net = snn.Sequential(nn.Linear(3, 6), rec).double()
        with torch.no_grad():
            net[1].recurrent.bias.fill_(0.2)
        graph = snn_nir.export_to_nir(net, (3,), dt=1e-3)
        m = snn_nir.import_from_nir(graph, dt=1e-3, use_metadata=False, dtype=torch.float64)
        x = torch.rand(T, 2, 3, dtype=torch.float64)
        with torch.no_grad():
            y0, s0 = net(x)
            y1, s1 = m.run(x)
        assert y0.sum() > 0
        assert torch.equal(y0, y1), type(rec).__name__
        np.testing.assert_allclose(m.nir_states(s1)["1.lif"]["v"], s0[1].mem, atol=1e-9)


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
def test_cuda_model_exports_and_imports_on_cuda(tmp_path):
    net = snn.Sequential(nn.Linear(4, 5), snn.Leaky(beta=0.9, reset="zero", reset_delay=False),
                         nn.Linear(5, 2), extra.Synaptic(alpha=0.5, beta=0.8, reset="zero",
                                                         reset_delay=False)).cuda()
    graph = snn_nir.export_to_nir(net, torch.zeros(2, 4, device="cuda"), dt=1e-3)
    m = snn_nir.import_from_nir(graph, dt=1e-3).cuda()
    x = torch.rand(T, 3, 4, device="cuda") * 2
    with torch.no_grad():
        assert torch.equal(m.run(x)[0], net(x)[0])
