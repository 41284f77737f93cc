"""Neurons with layers inside (recurrent, LSTM, parallel) keep the input's dtype: float64 input
into a neuron built in float32 gives float64 spikes and states, and gradients reach the
float32 weights."""

from __future__ import annotations

import pytest
import torch

import snncore as snn

pytest.importorskip("snn_neurons_extra")

CASES = [
    ("rleaky", {"beta": 0.9, "linear_features": 4}, (4,)),
    ("rsynaptic", {"alpha": 0.8, "beta": 0.9, "linear_features": 4}, (4,)),
    ("rleaky", {"beta": 0.9, "conv2d_channels": 2, "kernel_size": 3}, (2, 4, 4)),
    ("slstm", {"input_size": 4, "hidden_size": 3}, (4,)),
    ("sconv2dlstm", {"in_channels": 2, "out_channels": 3, "kernel_size": 3}, (2, 4, 4)),
    ("leaky_parallel", {"input_size": 4, "hidden_size": 3, "beta": 0.9}, (4,)),
    ("linear_leaky", {"beta": 0.9, "in_features": 4, "out_features": 3}, (4,)),
    ("associative_leaky", {"in_dim": 4, "d_value": 2, "d_key": 2}, (4,)),
]


@pytest.mark.parametrize("backend", [None, "eager"])
@pytest.mark.parametrize("name, kwargs, sample", CASES, ids=[f"{c[0]}-{i}" for i, c in
                                                              enumerate(CASES)])
def test_float64_input_into_a_float32_neuron(name, kwargs, sample, backend) -> None:
    torch.manual_seed(0)
    neuron = snn.create(name, **kwargs)
    ref = snn.create(name, **kwargs)
    ref.load_state_dict(neuron.state_dict())
    ref = ref.double()
    x = torch.rand(5, 2, *sample, dtype=torch.float64) * 2
    spk, st = neuron.run(x, backend=backend)
    assert spk.dtype == torch.float64 and all(f.dtype == torch.float64 for f in st)
    spk_ref, st_ref = ref.run(x, backend=backend)
    torch.testing.assert_close(spk, spk_ref)
    for f, g in zip(st, st_ref, strict=True):
        torch.testing.assert_close(f, g, rtol=1e-5, atol=1e-6)  # weights rounded to float32
    (spk.sum() + sum(f.sum() for f in st)).backward()
    weights = [p for n, p in neuron.named_parameters() if p.dim() >= 2]
    assert weights and all(p.grad is not None and p.grad.dtype == torch.float32
                           for p in weights if p.requires_grad)
