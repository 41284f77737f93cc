"""IF, LI, ALIF, Izhikevich and AdEx against NumPy references written from their equations."""

from __future__ import annotations

import itertools

import neurons_extra_refs as ref
import numpy as np
import pytest
import torch
from neurons_extra_checks import assert_grads_flow, assert_run_matches_steps

import snncore as snn
from snn_neurons_extra import ALIF, IF, IZHIKEVICH_PARAMETER_SETS, LI, AdEx, Izhikevich

T, B, N = 60, 3, 6
RESETS = ("subtract", "zero", "none")


def _x(shape=(T, B, N), seed=3, scale=0.6, dtype=torch.float64):
    gen = torch.Generator().manual_seed(seed)
    return torch.rand(*shape, generator=gen, dtype=dtype) * scale


def _np(t):
    return t.detach().numpy()


def _pn(seed, lo, hi):
    return np.random.default_rng(seed).uniform(lo, hi, N)


def _t(v):
    return torch.as_tensor(v, dtype=torch.float64) if isinstance(v, np.ndarray) else v


# -- IF / LI -----------------------------------------------------------------------------------
@pytest.mark.parametrize("reset,delay,per_neuron",
                         list(itertools.product(RESETS, (True, False), (False, True))))
def test_if_matches_reference(reset, delay, per_neuron):
    thr, g = (_pn(1, 1.0, 2.0), _pn(2, 0.5, 2.0)) if per_neuron else (1.0, 1.0)
    x = _x(scale=0.5)
    spk, st = IF(threshold=_t(thr), graded_spikes_factor=_t(g), reset=reset,
                 reset_delay=delay).trace(x)
    mem = np.zeros(x.shape[1:])
    r_spk, r_mem = [], []
    for xt in x.numpy():
        s, mem = ref.lif_update(mem, 1.0, xt, thr, reset, delay)
        r_spk.append(s * g)
        r_mem.append(mem.copy())
    assert np.stack(r_spk).astype(bool).sum() > 10
    np.testing.assert_allclose(_np(spk), np.stack(r_spk), atol=1e-12)
    np.testing.assert_allclose(_np(st.mem), np.stack(r_mem), atol=1e-10)


@pytest.mark.parametrize("per_neuron", [False, True])
def test_li_matches_reference(per_neuron):
    beta = _pn(3, 0.5, 0.99) if per_neuron else 0.9
    x = _x() - 0.3
    out, st = LI(beta=_t(beta)).trace(x)
    mem = np.zeros(x.shape[1:])
    r = []
    for xt in x.numpy():
        mem = beta * mem + xt
        r.append(mem.copy())
    np.testing.assert_allclose(_np(out), np.stack(r), atol=1e-10)
    torch.testing.assert_close(out, st.mem)


def test_if_li_gradients_and_run():
    x = _x(dtype=torch.float32, shape=(30, B, N))
    assert_grads_flow(IF(learn_threshold=True, learn_graded_spikes_factor=True), x)
    assert_run_matches_steps(IF(reset="zero"), x)
    li = LI(beta=0.9, learn_beta=True)
    assert_grads_flow(li, x)
    assert_run_matches_steps(li, x)


# -- ALIF --------------------------------------------------------------------------------------
def alif_reference(x, beta, rho, scale, thr0, reset, delay, g=1.0):
    mem = np.zeros(x.shape[1:])
    b = np.zeros_like(mem)
    spk = np.zeros_like(mem)
    out = []
    for xt in x:
        thr_prev = thr0 + b
        b = rho * b + (1 - rho) * scale * spk
        thr = thr0 + b
        if delay:
            r = ref.H(mem - thr_prev)
            if reset == "subtract":
                mem = beta * mem + xt - r * thr_prev
            elif reset == "zero":
                mem = beta * (1 - r) * mem + xt
            else:
                mem = beta * mem + xt
            s = ref.H(mem - thr)
        else:
            mem = beta * mem + xt
            s = ref.H(mem - thr)
            if reset == "subtract":
                mem = mem - s * thr
            elif reset == "zero":
                mem = mem * (1 - s)
        spk = s * g
        out.append((spk, mem.copy(), b.copy()))
    return [np.stack(a) for a in zip(*out, strict=True)]


@pytest.mark.parametrize("reset,delay,per_neuron",
                         list(itertools.product(RESETS, (True, False), (False, True))))
def test_alif_matches_reference(reset, delay, per_neuron):
    if per_neuron:
        beta, rho, scale = _pn(4, 0.7, 0.95), _pn(5, 0.8, 0.99), _pn(6, 0.5, 3.0)
        thr, g = _pn(7, 0.8, 1.2), _pn(8, 0.5, 1.5)
    else:
        beta, rho, scale, thr, g = 0.9, 0.95, 2.0, 1.0, 1.0
    x = _x(scale=0.8)
    n = ALIF(beta=_t(beta), rho=_t(rho), adapt_scale=_t(scale), threshold=_t(thr),
             graded_spikes_factor=_t(g), reset=reset, reset_delay=delay)
    spk, st = n.trace(x)
    r_spk, r_mem, r_b = alif_reference(x.numpy(), beta, rho, scale, thr, reset, delay, g)
    assert (r_spk > 0).sum() > 10
    np.testing.assert_allclose(_np(spk), r_spk, atol=1e-12)
    np.testing.assert_allclose(_np(st.mem), r_mem, atol=1e-10)
    np.testing.assert_allclose(_np(st.b), r_b, atol=1e-10)


def test_alif_adapts_and_learns():
    x = torch.full((200, 1, 1), 0.5)
    plain, _ = ALIF(beta=0.9, adapt_scale=0.0).trace(x)
    adaptive, st = ALIF(beta=0.9, rho=0.98, adapt_scale=3.0).trace(x)
    assert adaptive.sum() < plain.sum()  # the raised threshold slows firing
    assert st.b.max() > 0
    n = ALIF(beta=0.9, rho=0.9, adapt_scale=1.5, learn_beta=True, learn_rho=True,
             learn_adapt_scale=True, learn_threshold=True)
    xs = _x(dtype=torch.float32, shape=(40, B, N), scale=0.8)
    assert_grads_flow(n, xs)
    assert_run_matches_steps(n, xs)


# -- Izhikevich --------------------------------------------------------------------------------
def izhikevich_reference(x, a, b, c, d, dt, vpeak, delay):
    v = np.broadcast_to(np.asarray(c, dtype=float), x.shape[1:]).copy()
    u = b * v
    spikes, vs, us = [], [], []
    for xt in x:
        if delay:
            r = ref.H(v - vpeak)
            v, u = r * c + (1 - r) * v, u + r * d
        v, u = v + dt * (0.04 * v * v + 5 * v + 140 - u + xt), u + dt * a * (b * v - u)
        s = ref.H(v - vpeak)
        if not delay:
            v, u = s * c + (1 - s) * v, u + s * d
        spikes.append(s)
        vs.append(v.copy())
        us.append(u.copy())
    return np.stack(spikes), np.stack(vs), np.stack(us)


@pytest.mark.parametrize("preset,delay",
                         list(itertools.product(IZHIKEVICH_PARAMETER_SETS, (False, True))))
def test_izhikevich_matches_reference(preset, delay):
    a, b, c, d = IZHIKEVICH_PARAMETER_SETS[preset]
    x = _x(shape=(400, 2, 3), scale=15.0)
    n = Izhikevich(parameter_set=preset, reset_delay=delay)
    spk, st = n.trace(x)
    r_spk, r_v, r_u = izhikevich_reference(x.numpy(), a, b, c, d, 0.5, 30.0, delay)
    assert r_spk.sum() > 10
    np.testing.assert_allclose(_np(spk), r_spk, atol=0)
    np.testing.assert_allclose(_np(st.v), r_v, rtol=1e-9, atol=1e-8)
    np.testing.assert_allclose(_np(st.u), r_u, rtol=1e-9, atol=1e-8)


def test_izhikevich_per_neuron_parameters():
    a, b = np.array([0.02, 0.1, 0.02]), np.array([0.2, 0.2, 0.25])
    c, d = np.array([-65.0, -55.0, -50.0]), np.array([8.0, 4.0, 2.0])
    x = _x(shape=(400, 2, 3), scale=15.0)
    n = Izhikevich(a=_t(a), b=_t(b), c=_t(c), d=_t(d), time_step=0.25)
    spk, st = n.trace(x)
    r_spk, r_v, _ = izhikevich_reference(x.numpy(), a, b, c, d, 0.25, 30.0, False)
    assert r_spk.sum() > 10
    np.testing.assert_allclose(_np(spk), r_spk, atol=0)
    np.testing.assert_allclose(_np(st.v), r_v, rtol=1e-9, atol=1e-8)


def test_izhikevich_parameter_sets_behave_as_named():
    """Constant drive I = 10: fast spiking fires fastest; regular spiking adapts; chattering
    fires in bursts (short and long inter-spike intervals)."""
    x = torch.full((1000, 1, 1), 10.0)
    rates, isis = {}, {}
    for name in ("regular_spiking", "intrinsically_bursting", "chattering", "fast_spiking"):
        spk, _ = Izhikevich(parameter_set=name).trace(x)
        idx = torch.nonzero(spk[:, 0, 0]).flatten()
        rates[name] = len(idx)
        isis[name] = (idx[1:] - idx[:-1]).tolist()
    assert rates["fast_spiking"] > max(rates["regular_spiking"], rates["intrinsically_bursting"])
    assert isis["regular_spiking"][0] < isis["regular_spiking"][-1]
    assert min(isis["chattering"]) < 15 < max(isis["chattering"])


def test_izhikevich_gradients_and_errors():
    n = Izhikevich(learn=("a", "b", "c", "d"), learn_threshold=True, time_step=0.25)
    x = _x(shape=(300, 2, 3), scale=15.0, dtype=torch.float32)
    assert_grads_flow(n, x)
    assert_run_matches_steps(Izhikevich(), x, atol=1e-4)
    with pytest.raises(ValueError, match="parameter_set must be one of"):
        Izhikevich(parameter_set="bursty")
    with pytest.raises(ValueError, match="learn may name only"):
        Izhikevich(learn=("e",))
    with pytest.raises(ValueError, match="time_step must be"):
        Izhikevich(time_step=-1.0)
    st = Izhikevich(parameter_set="chattering").init_state(torch.zeros(2))
    torch.testing.assert_close(st.v, torch.full((2,), -50.0))
    torch.testing.assert_close(st.u, torch.full((2,), -10.0))


# -- AdEx --------------------------------------------------------------------------------------
def adex_reference(x, p, dt, vpeak, delay):
    v = np.full(x.shape[1:], p["E_L"], dtype=float)
    w = np.zeros_like(v)
    spikes, vs, ws = [], [], []
    for xt in x:
        if delay:
            r = ref.H(v - vpeak)
            v, w = r * p["V_reset"] + (1 - r) * v, w + r * p["b"]
        e = np.exp((np.minimum(v, vpeak) - p["V_T"]) / p["delta_T"])
        dv = (-p["g_L"] * (v - p["E_L"]) + p["g_L"] * p["delta_T"] * e - w + xt) / p["C"]
        dw = (p["a"] * (v - p["E_L"]) - w) / p["tau_w"]
        v, w = v + dt * dv, w + dt * dw
        s = ref.H(v - vpeak)
        if not delay:
            v, w = s * p["V_reset"] + (1 - s) * v, w + s * p["b"]
        spikes.append(s)
        vs.append(v.copy())
        ws.append(w.copy())
    return np.stack(spikes), np.stack(vs), np.stack(ws)


ADEX_DEFAULTS = {"C": 281.0, "g_L": 30.0, "E_L": -70.6, "V_T": -50.4, "delta_T": 2.0,
                 "tau_w": 144.0, "a": 4.0, "b": 80.5, "V_reset": -70.6}


@pytest.mark.parametrize("delay", [False, True])
@pytest.mark.parametrize("per_neuron", [False, True])
def test_adex_matches_reference(delay, per_neuron):
    p = dict(ADEX_DEFAULTS)
    if per_neuron:
        p["a"] = np.array([4.0, 0.0, 10.0])
        p["b"] = np.array([80.5, 0.0, 20.0])
        p["V_reset"] = np.array([-70.6, -55.0, -60.0])
    x = 600.0 + _x(shape=(3000, 2, 3), scale=400.0)
    n = AdEx(**{k: _t(v) for k, v in p.items()}, reset_delay=delay)
    spk, st = n.trace(x)
    r_spk, r_v, r_w = adex_reference(x.numpy(), p, 0.1, 20.0, delay)
    assert r_spk.sum() > 10
    np.testing.assert_allclose(_np(spk), r_spk, atol=0)
    np.testing.assert_allclose(_np(st.v), r_v, rtol=1e-9, atol=1e-7)
    np.testing.assert_allclose(_np(st.w), r_w, rtol=1e-9, atol=1e-7)


def test_adex_adapts_gradients_and_errors():
    spk, _ = AdEx(time_step=0.2).trace(torch.full((2000, 1, 1), 1000.0))
    idx = torch.nonzero(spk[:, 0, 0]).flatten()
    isi = (idx[1:] - idx[:-1]).tolist()
    assert len(idx) >= 4 and isi[0] < isi[-1]  # spike-frequency adaptation
    n = AdEx(learn=("C", "g_L", "E_L", "V_T", "delta_T", "tau_w", "a", "b", "V_reset"),
             learn_threshold=True)
    x = 900.0 + _x(shape=(600, 2, 3), scale=300.0, dtype=torch.float32)
    assert_grads_flow(n, x)
    assert_run_matches_steps(AdEx(), x, atol=1e-3)
    with pytest.raises(ValueError, match="C must be > 0"):
        AdEx(C=0.0)
    with pytest.raises(ValueError, match="learn may name only"):
        AdEx(learn=("V_peak",))


def test_created_through_registry():
    assert isinstance(snn.create("if"), IF)
    assert isinstance(snn.create("li", beta=0.9), LI)
    assert isinstance(snn.create("alif", beta=0.9), ALIF)
    assert isinstance(snn.create("izhikevich", parameter_set="fast_spiking"), Izhikevich)
    assert isinstance(snn.create("adex"), AdEx)


@pytest.mark.parametrize("make,match", [
    (lambda: ALIF(beta=0.9, rho=1.5), "rho must be in"),
    (lambda: ALIF(beta=0.9, adapt_scale=-1.0), "adapt_scale must be >= 0"),
    (lambda: ALIF(beta=0.9, learn_rho="no"), "learn_rho must be a bool"),
    (lambda: LI(beta=2.0), "beta must be in"),
    (lambda: IF(threshold=0.0), "threshold must be > 0"),
    (lambda: Izhikevich(a=float("nan")), "a must be finite"),
    (lambda: AdEx(tau_w=-1.0), "tau_w must be > 0"),
])
def test_bad_arguments_are_clear_errors(make, match):
    with pytest.raises((ValueError, TypeError), match=match):
        make()


def test_state_mismatch_is_an_error_not_a_silent_reset():
    n = ALIF(beta=0.9)
    _, st = n(torch.rand(2, N))
    with pytest.raises(ValueError, match="state.mem has shape"):
        n(torch.rand(3, N), st)
    with pytest.raises(TypeError, match="state must be a ALIFState"):
        n(torch.rand(2, N), (st.mem,))
