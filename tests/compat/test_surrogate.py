"""compat ``surrogate`` against ``snntorch.surrogate``: spikes and gradients, or the documented
difference."""

from __future__ import annotations

import math

import pytest
import snntorch.surrogate as ss
import torch
from compat_helpers import close, quiet

import snn_compat
import snn_compat.snntorch.surrogate as cs
import snncore

X = torch.linspace(-3, 3, 121)


def _fwd_bwd(spike_fn, x=X, seed=None):
    x = x.clone().requires_grad_(True)
    if seed is not None:
        torch.manual_seed(seed)
    out = spike_fn(x)
    g = torch.linspace(0.5, 1.5, x.numel())
    (grad,) = torch.autograd.grad((out * g).sum(), x)
    return out.detach(), grad


EXACT = [
    ("atan", (), "ATan", (2.0,)),
    ("atan", (3.0,), "ATan", (3.0,)),
    ("fast_sigmoid", (), "FastSigmoid", (25,)),
    ("fast_sigmoid", (7,), "FastSigmoid", (7,)),
    ("heaviside", (), "Heaviside", ()),
    ("straight_through_estimator", (), "StraightThroughEstimator", ()),
    ("SFS", (), "SparseFastSigmoid", (25, 1)),
    ("SFS", (5, 0.2), "SparseFastSigmoid", (5, 0.2)),
]


@pytest.mark.parametrize("factory,args,cls,cargs", EXACT)
def test_factory_and_apply_match_snntorch(factory, args, cls, cargs):
    ref = _fwd_bwd(getattr(ss, factory)(*args))
    got = _fwd_bwd(getattr(cs, factory)(*args))
    close(ref, got)
    assert isinstance(getattr(cs, factory)(*args), snncore.Surrogate)
    ref_apply = _fwd_bwd(lambda x: getattr(ss, cls).apply(x, *cargs))
    got_apply = _fwd_bwd(lambda x: getattr(cs, cls).apply(x, *cargs))
    close(ref_apply, got_apply)


def test_sigmoid_matches_where_snntorch_is_finite_and_warns():
    x = torch.linspace(-1, 1, 41)
    with pytest.warns(snn_compat.CompatDifferenceWarning, match="finite everywhere"):
        got = _fwd_bwd(cs.sigmoid(), x)
    close(_fwd_bwd(ss.sigmoid(), x), got)
    far = torch.tensor([-60.0, 60.0])
    assert torch.isnan(_fwd_bwd(ss.sigmoid(slope=25), far)[1]).any()
    assert torch.isfinite(_fwd_bwd(quiet(lambda: cs.sigmoid(slope=25)), far)[1]).all()
    close(_fwd_bwd(lambda v: ss.Sigmoid.apply(v, 5), x),
          _fwd_bwd(lambda v: quiet(lambda: cs.Sigmoid.apply(v, 5)), x))


def test_sso_same_draws_under_one_seed():
    ref = _fwd_bwd(ss.SSO(0.1, 0.3), seed=5)
    got = _fwd_bwd(cs.SSO(0.1, 0.3), seed=5)
    close(ref, got)
    close(_fwd_bwd(lambda x: ss.StochasticSpikeOperator.apply(x, 0.0, 0.2), seed=3),
          _fwd_bwd(lambda x: cs.StochasticSpikeOperator.apply(x, 0.0, 0.2), seed=3))


def test_custom_surrogate_matches_snntorch():
    def fn(input_, grad_input, spikes):
        return grad_input * (1 - spikes) * torch.exp(-input_.abs()) + grad_input * spikes

    close(_fwd_bwd(ss.custom_surrogate(fn)), _fwd_bwd(cs.custom_surrogate(fn)))
    close(_fwd_bwd(lambda x: ss.CustomSurrogate.apply(x, fn)),
          _fwd_bwd(lambda x: cs.CustomSurrogate.apply(x, fn)))
    with pytest.raises(TypeError, match="callable"):
        cs.custom_surrogate(3)


def test_spike_rate_escape_is_centred_at_threshold():
    with pytest.warns(snn_compat.CompatDifferenceWarning, match="centred at the threshold"):
        s = cs.spike_rate_escape(beta=2, slope=3)
    _, grad = _fwd_bwd(s)
    close(grad, 3 * torch.exp(-2 * X.abs()) * torch.linspace(0.5, 1.5, X.numel()))
    _, ref = _fwd_bwd(ss.spike_rate_escape(beta=2, slope=3))
    close(ref, 3 * torch.exp(-2 * (X - 1).abs()) * torch.linspace(0.5, 1.5, X.numel()))


def test_triangular_is_a_triangle():
    with pytest.warns(snn_compat.CompatDifferenceWarning, match="real triangle"):
        s = cs.triangular(threshold=0.5)
    _, grad = _fwd_bwd(s)
    g = torch.linspace(0.5, 1.5, X.numel())
    close(grad, torch.clamp(1 - X.abs() / 0.5, min=0) / 0.5 * g)


def test_lso_works_where_snntorch_raises():
    with pytest.raises(TypeError):
        _fwd_bwd(ss.LSO(slope=0.2))
    with pytest.warns(snn_compat.CompatDifferenceWarning, match="LSO"):
        s = cs.LSO(slope=0.2)
    out, grad = _fwd_bwd(s)
    g = torch.linspace(0.5, 1.5, X.numel())
    close(grad, torch.where(X > 0, g, 0.2 * g))
    close(out, (X > 0).float())


def test_apply_classes_are_not_instantiable():
    with pytest.raises(TypeError, match="apply"):
        cs.ATan()


def test_every_snntorch_surrogate_name_exists():
    names = [n for n in dir(ss) if not n.startswith("_") and callable(getattr(ss, n))
             and getattr(getattr(ss, n), "__module__", "") == "snntorch.surrogate"]
    assert names and all(hasattr(cs, n) for n in names), [n for n in names if not hasattr(cs, n)]
    assert math.isclose(cs.atan().alpha, 2.0)


@pytest.mark.parametrize("cls,factory,args", [
    ("Triangular", "triangular", (0.5,)), ("SpikeRateEscape", "spike_rate_escape", (2, 3)),
    ("LeakySpikeOperator", "LSO", (0.2,)), ("Sigmoid", "sigmoid", (5,)),
])
def test_apply_classes_of_the_differing_surrogates_are_their_factories(cls, factory, args):
    got = quiet(lambda: _fwd_bwd(lambda x: getattr(cs, cls).apply(x, *args)))
    close(got, quiet(lambda: _fwd_bwd(getattr(cs, factory)(*args))))
