"""NumPy reference integrators (float64), written from the documented equations."""

from __future__ import annotations

import numpy as np


def H(x):
    return (np.asarray(x) > 0).astype(float)


def lif_update(mem, decay, drive, thr, reset, delay):
    """One step of ``U = decay·U + drive`` with the shared reset rules; returns (spike01, mem)."""
    if delay:
        r = H(mem - thr)
        if reset == "subtract":
            mem = decay * mem + drive - r * thr
        elif reset == "zero":
            mem = decay * (1 - r) * mem + drive
        else:
            mem = decay * mem + drive
        s = H(mem - thr)
    else:
        mem = decay * mem + drive
        s = H(mem - thr)
        if reset == "subtract":
            mem = mem - s * thr
        elif reset == "zero":
            mem = mem * (1 - s)
    return s, mem


def synaptic(x, alpha, beta, thr, reset, delay, g=1.0):
    syn = np.zeros(x.shape[1:])
    mem = np.zeros(x.shape[1:])
    out = []
    for t in range(x.shape[0]):
        syn = alpha * syn + x[t]
        s, mem = lif_update(mem, beta, syn, thr, reset, delay)
        out.append((s * g, syn.copy(), mem.copy()))
    return [np.stack(a) for a in zip(*out, strict=True)]


def rleaky_elementwise(x, beta, V, thr, reset, delay, g=1.0):
    mem = np.zeros(x.shape[1:])
    spk = np.zeros(x.shape[1:])
    out = []
    for t in range(x.shape[0]):
        s, mem = lif_update(mem, beta, x[t] + V * spk, thr, reset, delay)
        spk = s * g
        out.append((spk, mem.copy()))
    return [np.stack(a) for a in zip(*out, strict=True)]


def rleaky_linear(x, beta, W, b, thr, reset, delay, g=1.0):
    mem = np.zeros(x.shape[1:])
    spk = np.zeros(x.shape[1:])
    out = []
    for t in range(x.shape[0]):
        s, mem = lif_update(mem, beta, x[t] + spk @ W.T + b, thr, reset, delay)
        spk = s * g
        out.append((spk, mem.copy()))
    return [np.stack(a) for a in zip(*out, strict=True)]


def rsynaptic_elementwise(x, alpha, beta, V, thr, reset, delay, g=1.0):
    mem = np.zeros(x.shape[1:])
    syn = np.zeros(x.shape[1:])
    spk = np.zeros(x.shape[1:])
    out = []
    for t in range(x.shape[0]):
        syn = alpha * syn + x[t] + V * spk
        s, mem = lif_update(mem, beta, syn, thr, reset, delay)
        spk = s * g
        out.append((spk, syn.copy(), mem.copy()))
    return [np.stack(a) for a in zip(*out, strict=True)]


def alpha_neuron(x, alpha, beta, thr, reset, g=1.0):
    exc = np.zeros(x.shape[1:])
    inh = np.zeros(x.shape[1:])
    mem = np.zeros(x.shape[1:])
    c = np.log(alpha) / (np.log(beta) - np.log(alpha)) + 1
    out = []
    for t in range(x.shape[0]):
        r = H(mem - thr)
        if reset == "none":
            exc = alpha * exc + x[t]
            inh = beta * inh - x[t]
            mem = c * (exc + inh)
        elif reset == "zero":
            exc = alpha * (1 - r) * exc + x[t]
            inh = beta * (1 - r) * inh - x[t]
            mem = c * (exc + inh)
        else:
            e_new = alpha * exc + x[t]
            f_new = beta * inh - x[t]
            mem = c * (e_new + f_new) + r * inh
            exc = e_new - r * thr
            inh = (1 - r) * f_new
        out.append((H(mem - thr) * g, exc.copy(), inh.copy(), mem.copy()))
    return [np.stack(a) for a in zip(*out, strict=True)]


def lapicque(x, decay, gain, thr, reset, delay, g=1.0):
    mem = np.zeros(x.shape[1:])
    out = []
    for t in range(x.shape[0]):
        s, mem = lif_update(mem, decay, gain * x[t], thr, reset, delay)
        out.append((s * g, mem.copy()))
    return [np.stack(a) for a in zip(*out, strict=True)]


def sigmoid(x):
    return 1 / (1 + np.exp(-x))


def _lstm_reset(h, thr, reset, delay):
    """Shared reset handling of the LSTM references: returns (h_in, r or None)."""
    if not delay or reset == "none":
        return h, None
    r = H(h - thr)
    if reset == "zero":
        return (1 - r) * h, None
    return h, r


def slstm(x, W_ih, W_hh, b, hidden, thr, reset, delay, g=1.0):
    """Spiking LSTM: nn.LSTMCell gate order (i, f, g, o)."""
    h = np.zeros(x.shape[1:-1] + (hidden,))
    c = np.zeros_like(h)
    out = []
    for t in range(x.shape[0]):
        h_in, r = _lstm_reset(h, thr, reset, delay)
        z = x[t] @ W_ih.T + h_in @ W_hh.T + b
        i, f, gg, o = np.split(z, 4, axis=-1)
        c = sigmoid(f) * c + sigmoid(i) * np.tanh(gg)
        h = sigmoid(o) * np.tanh(c)
        if r is not None:
            h = h - r * thr
        s = H(h - thr)
        if not delay:
            if reset == "subtract":
                h = h - s * thr
            elif reset == "zero":
                h = h * (1 - s)
        out.append((s * g, c.copy(), h.copy()))
    return [np.stack(a) for a in zip(*out, strict=True)]
