"""BatchNormTT (one norm per step) and GradedSpikes (per-feature spike magnitude)."""

from __future__ import annotations

import pytest
import torch

import snncore as snn
from snn_neurons_extra import BatchNormTT, GradedSpikes


def test_batchnorm_tt_uses_one_norm_per_step():
    bn = BatchNormTT(4, time_steps=3)
    with torch.no_grad():
        for t, norm in enumerate(bn.norms):
            norm.weight.fill_(t + 1.0)
    x = torch.randn(3, 16, 4) * 3 + 2
    y = bn(x)
    for t in range(3):
        mu = x[t].mean(0)
        var = x[t].var(0, unbiased=False)
        torch.testing.assert_close(y[t], (t + 1.0) * (x[t] - mu) / torch.sqrt(var + 1e-5))
        # each step keeps its own running statistics
        torch.testing.assert_close(bn.norms[t].running_mean, 0.1 * mu)
    torch.testing.assert_close(bn(x[1], 1), y[1])
    assert all(norm.bias is None for norm in bn.norms)  # no shift, as in BNTT
    assert len(bn) == 3 and bn[2] is bn.norms[2]


def test_batchnorm_tt_2d_with_bias_and_gradients():
    bn = snn.create("batchnorm_tt", num_features=2, time_steps=5, dims=2, bias=True)
    x = torch.randn(4, 3, 2, 5, 5, requires_grad=True)
    y = bn(x)
    assert y.shape == x.shape
    (y * torch.randn_like(y)).sum().backward()
    for t in range(4):
        assert bn.norms[t].weight.grad.abs().sum() > 0
        assert bn.norms[t].bias.grad.abs().sum() > 0
    assert bn.norms[4].weight.grad is None  # step 4 was not used


@pytest.mark.parametrize("call,match", [
    (lambda bn: bn(torch.randn(6, 2, 4)), "has norms for 5"),
    (lambda bn: bn(torch.randn(2, 3), 0), "one step must be"),
    (lambda bn: bn(torch.randn(2, 4), 5), "t must be an int in"),
])
def test_batchnorm_tt_errors(call, match):
    with pytest.raises(ValueError, match=match):
        call(BatchNormTT(4, time_steps=5))
    with pytest.raises(ValueError, match="dims must be 1, 2 or 3"):
        BatchNormTT(4, 5, dims=4)


def test_graded_spikes_scales_the_feature_dimension():
    """snnTorch's GradedSpikes multiplies by a (size, 1) column: it scales the batch dimension
    (or fails) instead of the features."""
    g = GradedSpikes(3, constant_factor=2.0)
    with torch.no_grad():
        g.weights.copy_(torch.tensor([1.0, 2.0, 3.0]))
    x = torch.ones(4, 3)  # batch 4 != size 3
    torch.testing.assert_close(g(x), torch.tensor([[1.0, 2.0, 3.0]] * 4))
    seq = torch.ones(5, 4, 3)
    assert g(seq).shape == seq.shape
    conv = GradedSpikes(2, constant_factor=0.5, dim=-3)
    y = conv(torch.ones(4, 2, 3, 3))
    torch.testing.assert_close(y, torch.full((4, 2, 3, 3), 0.5))


def test_graded_spikes_init_gradients_and_errors():
    torch.manual_seed(0)
    g = snn.create("graded_spikes", size=50)
    assert 0.5 <= g.weights.min() and g.weights.max() < 1.5
    z = GradedSpikes(4, constant_factor=0.0)  # an explicit 0 is used, not ignored
    assert torch.count_nonzero(z.weights) == 0
    x = torch.rand(2, 50)
    g(x).sum().backward()
    torch.testing.assert_close(g.weights.grad, x.sum(0))
    with pytest.raises(ValueError, match="needs 50 entries along dim -1"):
        g(torch.rand(2, 49))
    with pytest.raises(ValueError, match="size must be an int >= 1"):
        GradedSpikes(0)
