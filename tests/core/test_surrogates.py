"""Every surrogate: exact binary forward, backward equal to its documented formula."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

import snncore as snn

X = np.linspace(-3, 3, 601)


def _sig(z):
    return 0.5 * (1 + np.tanh(z / 2))  # overflow-free logistic


# name -> (params, documented derivative in NumPy float64)
FORMULAS = {
    "atan": ({"alpha": 2.0}, lambda x, alpha: (alpha / 2) / (1 + (np.pi * alpha * x / 2) ** 2)),
    "fast_sigmoid": ({"slope": 25.0}, lambda x, slope: 1 / (slope * np.abs(x) + 1) ** 2),
    "sigmoid": ({"slope": 25.0},
                lambda x, slope: slope * _sig(slope * x) * (1 - _sig(slope * x))),
    "spike_rate_escape": ({"beta": 1.0, "slope": 25.0},
                          lambda x, beta, slope: slope * np.exp(-beta * np.abs(x))),
    "straight_through": ({}, lambda x: np.ones_like(x)),
    "triangular": ({"width": 1.0}, lambda x, width: np.maximum(0, 1 - np.abs(x) / width) / width),
    "heaviside": ({}, lambda x: (x > 0).astype(float)),
    "lso": ({"slope": 0.1}, lambda x, slope: np.where(x > 0, 1.0, slope)),
    "sfs": ({"slope": 25.0, "B": 1.0},
            lambda x, slope, B: np.where(x > B, 1 / (slope * np.abs(x) + 1) ** 2, 0.0)),
    "gaussian": ({"sigma": 0.5},
                 lambda x, sigma: np.exp(-x**2 / (2 * sigma**2)) / (sigma * np.sqrt(2 * np.pi))),
    "erf": ({"alpha": 2.0}, lambda x, alpha: alpha / np.sqrt(np.pi) * np.exp(-(alpha * x) ** 2)),
    "piecewise_quadratic": ({"alpha": 1.0},
                            lambda x, alpha: np.maximum(0, alpha - alpha**2 * np.abs(x))),
    "piecewise_exp": ({"alpha": 1.0}, lambda x, alpha: alpha / 2 * np.exp(-alpha * np.abs(x))),
}
OTHER_PARAMS = {"atan": {"alpha": 0.7}, "fast_sigmoid": {"slope": 3.0}, "sigmoid": {"slope": 5.0},
                "triangular": {"width": 0.3}, "gaussian": {"sigma": 1.3}, "lso": {"slope": -0.2},
                "sfs": {"slope": 2.0, "B": -0.5}, "spike_rate_escape": {"beta": 2.5, "slope": 4},
                "erf": {"alpha": 0.5}, "piecewise_quadratic": {"alpha": 2.0},
                "piecewise_exp": {"alpha": 3.0}}


def _autograd_derivative(sur, x_np, dtype=torch.float64):
    x = torch.tensor(x_np, dtype=dtype, requires_grad=True)
    y = sur(x)
    y.sum().backward()
    return y, x.grad


@pytest.mark.parametrize("name,variant", [(n, "default") for n in sorted(FORMULAS)]
                         + [(n, "other") for n in sorted(OTHER_PARAMS)])
def test_backward_equals_documented_derivative(name, variant):
    params, formula = FORMULAS[name]
    if variant == "other":
        params = OTHER_PARAMS[name]
    sur = snn.surrogate(name, **params) if variant == "other" else snn.surrogate(name)
    y, grad = _autograd_derivative(sur, X)
    np.testing.assert_allclose(grad.numpy(), formula(X, **params), rtol=1e-12, atol=1e-12)
    # the plain derivative function is the same thing
    np.testing.assert_allclose(sur.derivative(torch.tensor(X)).numpy(), formula(X, **params),
                               rtol=1e-12, atol=1e-12)
    # forward: exactly binary, strict at 0
    np.testing.assert_array_equal(y.detach().numpy(), (X > 0).astype(float))


def test_every_registered_surrogate_is_covered():
    names = set(snn.registries()["surrogate"].names())
    assert names >= set(FORMULAS) | {"sso", "custom"}
    beyond_snntorch = {"gaussian", "erf", "piecewise_quadratic", "piecewise_exp"}
    assert beyond_snntorch <= names


@pytest.mark.parametrize("name", sorted(FORMULAS) + ["sso"])
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64, torch.float16])
def test_forward_binary_strict_and_keeps_dtype(name, dtype):
    sur = snn.surrogate(name)
    x = torch.tensor([-1.0, 0.0, 1e-3, 2.0], dtype=dtype, requires_grad=True)
    y = sur(x)
    assert y.dtype == dtype
    assert y.tolist() == [0.0, 0.0, 1.0, 1.0]
    y.sum().backward()
    assert x.grad.dtype == dtype and torch.isfinite(x.grad).all()


def test_sigmoid_is_finite_far_from_threshold():
    sur = snn.surrogate("sigmoid", slope=25)
    for dtype in (torch.float32, torch.float64):
        x = torch.tensor([-1e4, -50.0, 50.0, 1e4], dtype=dtype, requires_grad=True)
        sur(x).sum().backward()
        assert torch.isfinite(x.grad).all() and (x.grad >= 0).all()


def test_sso_formula_with_seeded_generator():
    x = torch.tensor(X)
    d1 = snn.surrogate("sso", mean=0.1, variance=0.3,
                       generator=torch.Generator().manual_seed(7)).derivative(x)
    u = torch.rand(x.shape, dtype=x.dtype, generator=torch.Generator().manual_seed(7))
    expected = torch.where(x > 0, torch.ones_like(x), (u - 0.5 + 0.1) * 0.3)
    torch.testing.assert_close(d1, expected, rtol=0, atol=0)


def test_custom_surrogate_and_spike_helper():
    sur = snn.surrogates.Custom(lambda x: 3 * torch.ones_like(x))
    x = torch.tensor([-0.5, 0.5], requires_grad=True)
    sur(x).sum().backward()
    assert x.grad.tolist() == [3.0, 3.0]
    x2 = torch.tensor([0.2], requires_grad=True)
    snn.spike(x2, "triangular").sum().backward()
    assert x2.grad.item() == pytest.approx(0.8)
    with pytest.raises(TypeError, match="derivative must be callable"):
        snn.surrogates.Custom(3)


def test_neuron_uses_surrogate_derivative_at_threshold_gap():
    lif = snn.Leaky(beta=0.0, threshold=1.0, surrogate=snn.surrogate("atan", alpha=2.0))
    x = torch.tensor([1.25], requires_grad=True)
    spk, _ = lif(x)
    spk.backward()
    assert x.grad.item() == pytest.approx((2.0 / 2) / (1 + (math.pi * 2.0 * 0.25 / 2) ** 2))


@pytest.mark.parametrize("name,params,match", [
    ("atan", {"alpha": 0}, "alpha must be a finite number > 0"),
    ("fast_sigmoid", {"slope": -1}, "slope must be a finite number > 0"),
    ("triangular", {"width": float("inf")}, "width must be a finite number > 0"),
    ("sso", {"variance": -0.1}, "variance must be >= 0"),
])
def test_bad_surrogate_parameters(name, params, match):
    with pytest.raises(ValueError, match=match):
        snn.surrogate(name, **params)


def test_unknown_surrogate_suggests():
    with pytest.raises(LookupError, match="did you mean: 'atan'"):
        snn.surrogate("atam")
