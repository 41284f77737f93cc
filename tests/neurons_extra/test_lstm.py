"""SLSTM and SConv2dLSTM against a NumPy reference, snnTorch 1.0.0 and their contracts."""

from __future__ import annotations

import itertools

import neurons_extra_refs as ref
import numpy as np
import pytest
import torch
from neurons_extra_checks import assert_grads_flow, assert_run_matches_steps

import snncore as snn
from snn_neurons_extra import SLSTM, SConv2dLSTM

T, B = 50, 3
RESETS = ("subtract", "zero", "none")


def _x(shape, seed=3, scale=2.0, dtype=torch.float64):
    gen = torch.Generator().manual_seed(seed)
    return (torch.rand(*shape, generator=gen, dtype=dtype) - 0.3) * scale


def _np(t):
    return t.detach().numpy()


@pytest.mark.parametrize("reset,delay,sizes",
                         list(itertools.product(RESETS, (True, False), ((4, 4), (3, 5)))))
def test_slstm_matches_reference(reset, delay, sizes):
    torch.manual_seed(0)
    n_in, n_hid = sizes
    thr = 0.1
    n = SLSTM(n_in, n_hid, threshold=thr, reset=reset, reset_delay=delay).double()
    with torch.no_grad():
        n.lstm_cell.weight_ih.mul_(3.0)
    x = _x((T, B, n_in))
    spk, st = n.trace(x)
    cell = n.lstm_cell
    b = _np(cell.bias_ih + cell.bias_hh)
    r_spk, r_c, r_h = ref.slstm(x.numpy(), _np(cell.weight_ih), _np(cell.weight_hh), b, n_hid,
                                thr, reset, delay)
    assert 10 < r_spk.sum() < r_spk.size - 10
    np.testing.assert_allclose(_np(spk), r_spk, atol=1e-12)
    np.testing.assert_allclose(_np(st.syn), r_c, atol=1e-10)
    np.testing.assert_allclose(_np(st.mem), r_h, atol=1e-10)


def test_slstm_matches_snntorch_when_sizes_agree():
    snntorch = pytest.importorskip("snntorch")
    theirs = snntorch.SLSTM(4, 4, threshold=0.1)
    ours = SLSTM(4, 4, threshold=0.1)
    ours.lstm_cell.load_state_dict(theirs.lstm_cell.state_dict())
    x = _x((T, B, 4), dtype=torch.float32)
    syn, mem = theirs.init_slstm()
    spikes, mems, syns = [], [], []
    for xt in x:
        s, syn, mem = theirs(xt, syn, mem)
        spikes.append(s)
        mems.append(mem)
        syns.append(syn)
    spk, st = ours.trace(x)
    assert torch.stack(spikes).sum() > 10
    torch.testing.assert_close(spk, torch.stack(spikes), atol=1e-6, rtol=0)
    torch.testing.assert_close(st.mem, torch.stack(mems).detach(), atol=1e-6, rtol=0)
    torch.testing.assert_close(st.syn, torch.stack(syns).detach(), atol=1e-6, rtol=0)


def test_slstm_keeps_state_when_input_size_differs_from_hidden_size():
    """snnTorch re-zeroes h and c every step when input_size != hidden_size."""
    n = SLSTM(3, 5)
    x = torch.ones(2, 1, 3)
    _, st = n.trace(x)
    with torch.no_grad():
        h1, c1 = n.lstm_cell(x[1], (st.mem[0], st.syn[0]))
        h_fresh, _ = n.lstm_cell(x[1])
    torch.testing.assert_close(st.mem[1], h1)
    assert not torch.allclose(st.mem[1], h_fresh)
    assert st.mem.shape == (2, 1, 5)


@pytest.mark.parametrize("pool", [{}, {"max_pool": 2}, {"avg_pool": 2}])
def test_sconv2dlstm_matches_snntorch(pool):
    snntorch = pytest.importorskip("snntorch")
    theirs = snntorch.SConv2dLSTM(2, 3, 3, threshold=0.05, **pool)
    ours = SConv2dLSTM(2, 3, 3, threshold=0.05, **pool)
    ours.conv.load_state_dict(theirs.conv.state_dict())
    x = _x((20, B, 2, 6, 6), dtype=torch.float32)
    syn, mem = theirs.init_sconv2dlstm()
    spikes, mems = [], []
    for xt in x:
        s, syn, mem = theirs(xt, syn, mem)
        spikes.append(s)
        mems.append(mem)
    spk, st = ours.trace(x)
    assert torch.stack(spikes).sum() > 10
    torch.testing.assert_close(spk, torch.stack(spikes), atol=1e-6, rtol=0)
    torch.testing.assert_close(st.mem, torch.stack(mems).detach(), atol=1e-6, rtol=0)


def _conv_lstm_reference(x, w, b, out, thr, reset, delay):
    """NumPy conv-LSTM (gate order i, f, o, g), 'same' padding, odd kernel."""
    k = w.shape[-1]
    p = k // 2
    Bn, _, Hh, Ww = x.shape[1:]
    h = np.zeros((Bn, out, Hh, Ww))
    c = np.zeros_like(h)
    spikes, hs = [], []
    for t in range(x.shape[0]):
        h_in, r = ref._lstm_reset(h, thr, reset, delay)
        z = np.concatenate([x[t], h_in], axis=1)
        zp = np.pad(z, ((0, 0), (0, 0), (p, p), (p, p)))
        conv = np.zeros((Bn, 4 * out, Hh, Ww))
        for di in range(k):
            for dj in range(k):
                patch = zp[:, :, di:di + Hh, dj:dj + Ww]
                conv += np.einsum("bchw,oc->bohw", patch, w[:, :, di, dj])
        conv += b[None, :, None, None]
        i, f, o, g = np.split(conv, 4, axis=1)
        c = ref.sigmoid(f) * c + ref.sigmoid(i) * np.tanh(g)
        h = ref.sigmoid(o) * np.tanh(c)
        if r is not None:
            h = h - r * thr
        s = ref.H(h - thr)
        if not delay:
            if reset == "subtract":
                h = h - s * thr
            elif reset == "zero":
                h = h * (1 - s)
        spikes.append(s)
        hs.append(h.copy())
    return np.stack(spikes), np.stack(hs)


@pytest.mark.parametrize("reset,delay", list(itertools.product(RESETS, (True, False))))
def test_sconv2dlstm_matches_reference(reset, delay):
    n = SConv2dLSTM(2, 2, 3, threshold=0.05, reset=reset, reset_delay=delay).double()
    x = _x((T, 2, 2, 4, 5))
    spk, st = n.trace(x)
    r_spk, r_h = _conv_lstm_reference(x.numpy(), _np(n.conv.weight), _np(n.conv.bias), 2, 0.05,
                                      reset, delay)
    assert 10 < r_spk.sum() < r_spk.size - 10
    np.testing.assert_allclose(_np(spk), r_spk, atol=1e-12)
    np.testing.assert_allclose(_np(st.mem), r_h, atol=1e-10)


def test_gradients_and_run():
    n = SLSTM(4, 6, threshold=0.05, learn_threshold=True, learn_graded_spikes_factor=True,
              reset="subtract")
    x = _x((20, B, 4), dtype=torch.float32)
    assert_grads_flow(n, x)
    assert_run_matches_steps(n, x)
    c = SConv2dLSTM(2, 3, 3, threshold=0.05, learn_threshold=True, max_pool=2)
    xc = _x((10, B, 2, 6, 6), dtype=torch.float32)
    assert_grads_flow(c, xc)
    assert_run_matches_steps(c, xc)


def test_per_neuron_threshold_has_hidden_shape():
    n = SLSTM(3, 5, threshold=torch.linspace(0.1, 0.5, 5))
    spk, st = n.run(torch.rand(4, 2, 3))
    assert spk.shape == (4, 2, 5)
    with pytest.raises(ValueError, match="threshold has shape"):
        SLSTM(3, 5, threshold=torch.ones(3))(torch.rand(2, 3))


@pytest.mark.parametrize("make,x,match", [
    (lambda: SLSTM(3, 5), torch.rand(2, 4), "input_size=3"),
    (lambda: SConv2dLSTM(2, 3, 3), torch.rand(2, 1, 4, 4), "in_channels=2"),
    (lambda: SConv2dLSTM(2, 3, 2), None, "kernel_size must be odd"),
    (lambda: SConv2dLSTM(2, 3, 3, max_pool=2, avg_pool=2), None, "not both"),
    (lambda: SLSTM(0, 5), None, "input_size must be an int >= 1"),
])
def test_bad_arguments(make, x, match):
    with pytest.raises(ValueError, match=match):
        make()(x)


def test_stateful_and_registry():
    n = snn.create("slstm", input_size=3, hidden_size=4, stateful=True)
    out = [n(xt) for xt in torch.rand(5, 2, 3)]
    assert out[-1].shape == (2, 4) and n.state.mem.shape == (2, 4)
    assert isinstance(snn.create("sconv2dlstm", in_channels=1, out_channels=2, kernel_size=3),
                      SConv2dLSTM)
