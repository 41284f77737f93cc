"""``snn.Sequential``'s combined path for an ``nn.Linear`` followed by a fused neuron: the same
spikes, states and gradients as the two layers run one after the other on ``eager``."""

from __future__ import annotations

import itertools

import pytest
import torch
from test_fused import KINDS, RESETS, B, N, T, _assert_same, _inputs, _make
from torch import nn

import snncore as snn
from snncore.backends import _fused

pytestmark = pytest.mark.usefixtures("stores")  # streaming and plain stores
IN = 7


def _layers(kind, reset, delay, per_neuron, learn=True, bias=True, **kw):
    gen = torch.Generator().manual_seed(3)
    fc = nn.Linear(IN, N, bias=bias)
    with torch.no_grad():
        fc.weight.copy_(torch.randn(N, IN, generator=gen) * 0.6)
        if bias:
            fc.bias.copy_(torch.randn(N, generator=gen) * 0.2 + 0.2)
    return fc, _make(kind, reset, delay, per_neuron, learn=learn, **kw)


def _run(fc, neuron, x, state, w_spk, w_state, backend, x_grad=True, loss="both"):
    """Forward + backward of Sequential(fc, neuron); spikes, final state, every gradient and
    the name of the spikes' autograd node."""
    net = snn.Sequential(fc, neuron)
    net.zero_grad(set_to_none=True)
    x = x.clone().requires_grad_(x_grad)
    state = neuron.State(*(s.clone().requires_grad_(True) for s in state))
    spk, (_, fin) = net(x, (None, state), backend=backend)
    total = x.new_zeros(())
    if loss in ("both", "spikes"):
        total = total + (spk * w_spk).sum()
    if loss == "sum":
        total = total + spk.sum()
    if loss in ("both", "state"):
        total = total + sum((f * w).sum() for f, w in zip(fin, w_state, strict=True))
    node = type(spk.grad_fn).__name__
    total.backward()
    grads = {"x": x.grad}
    grads.update({f"state.{k}": s.grad for k, s in zip(neuron.State._fields, state, strict=True)})
    grads.update({k: p.grad for k, p in net.named_parameters()})
    return (spk.detach(), [f.detach() for f in fin], grads), node


def _inputs_in(neuron, seed=5):
    x, state, w_spk, w_state = _inputs(neuron, seed=seed)
    gen = torch.Generator().manual_seed(seed + 1)
    return torch.randn(T, B, IN, generator=gen) * 0.8 + 0.2, state, w_spk, w_state


@pytest.mark.parametrize("kind,reset,delay,per_neuron", list(itertools.product(
    KINDS, RESETS, (True, False), (False, True))))
def test_linear_then_fused_neuron_equals_eager(kind, reset, delay, per_neuron):
    fc, neuron = _layers(kind, reset, delay, per_neuron)
    args = _inputs_in(neuron)
    ref, _ = _run(fc, neuron, *args, backend="eager")
    got, node = _run(fc, neuron, *args, backend="fused")
    assert node == "_FusedLinearFunctionBackward"
    _assert_same(ref, got)


@pytest.mark.parametrize("bias,x_grad,learn,loss", [
    (False, True, True, "both"), (True, False, False, "sum"), (True, False, True, "state"),
    (False, False, False, "spikes"), (True, True, False, "spikes")])
def test_bias_input_gradient_and_partial_losses(bias, x_grad, learn, loss):
    fc, neuron = _layers("synaptic", "subtract", True, True, learn=learn, bias=bias)
    args = _inputs_in(neuron)
    ref, _ = _run(fc, neuron, *args, backend="eager", x_grad=x_grad, loss=loss)
    got, node = _run(fc, neuron, *args, backend="fused", x_grad=x_grad, loss=loss)
    assert node == "_FusedLinearFunctionBackward"
    _assert_same(ref, got)


def test_frozen_linear_and_surrogate_without_native_derivative():
    fc, neuron = _layers("leaky", "zero", False, False, learn=False,
                         surrogate=snn.surrogate("sigmoid", slope=5.0))
    fc.requires_grad_(False)
    args = _inputs_in(neuron)
    ref, _ = _run(fc, neuron, *args, backend="eager")
    got, node = _run(fc, neuron, *args, backend="fused")
    assert node == "_FusedLinearFunctionBackward"
    _assert_same(ref, got)


def test_inference_writes_spikes_into_the_linear_output():
    fc, neuron = _layers("leaky", "subtract", True, False)
    x = torch.rand(T, B, IN)
    net = snn.Sequential(fc, neuron)
    with torch.no_grad():
        ref, (_, st_ref) = net(x, backend="eager")
        got, (_, st) = net(x)
    assert torch.equal(got, ref)
    torch.testing.assert_close(st.mem, st_ref.mem, rtol=1e-5, atol=1e-6)


def test_stateful_neuron_keeps_its_state_across_calls():
    fc, neuron = _layers("leaky", "subtract", True, False, learn=False)
    neuron.stateful = True
    x = torch.rand(2 * T, B, IN)
    net = snn.Sequential(fc, neuron)
    whole, (_, st) = net(x)
    assert st is None and neuron.state is not None
    snn.reset(neuron)
    halves = torch.cat([net(x[:T])[0], net(x[T:])[0]])
    assert torch.equal(halves, whole)
    ref = snn.Sequential(fc, neuron, backend="eager")
    snn.reset(neuron)
    assert torch.equal(ref(x)[0], whole)


def test_pairs_that_are_not_fused():
    """Hooks, a subclass of nn.Linear, other dtypes and a four-dimensional input run the two
    layers one after the other (and give the same numbers)."""
    fc, neuron = _layers("leaky", "subtract", True, False, learn=False)
    x = torch.rand(T, B, IN)
    assert _fused.linear_unfusable(fc, neuron, x) == ""
    seen = []
    handle = fc.register_forward_hook(lambda m, i, o: seen.append(o.shape))
    try:
        spk, _ = snn.Sequential(fc, neuron)(x)
    finally:
        handle.remove()
    assert seen == [torch.Size([T * B, N])]
    assert type(spk.grad_fn).__name__ == "_FusedFunctionBackward"

    class MyLinear(nn.Linear):
        pass

    assert _fused.linear_unfusable(MyLinear(IN, N), neuron, x) == "not a plain nn.Linear"
    assert "float32" in _fused.linear_unfusable(fc.double(), neuron, x.double())
    fc.float()
    assert "[T, B, in_features]" in _fused.linear_unfusable(fc, neuron, x[:, :, None])
    with torch.autocast("cpu", dtype=torch.bfloat16):
        assert _fused.linear_unfusable(fc, neuron, x) == "autocast is enabled"


def test_monitored_neuron_after_a_linear_is_recorded():
    """A Monitor (a run hook on the neuron instance) sees the neuron's run: the pair is not
    fused while the hook is there, and is again once it is removed."""
    fc, neuron = _layers("leaky", "subtract", True, False, learn=False)
    net = snn.Sequential(fc, neuron)
    x = torch.rand(T, B, IN)
    ref, _ = net(x)
    with torch.no_grad(), snn.Monitor(net, layers=type(neuron)) as mon:
        assert "hooked" in _fused.linear_unfusable(fc, neuron, x)
        spk, _ = net(x)
        rec = mon.stacked()
    assert list(rec) == ["1"]
    assert torch.equal(rec["1"], spk) and torch.equal(spk, ref)
    assert _fused.linear_unfusable(fc, neuron, x) == ""


def test_second_backward_through_the_pair_is_refused():
    fc, neuron = _layers("leaky", "subtract", True, False)
    spk, _ = snn.Sequential(fc, neuron)(torch.rand(T, B, IN))
    loss = spk.sum()
    loss.backward(retain_graph=True)
    with pytest.raises(RuntimeError, match="retain_graph"):
        loss.backward()


def test_bad_input_still_named():
    fc, neuron = _layers("leaky", "subtract", True, False)
    with pytest.raises(ValueError, match=r"\[T, B, \.\.\., F\]"):
        snn.Sequential(fc, neuron)(torch.rand(B, IN))
    with pytest.raises(ValueError, match="expects 7 features"):
        snn.Sequential(fc, neuron)(torch.rand(T, B, IN + 1))
