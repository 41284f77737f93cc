"""The neurons that declare a ``fused_kind`` give the same numbers on every backend."""

from __future__ import annotations

import itertools

import pytest
import torch

import snncore as snn
from snn_neurons_extra import RLeaky, RSynaptic, Synaptic

T, B, N = 40, 3, 5
RESETS = ("subtract", "zero", "none")


def _make(kind, per_neuron, reset, delay):
    pn = (lambda lo, hi: torch.linspace(lo, hi, N)) if per_neuron else (lambda lo, hi: lo)
    common = {"threshold": pn(0.8, 1.2), "graded_spikes_factor": pn(1.0, 1.5), "reset": reset,
              "reset_delay": delay, "learn_beta": True, "learn_threshold": True}
    if kind == "synaptic":
        return Synaptic(alpha=pn(0.7, 0.9), beta=pn(0.8, 0.95), learn_alpha=True, **common)
    if kind == "rleaky":
        return RLeaky(beta=pn(0.8, 0.95), all_to_all=False, V=pn(0.2, -0.3), **common)
    return RSynaptic(alpha=pn(0.7, 0.9), beta=pn(0.8, 0.95), all_to_all=False, V=pn(0.2, -0.3),
                     learn_alpha=True, **common)


def _available_backends():
    names = []
    for name in snn.registries()["backend"].names():
        cls = snn.registries()["backend"].get(name).factory
        if cls.available()[0]:
            names.append(name)
    return names


@pytest.mark.parametrize("kind,reset,delay,per_neuron", list(itertools.product(
    ("synaptic", "rleaky", "rsynaptic"), RESETS, (True, False), (False, True))))
def test_backends_agree_with_the_step_definition(kind, reset, delay, per_neuron):
    gen = torch.Generator().manual_seed(5)
    x = torch.rand(T, B, N, generator=gen) * 0.7
    ref = _make(kind, per_neuron, reset, delay)
    spk_ref, st_ref = ref.trace(x)
    (spk_ref.sum() + st_ref.mem[-1].pow(2).sum()).backward()
    for name in _available_backends():
        n = _make(kind, per_neuron, reset, delay)
        spk, st = n.run(x, backend=name)
        torch.testing.assert_close(spk, spk_ref, atol=1e-6, rtol=0, msg=f"{name}: spikes")
        torch.testing.assert_close(st.mem, st_ref.mem[-1], atol=1e-5, rtol=1e-5)
        (spk.sum() + st.mem.pow(2).sum()).backward()
        for (pname, p), p_ref in zip(n.named_parameters(), ref.parameters(), strict=True):
            torch.testing.assert_close(p.grad, p_ref.grad, atol=1e-4, rtol=1e-4,
                                       msg=f"{name}: gradient of {pname}")
