"""Leaky against a NumPy reference integrator, snnTorch, and its own contracts."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
import torch

import snncore as snn

T, B, N = 60, 3, 7
RESETS = ("subtract", "zero", "none")


def leaky_reference(x, beta, thr, reset, reset_delay, g=1.0):
    """NumPy integrator written from spec §1-2 (float64)."""
    mem = np.zeros(x.shape[1:])
    spikes, mems = [], []
    for t in range(x.shape[0]):
        if reset_delay:
            r = (mem - thr > 0).astype(float)
            if reset == "subtract":
                mem = beta * mem + x[t] - r * thr
            elif reset == "zero":
                mem = beta * (1 - r) * mem + x[t]
            else:
                mem = beta * mem + x[t]
            s = (mem - thr > 0).astype(float)
        else:
            mem = beta * mem + x[t]
            s = (mem - thr > 0).astype(float)
            if reset == "subtract":
                mem = mem - s * thr
            elif reset == "zero":
                mem = mem * (1 - s)
        spikes.append(s * g)
        mems.append(mem.copy())
    return np.stack(spikes), np.stack(mems)


def _params(per_neuron: bool):
    if per_neuron:
        rng = np.random.default_rng(1)
        return rng.uniform(0.5, 0.99, N), rng.uniform(0.5, 1.5, N), rng.uniform(0.5, 2.0, N)
    return 0.9, 1.0, 1.0


@pytest.mark.parametrize("reset,reset_delay,per_neuron",
                         list(itertools.product(RESETS, (True, False), (False, True))))
def test_matches_numpy_reference(reset, reset_delay, per_neuron):
    beta, thr, g = _params(per_neuron)
    gen = torch.Generator().manual_seed(3)
    x = torch.rand(T, B, N, generator=gen, dtype=torch.float64) * 0.9
    as_t = (lambda v: torch.as_tensor(v, dtype=torch.float64)) if per_neuron else (lambda v: v)
    lif = snn.Leaky(beta=as_t(beta), threshold=as_t(thr), graded_spikes_factor=as_t(g),
                    reset=reset, reset_delay=reset_delay).double()
    spk, states = lif.trace(x)
    ref_spk, ref_mem = leaky_reference(x.numpy(), np.asarray(beta), np.asarray(thr), reset,
                                       reset_delay, np.asarray(g))
    assert spk.dtype == torch.float64
    np.testing.assert_array_equal(spk.numpy(), ref_spk)
    np.testing.assert_allclose(states.mem.numpy(), ref_mem, rtol=0, atol=1e-12)
    assert ref_spk.sum() > 10  # the case exercises spiking and resets
    # run() gives the same spikes and final state as the stepwise trace
    spk_run, final = lif.run(x)
    torch.testing.assert_close(spk_run, spk, rtol=0, atol=0)
    torch.testing.assert_close(final.mem, states.mem[-1], rtol=0, atol=0)


@pytest.mark.parametrize("reset", RESETS)
def test_matches_snntorch(reset):
    snntorch = pytest.importorskip("snntorch")
    gen = torch.Generator().manual_seed(5)
    x = torch.rand(T, B, N, generator=gen) * 0.8
    ours = snn.Leaky(beta=0.87, threshold=0.9, reset=reset)
    theirs = snntorch.Leaky(beta=0.87, threshold=0.9, reset_mechanism=reset)
    mem_ref = theirs.init_leaky()
    state = None
    total = 0.0
    for t in range(T):
        s_ref, mem_ref = theirs(x[t], mem_ref)
        s, state = ours(x[t], state)
        torch.testing.assert_close(s, s_ref, rtol=0, atol=1e-6)
        torch.testing.assert_close(state.mem, mem_ref, rtol=0, atol=1e-6)
        total += float(s.sum())
    assert total > 0


def test_matches_snntorch_gradients():
    snntorch = pytest.importorskip("snntorch")
    x = torch.rand(30, 2, 5) * 0.8
    x1, x2 = x.clone().requires_grad_(), x.clone().requires_grad_()
    ours = snn.Leaky(beta=0.9, learn_beta=True)
    theirs = snntorch.Leaky(beta=0.9, learn_beta=True)
    spk, _ = ours.run(x1)
    spk.sum().backward()
    mem = theirs.init_leaky()
    out = []
    for t in range(30):
        s, mem = theirs(x2[t], mem)
        out.append(s)
    torch.stack(out).sum().backward()
    torch.testing.assert_close(x1.grad, x2.grad, rtol=1e-5, atol=1e-6)
    torch.testing.assert_close(ours.beta.grad, theirs.beta.grad, rtol=1e-5, atol=1e-6)


def test_strict_threshold_and_dtype():
    lif = snn.Leaky(beta=0.5, threshold=1.0)
    spk, state = lif(torch.tensor([1.0, 1.0 + 1e-6, 0.99]))
    assert spk.tolist() == [0.0, 1.0, 0.0]
    for dtype in (torch.float64, torch.float16, torch.bfloat16):
        spk, state = lif(torch.ones(4, dtype=dtype) * 2)
        assert spk.dtype == dtype and state.mem.dtype == dtype


def test_learnable_parameters_get_gradients():
    lif = snn.Leaky(beta=torch.full((N,), 0.8), threshold=torch.full((N,), 0.7), learn_beta=True,
                    learn_threshold=True, graded_spikes_factor=1.5,
                    learn_graded_spikes_factor=True)
    x = torch.rand(20, B, N)
    spk, _ = lif.run(x)
    spk.sum().backward()
    for p in (lif.beta, lif.threshold, lif.graded_spikes_factor):
        assert isinstance(p, torch.nn.Parameter)
        assert p.grad is not None and torch.isfinite(p.grad).all() and p.grad.abs().sum() > 0


def test_learnable_beta_is_clamped_in_forward():
    lif = snn.Leaky(beta=0.5, learn_beta=True, reset="none")
    with torch.no_grad():
        lif.beta.fill_(1.7)
    _, s = lif(torch.ones(3), snn.LeakyState(torch.ones(3)))
    torch.testing.assert_close(s.mem, torch.full((3,), 2.0))  # beta used as 1.0


def test_inhibition_only_winner_spikes_but_all_reset():
    lif = snn.Leaky(beta=1.0, inhibition=True, reset="zero", reset_delay=False)
    x = torch.tensor([[1.5, 2.5, 0.5, 1.2], [0.1, 0.2, 3.0, 2.0]])
    spk, state = lif(x)
    assert spk.tolist() == [[0, 1, 0, 0], [0, 0, 1, 0]]
    torch.testing.assert_close(state.mem, torch.tensor([[0.0, 0.0, 0.5, 0.0], [0.1, 0.2, 0, 0]]))
    # any trailing shape: [B, C, H, W]
    x4 = torch.rand(2, 3, 4, 4) + 1
    spk4, _ = snn.Leaky(beta=1.0, inhibition=True)(x4)
    assert spk4.flatten(1).sum(1).tolist() == [1.0, 1.0]


def test_state_quant_applied_before_firing():
    calls = []

    def quant(t):
        calls.append(1)
        return torch.round(t * 4) / 4

    lif = snn.Leaky(beta=1.0, reset="none", state_quant=quant)
    spk, state = lif(torch.tensor([0.3, 1.1]))
    assert state.mem.tolist() == [0.25, 1.0]
    assert spk.tolist() == [0.0, 0.0]  # 1.1 quantized to 1.0: not above threshold
    assert calls


def test_stateful_mode_with_sequential_and_reset_scope():
    torch.manual_seed(0)
    net = torch.nn.Sequential(torch.nn.Linear(4, 6), snn.Leaky(beta=0.9, stateful=True),
                              torch.nn.Linear(6, 2), snn.Leaky(beta=0.9, stateful=True))
    other = snn.Leaky(beta=0.9, stateful=True)
    other(torch.ones(2))
    x = torch.rand(10, 3, 4) * 3
    outs = [net(x[t]) for t in range(10)]
    assert all(isinstance(o, torch.Tensor) and o.shape == (3, 2) for o in outs)
    assert net[1].state is not None
    snn.reset(net)
    assert net[1].state is None and net[3].state is None
    assert other.state is not None  # reset is scoped to one module tree
    # after reset a new batch size works; detach cuts the graph
    net(torch.rand(5, 4, requires_grad=True))
    assert net[1].state.mem.requires_grad
    snn.detach(net)
    assert not net[1].state.mem.requires_grad


def test_stateful_run_continues_from_stored_state():
    x = torch.rand(20, 2, 3) * 2
    full = snn.Leaky(beta=0.8, stateful=True)
    a = full.run(x)
    half = snn.Leaky(beta=0.8, stateful=True)
    b = torch.cat([half.run(x[:10]), half.run(x[10:])])
    torch.testing.assert_close(a, b, rtol=0, atol=0)


@pytest.mark.parametrize("bad,match", [
    (dict(beta=1.2), "beta must be in \\[0, 1\\]"),
    (dict(beta=-0.1), "beta must be in \\[0, 1\\]"),
    (dict(beta=torch.tensor([0.5, 1.5])), "beta must be in \\[0, 1\\]"),
    (dict(beta=float("nan")), "beta must be finite"),
    (dict(beta=0.9, threshold=0.0), "threshold must be > 0"),
    (dict(beta=0.9, reset="subtrac"), "reset must be one of"),
    (dict(beta=0.9, surrogate="atann"), "unknown surrogate 'atann'"),
])
def test_bad_parameters(bad, match):
    with pytest.raises((ValueError, LookupError), match=match):
        snn.Leaky(**bad)


def test_bad_types():
    with pytest.raises(TypeError, match="surrogate must be"):
        snn.Leaky(beta=0.9, surrogate=lambda x: x)
    with pytest.raises(TypeError, match="beta must be a float or a tensor"):
        snn.Leaky(beta="0.9")
    with pytest.raises(TypeError, match="reset_delay must be a bool"):
        snn.Leaky(beta=0.9, reset_delay=1)
    with pytest.raises(TypeError, match="floating-point"):
        snn.Leaky(beta=0.9)(torch.ones(3, dtype=torch.long))


def test_threshold_of_wrong_shape():
    lif = snn.Leaky(beta=0.9, threshold=torch.ones(5))
    with pytest.raises(ValueError, match="threshold has shape \\(5,\\).*input shape \\(2, 7\\)"):
        lif(torch.rand(2, 7))


def test_passed_state_must_match_input():
    lif = snn.Leaky(beta=0.9)
    x = torch.rand(2, 7)
    with pytest.raises(ValueError, match="state.mem has shape \\(2, 6\\).*needs \\(2, 7\\)"):
        lif(x, snn.LeakyState(torch.zeros(2, 6)))
    with pytest.raises(ValueError, match="state.mem has dtype torch.float64.*torch.float32"):
        lif(x, snn.LeakyState(torch.zeros(2, 7, dtype=torch.float64)))
    with pytest.raises(ValueError, match="state.mem is on meta but the input is on cpu"):
        lif(x, snn.LeakyState(torch.zeros(2, 7, device="meta")))
    with pytest.raises(TypeError, match="state must be a LeakyState"):
        lif(x, (torch.zeros(2, 7), torch.zeros(2, 7)))
    # a bare tensor is accepted as the membrane
    spk, st = lif(x, torch.zeros(2, 7))
    assert st.mem.shape == (2, 7)


def test_state_created_from_input():
    lif = snn.Leaky(beta=0.9)
    spk, st = lif(torch.rand(4, 3, dtype=torch.float64))
    assert st.mem.dtype == torch.float64 and st.mem.shape == (4, 3)
    with pytest.raises(ValueError, match="T >= 1"):
        lif.run(torch.rand(0, 3))


def test_create_from_registry_and_repr():
    lif = snn.create("leaky", beta=0.9, threshold=0.5)
    assert isinstance(lif, snn.Leaky)
    assert "beta=0.9" in repr(lif) and "threshold=0.5" in repr(lif)
    assert isinstance(snn.create("snncore:leaky", beta=0.5), snn.Leaky)


def test_detach_reset_false_passes_gradient_through_reset():
    x = torch.rand(15, 4) * 2
    grads = []
    for detach_reset in (True, False):
        xi = x.clone().requires_grad_()
        spk, _ = snn.Leaky(beta=0.9, detach_reset=detach_reset).run(xi)
        spk.sum().backward()
        grads.append(xi.grad)
    assert not torch.allclose(grads[0], grads[1])


@pytest.mark.parametrize("reset", ["subtract", "zero", "none"])
@pytest.mark.parametrize("surrogate", ["atan", "fast_sigmoid"])
@pytest.mark.parametrize("graded,threshold", [(1.0, 1.0), (0.5, 0.8), (1.0, 0.8)])
def test_fused_step_equals_step_bitwise(reset, surrogate, graded, threshold):
    """Leaky.fused_step: the same spikes, membranes and gradients as step(), to the bit."""
    results = []
    for use_fused in (False, True):
        torch.manual_seed(0)
        lif = snn.Leaky(beta=0.7, threshold=threshold, reset=reset, surrogate=surrogate,
                        graded_spikes_factor=graded)
        x = (torch.randn(12, 6, 5) + 0.6).requires_grad_()
        state, spikes, mems = lif.init_state(x[0]), [], []
        for t in range(x.shape[0]):
            spk, state = (lif.fused_step if use_fused else lif.step)(x[t], state)
            spikes.append(spk)
            mems.append(state.mem)
        spk, mem = torch.stack(spikes), torch.stack(mems)
        w = torch.rand(spk.shape, generator=torch.Generator().manual_seed(1))
        ((spk * w).sum() + state.mem.pow(2).sum()).backward()
        results.append((spk.detach(), mem.detach(), x.grad))
    for a, b in zip(*results, strict=True):
        assert torch.equal(a, b)
    assert results[0][0].sum() > 0


def test_fused_step_falls_back_where_it_does_not_apply():
    lif = snn.Leaky(beta=0.7, learn_beta=True)
    x = torch.rand(4, 3)
    spk, state = lif.fused_step(x, lif.init_state(x))
    spk.sum().backward()  # the learnable beta gets its gradient through step()
    assert state.mem.grad_fn is not None
    lif2 = snn.Leaky(beta=0.7, reset_delay=False)
    a = lif2.fused_step(x, lif2.init_state(x))
    b = lif2.step(x, lif2.init_state(x))
    assert torch.equal(a[0], b[0]) and torch.equal(a[1].mem, b[1].mem)


def test_fused_step_reuses_the_last_spikes_only_while_they_are_valid():
    x = torch.rand(6, 4, 3) * 1.5
    for change in ("threshold", "spikes", "membrane", "none"):
        ref, fused = snn.Leaky(beta=0.9), snn.Leaky(beta=0.9)
        s_ref, s_f = ref.init_state(x[0]), fused.init_state(x[0])
        for t in range(x.shape[0]):
            a, s_ref = ref.step(x[t], s_ref)
            b, s_f = fused.fused_step(x[t], s_f)
            assert torch.equal(a, b) and torch.equal(s_ref.mem, s_f.mem), (change, t)
            if t == 2 and change == "threshold":
                for n in (ref, fused):
                    n.threshold = torch.tensor(0.5)
            if t == 2 and change == "spikes":
                b.mul_(0.0)  # an in-place change of the returned spikes is not reused
            if t == 2 and change == "membrane":
                for st in (s_ref, s_f):
                    st.mem.add_(2.0)  # nor spikes of a membrane changed in place


def test_threshold_may_be_given_by_position_as_in_snntorch():
    assert float(snn.Leaky(0.9, 0.5).threshold) == 0.5
    assert float(snn.Leaky(0.9).threshold) == 1.0
    assert float(snn.Leaky(beta=0.9, threshold=0.3).threshold) == pytest.approx(0.3)
