"""compat ``utils`` and ``backprop`` against snnTorch 1.0.0."""

from __future__ import annotations

import copy

import pytest
import snntorch as st
import snntorch.backprop as sb
import snntorch.functional as SF
import snntorch.utils as su
import torch
from compat_helpers import GRAD_RTOL, close, quiet
from torch import nn

import snn_compat
import snn_compat.snntorch as sc
import snn_compat.snntorch.backprop as cb
import snn_compat.snntorch.functional as CF
import snn_compat.snntorch.utils as cu


class _DS:
    """A torchvision-style dataset: ``.data`` and ``.targets``."""

    def __init__(self, n=23):
        self.data = torch.arange(n * 2).reshape(n, 2).float()
        self.targets = torch.arange(n)

    def __len__(self):
        return len(self.data)


@pytest.mark.parametrize("subset,idx", [(1, 0), (4, 0), (4, 3), (5, 2)])
def test_data_subset_matches(subset, idx):
    a, b = su.data_subset(_DS(), subset, idx), cu.data_subset(_DS(), subset, idx)
    close(a.data, b.data)
    close(a.targets.float(), b.targets.float())


@pytest.mark.parametrize("split,seed", [(0.1, 0), (0.3, 4), (0.5, 1)])
def test_valid_split_matches(split, seed):
    ta, va = su.valid_split(_DS(), _DS(), split, seed)
    tb, vb = cu.valid_split(_DS(), _DS(), split, seed)
    for u, v in ((ta, tb), (va, vb)):
        close(u.data, v.data)
        close(u.targets.float(), v.targets.float())


def test_data_helpers_validate():
    with pytest.raises(TypeError, match=r"\.data"):
        cu.data_subset([1, 2, 3], 2)
    with pytest.raises(ValueError, match="split"):
        cu.valid_split(_DS(), _DS(), 1.5)
    with pytest.raises(ValueError, match="idx"):
        cu.data_subset(_DS(), 4, 7)


def test_reset_acts_on_one_network_only():
    a = nn.Sequential(nn.Linear(2, 3), sc.Leaky(beta=0.9, init_hidden=True))
    b = nn.Sequential(nn.Linear(2, 3), sc.Leaky(beta=0.9, init_hidden=True))
    x = torch.rand(4, 2)
    a(x)
    b(x)
    cu.reset(a)
    assert a[1].mem.numel() == 0 and b[1].mem.numel() > 0


def _net(mod, last_kw=None):
    torch.manual_seed(3)
    return nn.Sequential(nn.Linear(4, 6), mod.Leaky(beta=0.8, init_hidden=True),
                         nn.Linear(6, 3), mod.Leaky(beta=0.9, init_hidden=True, output=True,
                                                    **(last_kw or {})))


def _loader(time_first=True, steps=8, batches=3):
    g = torch.Generator().manual_seed(2)
    out = []
    for _ in range(batches):
        x = torch.rand(steps, 5, 4, generator=g) * 1.5
        y = torch.randint(0, 3, (5,), generator=g)
        out.append((x if time_first else x.transpose(0, 1), y))
    return out


@pytest.mark.parametrize("fn,kw", [("BPTT", {}), ("BPTT", dict(time_first=False))])
def test_training_epochs_match(fn, kw):
    time_first = kw.get("time_first", True)
    data = _loader(time_first)
    results = []
    for mod, bp, F in ((st, sb, SF), (sc, cb, CF)):
        net = _net(mod)
        opt = torch.optim.SGD(net.parameters(), lr=0.5)
        loss = getattr(bp, fn)(net, data, opt, F.ce_rate_loss(), **kw)
        results.append((float(loss.reshape(())), [p.detach().clone() for p in net.parameters()]))
    (la, pa), (lb, pb) = results
    assert abs(la - lb) < 1e-5
    for u, v in zip(pa, pb, strict=True):
        close(u, v, rtol=GRAD_RTOL)


def _reference_tbptt(net, data, opt, loss_fn, k):
    """snnTorch's documented truncated BPTT, written out with snnTorch's own neurons (its
    ``TBPTT``/``RTRL`` raise ``UnboundLocalError`` on time-varying data)."""
    total = 0.0
    for x, y in data:
        su.reset(net)
        steps = x.shape[0]
        for start in range(0, steps, k):
            spk = torch.stack([net(xt)[0] for xt in x[start:start + k]])
            loss = loss_fn(spk, y)
            opt.zero_grad()
            loss.backward()
            opt.step()
            total += float(loss.reshape(())) * spk.shape[0] / steps
            st.Leaky.detach_hidden()
    return total / len(data)


@pytest.mark.parametrize("fn,k", [("TBPTT", 4), ("RTRL", 1)])
def test_truncated_epochs_match_snntorch_algorithm(fn, k):
    data = _loader()
    ref_net = _net(st)
    opt_a = torch.optim.SGD(ref_net.parameters(), lr=0.5)
    with pytest.raises(UnboundLocalError):
        getattr(sb, fn)(_net(st), data, opt_a, SF.ce_rate_loss(), **({"K": k} if k > 1 else {}))
    la = _reference_tbptt(ref_net, data, opt_a, SF.ce_rate_loss(), k)
    net = _net(sc)
    opt = torch.optim.SGD(net.parameters(), lr=0.5)
    lb = getattr(cb, fn)(net, data, opt, CF.ce_rate_loss(), **({"K": k} if k > 1 else {}))
    assert abs(la - float(lb)) < 1e-5
    for u, v in zip(ref_net.parameters(), net.parameters(), strict=True):
        close(u, v, rtol=GRAD_RTOL)


def test_tbptt_static_data_matches():
    g = torch.Generator().manual_seed(6)
    data = [(torch.rand(5, 4, generator=g), torch.randint(0, 3, (5,), generator=g))]
    results = []
    for mod, bp, F in ((st, sb, SF), (sc, cb, CF)):
        net = _net(mod)
        opt = torch.optim.SGD(net.parameters(), lr=0.5)
        loss = bp.TBPTT(net, data, opt, F.ce_rate_loss(), num_steps=6, time_var=False, K=3)
        results.append((float(loss.reshape(())), [p.detach().clone() for p in net.parameters()]))
    assert abs(results[0][0] - results[1][0]) < 1e-5
    for u, v in zip(results[0][1], results[1][1], strict=True):
        close(u, v, rtol=GRAD_RTOL)


def test_bptt_membrane_loss_static_data_and_regularizer():
    g = torch.Generator().manual_seed(5)
    data = [(torch.rand(5, 4, generator=g), torch.randint(0, 3, (5,), generator=g))]
    results = []
    for mod, bp, F in ((st, sb, SF), (sc, cb, CF)):
        net = _net(mod)
        opt = torch.optim.SGD(net.parameters(), lr=0.5)
        loss = bp.BPTT(net, copy.deepcopy(data), opt, F.mse_membrane_loss(), num_steps=6,
                       time_var=False, regularization=F.l1_rate_sparsity(Lambda=1e-2))
        results.append((float(loss.reshape(())), [p.detach().clone() for p in net.parameters()]))
    assert abs(results[0][0] - results[1][0]) < 1e-5
    for u, v in zip(results[0][1], results[1][1], strict=True):
        close(u, v, rtol=GRAD_RTOL)


def test_tbptt_any_callable_and_uneven_window_warns():
    net = _net(sc)
    opt = torch.optim.SGD(net.parameters(), lr=0.1)
    with pytest.warns(snn_compat.CompatDifferenceWarning, match="T % K"):
        loss = cb.TBPTT(net, _loader(steps=7), opt, lambda spk, y: spk.sum() * 0.01, K=3)
    assert loss.dim() == 0 and torch.isfinite(loss)
    with pytest.raises(ValueError, match="num_steps"):
        cb.BPTT(net, _loader(), opt, CF.ce_rate_loss(), num_steps=5)
    with pytest.raises(ValueError, match="no batches"):
        quiet(lambda: cb.BPTT(net, [], opt, CF.ce_rate_loss()))
