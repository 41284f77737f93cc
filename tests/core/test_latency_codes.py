"""snncore.encoders.latency_code_linear / latency_code_log: the two spike-time codes."""

from __future__ import annotations

import math

import pytest
import torch

import snncore as snn

X = torch.tensor([0.0, 0.005, 0.2, 0.5, 0.9, 1.0], dtype=torch.float64)


def test_linear_code_formula():
    t = snn.encoders.latency_code_linear(X, tau=4.0, threshold=0.01, first_spike_time=1)
    expect = [min(4 * (1 - x), 4 * (1 - 0.01)) + 1 for x in X.tolist()]
    torch.testing.assert_close(t, torch.tensor(expect, dtype=torch.float64))
    norm = snn.encoders.latency_code_linear(X, num_steps=11, normalize=True)
    assert float(norm.max()) == pytest.approx(10 * (1 - 0.01))


def test_log_code_formula():
    t = snn.encoders.latency_code_log(X, tau=2.0, threshold=0.01)
    d = [max(x, 0.01 + 1e-7) for x in X.tolist()]
    torch.testing.assert_close(t, torch.tensor([2 * math.log(v / (v - 0.01)) for v in d],
                                             dtype=torch.float64))
    norm = snn.encoders.latency_code_log(X, num_steps=8, normalize=True)
    assert float(norm.max()) == pytest.approx(7.0)


@pytest.mark.parametrize("linear", [True, False])
def test_same_as_latency_code(linear):
    x = torch.rand(4, 5)
    fn = snn.encoders.latency_code_linear if linear else snn.encoders.latency_code_log
    times, _ = snn.encoders.latency_code(x, 10, tau=3.0, linear=linear)
    torch.testing.assert_close(fn(x, 10, tau=3.0), times)


def test_errors_name_the_argument():
    with pytest.raises(ValueError, match="threshold"):
        snn.encoders.latency_code_log(X, threshold=1.5)
    with pytest.raises(ValueError, match="tau"):
        snn.encoders.latency_code_linear(X, tau=0)
