"""torch.compile(fullgraph=True) of a Leaky step: zero graph breaks, same output."""

from __future__ import annotations

import pytest
import torch

import snncore as snn


@pytest.mark.compile
def test_leaky_step_compiles_without_graph_breaks():
    torch._dynamo.reset()
    lif = snn.Leaky(beta=0.9, threshold=0.8, learn_beta=True)
    x = torch.rand(4, 6) * 2
    state = snn.LeakyState(torch.rand(4, 6))
    explained = torch._dynamo.explain(lif)(x, state)
    assert explained.graph_break_count == 0
    assert explained.graph_count == 1
    compiled = torch.compile(lif, fullgraph=True)
    spk_c, st_c = compiled(x, state)
    spk_e, st_e = lif(x, state)
    torch.testing.assert_close(spk_c, spk_e, rtol=0, atol=0)
    torch.testing.assert_close(st_c.mem, st_e.mem)
    xg = x.clone().requires_grad_()
    compiled(xg, state)[0].sum().backward()
    xe = x.clone().requires_grad_()
    lif(xe, state)[0].sum().backward()
    torch.testing.assert_close(xg.grad, xe.grad)
