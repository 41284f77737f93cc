"""check_model flags every planted IPU problem, naming module and op, and passes clean
networks of every shipped neuron."""

from __future__ import annotations

import pytest
import torch
from ipu_cases import NEURON_CASES, make_neuron, registered_neurons
from torch import nn

import snn_ipu
import snncore as snn

T, B, F = 5, 2, 4


class _Double(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x):
        return x * 2

    @staticmethod
    def backward(ctx, g):
        return g * 2


class ItemScale(nn.Module):
    def forward(self, x):
        return x * x.abs().max().item()


class Branch(nn.Module):
    def forward(self, x):
        if x.sum() > 0:
            return x
        return -x


class CustomFunction(nn.Module):
    def forward(self, x):
        return _Double.apply(x)


class MaskSelect(nn.Module):
    def forward(self, x):
        kept = x[x > 0.5]  # data-dependent shape
        return x + kept.sum() * 0


class NonZero(nn.Module):
    def forward(self, x):
        idx = torch.nonzero(x > 0.5)
        return x + idx.shape[0] * 0


class WhereIndices(nn.Module):
    def forward(self, x):
        (rows, *_) = torch.where(x > 0.5)
        return x + rows.numel() * 0


class ToList(nn.Module):
    def forward(self, x):
        x.tolist()
        return x


class Float64(nn.Module):
    def forward(self, x):
        return x.double().float()


class ReassignBuffer(nn.Module):
    def __init__(self):
        super().__init__()
        self.register_buffer("count", torch.zeros(()))

    def forward(self, x):
        self.count = self.count + 1  # a new tensor, not an in-place update
        return x


class Planted(nn.Module):
    def __init__(self):
        super().__init__()
        self.item_scale = ItemScale()
        self.branch = Branch()
        self.custom = CustomFunction()
        self.mask = MaskSelect()
        self.nonzero = NonZero()
        self.where = WhereIndices()
        self.tolist = ToList()
        self.f64 = Float64()
        self.buf = ReassignBuffer()
        self.compiled = torch.compile(nn.Linear(F, F))
        self.lif = snn.create("leaky", beta=0.9, stateful=True)

    def forward(self, x):  # x [T, B, F]
        for m in (self.item_scale, self.branch, self.custom, self.mask, self.nonzero,
                  self.where, self.tolist, self.f64, self.buf):
            x = m(x)
        x = self.compiled(x)
        return self.lif.run(x)


def _find(report, kind, module):
    hits = [f for f in report if f.kind == kind and f.module == module]
    assert hits, f"no {kind} finding for {module}; got:\n{report}"
    return hits[0]


def test_every_planted_problem_is_flagged_with_module_and_op():
    model = Planted()
    x = torch.rand(T, B, F)
    opt = torch.optim.Adagrad(model.parameters())
    report = snn_ipu.check_model(model, x, optimizer=opt)
    assert not report.ok
    assert "Tensor.item()" in _find(report, "host-sync", "item_scale").op
    assert "bool(tensor)" in _find(report, "data-dependent-branch", "branch").op
    assert "_Double" in _find(report, "autograd-function", "custom").op
    assert "boolean-mask" in _find(report, "dynamic-shape", "mask").op
    assert "torch.nonzero" in _find(report, "dynamic-shape", "nonzero").op
    assert "torch.where(condition)" in _find(report, "dynamic-shape", "where").op
    assert "Tensor.tolist()" in _find(report, "host-sync", "tolist").op
    assert _find(report, "float64", "f64")
    assert _find(report, "buffer-reassigned", "buf").op == "count"
    assert _find(report, "compile", "compiled").op == "torch.compile"
    assert "stateful=True" in _find(report, "python-state", "lif").op
    assert "Adagrad has no IPU implementation" in _find(report, "optimizer", "<optimizer>").message
    assert len(report.kinds()) >= 9
    text = str(report)
    assert "item_scale: Tensor.item()" in text
    with pytest.raises(snn.SnncoreError, match="IPU problem"):
        report.raise_if_failed()
    # the model itself is untouched (the lint runs on a copy)
    assert model.buf.count == 0 and model.lif.state is None


def test_the_default_autograd_spike_is_flagged_outside_neurons():
    class RawSpike(nn.Module):
        def forward(self, x):
            return snn.spike(x - 0.5)

    report = snn_ipu.check_model(nn.Sequential(nn.Linear(F, F), RawSpike()), torch.rand(B, F))
    finding = _find(report, "autograd-function", "1")
    assert "_SpikeFunction" in finding.op and "TraceableSurrogate" in finding.message


def _clean_network():
    """An snn.Sequential holding every registered neuron (and the graded-spikes layer)."""
    layers: list[nn.Module] = []
    width = F
    names = registered_neurons()
    for name in names:
        kwargs, shape, *_ = NEURON_CASES[name]
        if name == "sconv2dlstm":
            continue  # needs images; checked on its own below
        neuron, _ = make_neuron(name)
        if len(shape) == 2:
            need = next((kwargs[k] for k in ("input_size", "in_features", "linear_features",
                                              "in_dim") if k in kwargs), shape[1])
            layers.append(nn.Linear(width, need))
            width = need
        layers.append(neuron)
        width = getattr(neuron, "out_features", None) or getattr(neuron, "hidden_size", width)
    if "graded_spikes" in {e.name for e in snn.registries()["neuron"].entries()}:
        layers.append(snn.create("graded_spikes", size=width, constant_factor=1.0))
    return snn.Sequential(*layers), names


def test_a_clean_sequential_of_every_shipped_neuron_passes():
    net, names = _clean_network()
    x = torch.rand(T, B, F)
    report = snn_ipu.check_model(net, x, optimizer=torch.optim.Adam(net.parameters()))
    assert report.ok, str(report)
    assert str(report) == "check_model: no IPU problems found"
    present = {type(n) for n in snn.neurons_of(net)}
    assert len(present) == len(names) - ("sconv2dlstm" in names)


def test_conv_lstm_and_bntt_are_clean():
    names = registered_neurons()
    if "sconv2dlstm" not in names:
        pytest.skip("snn-neurons-extra is not installed")
    lstm, (shape, *_) = make_neuron("sconv2dlstm")
    net = snn.Sequential(lstm, nn.Flatten(), nn.Linear(3 * 4 * 4, 4),
                         snn.create("leaky", beta=0.9))
    assert snn_ipu.check_model(net, torch.rand(T, *shape)).ok
    bn = snn.create("batchnorm_tt", num_features=F, time_steps=T)
    assert snn_ipu.check_model(bn, torch.rand(T, B, F)).ok


def test_the_loss_is_linted_too():
    net = snn.Sequential(nn.Linear(F, 3), snn.create("leaky", beta=0.9))
    x, y = torch.rand(T, B, F), torch.tensor([0, 2])

    def careless(out, target):
        return nn.functional.cross_entropy(out.sum(0), target) * out.max().item()

    report = snn_ipu.check_model(net, x, loss_fn=careless, target=y)
    assert [(f.kind, f.module, f.op) for f in report] == [("host-sync", "<loss>", "Tensor.item()")]
    report = snn_ipu.check_model(net, x, loss_fn=lambda o, t: o.sum(0), target=y)
    assert _find(report, "loss", "<loss>")
    clean = snn_ipu.check_model(
        net, x, loss_fn=lambda o, t: nn.functional.cross_entropy(o.sum(0), t), target=y)
    assert clean.ok, str(clean)
    with pytest.raises(TypeError, match="loss_fn must be callable"):
        snn_ipu.check_model(net, x, loss_fn="ce")


def test_check_model_is_path_specific_and_validates():
    # only the path that the example input takes is traced: say so by testing it
    report = snn_ipu.check_model(Branch(), -torch.ones(B, F))
    assert _find(report, "data-dependent-branch", "<model>")
    with pytest.raises(TypeError, match="torch.nn.Module"):
        snn_ipu.check_model("model", torch.zeros(1))
    with pytest.raises(TypeError, match="example_input"):
        snn_ipu.check_model(nn.Linear(2, 2), [1, 2])
