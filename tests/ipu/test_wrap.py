"""training_model / inference_model / translate_optimizer against the poptorch stand-in."""

from __future__ import annotations

import copy

import pytest
import torch
from ipu_cases import rate_ce_loss, small_net
from torch import nn

import snn_ipu
import snncore as snn

T, B, F, H, C = 6, 8, 5, 7, 3


def _net():
    return small_net(F, H, C)


_loss = rate_ce_loss


def _data():
    g = torch.Generator().manual_seed(2)
    return torch.rand(T, B, F, generator=g) * 2, torch.randint(0, C, (B,), generator=g)


def test_one_training_step_equals_the_cpu_step(ipu):
    x, y = _data()
    cpu, dev = _net(), _net()
    opt = torch.optim.SGD(cpu.parameters(), lr=0.5, momentum=0.9)
    out_cpu, _ = cpu(x)
    loss_cpu = _loss(out_cpu, y)
    opt.zero_grad()
    loss_cpu.backward()
    opt.step()
    model = snn_ipu.training_model(dev, _loss,
                                   torch.optim.SGD(dev.parameters(), lr=0.5, momentum=0.9))
    out, loss = model(x, y)
    assert out.shape == (T, B, C)  # time-first again
    assert torch.equal(out, out_cpu.detach())
    torch.testing.assert_close(loss, loss_cpu.detach())
    for a, b in zip(dev.parameters(), cpu.parameters(), strict=True):
        torch.testing.assert_close(a, b, atol=1e-6, rtol=1e-6)
    assert isinstance(model.executor.optimizer, ipu.optim.SGD)
    # the user's model is left with its own surrogates
    assert not any(isinstance(n.surrogate, snn_ipu.TraceableSurrogate)
                   for n in snn.neurons_of(dev))


def test_time_first_data_is_split_along_the_batch(ipu):
    x, y = _data()
    opts = ipu.Options().deviceIterations(2)
    opts.Training.gradientAccumulation(2)
    dev = _net()
    ref = copy.deepcopy(dev)
    model = snn_ipu.training_model(dev, _loss, torch.optim.SGD(dev.parameters(), lr=0.1), opts)
    assert model.factor == 4
    out, _ = model(x, y)
    # four micro-batches of B/4 samples, each [B/4, T, F] on the wire and [T, B/4, F] inside
    assert ipu.TRACE_LOG == [((B // 4, T, F), (B // 4,))] * 4
    assert out.shape == (T, B // 4, C)  # OutputMode.Final: the last micro-batch
    # the same as two CPU steps, each on the mean gradient of two micro-batches
    opt = torch.optim.SGD(ref.parameters(), lr=0.1)
    for step in range(2):
        opt.zero_grad()
        for k in range(2):
            sl = slice((2 * step + k) * 2, (2 * step + k + 1) * 2)
            (_loss(ref(x[:, sl])[0], y[sl]) / 2).backward()
        opt.step()
    for a, b in zip(dev.parameters(), ref.parameters(), strict=True):
        torch.testing.assert_close(a, b, atol=1e-6, rtol=1e-6)


def test_batch_not_divisible_is_a_clear_error(ipu):
    dev = _net()
    model = snn_ipu.training_model(dev, _loss, torch.optim.SGD(dev.parameters(), lr=0.1),
                                   ipu.Options().deviceIterations(3))
    x, y = _data()
    with pytest.raises(ValueError, match=r"batch size B=8 \(dim 1.*multiple of 3"):
        model(x, y)
    with pytest.raises(ValueError, match="time-first"):
        model(torch.rand(8), y)


def test_time_first_targets(ipu):
    dev = _net()

    def per_step(out, target):  # target [T, B] class per step
        return nn.functional.cross_entropy(out.reshape(-1, C), target.reshape(-1))

    model = snn_ipu.training_model(dev, per_step, torch.optim.Adam(dev.parameters(), lr=1e-2),
                                   ipu.Options().deviceIterations(2), targets_time_first=True)
    x, _ = _data()
    y = torch.randint(0, C, (T, B))
    out, loss = model(x, y)
    assert ipu.TRACE_LOG == [((B // 2, T, F), (B // 2, T))] * 2
    assert loss.dim() == 0 and torch.isfinite(loss)


def test_inference_model_matches_cpu_and_concatenates(ipu):
    x, _ = _data()
    net = _net()
    ref, _ = net(x)
    model = snn_ipu.inference_model(net, ipu.Options().deviceIterations(4))
    out = model(x)
    assert ipu.TRACE_LOG == [((B // 4, T, F),)] * 4
    assert torch.equal(out, ref)
    assert not net.training


def test_loss_must_be_a_scalar(ipu):
    dev = _net()
    model = snn_ipu.training_model(dev, lambda o, t: o, torch.optim.SGD(dev.parameters(), lr=1))
    x, y = _data()
    with pytest.raises(ValueError, match="0-d tensor"):
        model(x, y)


def test_argument_checks(ipu):
    dev = _net()
    sgd = torch.optim.SGD(dev.parameters(), lr=0.1)
    with pytest.raises(TypeError, match="torch.nn.Module"):
        snn_ipu.training_model("net", _loss, sgd)
    with pytest.raises(TypeError, match="loss_fn must be callable"):
        snn_ipu.training_model(dev, None, sgd)
    with pytest.raises(TypeError, match="poptorch.Options"):
        snn_ipu.training_model(dev, _loss, sgd, options={"deviceIterations": 2})
    other = torch.optim.SGD(nn.Linear(2, 2).parameters(), lr=0.1)
    with pytest.raises(ValueError, match="not parameters of model"):
        snn_ipu.training_model(dev, _loss, other)
    with pytest.raises(TypeError, match="time_first must be a bool"):
        snn_ipu.inference_model(dev, time_first=1)


# -- optimizer translation -------------------------------------------------------------------
def _params():
    lin = nn.Linear(3, 2)
    return [{"params": [lin.weight], "lr": 0.2}, {"params": [lin.bias]}]


@pytest.mark.parametrize("make,target,expect", [
    (lambda p: torch.optim.SGD(p, lr=0.1, momentum=0.9, dampening=0.1, weight_decay=1e-4,
                               nesterov=False), "SGD",
     {"momentum": 0.9, "dampening": 0.1, "weight_decay": 1e-4, "nesterov": False}),
    (lambda p: torch.optim.SGD(p, lr=0.1, momentum=0.9, nesterov=True), "SGD",
     {"momentum": 0.9, "nesterov": True}),
    (lambda p: torch.optim.Adam(p, lr=1e-3, betas=(0.8, 0.99), eps=1e-6, weight_decay=1e-3),
     "Adam", {"betas": (0.8, 0.99), "eps": 1e-6, "weight_decay": 1e-3}),
    (lambda p: torch.optim.AdamW(p, lr=1e-3, betas=(0.85, 0.995), eps=1e-7, weight_decay=0.05),
     "AdamW", {"betas": (0.85, 0.995), "eps": 1e-7, "weight_decay": 0.05}),
    (lambda p: torch.optim.RMSprop(p, lr=1e-2, alpha=0.95, eps=1e-5, weight_decay=1e-4,
                                   momentum=0.5, centered=True), "RMSprop",
     {"alpha": 0.95, "eps": 1e-5, "weight_decay": 1e-4, "momentum": 0.5, "centered": True}),
])
def test_optimizers_translate_with_the_same_hyperparameters(standin, make, target, expect):
    opt = make(_params())
    ipu_opt = snn_ipu.translate_optimizer(opt)
    assert type(ipu_opt) is getattr(standin.optim, target)
    assert len(ipu_opt.param_groups) == 2
    for mine, theirs in zip(ipu_opt.param_groups, opt.param_groups, strict=True):
        assert mine["params"] == theirs["params"]
        assert mine["lr"] == theirs["lr"]
        for k, v in expect.items():
            assert mine[k] == v, k
    assert ipu_opt.param_groups[0]["lr"] == 0.2


def test_adam_with_decoupled_weight_decay_becomes_adamw(standin):
    try:
        opt = torch.optim.Adam(_params(), lr=1e-3, weight_decay=0.1, decoupled_weight_decay=True)
    except TypeError:
        pytest.skip("this torch has no decoupled_weight_decay")
    assert type(snn_ipu.translate_optimizer(opt)) is standin.optim.AdamW


def test_a_poptorch_optimizer_passes_through(standin):
    opt = standin.optim.LAMB(nn.Linear(2, 2).parameters(), lr=1e-3)
    assert snn_ipu.translate_optimizer(opt) is opt


@pytest.mark.parametrize("make,match", [
    (lambda p: torch.optim.Adagrad(p, lr=0.1), "Adagrad has no IPU implementation"),
    (lambda p: torch.optim.LBFGS(p), "LBFGS has no IPU implementation"),
    (lambda p: torch.optim.Adam(p, amsgrad=True), "amsgrad=True.*non-amsgrad"),
    (lambda p: torch.optim.SGD(p, lr=0.1, maximize=True), "maximize=True.*negate the loss"),
    (lambda p: type("MySGD", (torch.optim.SGD,), {})(p, lr=0.1), "subclasses torch.optim.SGD"),
])
def test_untranslatable_optimizers_are_clear_errors(standin, make, match):
    with pytest.raises((TypeError, ValueError), match=match):
        snn_ipu.translate_optimizer(make(nn.Linear(2, 2).parameters()))


def test_optimizer_state_is_not_carried_over_warns(standin):
    lin = nn.Linear(2, 1)
    opt = torch.optim.SGD(lin.parameters(), lr=0.1, momentum=0.9)
    lin(torch.ones(1, 2)).sum().backward()
    opt.step()
    with pytest.warns(UserWarning, match="not carried over"):
        snn_ipu.translate_optimizer(opt)


def test_set_optimizer_translates(ipu):
    dev = _net()
    model = snn_ipu.training_model(dev, _loss, torch.optim.SGD(dev.parameters(), lr=0.1))
    model.set_optimizer(torch.optim.Adam(dev.parameters(), lr=1e-3))
    assert isinstance(model.executor.optimizer, ipu.optim.Adam)


# -- the stand-in enforces the IPU's constraints (so the tests above mean something) --------
class _FunctionSpike(nn.Module):
    def forward(self, x):
        return snn.spike(x - 0.5)  # snncore's autograd.Function spike, outside any neuron


class _ItemModel(nn.Module):
    def __init__(self):
        super().__init__()
        self.lin = nn.Linear(F, C)

    def forward(self, x):
        y = self.lin(x)
        return y * y.mean().item()


def test_standin_refuses_an_autograd_function(ipu):
    net = nn.Sequential(nn.Linear(F, C), _FunctionSpike())
    model = ipu.trainingModel(_Program(net), optimizer=torch.optim.SGD(net.parameters(), lr=1))
    x, y = _data()
    with pytest.raises(RuntimeError, match="autograd.Function"):
        model(x[0], y)


def test_standin_refuses_item(ipu):
    net = _ItemModel()
    model = snn_ipu.training_model(net, _loss, torch.optim.SGD(net.parameters(), lr=1))
    x, y = _data()
    with pytest.raises(RuntimeError, match="item reads a tensor value on the host"):
        model(x, y)


def test_standin_refuses_a_model_without_loss(ipu):
    net = nn.Linear(F, C)
    model = ipu.trainingModel(net, optimizer=torch.optim.SGD(net.parameters(), lr=1))
    with pytest.raises(RuntimeError, match="Couldn't find a loss"):
        model(torch.rand(B, F))


def test_standin_refuses_an_unsupported_optimizer(ipu):
    net = nn.Linear(F, C)
    with pytest.raises(AssertionError, match="Unsupported optimizer"):
        ipu.trainingModel(net, optimizer=torch.optim.Adagrad(net.parameters()))
    with pytest.raises(ValueError, match="non-amsgrad"):
        ipu.trainingModel(net, optimizer=torch.optim.Adam(net.parameters(), amsgrad=True))


def test_standin_splits_dim0(ipu):
    net = nn.Linear(F, C)
    model = ipu.inferenceModel(net, ipu.Options().deviceIterations(2).replicationFactor(2))
    out = model(torch.rand(8, F))
    assert ipu.TRACE_LOG == [((2, F),)] * 4 and out.shape == (8, C)
    with pytest.raises(AssertionError, match="must be a multiple"):
        model(torch.rand(6, F))


class _Program(nn.Module):
    def __init__(self, net):
        super().__init__()
        self.net = net

    def forward(self, x, y):
        import poptorch

        out = self.net(x)
        return out, poptorch.identity_loss(nn.functional.cross_entropy(out, y), "none")


def test_neurons_named_ipu_inside_a_plain_poptorch_model_are_traceable(ipu):
    # a model wrapped by poptorch directly: its neurons run on backend "ipu" inside the trace
    net = snn.Sequential(nn.Linear(F, H), snn.create("leaky", beta=0.9),
                         nn.Linear(H, C), snn.create("leaky", beta=0.8), backend="ipu")
    ref = copy.deepcopy(net)
    ref.backend = None  # the reference runs on the host's default backend

    class Program(nn.Module):
        def __init__(self):
            super().__init__()
            self.net = net

        def forward(self, x_bf, y):
            out, _ = self.net(x_bf.transpose(0, 1))
            return out, ipu.identity_loss(_loss(out, y), "none")

    model = ipu.trainingModel(Program(), optimizer=ipu.optim.SGD(net.parameters(), lr=0.3))
    x, y = _data()
    out, loss = model(x.transpose(0, 1).contiguous(), y)  # refused if a Function were traced
    ref_out, _ = ref(x)
    assert torch.equal(out, ref_out.detach())
    torch.testing.assert_close(loss, _loss(ref_out, y).detach())


LOSSES = ["ce_rate_loss", "ce_count_loss", "ce_max_membrane_loss", "ce_temporal_loss",
          "mse_count_loss", "mse_membrane_loss", "mse_temporal_loss"]


@pytest.mark.parametrize("name", LOSSES)
def test_check_model_and_the_standin_agree_on_snncore_losses(ipu, name):
    # snncore's losses are computed inside the traced forward: whatever the lint says about
    # them, the stand-in does (the temporal losses use an autograd.Function: see docs/ipu.md)
    x, y = _data()
    loss_fn = getattr(snn.losses, name)()
    report = snn_ipu.check_model(_net(), x, loss_fn=loss_fn, target=y)
    dev = _net()
    model = snn_ipu.training_model(dev, loss_fn, torch.optim.Adam(dev.parameters(), lr=5e-2))
    if report.ok:
        losses = [float(model(x, y)[1]) for _ in range(20)]
        assert losses[-1] < losses[0]
    else:
        assert {f.module for f in report} == {"<loss>"}, str(report)
        with pytest.raises(RuntimeError,
                           match="reads a tensor value on the host|torch.autograd.Function"):
            model(x, y)


def test_training_with_a_torch_loss_on_spike_counts_reduces_it(ipu):
    dev = _net()
    x, y = _data()
    model = snn_ipu.training_model(dev, _loss, torch.optim.Adam(dev.parameters(), lr=5e-2))
    losses = [float(model(x, y)[1]) for _ in range(30)]
    assert losses[-1] < 0.7 * losses[0]
