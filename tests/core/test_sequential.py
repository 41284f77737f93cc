"""snn.Sequential: time folded into batch, whole-sequence neurons, streaming, backends, compile."""

from __future__ import annotations

import pytest
import torch
from torch import nn

import snncore as snn

T, B = 12, 4


def _mlp(dtype=torch.float64, **kw):
    torch.manual_seed(0)
    net = snn.Sequential(nn.Linear(6, 16), snn.Leaky(beta=0.8), nn.Linear(16, 3),
                         snn.Leaky(beta=torch.linspace(0.5, 0.9, 3), learn_beta=True), **kw)
    return net.to(dtype)


def _x(*shape, dtype=torch.float64, seed=1):
    return torch.rand(*shape, generator=torch.Generator().manual_seed(seed), dtype=dtype) * 2


def _manual(net, x):
    """Reference: every layer one step at a time, through autograd."""
    lin1, lif1, lin2, lif2 = net
    s1 = s2 = None
    out = []
    for xt in x:
        h, s1 = lif1(lin1(xt), s1)
        o, s2 = lif2(lin2(h), s2)
        out.append(o)
    return torch.stack(out), (None, s1, None, s2)


def test_matches_manual_step_loop_and_gradients():
    net = _mlp()
    x = _x(T, B, 6)
    out, state = net(x)
    ref, ref_state = _manual(net, x)
    assert out.shape == (T, B, 3)
    assert torch.equal(out, ref)
    torch.testing.assert_close(state[3].mem, ref_state[3].mem)
    assert state[0] is None and state[2] is None
    g1 = torch.autograd.grad((out * torch.arange(3.0, dtype=x.dtype)).sum() + state[3].mem.sum(),
                             list(net.parameters()))
    g2 = torch.autograd.grad((ref * torch.arange(3.0, dtype=x.dtype)).sum()
                             + ref_state[3].mem.sum(), list(net.parameters()))
    for a, b in zip(g1, g2, strict=True):
        torch.testing.assert_close(a, b, rtol=1e-9, atol=1e-12)


def test_step_mode_equals_sequence_mode():
    net = _mlp()
    x = _x(T, B, 6)
    seq, seq_state = net(x)
    state, outs = None, []
    for xt in x:
        o, state = net.step(xt, state)
        outs.append(o)
    assert torch.equal(torch.stack(outs), seq)
    assert torch.equal(state[1].mem, seq_state[1].mem)


def test_stateful_chunks_and_reset():
    net = _mlp(stateful=True)
    x = _x(T, B, 6)
    full = net(x)
    snn.reset(net)
    assert net.state is None
    parts = torch.cat([net(x[:5]), net(x[5:])])
    assert torch.equal(parts, full)
    snn.detach(net)
    assert all(s is None or not s.mem.requires_grad for s in net.state)
    snn.reset(net)
    steps = torch.stack([net.step(xt) for xt in x])
    assert torch.equal(steps, full)


def test_convolutional_layers_fold_time_into_batch():
    torch.manual_seed(2)
    net = snn.Sequential(nn.Conv2d(2, 4, 3, padding=1), nn.BatchNorm2d(4), nn.MaxPool2d(2),
                         snn.Leaky(beta=0.9), nn.Flatten(), nn.Linear(4 * 4 * 4, 5),
                         snn.Leaky(beta=0.9)).double()
    x = _x(T, B, 2, 8, 8)
    out, _ = net(x)
    assert out.shape == (T, B, 5)
    conv, bn, pool, lif, flat, lin, lif2 = net
    folded = pool(bn(conv(x.reshape(T * B, 2, 8, 8)))).reshape(T, B, 4, 4, 4)
    s1, _ = lif.run(folded, backend="eager")
    s2, _ = lif2.run(lin(flat(s1.reshape(T * B, 4, 4, 4))).reshape(T, B, 5), backend="eager")
    assert torch.equal(out, s2)


def test_dropout_one_mask_per_sequence():
    torch.manual_seed(3)
    net = snn.Sequential(nn.Dropout(0.5), nn.Dropout2d(0.5))
    x = torch.ones(T, B, 3, 5, 5)
    out, (mask, mask2) = net(x)
    assert mask.shape == (B, 3, 5, 5) and mask2.shape == (B, 3, 1, 1)
    assert torch.equal(out, (x * mask * mask2))
    assert (out == out[0]).all()  # the same units are dropped at every step
    assert (out == 0).any() and (out != 0).any()
    again, _ = net(x, (mask, mask2))  # a passed state keeps the mask
    assert torch.equal(again, out)
    stepped, st = net.step(x[0], (mask, mask2))
    assert torch.equal(stepped, out[0])
    net.eval()
    assert torch.equal(net(x)[0], x)


@pytest.mark.parametrize("how", ["argument", "attribute", "context", "env"])
def test_backend_selection(how, monkeypatch):
    from snncore import _backends

    chosen = []
    real = _backends.select_backend

    def spy(neuron, x_seq, requested=None):
        b = real(neuron, x_seq, requested)
        chosen.append(b.name)
        return b

    monkeypatch.setattr(_backends, "select_backend", spy)
    net = _mlp()
    x = _x(T, B, 6)
    ref, _ = net(x, backend="eager")
    chosen.clear()
    if how == "argument":
        out, _ = net(x, backend="fused")
    elif how == "attribute":
        net.backend = "fused"
        out, _ = net(x)
    elif how == "context":
        with snn.use_backend("fused"):
            out, _ = net(x)
    else:
        monkeypatch.setenv("SNNCORE_BACKEND", "fused")
        out, _ = net(x)
    assert chosen == ["fused", "fused"]
    assert torch.equal(out, ref)
    chosen.clear()
    net.backend = None
    monkeypatch.delenv("SNNCORE_BACKEND", raising=False)
    net(x)
    assert chosen == ["fused", "fused"]  # default: the fastest backend that supports the neuron


def test_nested_runner_and_stateful_neuron():
    torch.manual_seed(4)
    inner = snn.Sequential(nn.Linear(6, 6), snn.Leaky(beta=0.7))
    net = snn.Sequential(inner, nn.Linear(6, 2), snn.Leaky(beta=0.7, stateful=True)).double()
    x = _x(T, B, 6)
    out, state = net(x)
    assert out.shape == (T, B, 2) and isinstance(state[0], tuple) and state[2] is None
    assert net[2].state is not None


def test_bad_input():
    net = _mlp()
    with pytest.raises(ValueError, match="time-first"):
        net(torch.rand(6))
    with pytest.raises(ValueError, match=r"T >= 1, got shape \(0, 4, 6\) \(no time step\)"):
        net(torch.rand(0, 4, 6))
    with pytest.raises(TypeError, match="tensor"):
        net([1, 2])
    with pytest.raises(TypeError, match="one entry per layer"):
        net(_x(T, B, 6), state=(None,))
    with pytest.raises(TypeError, match="contains neurons"):
        snn.Sequential(nn.Sequential(nn.Linear(2, 2), snn.Leaky(beta=0.5)))
    with pytest.raises(TypeError, match="stateful"):
        snn.Sequential(nn.Linear(2, 2), stateful=1)
    with pytest.raises(TypeError, match="LSTM"):
        snn.Sequential(nn.LSTM(4, 4), snn.Leaky(beta=0.5))


@pytest.mark.compile
def test_torch_compile_fullgraph_no_graph_breaks():
    torch.manual_seed(5)
    net = snn.Sequential(nn.Linear(6, 8), snn.Leaky(beta=0.9), nn.Linear(8, 2),
                         snn.Leaky(beta=0.8, learn_beta=True))
    x = torch.rand(4, 2, 6) * 2

    def f(inp):
        return net(inp)[0]

    explained = torch._dynamo.explain(f)(x)
    assert explained.graph_break_count == 0, explained.break_reasons
    compiled = torch.compile(f, fullgraph=True, backend="aot_eager")
    out = compiled(x)
    ref = f(x)
    assert torch.equal(out, ref)
    g1 = torch.autograd.grad(out.sum(), [net[3].beta])[0]
    g2 = torch.autograd.grad(f(x).sum(), [net[3].beta])[0]
    torch.testing.assert_close(g1, g2)


def test_float32_fused_network_gradients_match_eager():
    """float32 on CPU: the neurons run on the native fused loops (membrane stored, since the
    neurons' inputs are intermediate results)."""
    net = _mlp(dtype=torch.float32)
    x = _x(T, B, 6, dtype=torch.float32)
    outs = {}
    for name in ("eager", "fused"):
        net.zero_grad()
        out, state = net(x, backend=name)
        ((out * torch.arange(3.0)).sum() + state[3].mem.sum()).backward()
        outs[name] = (out.detach(), [p.grad.clone() for p in net.parameters()])
    assert torch.equal(outs["eager"][0], outs["fused"][0])
    for a, b in zip(outs["eager"][1], outs["fused"][1], strict=True):
        torch.testing.assert_close(b, a, rtol=1e-5, atol=1e-6)


def test_forgotten_time_axis_is_named() -> None:
    net = snn.Sequential(nn.Linear(784, 32), snn.Leaky(beta=0.9))
    with pytest.raises(ValueError,
                       match=r"time-first input \[T, B, \.\.\., F\].*\(32, 784\).*time axis"):
        net(torch.rand(32, 784))
    with pytest.raises(ValueError, match="expects 784 features"):
        net(torch.rand(4, 32, 100))
    conv = snn.Sequential(nn.Conv2d(1, 4, 3), snn.Leaky(beta=0.9))
    with pytest.raises(ValueError, match=r"\[T, B, C, H, W\].*time axis"):
        conv(torch.rand(8, 1, 12, 12))
    with pytest.raises(ValueError, match="expects 1 channels"):
        conv(torch.rand(2, 8, 3, 12, 12))
    out, _ = conv(torch.rand(2, 8, 1, 12, 12))
    assert out.shape == (2, 8, 4, 10, 10)
