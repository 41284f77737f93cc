"""The IPU-safe path (traceable spikes, unrolled steps) equals the default path on the CPU:
identical spikes, gradients within 1e-6, for every registered surrogate x every neuron."""

from __future__ import annotations

import itertools

import pytest
import torch
from ipu_cases import (
    LAYERS,
    NEURON_CASES,
    make_input,
    make_neuron,
    make_surrogate,
    registered_neurons,
    registered_surrogates,
)

import snn_ipu
import snncore as snn

T = 12


def _loss_and_grads(neuron, x, run):
    x = x.clone().requires_grad_(True)
    spk, state = run(neuron, x)
    g = torch.Generator().manual_seed(1)
    loss = (spk * torch.rand(spk.shape, generator=g, dtype=spk.dtype)).sum()
    for field in state:
        loss = loss + (field * torch.rand(field.shape, generator=g, dtype=field.dtype)).sum()
    params = [p for p in neuron.parameters() if p.requires_grad]
    grads = torch.autograd.grad(loss, [x, *params], allow_unused=True)
    return spk.detach(), [s.detach() for s in state], grads


def _default(neuron, x):
    return neuron.run(x)


def _traceable(neuron, x):
    return snn_ipu.run_traceable(neuron, x)


def test_every_registered_neuron_has_a_case():
    reg = {e.name for e in snn.registries()["neuron"].entries()}
    missing = reg - set(NEURON_CASES) - LAYERS
    assert not missing, f"add a case for {sorted(missing)} to tests/ipu/cases.py"


@pytest.mark.parametrize("neuron_name,surrogate_name", list(itertools.product(
    registered_neurons(), registered_surrogates())))
def test_traceable_path_matches_default(neuron_name, surrogate_name):
    neuron, spec = make_neuron(neuron_name, make_surrogate(surrogate_name))
    neuron = neuron.double()
    x = make_input(spec, T=T)
    spk_ref, state_ref, g_ref = _loss_and_grads(neuron, x, _default)
    spk_ipu, state_ipu, g_ipu = _loss_and_grads(neuron, x, _traceable)
    assert torch.equal(spk_ipu, spk_ref)
    for a, b in zip(state_ipu, state_ref, strict=True):
        torch.testing.assert_close(a, b, atol=1e-6, rtol=1e-6)
    for a, b in zip(g_ipu, g_ref, strict=True):
        if b is None:
            assert a is None
        else:
            torch.testing.assert_close(a, b, atol=1e-6, rtol=1e-6)
    # the case is meaningful: it spikes, and the input gets a gradient through the surrogate
    if neuron_name != "li":
        assert spk_ref.abs().sum() > 0
    assert g_ref[0] is not None
    # and the neuron is left as it was
    assert not isinstance(neuron.surrogate, snn_ipu.TraceableSurrogate)


@pytest.mark.parametrize("neuron_name", ["leaky", "synaptic", "rleaky", "slstm"])
def test_traceable_path_matches_default_in_float32(neuron_name):
    if neuron_name not in registered_neurons():
        pytest.skip(f"{neuron_name} is not installed")
    neuron, spec = make_neuron(neuron_name)
    x = make_input(spec, T=T, dtype=torch.float32)
    spk_ref, _, g_ref = _loss_and_grads(neuron, x, _default)
    spk_ipu, _, g_ipu = _loss_and_grads(neuron, x, _traceable)
    assert torch.equal(spk_ipu, spk_ref)
    for a, b in zip(g_ipu, g_ref, strict=True):
        torch.testing.assert_close(a, b, atol=1e-6, rtol=1e-5)


def test_traceable_spike_is_detach_only_and_exact():
    x = torch.linspace(-2, 2, 41, dtype=torch.float64, requires_grad=True)
    for name in registered_surrogates():
        s = make_surrogate(name)
        spk = snn_ipu.traceable(s)(x)
        assert not isinstance(spk.grad_fn, torch.autograd.function.BackwardCFunction)
        assert torch.equal(spk, snn.heaviside(x.detach()))
        (g,) = torch.autograd.grad(spk.sum(), x)
        torch.testing.assert_close(g, s.derivative(x.detach()), atol=0, rtol=0)


def test_stochastic_surrogate_draws_in_forward_with_the_same_distribution():
    # the default spike draws u ~ U[0, 1) in backward, the traceable one in forward: with one
    # draw each from equally seeded generators the numbers agree exactly
    x = torch.randn(200, dtype=torch.float64)
    grads = []
    for wrap in (lambda s: s, snn_ipu.traceable):
        s = snn.surrogate("sso", mean=0.1, variance=0.5,
                          generator=torch.Generator().manual_seed(3))
        xi = x.clone().requires_grad_(True)
        (g,) = torch.autograd.grad(wrap(s)(xi).sum(), xi)
        grads.append(g)
    torch.testing.assert_close(grads[0], grads[1], atol=0, rtol=0)
    below = grads[0][x <= 0]
    assert torch.all(grads[0][x > 0] == 1)
    assert below.min() >= (-0.5 + 0.1) * 0.5 and below.max() < (0.5 + 0.1) * 0.5
    assert below.std() > 0


def test_sequential_through_ipu_safe_matches_default():
    layers = [torch.nn.Linear(6, 4), snn.create("leaky", beta=0.9)]
    if "synaptic" in registered_neurons():
        layers += [torch.nn.Linear(4, 4), snn.create("synaptic", alpha=0.8, beta=0.9)]
    net = snn.Sequential(*layers).double()
    x = torch.rand(T, 3, 6, dtype=torch.float64) * 2
    out_ref, _ = net(x)
    g_ref = torch.autograd.grad(out_ref.sum(), list(net.parameters()))
    with snn_ipu.ipu_safe(net):
        out_ipu, _ = net(x)
    g_ipu = torch.autograd.grad(out_ipu.sum(), list(net.parameters()))
    assert torch.equal(out_ipu, out_ref)
    for a, b in zip(g_ipu, g_ref, strict=True):
        torch.testing.assert_close(a, b, atol=1e-6, rtol=1e-6)
    assert all(not isinstance(n.surrogate, snn_ipu.TraceableSurrogate)
               for n in snn.neurons_of(net))


def test_ipu_safe_restores_after_an_error():
    lif = snn.create("leaky", beta=0.9, backend="fused")
    with pytest.raises(RuntimeError, match="boom"), snn_ipu.ipu_safe(lif):
        assert isinstance(lif.surrogate, snn_ipu.TraceableSurrogate)
        assert lif.backend == "eager"
        raise RuntimeError("boom")
    assert lif.backend == "fused"
    assert not isinstance(lif.surrogate, snn_ipu.TraceableSurrogate)


def test_bad_arguments_are_refused():
    with pytest.raises(TypeError, match="snncore Surrogate"):
        snn_ipu.TraceableSurrogate(lambda x: x)
    with pytest.raises(TypeError, match="torch.nn.Module"):
        with snn_ipu.ipu_safe("net"):
            pass
    with pytest.raises(TypeError, match="snncore.Neuron"):
        snn_ipu.run_traceable(torch.nn.Linear(2, 2), torch.zeros(2, 2))


def test_truncated_state_leaky_is_refused_clearly_on_the_step_path():
    if "state_leaky" not in registered_neurons():
        pytest.skip("snn-neurons-extra is not installed")
    n = snn.create("state_leaky", beta=0.9, kernel_truncation_steps=3)
    with pytest.raises(ValueError, match="kernel_truncation_steps needs the whole sequence"):
        snn_ipu.run_traceable(n, torch.rand(5, 2, 3))
