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


@pytest.mark.parametrize("K,T", [(4, 3), (100, 3), (100, 5), (3, 5)])
def test_a_truncated_kernel_keeps_the_initial_state_while_it_is_in_the_window(K, T):
    u0 = (torch.ones(1, 1, dtype=torch.float64),)
    n = sx.StateLeaky(0.8, kernel_truncation_steps=K, threshold=10.0)
    mem = n.trace(torch.zeros(T, 1, 1, dtype=torch.float64), u0)[1].mem.flatten()
    ref = torch.tensor([0.8 ** (t + 1) if t + 1 < K else 0.0 for t in range(T)],
                       dtype=torch.float64)
    torch.testing.assert_close(mem, ref)
    # the same steps of a longer sequence: nothing depends on T
    longer = n.trace(torch.zeros(T + 3, 1, 1, dtype=torch.float64), u0)[1].mem.flatten()
    torch.testing.assert_close(longer[:T], mem)
    spk, fin, rec = n.record(torch.zeros(T, 1, 1, dtype=torch.float64), "mem", u0)
    torch.testing.assert_close(rec["mem"].flatten(), mem)


def test_state_quant_of_the_time_parallel_neurons_acts_after_every_step():
    def q(t):
        return torch.round(t * 4) / 4

    x = torch.full((3, 1, 1), 0.1, dtype=torch.float64)
    n = sx.StateLeaky(0.9, state_quant=q, threshold=5.0)
    assert n.run(x)[1].mem.item() == n.run(x, backend="eager")[1].mem.item() == 0.0
    assert n.trace(x)[1].mem.flatten().tolist() == [0.0, 0.0, 0.0]
    with pytest.raises(ValueError, match="state_quant.*truncated kernel"):
        sx.StateLeaky(0.9, state_quant=q, kernel_truncation_steps=3)


def test_pooled_sconv2dlstm_thresholds_vary_per_channel_only():
    x = torch.rand(3, 2, 1, 4, 4)
    sx.SConv2dLSTM(1, 2, 3, threshold=torch.full((2, 1, 1), 0.1), max_pool=2).run(x)
    with pytest.raises(ValueError, match=r"per channel \(shape \(C, 1, 1\)\).*\(2, 4, 4\)"):
        sx.SConv2dLSTM(1, 2, 3, threshold=torch.full((2, 4, 4), 0.1), max_pool=2).run(x)


def test_associative_inhibition_picks_one_winner_for_an_unbatched_sample():
    n = sx.AssociativeLeaky(3, 2, 2, use_q_projection=False, inhibition=True, threshold=1e-6)
    with torch.no_grad():
        for lin in (n.to_v, n.to_k):
            lin.weight.fill_(1.0)
            lin.bias.zero_()
    x = torch.tensor([1.0, 2.0, 3.0])
    assert torch.equal(n(x)[0], n(x[None])[0][0])
    assert n(x)[0].sum() == 1


def test_delta_threshold_errors_name_delta_threshold():
    with pytest.raises(ValueError, match="DeltaLeaky: delta_threshold must be > 0"):
        sx.DeltaLeaky(0.9, delta_threshold=0.0)


def test_a_learned_lapicque_beta_out_of_range_is_named():
    n = sx.Lapicque(beta=0.9, learn_beta=True)
    with torch.no_grad():
        n.beta.fill_(-0.2)
    with pytest.raises(ValueError, match="beta must be > 0"):
        n.run(torch.rand(3, 1, 2))


def test_loading_a_valid_state_dict_parameter_by_parameter_is_accepted():
    a = sx.Alpha(alpha=0.9, beta=0.8, learn_alpha=True, learn_beta=True)
    b = sx.Alpha(alpha=0.5, beta=0.4, learn_alpha=True, learn_beta=True)
    a.load_state_dict(b.state_dict(), assign=True)  # alpha=0.9 > beta=0.4 > ... transiently
    assert float(a.alpha) == 0.5 and float(a.beta) == pytest.approx(0.4)
    c = sx.Alpha(alpha=0.9, beta=0.8)
    sd = c.state_dict()
    sd["beta"] = torch.tensor(0.95, dtype=sd["beta"].dtype)
    with pytest.raises(ValueError, match="load_state_dict: alpha must be greater than beta"):
        c.load_state_dict(sd)
    assert float(c.beta) == pytest.approx(0.8)


def test_lapicque_from_r_and_c_does_not_check_its_derived_beta():
    n = sx.Lapicque(R=1e6, C=1e6, learn_threshold=True)  # beta rounds to 1 in float32
    n.threshold = 0.5
    n.run(torch.rand(3, 1, 2))


_TRACKED_FAMILIES = {
    "synaptic": lambda **k: sx.Synaptic(alpha=0.8, beta=0.9, **k),
    "rsynaptic": lambda **k: sx.RSynaptic(alpha=0.8, beta=0.9, V=0.5, all_to_all=False, **k),
    "rsynaptic_all_to_all": lambda **k: sx.RSynaptic(alpha=0.8, beta=0.9, linear_features=3,
                                                     **k),
    "alpha": lambda **k: sx.Alpha(alpha=0.9, beta=0.8, **k),
    "alif": lambda **k: sx.ALIF(beta=0.9, **k),
    "izhikevich": lambda **k: sx.Izhikevich(**k),
    "delta_leaky": lambda **k: sx.DeltaLeaky(beta=0.9, **k),
    "li": lambda **k: sx.LI(beta=0.9, **k),
}


@pytest.mark.parametrize("T", [1, 6])
@pytest.mark.parametrize("name", sorted(_TRACKED_FAMILIES))
@pytest.mark.parametrize("learn", ["learn_alpha", "learn_beta", "learn_threshold"])
def test_every_backend_tracks_the_outputs_eager_tracks(T, name, learn):
    """E.g. Synaptic's current does not depend on a learnable beta, Alpha's currents not on
    a learnable threshold: with an input that needs no gradient those states are not tracked
    by eager autograd, and no fused or generic loop may say they are."""
    make = _TRACKED_FAMILIES[name]
    try:
        make(**{learn: True})
    except TypeError:
        pytest.skip(f"{name} has no {learn}")
    seen = {}
    for backend in ("eager", "auto", "generic"):
        n = make(**{learn: True})
        x = torch.rand(T, 2, 3, generator=torch.Generator().manual_seed(1)) * 2
        try:
            spk, st = n.run(x, backend=backend)
        except Exception:  # generic cannot describe every family (e.g. all-to-all)
            assert backend == "generic"
            continue
        seen[backend] = (spk.requires_grad, *(t.requires_grad for t in st))
    assert all(v == seen["eager"] for v in seen.values()), seen
