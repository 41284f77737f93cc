"""LeakyParallel, StateLeaky, LinearLeaky and DeltaLeaky: references, snnTorch, fixed bugs."""

from __future__ import annotations

import neurons_extra_refs as ref
import numpy as np
import pytest
import torch
from neurons_extra_checks import assert_grads_flow, assert_run_matches_steps

import snncore as snn
from snn_neurons_extra import DeltaLeaky, LeakyParallel, LinearLeaky, StateLeaky

T, B, N = 60, 3, 6


def _x(shape=(T, B, N), seed=3, scale=0.6, dtype=torch.float64):
    gen = torch.Generator().manual_seed(seed)
    return torch.rand(*shape, generator=gen, dtype=dtype) * scale


def _np(t):
    return t.detach().numpy()


def _pn(seed, lo, hi, n=N):
    return np.random.default_rng(seed).uniform(lo, hi, n)


def state_leaky_reference(x, beta, K=None):
    Tn = x.shape[0]
    K = Tn if K is None else K
    mem = np.zeros_like(x)
    for t in range(Tn):
        for k in range(min(K, t + 1)):
            mem[t] += beta ** k * x[t - k]
    return mem


def leaky_parallel_reference(x, W, b, beta):
    mem = np.zeros(x.shape[1:-1] + (W.shape[0],))
    out = []
    for t in range(x.shape[0]):
        mem = np.maximum(beta * mem + x[t] @ W.T + b, 0.0)
        out.append(mem.copy())
    return np.stack(out)


# -- StateLeaky / LinearLeaky ------------------------------------------------------------------
@pytest.mark.parametrize("K", [None, 1, 7])
@pytest.mark.parametrize("per_neuron", [False, True])
def test_state_leaky_matches_reference(K, per_neuron):
    beta = _pn(1, 0.5, 0.95) if per_neuron else 0.9
    thr, g = (_pn(2, 1.0, 3.0), _pn(3, 0.5, 2.0)) if per_neuron else (2.0, 1.5)
    thr = thr * (0.15 if K == 1 else 1.0)  # K = 1: the membrane is this step's input
    as_t = (lambda v: torch.as_tensor(v)) if per_neuron else (lambda v: v)
    n = StateLeaky(beta=as_t(beta), threshold=as_t(thr), graded_spikes_factor=as_t(g),
                   kernel_truncation_steps=K)
    x = _x()
    spk, st = n.trace(x)
    r_mem = state_leaky_reference(x.numpy(), beta, K)
    r_spk = ref.H(r_mem - thr) * g
    assert 10 < (r_spk > 0).sum() < r_spk.size - 10
    np.testing.assert_allclose(_np(st.mem), r_mem, atol=1e-10)
    np.testing.assert_allclose(_np(spk), r_spk, atol=1e-12)
    spk_run, final = n.run(x)
    torch.testing.assert_close(spk_run, spk)
    torch.testing.assert_close(final.mem, st.mem[-1])


def test_state_leaky_decays_by_beta_and_applies_g_once():
    """snnTorch decays by exp(β − 1) per step and multiplies spikes by g twice."""
    n = StateLeaky(beta=0.5, threshold=0.2, graded_spikes_factor=3.0)
    x = torch.zeros(5, 1, 1)
    x[0] = 1.0
    spk, st = n.trace(x)
    torch.testing.assert_close(st.mem[:, 0, 0], torch.tensor([1.0, 0.5, 0.25, 0.125, 0.0625]))
    torch.testing.assert_close(spk[:, 0, 0], torch.tensor([3.0, 3.0, 3.0, 0.0, 0.0]))


def test_state_leaky_run_equals_steps_and_initial_state():
    n = StateLeaky(beta=torch.linspace(0.5, 0.95, N), learn_beta=True, learn_threshold=True)
    x = _x(shape=(30, B, N), dtype=torch.float32, scale=0.5)
    assert_run_matches_steps(n, x, atol=1e-5)
    mem0 = torch.rand(B, N)
    spk_par, fin_par = n.run(x, (mem0,))
    spk_eager, fin_eager = n.run(x, (mem0,), backend="eager")
    torch.testing.assert_close(spk_par, spk_eager)
    torch.testing.assert_close(fin_par.mem, fin_eager.mem, atol=1e-5, rtol=1e-5)
    assert_grads_flow(n, x)


def test_state_leaky_truncation_needs_the_sequence():
    n = StateLeaky(beta=0.9, kernel_truncation_steps=4)
    with pytest.raises(ValueError, match="needs the whole sequence"):
        n(torch.rand(2, 3))
    with pytest.raises(ValueError, match="kernel_truncation_steps must be an int >= 1"):
        StateLeaky(beta=0.9, kernel_truncation_steps=0)


def test_linear_leaky_matches_reference_and_learns():
    n = LinearLeaky(beta=torch.as_tensor(_pn(4, 0.6, 0.95, 5)), in_features=N, out_features=5,
                    threshold=0.5).double()
    x = _x()
    spk, st = n.trace(x)
    drive = x.numpy() @ _np(n.linear.weight).T + _np(n.linear.bias)
    r_mem = state_leaky_reference(drive, _pn(4, 0.6, 0.95, 5))
    np.testing.assert_allclose(_np(st.mem), r_mem, atol=1e-10)
    np.testing.assert_allclose(_np(spk), ref.H(r_mem - 0.5), atol=0)
    m = LinearLeaky(beta=0.9, in_features=N, out_features=4, learn_beta=True)
    xf = _x(shape=(20, B, N), dtype=torch.float32)
    assert_grads_flow(m, xf)
    assert_run_matches_steps(m, xf, atol=1e-5)
    with pytest.raises(ValueError, match="in_features=6"):
        m(torch.rand(2, 5))


# -- LeakyParallel -----------------------------------------------------------------------------
def test_leaky_parallel_matches_snntorch_with_scalar_beta():
    snntorch = pytest.importorskip("snntorch")
    theirs = snntorch.LeakyParallel(input_size=N, hidden_size=5, beta=0.9)
    ours = LeakyParallel(N, 5, beta=0.9)
    with torch.no_grad():
        ours.linear.weight.copy_(theirs.rnn.weight_ih_l0)
        ours.linear.bias.copy_(theirs.rnn.bias_ih_l0 + theirs.rnn.bias_hh_l0)
        ours.linear.weight.mul_(4)
        theirs.rnn.weight_ih_l0.mul_(4)
    x = _x(dtype=torch.float32, scale=1.0)
    t_spk = theirs(x)
    spk, _ = ours.run(x)
    assert 10 < t_spk.sum() < t_spk.numel() - 10
    torch.testing.assert_close(spk, t_spk, atol=1e-6, rtol=0)


@pytest.mark.parametrize("per_neuron", [False, True])
def test_leaky_parallel_matches_reference(per_neuron):
    """Per-neuron β is honoured (snnTorch keeps a random diagonal instead)."""
    beta = _pn(5, 0.3, 0.95, 5) if per_neuron else 0.8
    n = LeakyParallel(N, 5, beta=torch.as_tensor(beta) if per_neuron else beta,
                      threshold=0.4).double()
    with torch.no_grad():
        n.linear.weight.mul_(3)
    x = _x(scale=1.0)
    spk, st = n.trace(x)
    r_mem = leaky_parallel_reference(x.numpy(), _np(n.linear.weight), _np(n.linear.bias), beta)
    np.testing.assert_allclose(_np(st.mem), r_mem, atol=1e-10)
    r_spk = ref.H(r_mem - 0.4)
    assert 10 < r_spk.sum() < r_spk.size - 10
    np.testing.assert_allclose(_np(spk), r_spk, atol=0)
    spk_eager, fin = n.run(x, backend="eager")
    torch.testing.assert_close(spk_eager, spk)
    np.testing.assert_allclose(_np(fin.mem), r_mem[-1], atol=1e-10)


def test_leaky_parallel_gradients_and_errors():
    n = LeakyParallel(N, 5, beta=torch.full((5,), 0.8), learn_beta=True, learn_threshold=True,
                      threshold=0.3)
    x = _x(dtype=torch.float32, scale=1.0, shape=(20, B, N))
    spk, st = n.trace(x)
    (spk.sum() + st.mem.sum() * 1e-3).backward()
    for name, p in n.named_parameters():
        assert p.grad is not None and p.grad.abs().sum() > 0, name
    with pytest.raises(ValueError, match="shape \\(5,\\)"):
        LeakyParallel(N, 5, beta=torch.ones(4) * 0.5)
    with pytest.raises(ValueError, match="input_size=6"):
        LeakyParallel(N, 5, beta=0.5).run(torch.rand(3, 2, 4))


# -- DeltaLeaky --------------------------------------------------------------------------------
@pytest.mark.parametrize("per_neuron", [False, True])
def test_delta_leaky_matches_reference(per_neuron):
    beta = _pn(6, 0.5, 0.95) if per_neuron else 0.9
    delta = _pn(7, 0.1, 0.4) if per_neuron else 0.25
    as_t = (lambda v: torch.as_tensor(v)) if per_neuron else (lambda v: v)
    x = _x() - 0.3
    n = DeltaLeaky(beta=as_t(beta), delta_threshold=as_t(delta))
    spk, st = n.trace(x)
    mem = np.zeros(x.shape[1:])
    r_spk, r_mem = [], []
    for xt in x.numpy():
        new = beta * mem + xt
        r_spk.append(ref.H(np.abs(new - mem) - delta))
        mem = new
        r_mem.append(mem)
    r_spk = np.stack(r_spk)
    assert 10 < r_spk.sum() < r_spk.size - 10
    np.testing.assert_allclose(_np(spk), r_spk, atol=0)
    np.testing.assert_allclose(_np(st.mem), np.stack(r_mem), atol=1e-10)


def test_delta_leaky_gradients_and_run():
    n = DeltaLeaky(beta=0.9, delta_threshold=0.2, learn_beta=True, learn_threshold=True)
    x = _x(dtype=torch.float32, shape=(20, B, N)) - 0.3
    assert_grads_flow(n, x)
    assert_run_matches_steps(n, x)
    assert n.delta_threshold is n.threshold


def test_created_through_registry():
    assert isinstance(snn.create("state_leaky", beta=0.9), StateLeaky)
    assert isinstance(snn.create("linear_leaky", beta=0.9, in_features=2, out_features=3),
                      LinearLeaky)
    assert isinstance(snn.create("leaky_parallel", input_size=2, hidden_size=3, beta=0.5),
                      LeakyParallel)
    assert isinstance(snn.create("delta_leaky", beta=0.9), DeltaLeaky)


@pytest.mark.parametrize("make", [
    lambda: StateLeaky(beta=0.9, stateful=True),
    lambda: LinearLeaky(beta=0.9, in_features=N, out_features=4, stateful=True),
    lambda: LeakyParallel(N, 4, beta=0.8, stateful=True),
])
def test_stateful_runs_continue_where_they_stopped(make):
    n = make()
    x = _x(dtype=torch.float32, shape=(20, B, N), scale=1.0)
    whole = n.run(x)
    snn.reset(n)
    first, second = n.run(x[:8]), n.run(x[8:])
    torch.testing.assert_close(torch.cat([first, second]), whole, atol=1e-5, rtol=0)
    snn.reset(n)
    assert n.state is None


def test_leaky_parallel_dense_recurrence_run_matches_steps_and_reference():
    from neurons_extra_checks import assert_run_matches_steps

    n = LeakyParallel(3, 4, beta=torch.tensor([0.2, 0.4, 0.6, 0.8]), weight_hh_enable=True,
                      learn_beta=True, threshold=0.5)
    torch.testing.assert_close(n.weight_hh[:, 0], torch.tensor([0.2, 0.4, 0.6, 0.8]))
    with torch.no_grad():
        n.weight_hh.add_(torch.randn(4, 4) * 0.1)
    x = torch.rand(10, 2, 3)
    assert_run_matches_steps(n, x, atol=1e-5)
    mem = torch.zeros(2, 4)
    w_hh, lin = n.weight_hh.detach(), n.linear
    for t in range(10):
        mem = torch.relu(mem @ w_hh.T + lin(x[t]).detach())
    torch.testing.assert_close(n.run(x)[1].mem.detach(), mem, atol=1e-5, rtol=1e-5)
    spk, _ = n.run(x)
    spk.sum().backward()
    assert n.weight_hh.grad is not None and n.weight_hh.grad.abs().sum() > 0


def test_leaky_parallel_dropout():
    n = LeakyParallel(3, 4, beta=0.9, dropout=0.5)
    x = torch.rand(6, 2, 3)
    n.eval()
    ref = n.run(x)[1].mem
    n.train()
    assert not torch.equal(n.run(x)[1].mem, ref)
    with pytest.raises(ValueError, match="dropout"):
        LeakyParallel(3, 4, beta=0.9, dropout=1.0)
