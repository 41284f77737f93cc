"""RLeaky and RSynaptic against NumPy references, snnTorch 1.0.0 and their contracts."""

from __future__ import annotations

import itertools

import neurons_extra_refs as ref
import numpy as np
import pytest
import torch
from neurons_extra_checks import assert_grads_flow, assert_run_matches_steps

import snncore as snn
from snn_neurons_extra import RLeaky, RSynaptic

T, B, N = 60, 3, 6
RESETS = ("subtract", "zero", "none")


def _x(scale=0.6, seed=3, shape=(T, B, N), dtype=torch.float64):
    gen = torch.Generator().manual_seed(seed)
    return torch.rand(*shape, generator=gen, dtype=dtype) * scale


def _pn(seed, lo, hi):
    return np.random.default_rng(seed).uniform(lo, hi, N)


def _t(v):
    return torch.as_tensor(v, dtype=torch.float64) if isinstance(v, np.ndarray) else v


# -- NumPy references --------------------------------------------------------------------------
@pytest.mark.parametrize("reset,delay,per_neuron",
                         list(itertools.product(RESETS, (True, False), (False, True))))
def test_rleaky_elementwise_matches_reference(reset, delay, per_neuron):
    if per_neuron:
        beta, V, thr, g = _pn(1, 0.5, 0.95), _pn(2, -0.5, 0.5), _pn(3, 0.8, 1.5), _pn(4, 0.5, 2)
    else:
        beta, V, thr, g = 0.9, 0.25, 1.0, 1.0  # V exact in float32 (learnable)
    x = _x()
    n = RLeaky(beta=_t(beta), V=_t(V), all_to_all=False, threshold=_t(thr),
               graded_spikes_factor=_t(g), reset=reset, reset_delay=delay)
    assert n.fused_kind == "rleaky_elementwise"
    spk, st = n.trace(x)
    r_spk, r_mem = ref.rleaky_elementwise(x.numpy(), beta, V, thr, reset, delay, g)
    assert (r_spk > 0).sum() > 10
    np.testing.assert_allclose(spk.detach().numpy(), r_spk, atol=1e-12)
    np.testing.assert_allclose(st.mem.detach().numpy(), r_mem, atol=1e-10)
    np.testing.assert_allclose(st.spk.detach().numpy(), r_spk, atol=1e-12)


@pytest.mark.parametrize("reset,delay", list(itertools.product(RESETS, (True, False))))
def test_rleaky_linear_matches_reference(reset, delay):
    n = RLeaky(beta=0.9, linear_features=N, reset=reset, reset_delay=delay,
               graded_spikes_factor=0.7).double()
    assert n.fused_kind == "rleaky_feedback" and n.fused_feedback is n.recurrent
    x = _x()
    spk, st = n.trace(x)
    W = n.recurrent.weight.detach().numpy()
    b = n.recurrent.bias.detach().numpy()
    r_spk, r_mem = ref.rleaky_linear(x.numpy(), 0.9, W, b, 1.0, reset, delay, 0.7)
    assert (r_spk > 0).sum() > 10
    np.testing.assert_allclose(spk.detach().numpy(), r_spk, atol=1e-12)
    np.testing.assert_allclose(st.mem.detach().numpy(), r_mem, atol=1e-10)


@pytest.mark.parametrize("reset,delay,per_neuron",
                         list(itertools.product(RESETS, (True, False), (False, True))))
def test_rsynaptic_elementwise_matches_reference(reset, delay, per_neuron):
    if per_neuron:
        alpha, beta = _pn(5, 0.5, 0.9), _pn(6, 0.5, 0.9)
        V, thr, g = _pn(7, -0.5, 0.5), _pn(8, 0.8, 1.5), _pn(9, 0.5, 2.0)
    else:
        alpha, beta, V, thr, g = 0.7, 0.85, -0.25, 1.0, 1.0
    x = _x(scale=0.5)
    n = RSynaptic(alpha=_t(alpha), beta=_t(beta), V=_t(V), all_to_all=False, threshold=_t(thr),
                  graded_spikes_factor=_t(g), reset=reset, reset_delay=delay)
    assert n.fused_kind == "rsynaptic_elementwise"
    spk, st = n.trace(x)
    r_spk, r_syn, r_mem = ref.rsynaptic_elementwise(x.numpy(), alpha, beta, V, thr, reset,
                                                     delay, g)
    assert (r_spk > 0).sum() > 10
    np.testing.assert_allclose(spk.detach().numpy(), r_spk, atol=1e-12)
    np.testing.assert_allclose(st.syn.detach().numpy(), r_syn, atol=1e-10)
    np.testing.assert_allclose(st.mem.detach().numpy(), r_mem, atol=1e-10)


# -- snnTorch parity ---------------------------------------------------------------------------
def _run_theirs(theirs, x, fields):
    state = [None] * len(fields)
    spikes, mems = [], []
    for xt in x:
        out = theirs(xt, *state)
        spikes.append(out[0])
        mems.append(out[-1])
        state = list(out[:len(fields)]) if fields[0] == "spk" else list(out[1:])
    return torch.stack(spikes), torch.stack(mems)


@pytest.mark.parametrize("mode", ["linear", "elementwise", "conv"])
@pytest.mark.parametrize("reset", ["subtract", "none"])
def test_rleaky_matches_snntorch(mode, reset):
    snntorch = pytest.importorskip("snntorch")
    kw = {"linear": {"linear_features": N}, "elementwise": {"all_to_all": False, "V": 0.4},
          "conv": {"conv2d_channels": 2, "kernel_size": 3}}[mode]
    shape = (T, B, 2, 4, 4) if mode == "conv" else (T, B, N)
    x = _x(shape=shape, dtype=torch.float32)
    theirs = snntorch.RLeaky(beta=0.9, reset_mechanism=reset, **kw)
    ours = RLeaky(beta=0.9, reset=reset, **kw)
    if mode != "elementwise":
        ours.recurrent.load_state_dict(theirs.recurrent.state_dict())
    t_spk, t_mem = _run_theirs(theirs, x, ("spk", "mem"))
    spk, st = ours.trace(x)
    assert t_spk.sum() > 10
    torch.testing.assert_close(spk, t_spk, atol=1e-6, rtol=0)
    torch.testing.assert_close(st.mem, t_mem, atol=1e-5, rtol=1e-6)


@pytest.mark.parametrize("mode", ["linear", "elementwise", "conv"])
@pytest.mark.parametrize("reset", ["subtract", "none"])
def test_rsynaptic_matches_snntorch(mode, reset):
    snntorch = pytest.importorskip("snntorch")
    kw = {"linear": {"linear_features": N}, "elementwise": {"all_to_all": False, "V": 0.4},
          "conv": {"conv2d_channels": 2, "kernel_size": 3}}[mode]
    shape = (T, B, 2, 4, 4) if mode == "conv" else (T, B, N)
    x = _x(shape=shape, dtype=torch.float32)
    theirs = snntorch.RSynaptic(alpha=0.7, beta=0.9, reset_mechanism=reset, **kw)
    ours = RSynaptic(alpha=0.7, beta=0.9, reset=reset, **kw)
    if mode != "elementwise":
        ours.recurrent.load_state_dict(theirs.recurrent.state_dict())
    t_spk, t_mem = _run_theirs(theirs, x, ("spk", "syn", "mem"))
    spk, st = ours.trace(x)
    assert t_spk.sum() > 10
    torch.testing.assert_close(spk, t_spk, atol=1e-6, rtol=0)
    torch.testing.assert_close(st.mem, t_mem, atol=1e-5, rtol=1e-6)


# -- fixed snnTorch bugs -----------------------------------------------------------------------
def test_rleaky_zero_reset_keeps_this_steps_input():
    """snnTorch zeroes the whole new membrane (input and feedback included)."""
    n = RLeaky(beta=0.5, all_to_all=False, V=0.25, reset="zero")
    spk, st = n.trace(torch.tensor([[3.0], [0.4]]))
    assert spk[0].item() == 1.0
    # step 1: U = 0.5*(1-1)*3 + 0.4 + 0.25*1 = 0.65
    assert st.mem[1].item() == pytest.approx(0.65)


def test_rsynaptic_reset_delay_false_works():
    """snnTorch's RSynaptic(reset_delay=False) crashes on the first step."""
    n = RSynaptic(alpha=0.5, beta=0.5, all_to_all=False, V=0.0, reset_delay=False)
    spk, st = n.trace(torch.tensor([[1.5], [0.0]]))
    assert spk[0].item() == 1.0
    assert st.mem[0].item() == pytest.approx(0.5)  # fired and reset in the same step
    snntorch = pytest.importorskip("snntorch")
    theirs = snntorch.RSynaptic(alpha=0.5, beta=0.5, all_to_all=False, V=0.0,
                                reset_delay=False)
    with pytest.raises(TypeError):
        theirs(torch.tensor([1.5]))


@pytest.mark.parametrize("cls,kw", [(RLeaky, {"beta": 0.9}),
                                    (RSynaptic, {"alpha": 0.8, "beta": 0.9})])
@pytest.mark.parametrize("k", [2, (3, 4), 0])
def test_even_conv_kernel_is_a_clear_error(cls, kw, k):
    with pytest.raises(ValueError, match="kernel_size must be odd"):
        cls(**kw, conv2d_channels=2, kernel_size=k)


def test_conv_recurrence_keeps_spatial_shape_and_learns():
    n = RLeaky(beta=0.9, conv2d_channels=2, kernel_size=(3, 5))
    x = _x(shape=(20, B, 2, 5, 6), dtype=torch.float32, scale=1.0)
    spk, st = n.run(x)
    assert spk.shape == x.shape and st.mem.shape == x.shape[1:]
    assert_grads_flow(n, x)


# -- contracts ---------------------------------------------------------------------------------
@pytest.mark.parametrize("kw,match", [
    ({}, "all_to_all=True needs linear_features"),
    ({"conv2d_channels": 2}, "all_to_all=True needs linear_features"),
    ({"linear_features": 4, "kernel_size": 3}, "not both"),
    ({"all_to_all": False, "linear_features": 4}, "do not give"),
    ({"linear_features": 0}, "linear_features must be an int >= 1"),
    ({"all_to_all": False, "learn_recurrent": "yes"}, "learn_recurrent must be a bool"),
])
def test_bad_recurrence_arguments(kw, match):
    with pytest.raises((ValueError, TypeError), match=match):
        RLeaky(beta=0.9, **kw)


def test_input_must_match_recurrent_layer():
    n = RLeaky(beta=0.9, linear_features=4)
    with pytest.raises(ValueError, match="linear_features=4"):
        n(torch.zeros(2, 5))
    c = RSynaptic(alpha=0.5, beta=0.9, conv2d_channels=3, kernel_size=3)
    with pytest.raises(ValueError, match="conv2d_channels=3"):
        c(torch.zeros(2, 4, 5, 5))


@pytest.mark.parametrize("make", [
    lambda: RLeaky(beta=0.9, linear_features=N, learn_beta=True, learn_threshold=True),
    lambda: RLeaky(beta=0.9, all_to_all=False, V=0.3, learn_beta=True,
                   learn_graded_spikes_factor=True),
    lambda: RSynaptic(alpha=0.8, beta=0.9, linear_features=N, learn_alpha=True, learn_beta=True),
    lambda: RSynaptic(alpha=0.8, beta=0.9, all_to_all=False, V=torch.full((N,), 0.2),
                      learn_alpha=True, learn_beta=True, learn_threshold=True),
])
def test_gradients_and_run(make):
    n = make()
    x = _x(shape=(30, B, N), dtype=torch.float32, scale=0.8)
    assert_grads_flow(n, x)
    assert_run_matches_steps(make(), x)


def test_learn_recurrent_false_freezes_feedback():
    n = RLeaky(beta=0.9, linear_features=N, learn_recurrent=False)
    assert not any(p.requires_grad for p in n.recurrent.parameters())
    e = RSynaptic(alpha=0.8, beta=0.9, all_to_all=False, learn_recurrent=False)
    assert not isinstance(e.V, torch.nn.Parameter)
    assert "V" in dict(e.named_buffers())


def test_created_through_registry():
    n = snn.create("rsynaptic", alpha=0.8, beta=0.9, all_to_all=False)
    assert isinstance(n, RSynaptic)
    assert set(n.State._fields) == {"spk", "syn", "mem"}
    assert set(snn.create("rleaky", beta=0.9, all_to_all=False).State._fields) == {"spk", "mem"}
