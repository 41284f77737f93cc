"""Autograd modes and transforms around snn.Sequential and the fused backends: inference mode,
torch.func on whole networks, neurons with their own run(), mutable attributes read by a
recorded step, zero-width layers."""

from __future__ import annotations

from collections import OrderedDict
from contextlib import nullcontext
from typing import NamedTuple

import pytest
import torch
from torch import Tensor, nn
from torch.func import functional_call, grad, vmap

import snncore as snn
from snncore import _kernel
from snncore.backends import _generic


def _mlp():
    torch.manual_seed(0)
    return snn.Sequential(nn.Linear(4, 8), snn.Leaky(beta=0.9), nn.Linear(8, 2),
                          snn.Leaky(beta=0.9, learn_threshold=True))


@pytest.mark.parametrize("mode", ["inference", "no_grad", "inference_input"])
def test_evaluation_modes_give_eager_outputs_on_every_backend(mode):
    net = _mlp()
    x = torch.rand(6, 3, 4) * 2
    ref = net(x, backend="eager")[0].detach()
    if mode == "inference_input":  # data made by a pipeline in inference mode
        with torch.inference_mode():
            x = x.clone()
    ctx = torch.inference_mode() if mode == "inference" else torch.no_grad()
    for backend in (None, "fused", "generic"):
        with ctx:
            out = net(x, backend=backend)[0]
        assert torch.equal(out, ref)
        assert not out.requires_grad


@pytest.mark.parametrize("grad_inside", [False, True])
def test_a_run_in_inference_mode_leaves_no_wrong_gradients_behind(grad_inside, monkeypatch):
    # the first description of a neuron (and the first probe of what eager tracks) made under
    # inference_mode is cached for later calls: it must not say "no gradient"
    monkeypatch.setattr(_kernel, "_cache", OrderedDict())
    monkeypatch.setattr(_generic, "_probe_cache", {})
    net = _mlp()
    x = torch.rand(6, 3, 4) * 2
    with torch.inference_mode(), torch.enable_grad() if grad_inside else nullcontext():
        first = net(x, backend="generic")[0]  # describes the neurons under inference_mode
        for backend in (None, "fused", "eager"):
            out = net(x, backend=backend)[0]
            assert torch.equal(out, first) and not out.requires_grad

    def grads(backend):
        net.zero_grad()
        out = net(x, backend=backend)[0]
        out.backward(torch.rand(out.shape, generator=torch.Generator().manual_seed(2)))
        return [out.detach()] + [p.grad.clone() for p in net.parameters()]

    ref = grads("eager")
    for backend in ("fused", "generic"):
        for a, b in zip(grads(backend), ref, strict=True):
            torch.testing.assert_close(a, b, rtol=1e-5, atol=1e-6)


def test_a_no_grad_forward_keeps_nothing_for_a_backward():
    lif = snn.Leaky(beta=0.9, learn_threshold=True)
    x = torch.rand(50, 4, 16)
    with torch.no_grad():
        spk, st = lif.run(x)
    assert spk.grad_fn is None and st.mem.grad_fn is None


def test_torch_func_per_sample_gradients_through_a_whole_network():
    torch.manual_seed(0)
    net = snn.Sequential(nn.Linear(4, 3), snn.Leaky(beta=0.9))
    params = {k: v.detach() for k, v in net.named_parameters()}
    x = torch.rand(5, 2, 4) * 2

    def loss(p, xb):  # one sample: [T, 1, 4]
        spk, st = functional_call(net, p, (xb,))
        return spk.sum() + st[1].mem.sum()

    per_sample = vmap(grad(loss), in_dims=(None, 1))(params, x.unsqueeze(2))
    for b in range(2):
        net.zero_grad()
        loss(dict(net.named_parameters()), x[:, b:b + 1]).backward()
        for k, p in net.named_parameters():
            torch.testing.assert_close(per_sample[k][b], p.grad)


def test_torch_func_vmap_over_a_conv_network():
    torch.manual_seed(0)
    net = snn.Sequential(nn.Conv2d(1, 2, 3), nn.ReLU(), snn.Leaky(beta=0.9))
    x = torch.rand(4, 3, 1, 6, 6)
    out = vmap(lambda xb: net(xb)[0], in_dims=1, out_dims=1)(x.unsqueeze(2))
    assert torch.equal(out.squeeze(2), net(x, backend="eager")[0])


class _SkipLeaky(snn.Leaky):
    """Reads its input after the run: it must get its input, not a buffer the loop reused."""

    def run(self, x_seq, state=None, *, backend=None):
        spk, st = super().run(x_seq, state, backend=backend)
        return spk + 0.5 * x_seq, st


@pytest.mark.parametrize("first", [lambda: nn.Linear(5, 3), lambda: nn.Conv1d(5, 3, 1)])
def test_a_neuron_with_its_own_run_gets_its_input_intact(first):
    torch.manual_seed(0)
    layer = first()
    x = torch.rand(4, 2, 5) if isinstance(layer, nn.Linear) else torch.rand(4, 2, 5, 7)
    t, b = x.shape[:2]
    z = layer(x.reshape(t * b, *x.shape[2:])).reshape(t, b, -1, *x.shape[3:])
    ref, _ = _SkipLeaky(beta=0.9).run(z, backend="eager")
    for backend in (None, "fused"):
        out, _ = snn.Sequential(layer, _SkipLeaky(beta=0.9))(x, backend=backend)
        torch.testing.assert_close(out, ref)


def test_a_neuron_with_its_own_run_after_a_channels_last_conv():
    torch.manual_seed(0)
    conv = nn.Conv2d(1, 3, 3)
    x = torch.rand(3, 2, 1, 8, 8)
    z = conv(x.reshape(6, 1, 8, 8)).reshape(3, 2, 3, 6, 6)
    ref, _ = _SkipLeaky(beta=0.9).run(z, backend="eager")
    out, _ = snn.Sequential(conv, _SkipLeaky(beta=0.9), channels_last=True)(x)
    torch.testing.assert_close(out, ref)


class _S(NamedTuple):
    mem: Tensor


class _Gain(snn.Neuron):
    """A neuron whose step reads a plain list attribute."""

    State = _S

    def __init__(self, coeffs, **kw):
        super().__init__(**kw)
        self.coeffs = coeffs

    def step(self, x, state):
        thr = self.param("threshold", x)
        mem = self.coeffs[0] * state.mem + self.coeffs[1] * x
        spk, mem = self.fire_and_reset(mem, thr)
        return spk, _S(mem)


def test_a_mutable_attribute_changed_in_place_is_seen_by_generic():
    x = torch.rand(6, 2, 3) * 2
    n = _Gain([0.9, 1.0])
    _, a = n.run(x, backend="generic")
    n.coeffs[1] = 3.0
    _, b = n.run(x, backend="generic")
    _, ref = n.run(x, backend="eager")
    assert not torch.equal(a.mem, b.mem)
    torch.testing.assert_close(b.mem, ref.mem)


def test_a_zero_width_linear_before_a_neuron_has_gradients():
    x = torch.rand(4, 3, 5, requires_grad=True)
    net = snn.Sequential(nn.Linear(5, 0), snn.Leaky(beta=0.9))
    for backend in ("fused", "eager"):
        x.grad = None
        spk, _ = net(x, backend=backend)
        assert spk.shape == (4, 3, 0)
        spk.sum().backward()
        assert torch.equal(x.grad, torch.zeros_like(x))


@pytest.mark.parametrize("backend", ["fused", "generic"])
def test_a_batched_backward_through_a_hand_written_loop_names_eager(backend):
    x = (torch.rand(4, 2, 3) * 2).requires_grad_()
    _, st = snn.Leaky(beta=0.9).run(x, backend=backend)
    with pytest.raises(snn.BackendError, match="batched backward.*backend='eager'"):
        torch.autograd.grad(st.mem, x, torch.randn(5, 2, 3), is_grads_batched=True)
    _, st = snn.Leaky(beta=0.9).run(x, backend="eager")
    (g,) = torch.autograd.grad(st.mem, x, torch.randn(5, 2, 3), is_grads_batched=True)
    assert g.shape == (5, 4, 2, 3)


def test_a_batched_backward_through_the_runners_linear():
    torch.manual_seed(0)
    net = snn.Sequential(nn.Linear(3, 3), nn.Tanh(), nn.Linear(3, 2), snn.Leaky(beta=0.9),
                         backend="eager")
    x = torch.rand(4, 2, 3, requires_grad=True)
    _, st = net(x)
    v = torch.randn(5, 2, 2)
    (g,) = torch.autograd.grad(st[3].mem, x, v, is_grads_batched=True)
    for i in range(2):
        _, st = net(x)
        (want,) = torch.autograd.grad(st[3].mem, x, v[i])
        torch.testing.assert_close(g[i], want)


def test_the_runners_linear_keeps_its_weight_only_for_an_input_gradient():
    lin, lif = nn.Linear(3, 3), snn.Leaky(beta=0.9)
    _, st = snn.Sequential(lin, lif, backend="eager")(torch.rand(4, 2, 3))
    with torch.no_grad():
        lin.weight.add_(1.0)  # an optimizer step before the backward, as nn.Linear allows
    st[1].mem.sum().backward()
    assert lin.weight.grad is not None


def _tracked(out: Tensor, state: tuple[Tensor, ...]) -> tuple[bool, ...]:
    return (out.requires_grad, *(t.requires_grad for t in state))


@pytest.mark.parametrize("T", [1, 7])
@pytest.mark.parametrize("reset", ["subtract", "zero", "none"])
@pytest.mark.parametrize("learn", [{}, {"learn_beta": True}, {"learn_threshold": True},
                                   {"learn_graded_spikes_factor": True}])
@pytest.mark.parametrize("x_grad", [False, True])
def test_outputs_are_tracked_exactly_where_eager_tracks_them(T, reset, learn, x_grad):
    """Every backend marks an output as requiring grad exactly where eager autograd does (with
    reset "zero" the membrane does not depend on a learnable threshold; with nothing learnable
    and an input without grad nothing is tracked), and a backward from an untracked output
    raises as in eager."""
    seen = {}
    for backend in ("eager", "fused", "generic"):
        lif = snn.Leaky(beta=0.9, reset=reset, **learn)
        x = (torch.rand(T, 2, 3) * 2).requires_grad_(x_grad)
        spk, st = lif.run(x, backend=backend)
        seen[backend] = _tracked(spk, st)
        if not st.mem.requires_grad:
            with pytest.raises(RuntimeError, match="does not require grad"):
                st.mem.sum().backward()
    assert seen["fused"] == seen["eager"] and seen["generic"] == seen["eager"], seen
    if not learn and not x_grad:
        assert not any(seen["eager"])


@pytest.mark.parametrize("frozen", [True, False])
def test_a_linear_neuron_pair_tracks_its_state_as_eager(frozen):
    def flags(backend):
        torch.manual_seed(0)
        fc = nn.Linear(4, 3).requires_grad_(not frozen)
        net = snn.Sequential(fc, snn.Leaky(beta=0.9, reset="zero", learn_threshold=True))
        out, (_, st) = net(torch.rand(5, 2, 4), backend=backend)
        return _tracked(out, st)

    assert flags(None) == flags("eager")
    assert flags(None) == ((True, False) if frozen else (True, True))


class _SwapState(NamedTuple):
    a: Tensor
    b: Tensor


class _Swap(snn.Neuron):
    """A neuron whose two state fields trade places every step: which of them carries the
    initial state's gradient alternates with the step count."""

    State = _SwapState

    def __init__(self) -> None:
        super().__init__(reset="none")
        self.add_param("beta", 0.5, False, low=0.0, high=1.0)

    def step(self, x: Tensor, state: _SwapState) -> tuple[Tensor, _SwapState]:
        a = self.param("beta", x) * state.b
        b = state.a + x
        return self.fire(a, self.param("threshold", x)), _SwapState(a, b)


@pytest.mark.parametrize("T", [1, 2, 3, 4, 5, 6, 9])
def test_tracking_follows_a_state_that_changes_places(T):
    seen = {}
    for backend in ("eager", "generic", None):
        n = _Swap()
        x = torch.rand(T, 2, 3)
        a0 = torch.rand(2, 3, requires_grad=True)  # only this initial field is tracked
        spk, st = n.run(x, _SwapState(a0, torch.zeros(2, 3)), backend=backend)
        seen[backend] = _tracked(spk, st)
    assert seen["generic"] == seen["eager"] and seen[None] == seen["eager"], seen
    assert seen["eager"][1:] == ((False, True) if T % 2 else (True, False))
