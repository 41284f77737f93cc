"""Checks shared by the neuron tests: run vs. step loop, gradients to learnable parameters."""

from __future__ import annotations

import torch


def assert_run_matches_steps(neuron, x, atol=1e-6):
    """``neuron.run(x)`` equals a Python loop of single calls (spikes and every state field)."""
    spk_run, state_run = neuron.run(x)
    state = None
    spikes = []
    for xt in x:
        s, state = neuron(xt, state)
        spikes.append(s)
    torch.testing.assert_close(spk_run, torch.stack(spikes), atol=atol, rtol=0)
    for a, b in zip(state_run, state, strict=True):
        torch.testing.assert_close(a, b, atol=atol, rtol=1e-6)


def assert_grads_flow(neuron, x, names=None):
    """Every learnable parameter (or those in ``names``) gets a finite, non-zero gradient."""
    spk, states = neuron.trace(x)
    loss = spk.sum() + sum(f.pow(2).sum() for f in states) * 1e-3
    loss.backward()
    params = dict(neuron.named_parameters())
    assert params, "no learnable parameters"
    for name, p in params.items():
        if names is not None and name not in names:
            continue
        assert p.grad is not None, f"{name} has no gradient"
        assert torch.isfinite(p.grad).all(), f"{name} gradient not finite"
        assert p.grad.abs().sum() > 0, f"{name} gradient is zero"
