"""The generic fused loops keep eager's contract in the corners: a swapped Custom surrogate,
zero-size dimensions, a second backward, non-reentrant checkpointing; parameter constraints
on every path in."""

from __future__ import annotations

import pytest
import torch
from torch.utils.checkpoint import checkpoint

import snn_neurons_extra as sx
from snncore.extend import select_backend
from snncore.surrogates import Custom


def _sharpness(k):
    def d(x):
        return k / (1 + (k * x) ** 2)
    return d


def test_a_new_custom_surrogate_with_the_same_function_name_is_used():
    x = torch.rand(8, 2, 3, generator=torch.Generator().manual_seed(0)) * 2
    got = {}
    for backend in ("eager", "generic"):
        n = sx.ALIF(beta=0.9)
        got[backend] = []
        for k in (1.0, 10.0):  # e.g. annealing the sharpness: closures of one factory
            n.surrogate = Custom(_sharpness(k))
            xx = x.clone().requires_grad_()
            n.run(xx, backend=backend)[0].sum().backward()
            got[backend].append(xx.grad)
    for a, b in zip(got["eager"], got["generic"], strict=True):
        torch.testing.assert_close(b, a)
    assert not torch.allclose(got["generic"][0], got["generic"][1])


@pytest.mark.parametrize("shape", [(4, 0, 3), (4, 2, 0)])
@pytest.mark.parametrize("make", [lambda: sx.ALIF(beta=0.9, learn_beta=True),
                                  lambda: sx.Alpha(alpha=0.9, beta=0.8, learn_beta=True),
                                  lambda: sx.LI(beta=0.9, learn_beta=True)])
def test_zero_size_dimensions_give_zero_size_gradients(shape, make):
    res = {}
    for backend in ("eager", "generic"):
        n = make()
        x = torch.rand(*shape, requires_grad=True)
        spk, _ = n.run(x, backend=backend)
        spk.sum().backward()
        res[backend] = (x.grad, n.beta.grad)
    assert res["generic"][0].shape == shape
    assert torch.equal(res["generic"][1], res["eager"][1])


def test_a_second_backward_is_refused_clearly():
    x = (torch.rand(5, 2, 3) * 2).requires_grad_()
    spk, _ = sx.ALIF(beta=0.9).run(x, backend="generic")
    loss = spk.sum()
    loss.backward(retain_graph=True)
    with pytest.raises(RuntimeError, match="ran a second time.*backend='eager'"):
        loss.backward()


def test_non_reentrant_checkpoint_around_a_generic_neuron():
    torch.manual_seed(0)
    x = (torch.rand(8, 2, 3) * 2).requires_grad_()
    grads = {}
    for backend in ("eager", None):
        n = sx.ALIF(beta=0.9, learn_beta=True, backend=backend)  # described inside the region
        for _ in range(2):
            n.zero_grad()
            x.grad = None
            checkpoint(lambda z, n=n: n.run(z)[0], x, use_reentrant=False).sum().backward()
        grads[backend] = (x.grad.clone(), n.beta.grad.clone())
        if backend is None:
            assert select_backend(n, x).name == "generic"
    for a, b in zip(grads["eager"], grads[None], strict=True):
        torch.testing.assert_close(b, a, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("make,name,value,match", [
    (lambda **kw: sx.Alpha(alpha=0.9, beta=0.8, **kw), "beta", 0.95, "alpha must be greater"),
    (lambda **kw: sx.Alpha(alpha=0.9, beta=0.8, **kw), "alpha", 0.7, "alpha must be greater"),
    (lambda **kw: sx.Alpha(alpha=0.9, beta=0.8, **kw), "beta", 1.0, "beta must be < 1"),
    (lambda **kw: sx.Lapicque(beta=0.9, **kw), "beta", 1.0, "beta must be < 1"),
])
@pytest.mark.parametrize("learn", [False, True])
def test_constraints_between_parameters_hold_on_assignment(make, name, value, match, learn):
    n = make(**{f"learn_{name}": learn})
    before = getattr(n, name)
    kept = before.detach().clone()
    with pytest.raises(ValueError, match=match):
        setattr(n, name, value)
    assert torch.equal(getattr(n, name).detach(), kept)  # the neuron keeps its value
    if learn:
        assert getattr(n, name) is before  # the optimizer's parameter object
        with torch.no_grad():  # training moved it there: refused before the next run
            before.fill_(value)
        with pytest.raises(ValueError, match=match):
            n.run(torch.rand(3, 2))
