"""All-to-all RLeaky / RSynaptic on the fused backend: equal to eager for every option."""

from __future__ import annotations

import itertools

import neurons_extra_refs as ref
import numpy as np
import pytest
import torch
from torch import nn

import snncore as snn
from snn_neurons_extra import RLeaky, RSynaptic
from snncore.extend import get_backend, select_backend

T, B, N = 14, 3, 5
C, H, W = 2, 3, 4
RESETS = ("subtract", "zero", "none")


def _make(kind, layer, reset, delay, per_neuron=False, learn=True, **extra):
    torch.manual_seed(11)
    shape = (N,) if layer == "linear" else (C, 1, 1)
    pn = (lambda lo, hi: torch.linspace(lo, hi, shape[0]).reshape(shape)) if per_neuron \
        else (lambda lo, hi: lo)
    kw = {"threshold": pn(0.8, 1.2), "graded_spikes_factor": pn(1.0, 1.4), "reset": reset,
          "reset_delay": delay, "learn_beta": learn, "learn_threshold": learn,
          "learn_graded_spikes_factor": learn, **extra}
    kw.update({"linear_features": N} if layer == "linear"
              else {"conv2d_channels": C, "kernel_size": 3})
    if kind == "rleaky":
        n = RLeaky(beta=pn(0.8, 0.95), **kw)
    else:
        n = RSynaptic(alpha=pn(0.6, 0.9), beta=pn(0.8, 0.95), learn_alpha=learn, **kw)
    with torch.no_grad():  # strong enough feedback to matter
        n.recurrent.weight.mul_(2.0)
    return n


def _input(layer, seed=3, dtype=torch.float32):
    shape = (T, B, N) if layer == "linear" else (T, B, C, H, W)
    gen = torch.Generator().manual_seed(seed)
    return torch.rand(*shape, generator=gen, dtype=dtype) * 0.8


def _state(neuron, x, seed=4):
    """A non-zero initial state that requires grad."""
    gen = torch.Generator().manual_seed(seed)
    fields = {}
    for f in neuron.State._fields:
        v = torch.rand(x.shape[1:], generator=gen, dtype=x.dtype)
        fields[f] = ((v > 0.6).to(x.dtype) if f == "spk" else v * 0.5).requires_grad_()
    return neuron.State(**fields)


def _loss(spk, st, x):
    w = torch.linspace(0.5, 1.5, x.shape[-1], dtype=x.dtype)
    out = (spk * w).sum() + st.mem.pow(2).sum() + 0.3 * st.spk.sum()
    if hasattr(st, "syn"):
        out = out + 0.2 * st.syn.sum()
    return out


def _close(a, b, what):
    assert (a is None) == (b is None), f"{what}: None on one side only"
    if a is None:
        return
    scale = float(b.detach().abs().max()) or 1.0
    torch.testing.assert_close(a, b, rtol=1e-5, atol=1e-5 * scale, msg=what)


def _compare(make, x, native_loops=None, with_state=True):
    results = []
    for backend in ("eager", "fused"):
        n = make()
        xx = x.clone().requires_grad_()
        state = _state(n, x) if with_state else None
        if backend == "fused":
            assert select_backend(n, xx).name == "fused"
        if backend == "fused" and native_loops is False:
            from snncore.backends._feedback import feedback_run  # the PyTorch loop on CPU

            spk, st = feedback_run(n, xx, n.prepare(xx[0], state), native_loops=False)
        else:
            spk, st = n.run(xx, state, backend=backend)
        _loss(spk, st, x).backward()
        grads = {"x": xx.grad, **{k: p.grad for k, p in n.named_parameters()}}
        if with_state:
            grads.update({f"state.{f}": getattr(state, f).grad for f in state._fields})
        results.append((spk.detach(), st, grads))
    (s0, st0, g0), (s1, st1, g1) = results
    assert 0.05 < float((s0 > 0).float().mean()) < 0.9
    assert torch.equal(s0, s1), "spikes differ"
    for f in st0._fields:
        _close(getattr(st1, f), getattr(st0, f), f"final {f}")
    assert g0.keys() == g1.keys()
    for k in g0:
        _close(g1[k], g0[k], f"gradient of {k}")


@pytest.mark.parametrize("kind,layer,reset,delay", list(itertools.product(
    ("rleaky", "rsynaptic"), ("linear", "conv"), RESETS, (True, False))))
def test_fused_equals_eager(kind, layer, reset, delay):
    _compare(lambda: _make(kind, layer, reset, delay, per_neuron=layer == "linear"),
             _input(layer))


@pytest.mark.parametrize("kind,layer,reset,delay", list(itertools.product(
    ("rleaky", "rsynaptic"), ("linear", "conv"), RESETS, (True, False))))
def test_pytorch_loop_equals_eager(kind, layer, reset, delay):
    _compare(lambda: _make(kind, layer, reset, delay, per_neuron=True), _input(layer),
             native_loops=False)


@pytest.mark.parametrize("kind", ("rleaky", "rsynaptic"))
def test_constant_parameters_fixed_weights_and_other_surrogates(kind):
    # nothing learnable but the input; a surrogate whose derivative PyTorch computes
    def make():
        return _make(kind, "linear", "subtract", True, learn=False, learn_recurrent=False,
                     surrogate="sigmoid")

    _compare(make, _input("linear"), with_state=False)
    n = make()
    spk, _ = n.run(_input("linear").requires_grad_())
    spk.sum().backward()
    assert n.recurrent.weight.grad is None and n.recurrent.bias.grad is None


def test_float64_and_unbatched_input():
    x64 = _input("linear", dtype=torch.float64)
    _compare(lambda: _make("rsynaptic", "linear", "zero", False).double(), x64)
    _compare(lambda: _make("rleaky", "linear", "subtract", True), _input("linear")[:, 0])
    xc = _input("conv")[:, 0]  # [T, C, H, W]
    _compare(lambda: _make("rleaky", "conv", "subtract", False), xc)


def test_float32_layer_on_float64_input():
    # the layer computes in the input's dtype, gradients reach the float32 weights
    _compare(lambda: _make("rleaky", "linear", "subtract", True, per_neuron=True).to(
        torch.float32), _input("linear", dtype=torch.float64), with_state=False)


def test_matches_the_numpy_reference():
    n = RLeaky(beta=0.9, linear_features=N, graded_spikes_factor=0.7).double()
    with torch.no_grad():
        n.recurrent.weight.mul_(2.0)
    x = _input("linear", dtype=torch.float64)
    spk, st = n.run(x, backend="fused")
    r_spk, r_mem = ref.rleaky_linear(x.numpy(), 0.9, n.recurrent.weight.detach().numpy(),
                                     n.recurrent.bias.detach().numpy(), 1.0, "subtract", True,
                                     0.7)
    assert (r_spk > 0).sum() > 10
    np.testing.assert_allclose(spk.detach().numpy(), r_spk, atol=1e-12)
    np.testing.assert_allclose(st.mem.detach().numpy(), r_mem[-1], atol=1e-10)


@pytest.mark.parametrize("reset", RESETS)
def test_gradient_contract_single_step(reset):
    # T = 1, loss on the membrane only: the spikes feed nothing, so g (and the threshold
    # without a subtract reset) get None, as with eager; the weights still get a gradient
    x = _input("linear")[:1]
    grads = []
    for backend in ("eager", "fused"):
        n = _make("rleaky", "linear", reset, True)
        _, st = n.run(x, _state(n, x), backend=backend)
        st.mem.pow(2).sum().backward()
        grads.append({k: p.grad for k, p in n.named_parameters()})
    for k in grads[0]:
        _close(grads[1][k], grads[0][k], k)
    assert grads[1]["graded_spikes_factor"] is None
    assert (grads[1]["threshold"] is None) == (reset != "subtract")
    assert grads[1]["recurrent.weight"] is not None


def test_no_grad_forward_and_unused_outputs():
    x = _input("conv")
    n = _make("rsynaptic", "conv", "subtract", True)
    with torch.no_grad():
        spk, st = n.run(x)
    spk_e, st_e = n.run(x, backend="eager")
    assert torch.equal(spk, spk_e)
    torch.testing.assert_close(st.syn, st_e.syn, rtol=1e-5, atol=1e-6)
    # only the final membrane used: every gradient still agrees
    for backend in ("eager", "fused"):
        n = _make("rsynaptic", "conv", "zero", False)
        _, st = n.run(x, backend=backend)
        st.mem.sum().backward()
        if backend == "eager":
            ref_grads = {k: p.grad for k, p in n.named_parameters()}
        else:
            for k, p in n.named_parameters():
                _close(p.grad, ref_grads[k], k)


def test_backward_twice_raises_clearly():
    n = _make("rleaky", "linear", "subtract", True)
    spk, _ = n.run(_input("linear").requires_grad_())
    spk.sum().backward(retain_graph=True)
    with pytest.raises(RuntimeError, match="backend='eager'"):
        spk.sum().backward()


def test_options_it_does_not_take_run_eager_with_reason():
    x = _input("linear")
    for make, why in (
        (lambda: _make("rleaky", "linear", "subtract", True, inhibition=True), "inhibition"),
        (lambda: _make("rleaky", "linear", "subtract", True, detach_reset=False),
         "detach_reset"),
        (lambda: _make("rsynaptic", "linear", "subtract", True, surrogate="sso"),
         "deterministic"),
    ):
        n = make()
        ok, reason = get_backend("fused").supports(n, x)
        assert not ok and why in reason, reason
        assert select_backend(n, x).name == "eager"
    n = _make("rleaky", "linear", "subtract", True)
    n.recurrent.register_forward_hook(lambda *a: None)
    ok, reason = get_backend("fused").supports(n, x)
    assert not ok and "hooks" in reason


class _Shrinking(snn.Neuron):
    """A third-party neuron declaring all-to-all feedback through the public attributes."""

    State = RLeaky.State
    fused_kind = "rleaky_feedback"

    def __init__(self, layer: nn.Module) -> None:
        super().__init__()
        self.add_param("beta", 0.9, False)
        self.fused_feedback = layer

    def step(self, x, state):
        beta, thr = self.param("beta", x), self.param("threshold", x)
        mem = self.integrate(beta, state.mem, x + self.fused_feedback(state.spk), thr)
        spk, mem = self.fire_and_reset(mem, thr)
        return spk, self.State(spk, mem)


def test_third_party_neuron_through_the_public_attributes():
    torch.manual_seed(0)
    n = _Shrinking(nn.Linear(N, N))
    with torch.no_grad():
        n.fused_feedback.weight.mul_(2.0)
    x = _input("linear")
    spk, st = n.run(x, backend="fused")
    spk_e, st_e = n.run(x, backend="eager")
    assert torch.equal(spk, spk_e) and float(spk.detach().mean()) > 0.05
    # a layer that does not keep the shape is refused with the remedy
    n.fused_feedback = nn.Conv2d(C, C, 3)  # no padding: shrinks H and W
    ok, _ = get_backend("fused").supports(n, _input("conv"))
    assert ok
    with pytest.raises(ValueError, match="must keep the shape"):
        n.run(_input("conv"), backend="fused")
    n.fused_feedback = nn.Linear(N, N + 1)
    ok, reason = get_backend("fused").supports(n, x)
    assert not ok and "nn.Linear(F, F)" in reason


@pytest.mark.parametrize("chunk_elems", (1, 4000))
def test_conv_weight_gradient_in_time_chunks(monkeypatch, chunk_elems):
    # the convolution's weight gradient over all steps, summed chunk by chunk (1 or a few steps)
    from snncore.backends import _feedback

    monkeypatch.setattr(_feedback, "_CONV_CHUNK_ELEMS", chunk_elems)
    _compare(lambda: _make("rsynaptic", "conv", "subtract", True), _input("conv"))


def test_double_backward_names_the_remedy():
    n = _make("rleaky", "linear", "subtract", True)
    x = _input("linear").requires_grad_()
    spk, _ = n.run(x)
    (gx,) = torch.autograd.grad(spk.sum(), x, create_graph=True)
    with pytest.raises(snn.BackendError, match="backend='eager'"):
        gx.sum().backward()


def test_large_layer_splits_over_threads():
    # >= 2**21 neurons per step: the native element-wise steps are split over threads
    torch.manual_seed(2)
    n_feat = 64
    x = torch.rand(2, (1 << 21) // n_feat, n_feat) * 0.8
    results = []
    for backend in ("eager", "fused"):
        torch.manual_seed(5)
        n = RLeaky(beta=0.9, linear_features=n_feat, learn_beta=True)
        spk, st = n.run(x, backend=backend)
        (spk.sum() + st.mem.sum()).backward()
        results.append((spk.detach(), st.mem.detach(), n.beta.grad, n.recurrent.weight.grad))
    assert torch.equal(results[0][0], results[1][0])
    for a, b, what in zip(results[1][1:], results[0][1:], ("mem", "beta", "weight"),
                          strict=True):
        _close(a, b, what)


def test_sequential_training_step_equals_eager():
    # Linear + all-to-all RLeaky in snn.Sequential (the benchmark's network), two steps of SGD
    x = _input("linear")
    weights = []
    for backend in ("eager", "fused"):
        torch.manual_seed(9)
        net = snn.Sequential(nn.Linear(N, N), RLeaky(beta=0.9, linear_features=N),
                             backend=backend)
        opt = torch.optim.SGD(net.parameters(), lr=0.1)
        for _ in range(2):
            opt.zero_grad()
            spk, _ = net(x)
            ((spk.mean(0) - 0.3) ** 2).sum().backward()
            opt.step()
        weights.append([p.detach().clone() for p in net.parameters()])
    for a, b in zip(weights[1], weights[0], strict=True):
        _close(a, b, "trained parameter")


@pytest.mark.parametrize("kind,layer,native_loops", list(itertools.product(
    ("rleaky", "rsynaptic"), ("linear", "conv"), (None, False))))
def test_record_on_the_fused_path(kind, layer, native_loops):
    # recorded states at every step, with gradients through them (a membrane loss)
    x = _input(layer)
    results = []
    for backend in ("eager", "fused"):
        n = _make(kind, layer, "subtract", False, per_neuron=layer == "linear")
        xx = x.clone().requires_grad_()
        state = _state(n, x)
        fields = n.State._fields
        if backend == "eager":
            spk, st, rec = get_backend("eager").record(n, xx, n.prepare(xx[0], state), fields)
        else:
            from snncore.backends._feedback import feedback_run

            assert select_backend(n, xx).name == "fused"
            if native_loops is None:
                spk, st, rec = n.record(xx, fields, state)
            else:
                spk, st, rec = feedback_run(n, xx, n.prepare(xx[0], state), fields,
                                            native_loops=False)
        w = torch.linspace(0.5, 1.5, T).reshape(T, *([1] * (x.dim() - 1)))
        loss = ((rec["mem"] - 0.5) ** 2 * w).mean() + 0.1 * (rec["spk"] * w).sum() \
            + st.mem.sum()
        if "syn" in rec:
            loss = loss + (rec["syn"] * w).mean()
        loss.backward()
        grads = {"x": xx.grad, **{k: p.grad for k, p in n.named_parameters()},
                 **{f"state.{f}": getattr(state, f).grad for f in fields}}
        results.append((spk.detach(), rec, grads))
    (s0, r0, g0), (s1, r1, g1) = results
    assert torch.equal(s0, s1)
    for f in r0:
        _close(r1[f], r0[f], f"recorded {f}")
    for k in g0:
        _close(g1[k], g0[k], f"gradient of {k}")
