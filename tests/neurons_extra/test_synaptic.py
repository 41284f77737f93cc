"""Synaptic, Alpha and Lapicque against NumPy references, snnTorch 1.0.0 and their contracts."""

from __future__ import annotations

import itertools

import neurons_extra_refs as ref
import numpy as np
import pytest
import torch
from neurons_extra_checks import assert_grads_flow, assert_run_matches_steps

import snncore as snn
from snn_neurons_extra import Alpha, Lapicque, Synaptic

T, B, N = 60, 3, 6
RESETS = ("subtract", "zero", "none")


def _x(scale=0.6, seed=3, shape=(T, B, N)):
    gen = torch.Generator().manual_seed(seed)
    return torch.rand(*shape, generator=gen, dtype=torch.float64) * scale


def _per_neuron(seed, lo, hi):
    return np.random.default_rng(seed).uniform(lo, hi, N)


def _t(v):
    return torch.as_tensor(v, dtype=torch.float64) if isinstance(v, np.ndarray) else v


# -- Synaptic ----------------------------------------------------------------------------------
@pytest.mark.parametrize("reset,delay,per_neuron",
                         list(itertools.product(RESETS, (True, False), (False, True))))
def test_synaptic_matches_reference(reset, delay, per_neuron):
    if per_neuron:
        alpha, beta = _per_neuron(1, 0.5, 0.95), _per_neuron(2, 0.5, 0.95)
        thr, g = _per_neuron(3, 0.8, 1.5), _per_neuron(4, 0.5, 2.0)
    else:
        alpha, beta, thr, g = 0.8, 0.9, 1.0, 1.0
    x = _x()
    n = Synaptic(alpha=_t(alpha), beta=_t(beta), threshold=_t(thr), graded_spikes_factor=_t(g),
                 reset=reset, reset_delay=delay)
    spk, st = n.trace(x)
    r_spk, r_syn, r_mem = ref.synaptic(x.numpy(), alpha, beta, thr, reset, delay, g)
    assert r_spk.sum() > 10
    np.testing.assert_allclose(spk.numpy(), r_spk, atol=1e-12)
    np.testing.assert_allclose(st.syn.numpy(), r_syn, atol=1e-10)
    np.testing.assert_allclose(st.mem.numpy(), r_mem, atol=1e-10)


@pytest.mark.parametrize("reset", ["subtract", "none"])
def test_synaptic_matches_snntorch(reset):
    snntorch = pytest.importorskip("snntorch")
    x = _x().float()
    theirs = snntorch.Synaptic(alpha=0.8, beta=0.9, reset_mechanism=reset)
    syn, mem = theirs.init_synaptic()
    spikes, mems = [], []
    for xt in x:
        s, syn, mem = theirs(xt, syn, mem)
        spikes.append(s)
        mems.append(mem)
    ours = snn.create("synaptic", alpha=0.8, beta=0.9, reset=reset)
    spk, st = ours.trace(x)
    assert torch.stack(spikes).sum() > 10
    torch.testing.assert_close(spk, torch.stack(spikes), atol=1e-6, rtol=0)
    torch.testing.assert_close(st.mem, torch.stack(mems), atol=1e-6, rtol=0)
    torch.testing.assert_close(st.syn[-1], syn, atol=1e-6, rtol=0)


def test_synaptic_zero_reset_keeps_this_steps_input():
    """snnTorch zeroes the whole new membrane and current (input included); here only the
    carried membrane is cleared."""
    n = Synaptic(alpha=0.5, beta=0.5, reset="zero")
    x = torch.tensor([[3.0], [0.4]])
    spk, st = n.trace(x)
    # step 0: I=3, U=3 -> spike. step 1: I = 0.5*3 + 0.4 = 1.9, U = 0.5*(1-1)*3 + 1.9 = 1.9
    assert spk[0].item() == 1.0
    assert st.syn[1].item() == pytest.approx(1.9)
    assert st.mem[1].item() == pytest.approx(1.9)


def test_synaptic_contracts():
    n = Synaptic(alpha=0.8, beta=0.9, learn_alpha=True, learn_beta=True, learn_threshold=True,
                 learn_graded_spikes_factor=True)
    assert n.fused_kind == "synaptic"
    assert isinstance(n.alpha, torch.nn.Parameter) and isinstance(n.beta, torch.nn.Parameter)
    x = _x(seed=5, shape=(30, B, N)).float()
    assert_grads_flow(n, x)
    assert_run_matches_steps(Synaptic(alpha=0.7, beta=0.85), x)
    assert set(Synaptic.State._fields) == {"syn", "mem"}


def test_synaptic_spike_dtype_follows_input():
    spk, _ = Synaptic(alpha=0.8, beta=0.9)(torch.ones(2, 3, dtype=torch.float64) * 2)
    assert spk.dtype == torch.float64


@pytest.mark.parametrize("kw,match", [
    ({"alpha": 1.5, "beta": 0.9}, "alpha must be in"),
    ({"alpha": 0.5, "beta": -0.1}, "beta must be in"),
    ({"alpha": 0.5, "beta": 0.9, "learn_alpha": 1}, "learn_alpha must be a bool"),
    ({"alpha": 0.5, "beta": 0.9, "reset": "soft"}, "reset must be one of"),
])
def test_synaptic_bad_arguments(kw, match):
    with pytest.raises((ValueError, TypeError), match=match):
        Synaptic(**kw)


def test_stateful_mode_matches_explicit_state():
    x = _x(seed=7, shape=(20, B, N)).float()
    explicit = Synaptic(alpha=0.8, beta=0.9)
    ref_spk, _ = explicit.run(x)
    seq = Synaptic(alpha=0.8, beta=0.9, stateful=True)
    out = torch.stack([seq(xt) for xt in x])
    torch.testing.assert_close(out, ref_spk)
    snn.reset(seq)
    assert seq.state is None


# -- Alpha -------------------------------------------------------------------------------------
@pytest.mark.parametrize("reset,per_neuron", list(itertools.product(RESETS, (False, True))))
def test_alpha_matches_reference(reset, per_neuron):
    if per_neuron:
        beta = _per_neuron(5, 0.5, 0.8)
        alpha = beta + _per_neuron(6, 0.05, 0.15)
        thr, g = _per_neuron(7, 0.3, 0.8), _per_neuron(8, 0.5, 2.0)
    else:
        alpha, beta, thr, g = 0.9, 0.8, 0.5, 1.0
    x = _x(scale=1.0, seed=9)
    n = Alpha(alpha=_t(alpha), beta=_t(beta), threshold=_t(thr), graded_spikes_factor=_t(g),
              reset=reset)
    spk, st = n.trace(x)
    r_spk, r_exc, r_inh, r_mem = ref.alpha_neuron(x.numpy(), alpha, beta, thr, reset, g)
    assert (r_spk > 0).sum() > 10
    np.testing.assert_allclose(spk.numpy(), r_spk, atol=1e-12)
    np.testing.assert_allclose(st.syn_exc.numpy(), r_exc, atol=1e-10)
    np.testing.assert_allclose(st.syn_inh.numpy(), r_inh, atol=1e-10)
    np.testing.assert_allclose(st.mem.numpy(), r_mem, atol=1e-10)


@pytest.mark.parametrize("reset", ["subtract", "none"])
def test_alpha_matches_snntorch(reset):
    snntorch = pytest.importorskip("snntorch")
    x = _x(scale=1.0, seed=9).float()
    theirs = snntorch.Alpha(alpha=0.9, beta=0.8, threshold=0.5, reset_mechanism=reset)
    e, f, mem = theirs.init_alpha()
    spikes, mems, excs = [], [], []
    for xt in x:
        s, e, f, mem = theirs(xt, e, f, mem)
        spikes.append(s)
        mems.append(mem)
        excs.append(e)
    spk, st = Alpha(alpha=0.9, beta=0.8, threshold=0.5, reset=reset).trace(x)
    assert torch.stack(spikes).sum() > 10
    torch.testing.assert_close(spk, torch.stack(spikes), atol=1e-6, rtol=0)
    torch.testing.assert_close(st.mem, torch.stack(mems), atol=1e-5, rtol=1e-6)
    torch.testing.assert_close(st.syn_exc, torch.stack(excs), atol=1e-5, rtol=1e-6)


def test_alpha_learn_alpha_works():
    """snnTorch's Alpha(learn_alpha=True) raises in its constructor; here alpha learns."""
    n = Alpha(alpha=0.9, beta=0.8, threshold=0.5, learn_alpha=True, learn_beta=True)
    assert isinstance(n.alpha, torch.nn.Parameter)
    assert_grads_flow(n, _x(scale=1.0, seed=9, shape=(30, B, N)).float(), names={"alpha", "beta"})
    assert_run_matches_steps(n, _x(scale=1.0, seed=10, shape=(20, B, N)).float())


@pytest.mark.parametrize("kw,match", [
    ({"alpha": 0.8, "beta": 0.9}, "alpha must be greater than beta"),
    ({"alpha": 1.0, "beta": 1.0}, "beta must be < 1"),
    ({"alpha": 0.8, "beta": 0.0}, "beta must be"),
])
def test_alpha_bad_arguments(kw, match):
    with pytest.raises(ValueError, match=match):
        Alpha(**kw)


# -- Lapicque ----------------------------------------------------------------------------------
def _lapicque_coeffs(beta=None, R=None, C=None, dt=1.0):
    if beta is None:
        return 1 - dt / (R * C), dt / C
    ln = np.log(1 / beta)
    if R is None and C is None:
        R, C = 1.0, dt / ln
    elif C is None:
        C = dt / (R * ln)
    else:
        R = dt / (C * ln)
    return 1 - dt / (R * C), dt / C


@pytest.mark.parametrize("mode", ["beta", "RC", "beta_R", "beta_C", "per_neuron"])
@pytest.mark.parametrize("reset,delay", list(itertools.product(RESETS, (True, False))))
def test_lapicque_matches_reference(mode, reset, delay):
    kw = {"beta": {"beta": 0.9}, "RC": {"R": 5.0, "C": 4.0, "time_step": 2.0},
          "beta_R": {"beta": 0.9, "R": 2.0}, "beta_C": {"beta": 0.85, "C": 3.0, "time_step": 0.5},
          "per_neuron": {"R": _per_neuron(11, 2.0, 6.0), "C": _per_neuron(12, 2.0, 6.0)}}[mode]
    decay, gain = _lapicque_coeffs(kw.get("beta"), kw.get("R"), kw.get("C"),
                                   kw.get("time_step", 1.0))
    x = _x(scale=2.0, seed=13)
    n = Lapicque(**{k: _t(v) for k, v in kw.items()}, reset=reset, reset_delay=delay)
    spk, st = n.trace(x)
    r_spk, r_mem = ref.lapicque(x.numpy(), decay, gain, 1.0, reset, delay)
    assert r_spk.sum() > 10
    np.testing.assert_allclose(spk.numpy(), r_spk, atol=1e-12)
    np.testing.assert_allclose(st.mem.numpy(), r_mem, atol=1e-9)


@pytest.mark.parametrize("kw", [{"beta": 0.9}, {"R": 5.0, "C": 4.0, "time_step": 2.0},
                                {"beta": 0.9, "R": 2.0}, {"beta": 0.9, "C": 3.0}])
@pytest.mark.parametrize("reset", ["subtract", "none"])
def test_lapicque_matches_snntorch(kw, reset):
    snntorch = pytest.importorskip("snntorch")
    x = _x(scale=2.0, seed=13).float()
    theirs = snntorch.Lapicque(**kw, reset_mechanism=reset)
    mem = theirs.init_lapicque()
    spikes, mems = [], []
    for xt in x:
        s, mem = theirs(xt, mem)
        spikes.append(s)
        mems.append(mem)
    spk, st = Lapicque(**kw, reset=reset).trace(x)
    assert torch.stack(spikes).sum() > 10
    torch.testing.assert_close(spk, torch.stack(spikes), atol=1e-6, rtol=0)
    torch.testing.assert_close(st.mem, torch.stack(mems), atol=1e-5, rtol=1e-6)


def test_lapicque_beta_r_and_c_together_is_a_clear_error():
    with pytest.raises(ValueError, match="not all three"):
        Lapicque(beta=0.9, R=1.0, C=2.0)
    with pytest.raises(ValueError, match="both R and C"):
        Lapicque(R=1.0)
    with pytest.raises(ValueError, match="time_step must be"):
        Lapicque(beta=0.9, time_step=0.0)


def test_lapicque_learn_beta_and_run():
    n = Lapicque(beta=0.9, R=2.0, learn_beta=True, learn_threshold=True)
    x = _x(scale=2.0, seed=14, shape=(30, B, N)).float()
    assert_grads_flow(n, x)
    assert_run_matches_steps(n, x)
    with pytest.raises(ValueError, match="learn_beta=True needs beta"):
        Lapicque(R=1.0, C=1.0, learn_beta=True)
