"""compat ``functional`` (losses, accuracy, regularizer, probes, quantization) against
``snntorch.functional``: values and gradients (1e-6), or the documented difference."""

from __future__ import annotations

import inspect

import pytest
import snntorch as st
import snntorch.functional as SF
import snntorch.functional.quant as SQ
import torch
from compat_helpers import GRAD_RTOL, close, quiet
from torch import nn

import snn_compat
import snn_compat.snntorch as sc
import snn_compat.snntorch.functional as CF

T, B, C = 12, 5, 4


def _rec(seed=0, spikes=True):
    g = torch.Generator().manual_seed(seed)
    r = torch.rand(T, B, C, generator=g)
    return (r > 0.6).float() if spikes else r * 2 - 0.5


Y = torch.tensor([0, 3, 1, 2, 3])


def _value_and_grad(loss_fn, rec, y=Y):
    rec = rec.clone().requires_grad_(True)
    out = loss_fn(rec, y)
    (g,) = torch.autograd.grad(out.sum(), rec, allow_unused=True)
    return out.detach().reshape(-1) if out.dim() <= 1 else out.detach(), \
        torch.zeros_like(rec) if g is None else g


LOSSES = [
    ("ce_rate_loss", {}, True), ("ce_count_loss", {}, True),
    ("ce_count_loss", dict(population_code=True, num_classes=2), True),
    ("ce_max_membrane_loss", {}, False), ("mse_count_loss", {}, True),
    ("mse_count_loss", dict(correct_rate=1, incorrect_rate=0, reduction="sum"), True),
    ("mse_count_loss", dict(population_code=True, num_classes=2), True),
    ("mse_membrane_loss", {}, False), ("mse_membrane_loss", dict(on_target=2, off_target=0.5),
                                       False),
    ("ce_temporal_loss", {}, True), ("ce_temporal_loss", dict(inverse="reciprocal"), True),
    ("ce_rate_loss", dict(reduction="sum"), True), ("ce_max_membrane_loss",
                                                    dict(reduction="none"), False),
]


@pytest.mark.parametrize("name,kw,spikes", LOSSES)
def test_losses_match_snntorch(name, kw, spikes):
    y = Y if "num_classes" not in kw else torch.tensor([0, 1, 1, 0, 1])
    rec = _rec(1, spikes)
    a = _value_and_grad(getattr(SF, name)(**kw), rec, y)
    b = _value_and_grad(quiet(lambda: getattr(CF, name)(**kw)), rec, y)
    close(a[0], b[0].reshape(a[0].shape))
    close(a[1], b[1], rtol=GRAD_RTOL)
    assert isinstance(quiet(lambda: getattr(CF, name)(**kw)), CF.LossFunctions)


def test_mse_temporal_loss_with_time_targets_matches():
    times = torch.randint(0, T, (B, C)).float()
    rec = _rec(2)
    for kw in (dict(target_is_time=True), dict(target_is_time=True, tolerance=1)):
        a = _value_and_grad(SF.mse_temporal_loss(**kw), rec, times)
        b = _value_and_grad(CF.mse_temporal_loss(**kw), rec, times)
        close(a[0], b[0].reshape(a[0].shape))
        close(a[1], b[1], rtol=GRAD_RTOL)


def test_mse_temporal_label_default_is_documented():
    with pytest.warns(snn_compat.CompatDifferenceWarning, match="step 0"):
        fn = CF.mse_temporal_loss()
    rec = torch.zeros(T, 1, C)
    rec[0, 0, 2] = 1.0      # the correct class fires first, the others never
    assert float(fn(rec, torch.tensor([2]))) == 0.0


def test_mse_count_fractional_rates_documented():
    with pytest.warns(snn_compat.CompatDifferenceWarning, match="exactly"):
        fn = CF.mse_count_loss(correct_rate=0.29, incorrect_rate=0.05)
    rec = torch.zeros(100, 1, 2)
    rec[:29, 0, 0] = 1
    rec[:5, 0, 1] = 1
    assert float(fn(rec, torch.tensor([0]))) == 0.0
    assert float(SF.mse_count_loss(correct_rate=0.29, incorrect_rate=0.05)(
        rec, torch.tensor([0]))) > 0  # snnTorch truncates 29 to 28


def test_mse_membrane_negative_off_target_documented():
    with pytest.warns(snn_compat.CompatDifferenceWarning, match="off_target"):
        fn = CF.mse_membrane_loss(on_target=1, off_target=-1)
    mem = torch.full((T, 1, 2), -1.0)
    mem[:, 0, 0] = 1.0
    assert float(fn(mem, torch.tensor([0]))) == 0.0


def test_weighted_loss_warns():
    with pytest.warns(snn_compat.CompatDifferenceWarning, match="weight"):
        CF.ce_count_loss(weight=torch.ones(C))


def test_accuracy_and_regularizer():
    rec = _rec(3)
    close(torch.tensor(float(SF.accuracy_rate(rec, Y))), CF.accuracy_rate(rec, Y))
    y2 = torch.tensor([0, 1, 1, 0, 1])
    close(torch.tensor(float(SF.accuracy_rate(rec, y2, population_code=True, num_classes=2))),
          CF.accuracy_rate(rec, y2, population_code=True, num_classes=2))
    close(torch.tensor(float(SF.accuracy_temporal(rec, Y))), CF.accuracy_temporal(rec, Y))
    r = rec.clone().requires_grad_(True)
    a = SF.l1_rate_sparsity(Lambda=1e-3)(r)
    b = CF.l1_rate_sparsity(Lambda=1e-3)(r)
    close(a.reshape(()), b.reshape(()))


def test_state_quant_matches():
    # random inputs (an input exactly half-way between two levels may round either way)
    x = (torch.rand(200, generator=torch.Generator().manual_seed(4)) * 2 - 0.5).requires_grad_()
    for kw in (dict(num_bits=4), dict(num_bits=3, uniform=False),
               dict(num_bits=4, thr_centered=False), dict(num_bits=2, threshold=0.5)):
        a = SQ.state_quant(**kw)(x)
        b = CF.quant.state_quant(**kw)(x)
        close(a, b)
        (ga,) = torch.autograd.grad(a.sum(), x)
        (gb,) = torch.autograd.grad(b.sum(), x)
        close(ga, gb)
    levels = torch.tensor([0.0, 0.25, 0.5, 1.0])
    close(SQ.StateQuant.apply(x, levels), CF.quant.StateQuant.apply(x, levels))


def _probe_net(mod):
    torch.manual_seed(0)
    return nn.Sequential(nn.Linear(3, 4), mod.Leaky(beta=0.9, init_hidden=True), nn.Linear(4, 2),
                         mod.Leaky(beta=0.9, init_hidden=True))


@pytest.mark.parametrize("kind", ["OutputMonitor", "InputMonitor", "GradInputMonitor",
                                  "GradOutputMonitor", "AttributeMonitor"])
def test_monitors_match(kind):
    recs = []
    for mod, F in ((st, SF), (sc, CF)):
        net = _probe_net(mod)
        inst = mod.Leaky if kind != "GradInputMonitor" else nn.Linear
        if kind == "AttributeMonitor":
            mon = F.AttributeMonitor("mem", False, net, instance=mod.Leaky)
        else:
            mon = getattr(F, kind)(net, instance=inst)
        x = torch.rand(6, 2, 3, generator=torch.Generator().manual_seed(1))
        out = torch.stack([net(xt) for xt in x])
        if kind.startswith("Grad"):
            out.sum().backward()
        names = list(mon.monitored_layers)
        recs.append((names, [list(mon[n]) for n in names], len(mon.records)))
        mon.clear_recorded_data()
        assert mon.records == [] and all(mon[n] == [] for n in names)
        mon.disable()
        net(x[0])
        assert mon.records == [] and not mon.is_enable()
        mon.remove_hooks()
    (na, ra, la), (nb, rb, lb) = recs
    assert na == nb and la == lb and la > 0
    for xa, xb in zip(ra, rb, strict=True):
        assert len(xa) == len(xb)
        for u, v in zip(xa, xb, strict=True):
            if u is None or v is None:
                assert u is None and v is None
                continue
            close(tuple(t for t in u if t is not None) if isinstance(u, tuple) else u,
                  tuple(t for t in v if t is not None) if isinstance(v, tuple) else v)


def test_unpack_len1_tuple():
    t = torch.ones(2)
    assert CF.unpack_len1_tuple((t,)) is t and CF.unpack_len1_tuple((t, t)) == (t, t)


def test_loss_signatures_match():
    for name in ("ce_rate_loss", "ce_count_loss", "ce_max_membrane_loss", "mse_count_loss",
                 "mse_membrane_loss", "mse_temporal_loss", "ce_temporal_loss",
                 "l1_rate_sparsity", "accuracy_rate", "accuracy_temporal"):
        a, b = getattr(SF, name), getattr(CF, name)
        sa = inspect.signature(a.__init__ if inspect.isclass(a) else a).parameters
        sb = inspect.signature(b.__init__ if inspect.isclass(b) else b).parameters
        assert list(sa) == list(sb), name


@pytest.mark.parametrize("name,attr,backward", [
    ("OutputMonitor", "function_on_output", False),
    ("InputMonitor", "function_on_input", False),
    ("GradInputMonitor", "function_on_grad_input", True),
    ("GradOutputMonitor", "function_on_grad_output", True),
])
def test_a_monitor_function_reassigned_after_construction_is_used(name, attr, backward):
    """snnTorch's hooks read the monitor's function when they fire."""
    import snntorch.functional.probe as SP

    import snn_compat.snntorch.functional.probe as CP

    recs = []
    for probe in (SP, CP):
        net = nn.Sequential(nn.Linear(2, 2))
        nn.init.ones_(net[0].weight)
        nn.init.zeros_(net[0].bias)
        m = getattr(probe, name)(net, instance=nn.Linear)
        setattr(m, attr, lambda v: (v[0] if isinstance(v, tuple) else v) * 10)
        x = torch.ones(1, 2, requires_grad=True)
        out = net(x)
        if backward:
            out.sum().backward()
        recs.append(m.records[0])
    close(recs[0], recs[1])
