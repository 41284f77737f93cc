"""snn_ipu.testing: the public CPU stand-in of poptorch and its context manager."""

from __future__ import annotations

import os
import re
import sys
from pathlib import Path

import pytest
import torch
from ipu_cases import rate_ce_loss, small_net

import snn_ipu
import snncore as snn
from snn_ipu.testing import poptorch_standin, use_poptorch_standin

DOC = Path(__file__).resolve().parents[2] / "docs" / "ipu.md"


def test_the_block_installs_and_restores_poptorch(no_poptorch, monkeypatch):
    monkeypatch.setenv("POPTORCH_IPU_MODEL", "1")
    assert sys.modules["poptorch"] is None  # as on a machine without the SDK
    with use_poptorch_standin() as poptorch:
        assert poptorch is poptorch_standin and sys.modules["poptorch"] is poptorch
        assert "POPTORCH_IPU_MODEL" not in os.environ
        ok, why = snn_ipu.available()
        assert not ok and why
        with use_poptorch_standin(hardware=True):
            assert snn_ipu.available() == (True, "")
        assert not snn_ipu.available()[0]  # the outer block's setting is back
    assert sys.modules["poptorch"] is None
    assert os.environ["POPTORCH_IPU_MODEL"] == "1"
    assert not poptorch_standin.HARDWARE


def test_the_block_restores_after_an_error(monkeypatch):
    monkeypatch.delitem(sys.modules, "poptorch", raising=False)
    with pytest.raises(RuntimeError, match="inside"), use_poptorch_standin(hardware=True):
        raise RuntimeError("inside")
    assert "poptorch" not in sys.modules and not poptorch_standin.HARDWARE
    with pytest.raises(TypeError, match="hardware must be a bool"), \
            use_poptorch_standin(hardware="yes"):  # type: ignore[arg-type]
        pass


def test_a_training_step_under_the_standin_equals_the_cpu_step(monkeypatch):
    monkeypatch.delitem(sys.modules, "poptorch", raising=False)
    g = torch.Generator().manual_seed(3)
    x, y = torch.rand(6, 8, 5, generator=g) * 2, torch.randint(0, 3, (8,), generator=g)
    cpu, dev = small_net(5, 7, 3), small_net(5, 7, 3)
    opt = torch.optim.SGD(cpu.parameters(), lr=0.5)
    loss_cpu = rate_ce_loss(cpu(x)[0], y)
    loss_cpu.backward()
    opt.step()
    with use_poptorch_standin(hardware=True):
        model = snn_ipu.training_model(dev, rate_ce_loss,
                                       torch.optim.SGD(dev.parameters(), lr=0.5))
        _, loss = model(x, y)
    torch.testing.assert_close(loss, loss_cpu.detach())
    for a, b in zip(dev.parameters(), cpu.parameters(), strict=True):
        torch.testing.assert_close(a, b, atol=1e-6, rtol=1e-6)


def test_the_standin_refuses_a_host_sync_while_tracing(monkeypatch):
    monkeypatch.delitem(sys.modules, "poptorch", raising=False)

    class Syncs(torch.nn.Module):
        def forward(self, x):
            return x * float(x.sum())  # a host sync: not traceable on an IPU

    with use_poptorch_standin(hardware=True), pytest.raises(Exception, match="host"):
        snn_ipu.inference_model(snn.Sequential(Syncs()))(torch.rand(2, 4, 3))


def test_the_docs_example_runs(monkeypatch):
    monkeypatch.delitem(sys.modules, "poptorch", raising=False)
    text = DOC.read_text(encoding="utf-8")
    section = text[text.index("## Testing IPU code without an IPU"):]
    code = re.findall(r"```python\n(.*?)```", section, flags=re.S)[0]
    g = torch.Generator().manual_seed(4)
    scope = {"net": small_net(5, 7, 3), "loss_fn": rate_ce_loss, "torch": torch,
             "x": torch.rand(6, 8, 5, generator=g),
             "y": torch.randint(0, 3, (8,), generator=g)}
    exec(compile(code, str(DOC), "exec"), scope)
    assert scope["out"].shape == (6, 8, 3) and scope["loss"].dim() == 0
