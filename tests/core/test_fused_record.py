"""``Neuron.record`` in the hand-written fused loops: recorded membranes (and currents) equal
``trace()``'s, and gradients through them equal eager autograd's."""

from __future__ import annotations

import itertools

import pytest
import torch
from test_fused import KINDS, RESETS, _assert_same, _inputs, _make

import snncore as snn
from snncore.backends import _fused

pytestmark = pytest.mark.usefixtures("stores")  # streaming and plain stores


def _run(neuron, x, state, w_spk, w_state, fields, how, stored=False, loss="all"):
    neuron.zero_grad(set_to_none=True)
    x = x.clone().requires_grad_(True)
    state = neuron.State(*(s.clone().requires_grad_(True) for s in state))
    inp = x * 1.0 if stored else x  # a non-leaf input: the loops store the membrane
    spk, fin, rec = neuron.record(inp, fields, state, backend=how)
    total = x.new_zeros(())
    if loss in ("all", "spikes"):
        total = total + (spk * w_spk).sum()
    if loss == "all":
        total = total + sum((f * w).sum() for f, w in zip(fin, w_state, strict=True))
    for i, f in enumerate(fields):
        total = total + ((rec[f] - 0.1 * i) ** 2).mean() if loss != "sum" else \
            total + rec[f].sum()
    node = type(rec[fields[0]].grad_fn).__name__
    total.backward()
    grads = {"x": x.grad}
    grads.update({f"state.{k}": s.grad for k, s in zip(neuron.State._fields, state, strict=True)})
    grads.update({k: p.grad for k, p in neuron.named_parameters()})
    out = [f.detach() for f in fin] + [rec[f].detach() for f in fields]
    return (spk.detach(), out, grads), node


@pytest.mark.parametrize("kind,reset,stored", list(itertools.product(
    KINDS, RESETS, (False, True))))
def test_record_equals_eager(kind, reset, stored):
    neuron = _make(kind, reset, True, True)
    fields = tuple(f for f in ("mem", "syn") if f in neuron.State._fields)
    args = _inputs(neuron)
    ref, _ = _run(neuron, *args, fields, "eager", stored)
    got, node = _run(neuron, *args, fields, "fused", stored)
    assert node == "_FusedFunctionBackward"
    _assert_same(ref, got)


@pytest.mark.parametrize("loss,delay,surrogate", [
    ("sum", False, "atan"), ("record", True, "fast_sigmoid"), ("spikes", True, "sigmoid")])
def test_record_partial_losses_and_surrogates(loss, delay, surrogate):
    neuron = _make("synaptic", "subtract", delay, False, surrogate=snn.surrogate(surrogate))
    args = _inputs(neuron)
    for stored in (False, True):
        ref, _ = _run(neuron, *args, ("mem",), "eager", stored, loss)
        got, _ = _run(neuron, *args, ("mem",), "fused", stored, loss)
        _assert_same(ref, got)


def test_record_matches_trace_and_costs_only_what_is_asked():
    lif = snn.Leaky(beta=0.9, reset="none")
    x = torch.rand(40, 3, 8)
    spk, _, rec = lif.record(x, "mem")
    spk_t, states = lif.trace(x)
    assert torch.equal(spk, spk_t)
    torch.testing.assert_close(rec["mem"], states.mem, rtol=1e-6, atol=1e-7)
    assert set(rec) == {"mem"}
    assert _fused.record_fields(lif, x) == ("mem",)
    assert _fused.record_fields(lif, x.double()) == ()
    with pytest.raises(ValueError, match="record"):
        _fused.fused_run(lif, x, lif.init_state(x[0]), record=("syn",))
