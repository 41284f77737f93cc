"""compat ``functional.SpikeTime`` and ``functional.stdp_learner`` against snnTorch 1.0.0:
the same spike times, targets and gradients, the same traces and weight updates (1e-6 on
random inputs), or the documented difference (warned)."""

from __future__ import annotations

import inspect

import pytest
import snntorch.functional as SF
import snntorch.functional.stdp_learner as SS
import torch
from compat_helpers import close, quiet
from torch import nn

import snn_compat
import snn_compat.snntorch as sc
import snn_compat.snntorch.functional as CF
import snn_compat.snntorch.functional.stdp_learner as CS

T, B, N = 9, 4, 5


def _rec(seed: int, p: float = 0.25) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    return (torch.rand(T, B, N, generator=g) < p).float()


def _both(make, spk, targets):
    a, b = spk.clone().requires_grad_(), spk.clone().requires_grad_()
    ta = targets.clone() if isinstance(targets, torch.Tensor) else targets
    tb = targets.clone() if isinstance(targets, torch.Tensor) else targets
    out_a = make(SF)(a, ta)
    out_b = quiet(lambda: make(CF)(b, tb))
    w = torch.rand(out_a[0].shape, generator=torch.Generator().manual_seed(3))
    (out_a[0] * w).sum().backward()
    (out_b[0] * w).sum().backward()
    return out_a, a.grad, out_b, b.grad


@pytest.mark.parametrize("kwargs", [
    dict(on_target=1, off_target=6),
    dict(on_target=0, off_target=8, tolerance=2),
    dict(on_target=3, off_target=1, tolerance=1.5),
])
@pytest.mark.parametrize("seed", [0, 1])
def test_spike_time_labels_same_as_snntorch(kwargs, seed):
    y = torch.tensor([0, 4, 2, 2])
    (ta, tga), ga, (tb, tgb), gb = _both(lambda m: m.SpikeTime(**kwargs), _rec(seed), y)
    close(ta, tb)
    close(tga, tgb)
    close(ga, gb)


@pytest.mark.parametrize("tolerance", [0, 2])
def test_spike_time_target_times_same_as_snntorch(tolerance):
    g = torch.Generator().manual_seed(4)
    times = torch.randint(-T, T, (B, N), generator=g).float()
    (ta, tga), ga, (tb, tgb), gb = _both(
        lambda m: m.SpikeTime(target_is_time=True, tolerance=tolerance), _rec(2), times)
    close(ta, tb)
    close(tga, tgb)
    close(ga, gb)


def test_spike_time_multi_spike_same_for_one_neuron():
    """snnTorch's multi-spike extraction is right when one neuron is recorded."""
    g = torch.Generator().manual_seed(5)
    spk = (torch.rand(T, 1, 1, generator=g) < 0.5).float()
    times = torch.tensor([[[1.0]], [[4.0]], [[7.0]]])
    (ta, tga), ga, (tb, tgb), gb = _both(
        lambda m: m.SpikeTime(target_is_time=True, multi_spike=True), spk, times)
    close(ta, tb)
    close(ga, gb)


def test_spike_time_differences_warn_and_keep_snncores_result():
    spk = _rec(6)
    with pytest.warns(snn_compat.CompatDifferenceWarning, match="multi_spike"):
        st = CF.SpikeTime(target_is_time=True, multi_spike=True)
    times, _ = st(spk, torch.zeros(2, B, N))
    from snncore import losses
    close(times, losses.nth_spike_times(spk, 2))
    with pytest.warns(snn_compat.CompatDifferenceWarning, match="off_target"):
        st = CF.SpikeTime()
    _, targets = st(spk, torch.tensor([0, 1, 2, 3]))
    assert targets[0].tolist() == [0, T - 1, T - 1, T - 1, T - 1]
    # the user's target tensor is not modified (snnTorch writes into it)
    mine = torch.tensor([[-1.0] * N] * B)
    CF.SpikeTime(target_is_time=True)(spk, mine)
    assert (mine == -1).all()


def test_spike_time_nested_functions_and_checks():
    spk = _rec(7).requires_grad_()
    close(CF.SpikeTime.FirstSpike.apply(spk, "cpu"), SF.SpikeTime.FirstSpike.apply(spk, "cpu"))
    t = torch.tensor([1.0, 5.0]).requires_grad_()
    out = CF.SpikeTime.Tolerance.apply(t, torch.tensor([2.0, 2.0]), 1.5)
    assert out.tolist() == [2.0, 5.0]
    out.sum().backward()
    assert t.grad.tolist() == [1.0, 1.0]
    with pytest.raises(ValueError, match="tolerance"):
        CF.SpikeTime(tolerance=-1)
    with pytest.raises(TypeError, match="spk_out"):
        CF.SpikeTime(target_is_time=True)(torch.ones(3), torch.ones(3))
    with pytest.raises(TypeError, match="label"):
        quiet(lambda: CF.SpikeTime()(_rec(0), torch.ones(B)))
    with pytest.raises(ValueError, match="labels"):
        quiet(lambda: CF.SpikeTime()(_rec(0), torch.tensor([0, 1, 2, 9])))
    assert (list(inspect.signature(CF.SpikeTime).parameters)
            == list(inspect.signature(SF.SpikeTime).parameters))


# -- STDP -----------------------------------------------------------------------------------
def _spk(shape, seed, p=0.4):
    g = torch.Generator().manual_seed(seed)
    return (torch.rand(shape, generator=g) < p).double()


def _soft(w):
    return 1.0 - w


@pytest.mark.parametrize("rule", ["stdp", "mstdp"])
@pytest.mark.parametrize("f", [None, _soft])
def test_linear_rules_same_as_snntorch(rule, f):
    torch.manual_seed(0)
    fc = nn.Linear(6, 4).double()
    extra = {} if f is None else {"f_pre": f, "f_post": torch.sigmoid}
    name = f"{rule}_linear_single_step"
    ours, ref = getattr(CS, name), getattr(SS, name)
    a = b = (None, None)
    for t in range(6):
        x, y = _spk((3, 6), 10 + t), _spk((3, 4), 20 + t)
        ra = ref(fc, x, y, *a, 2.0, 3.5, **extra)
        rb = ours(fc, x, y, *b, 2.0, 3.5, **extra)
        close(ra, rb)
        a, b = ra[:2], rb[:2]


def test_mstdpet_same_as_snntorch_for_one_sample():
    fc = nn.Linear(5, 3).double()
    a = b = (None, None)
    for t in range(5):
        x, y = _spk((5,), 30 + t), _spk((3,), 40 + t)
        ra = SS.mstdpet_linear_single_step(fc, x, y, *a, 2.0, 3.0, 4.0)
        rb = CS.mstdpet_linear_single_step(fc, x, y, *b, 2.0, 3.0, 4.0)
        close(ra, rb)
        a, b = ra[:2], rb[:2]
    with pytest.warns(snn_compat.CompatDifferenceWarning, match="batched"):
        out = CS.mstdpet_linear_single_step(fc, _spk((2, 5), 1), _spk((2, 3), 2), None, None,
                                            2.0, 3.0, 4.0)
    assert out[2].shape == (2, 3, 5)


@pytest.mark.parametrize("make,shape", [
    (lambda: nn.Conv2d(2, 3, 3), (2, 2, 6, 7)),
    (lambda: nn.Conv2d(2, 3, (3, 2), stride=(2, 1), padding=(1, 2)), (2, 2, 7, 6)),
    (lambda: nn.Conv2d(2, 3, 3, padding=1, padding_mode="reflect"), (2, 2, 5, 5)),
    (lambda: nn.Conv1d(3, 2, 3, stride=2, padding=1), (2, 3, 9)),
    (lambda: nn.Conv1d(3, 2, 2, padding=1, padding_mode="circular"), (2, 3, 8)),
])
def test_conv_rules_same_as_snntorch(make, shape):
    torch.manual_seed(1)
    conv = make().double()
    two_d = len(shape) == 4
    ref = SS.stdp_conv2d_single_step if two_d else SS.stdp_conv1d_single_step
    ours = CS.stdp_conv2d_single_step if two_d else CS.stdp_conv1d_single_step
    a = b = (None, None)
    for t in range(4):
        x = _spk(shape, 50 + t)
        with torch.no_grad():
            y = (conv(x) > 0.1).double()
        ra = ref(conv, x, y, *a, 2.0, 3.0, torch.tanh, _soft)
        rb = ours(conv, x, y, *b, 2.0, 3.0, torch.tanh, _soft)
        close(ra, rb)
        a, b = ra[:2], rb[:2]


def test_conv_differences_warn_and_work():
    conv = nn.Conv2d(2, 3, 3, dilation=2).double()
    x = _spk((1, 2, 9, 9), 3)
    y = (conv(x) > 0).double().detach()
    with pytest.raises(NotImplementedError):
        SS.stdp_conv2d_single_step(conv, x, y, None, None, 2.0, 2.0)
    with pytest.warns(snn_compat.CompatDifferenceWarning, match="dilat"):
        _, _, dw = CS.stdp_conv2d_single_step(conv, x, y, None, None, 2.0, 2.0, _soft)
    assert dw.shape == conv.weight.shape and dw.abs().sum() > 0
    with pytest.raises(TypeError, match="Conv2d"):
        CS.stdp_conv2d_single_step(nn.Linear(2, 2), x, y, None, None, 2.0, 2.0)


def _train(lib, syn_factory, x_shape, steps=6, on_grad=True, scale=1.0):
    """snnTorch's STDPLearner pattern: a synapse, a stateful neuron, step() after T steps."""
    torch.manual_seed(3)
    syn = syn_factory().double()
    lif = lib.Leaky(beta=0.8, threshold=0.2, init_hidden=True)
    learner_mod = SS if lib.__name__ == "snntorch" else CS
    learner = learner_mod.STDPLearner(syn, lif, tau_pre=2.0, tau_post=3.0)
    with torch.no_grad():
        for t in range(steps):
            lif(syn(_spk(x_shape, 60 + t)))
    out = learner.step(on_grad=on_grad, scale=scale)
    return syn, out


@pytest.mark.parametrize("make,shape", [
    (lambda: nn.Linear(6, 4), (3, 6)),
    (lambda: nn.Conv2d(2, 3, 3, padding=1), (2, 2, 5, 5)),
    (lambda: nn.Conv1d(2, 3, 3), (2, 2, 8)),
])
@pytest.mark.parametrize("on_grad,scale", [(True, 1.0), (False, 0.5)])
def test_learner_same_as_snntorch(make, shape, on_grad, scale):
    import snntorch as st
    syn_a, out_a = _train(st, make, shape, on_grad=on_grad, scale=scale)
    syn_b, out_b = quiet(lambda: _train(sc, make, shape, on_grad=on_grad, scale=scale))
    if on_grad:
        assert out_a is None and out_b is None
        assert syn_a.weight.grad.abs().sum() > 0
        close(syn_a.weight.grad, syn_b.weight.grad)
    else:
        assert out_a.abs().sum() > 0
        close(out_a, out_b)


def test_learner_methods_and_differences():
    fc = nn.Linear(4, 3)
    lif = sc.Leaky(beta=0.9, threshold=0.1, init_hidden=True)
    learner = CS.STDPLearner(fc, lif, 2.0, 2.0)
    x = torch.ones(2, 4)
    lif(fc(x))
    assert len(learner.in_spike_monitor.records) == 1
    assert len(learner.out_spike_monitor.records) == 1
    learner.disable()
    lif(fc(x))
    assert len(learner.in_spike_monitor.records) == 1
    learner.enable()
    learner.reset()  # snnTorch's raises AttributeError
    assert learner.traces is None and learner.trace_pre is None and learner.trace_post is None
    assert not learner.in_spike_monitor.records
    with pytest.warns(snn_compat.CompatDifferenceWarning, match="nothing recorded"):
        dw = learner.step(on_grad=False)
    assert torch.count_nonzero(dw) == 0
    assert (list(inspect.signature(CS.STDPLearner).parameters)
            == list(inspect.signature(SS.STDPLearner).parameters))
