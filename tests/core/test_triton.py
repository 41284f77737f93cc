"""The triton backend: availability, option checks, and (under Triton's interpreter on CPU, or
on a CUDA GPU) equality with eager."""

from __future__ import annotations

import itertools
import sys

import pytest
import torch

import snncore as snn
from snncore._backends import get_backend
from snncore.backends import _triton

sys.path.insert(0, __file__.rsplit("/", 1)[0])
from test_fused import KINDS, RESETS, _assert_same, _inputs, _make  # noqa: E402
from triton_helpers import rerun_under_interpreter  # noqa: E402


def test_availability_reason_without_cuda_or_triton():
    ok, why = _triton.TritonBackend.available()
    if ok:
        assert torch.cuda.is_available()
    else:
        assert "triton" in why or "CUDA" in why
    report = snn.registries()["backend"].get("triton")
    assert report.factory is _triton.TritonBackend


def test_supports_checks_options():
    backend = get_backend("triton")
    x = torch.rand(4, 2, 3)
    assert not backend.supports(snn.Leaky(beta=0.9), x)[0]  # CPU input
    cuda_like = torch.rand(4, 2, 3)
    for neuron, why in [(snn.Leaky(beta=0.9, surrogate="sigmoid"), "surrogate"),
                        (snn.Leaky(beta=0.9, inhibition=True), "inhibition"),
                        (snn.Leaky(beta=0.9, state_quant=lambda t: t), "state_quant")]:
        ok, reason = _triton._check(neuron, cuda_like, require_cuda=False)
        assert not ok and why in reason
    ok, reason = _triton._check(snn.Leaky(beta=0.9), cuda_like.double(), require_cuda=False)
    assert not ok and "float32" in reason


def test_under_interpreter():
    """Without a GPU, rerun this file's kernel tests on CPU under TRITON_INTERPRET=1."""
    rerun_under_interpreter(__file__, "equals_eager or fixed_parameters")


def _run(neuron, x, state, w_spk, w_state, how, device):
    neuron = neuron.to(device)
    neuron.zero_grad(set_to_none=True)
    x = x.to(device).clone().requires_grad_(True)
    state = neuron.State(*(s.to(device).clone().requires_grad_(True) for s in state))
    if how == "eager":
        spk, fin = neuron.run(x, state, backend="eager")
    else:
        spk, fin = _triton.triton_run(neuron, x, state)
    loss = (spk * w_spk.to(device)).sum() + sum(
        (f * w.to(device)).sum() for f, w in zip(fin, w_state, strict=True))
    loss.backward()
    grads = {"x": x.grad}
    grads.update({f"state.{k}": s.grad for k, s in zip(neuron.State._fields, state, strict=True)})
    grads.update({k: p.grad for k, p in neuron.named_parameters()})
    return (spk.detach().cpu(), [f.detach().cpu() for f in fin],
            {k: None if v is None else v.cpu() for k, v in grads.items()})


@pytest.mark.parametrize("kind,reset,delay", list(itertools.product(KINDS, RESETS, (True, False))))
def test_triton_equals_eager(kind, reset, delay, device):
    neuron = _make(kind, reset, delay, per_neuron=True)
    x, state, w_spk, w_state = _inputs(neuron)
    ref = _run(neuron, x, state, w_spk, w_state, "eager", device)
    _assert_same(ref, _run(neuron, x, state, w_spk, w_state, "triton", device))


@pytest.mark.parametrize("surrogate", ["atan", "fast_sigmoid"])
def test_triton_fixed_parameters_and_surrogates(surrogate, device):
    neuron = _make("synaptic", "subtract", True, per_neuron=False, learn=False,
                   surrogate=surrogate)
    x, state, w_spk, w_state = _inputs(neuron, seed=3)
    ref = _run(neuron, x, state, w_spk, w_state, "eager", device)
    _assert_same(ref, _run(neuron, x, state, w_spk, w_state, "triton", device))


def test_a_failed_import_is_remembered_until_a_triton_module_appears(monkeypatch):
    monkeypatch.setattr(_triton, "_import_failure", "triton is not installed (remembered)")
    monkeypatch.delitem(sys.modules, "triton", raising=False)
    assert _triton.TritonBackend.available() == (False, "triton is not installed (remembered)")
    monkeypatch.setitem(sys.modules, "triton", None)  # present but unimportable: asked again
    ok, why = _triton.TritonBackend.available()
    assert not ok and why == "triton is not installed (pip install triton)"
