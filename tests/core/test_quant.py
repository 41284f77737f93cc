"""State quantization: snnTorch's levels, nearest-level snapping, straight-through gradient."""

from __future__ import annotations

import pytest
import torch

import snncore as snn
from snncore._quant import StateQuant, quant_levels, state_quant


@pytest.mark.parametrize("bits", [1, 2, 3, 4, 6, 8])
@pytest.mark.parametrize("uniform", [True, False])
@pytest.mark.parametrize("thr_centered", [True, False])
def test_matches_snntorch(bits: int, uniform: bool, thr_centered: bool) -> None:
    pytest.importorskip("snntorch")
    from snntorch.functional import quant as Q

    x = torch.randn(4000, generator=torch.Generator().manual_seed(bits)) * 1.5
    kw = dict(threshold=1.3, lower_limit=0.1, upper_limit=0.3)
    ref = Q.state_quant(bits, uniform, thr_centered, **kw)(x)
    out = state_quant(bits, uniform, thr_centered, **kw)(x)
    torch.testing.assert_close(out, ref, rtol=0, atol=1e-6)


def test_levels_nearest_and_ties() -> None:
    q = state_quant(levels=[1.0, -1.0, 0.0, 0.5])
    assert q.levels.tolist() == [-1.0, 0.0, 0.5, 1.0]
    x = torch.tensor([-3.0, -0.6, -0.4, 0.2, 0.25, 0.3, 0.74, 0.76, 9.0])
    assert q(x).tolist() == [-1.0, -1.0, 0.0, 0.0, 0.0, 0.5, 0.5, 1.0, 1.0]
    lv = quant_levels(3)
    assert lv.numel() == 8
    torch.testing.assert_close(lv, torch.linspace(-1.0, 1.2, 8))
    nonuni = quant_levels(4, uniform=False)
    gaps = nonuni.diff()
    assert (gaps > 0).all()
    # densest around the threshold
    at = int((nonuni - 1.0).abs().argmin())
    assert gaps[max(at - 1, 0)] < gaps[0]


def test_straight_through_gradient_and_dtype() -> None:
    q = state_quant(num_bits=2)
    x = torch.randn(50, dtype=torch.float64, requires_grad=True)
    y = q(x)
    assert y.dtype == torch.float64
    assert set(y.detach().tolist()) <= set(q.levels.double().tolist())
    (y * torch.arange(50.0, dtype=torch.float64)).sum().backward()
    torch.testing.assert_close(x.grad, torch.arange(50.0, dtype=torch.float64))


def test_usable_as_neuron_state_quant() -> None:
    q = state_quant(num_bits=3, threshold=1.0)
    lif = snn.Leaky(beta=0.9, state_quant=q)
    assert isinstance(lif.state_quant, StateQuant)
    x = torch.rand(20, 4, 5, requires_grad=True)
    spk, states = lif.trace(x)
    allowed = q.levels
    assert torch.isin(states.mem, allowed).all()
    spk.sum().backward()
    assert x.grad is not None and torch.isfinite(x.grad).all()


def test_bad_arguments() -> None:
    with pytest.raises(ValueError, match="num_bits must be an int >= 1"):
        state_quant(num_bits=0)
    with pytest.raises(ValueError, match="threshold must be > 0"):
        state_quant(threshold=0.0)
    with pytest.raises(ValueError, match="lower_limit and upper_limit must be >= 0"):
        state_quant(lower_limit=-0.5)
    with pytest.raises(ValueError, match="multiplier must be > 0"):
        state_quant(uniform=False, multiplier=0.0)
    with pytest.raises(ValueError, match="levels must be a non-empty"):
        state_quant(levels=[])
