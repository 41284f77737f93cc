"""On a machine with the Poplar SDK: the same checks against the real poptorch, on an IPU or the
IPU Model (``POPTORCH_IPU_MODEL=1``). Skipped everywhere else (marker ``ipu``)."""

from __future__ import annotations

import copy

import pytest
import torch
from ipu_cases import rate_ce_loss, small_net

import snn_ipu
import snncore as snn

pytestmark = pytest.mark.ipu

T, B, F, H, C = 8, 4, 6, 10, 3


def _net():
    return small_net(F, H, C)


_loss = rate_ce_loss


def test_real_poptorch_training_step_matches_cpu():
    x = torch.rand(T, B, F) * 2
    y = torch.randint(0, C, (B,))
    dev, cpu = _net(), _net()
    opt = torch.optim.SGD(cpu.parameters(), lr=0.1)
    out_cpu, _ = cpu(x)
    loss_cpu = _loss(out_cpu, y)
    loss_cpu.backward()
    opt.step()
    model = snn_ipu.training_model(dev, _loss, torch.optim.SGD(dev.parameters(), lr=0.1))
    out, loss = model(x, y)
    model.executor.copyWeightsToHost()
    torch.testing.assert_close(loss, loss_cpu.detach(), atol=1e-4, rtol=1e-4)
    for a, b in zip(dev.parameters(), cpu.parameters(), strict=True):
        torch.testing.assert_close(a, b, atol=1e-4, rtol=1e-4)
    model.destroy()


def test_real_poptorch_inference_and_backend():
    x = torch.rand(T, B, F) * 2
    net = _net()
    ref, _ = copy.deepcopy(net)(x)
    model = snn_ipu.inference_model(net)
    torch.testing.assert_close(model(x), ref, atol=1e-5, rtol=0)
    lif = snn.create("leaky", beta=0.9)
    with torch.no_grad():
        spk, _ = lif.run(x[..., :H].contiguous(), backend="ipu")
        ref_spk, _ = lif.run(x[..., :H].contiguous())
    assert torch.equal(spk, ref_spk)
