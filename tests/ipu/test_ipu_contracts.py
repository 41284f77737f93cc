"""The IPU path keeps the core's contract where it used to step aside: a surrogate's own spike
function, ``record`` on the ``ipu`` backend, learned-range checks inside a poptorch trace."""

from __future__ import annotations

import pytest
import torch

import snn_ipu
import snncore as snn
from snncore import extend


class _Graded(extend.Surrogate):
    name = "test_graded"

    def derivative(self, x):
        s = torch.sigmoid(4 * x)
        return 4 * s * (1 - s)

    def __call__(self, x):  # its own spike function, plain ops
        return torch.sigmoid(4 * x)


def test_a_surrogate_with_its_own_spike_function_keeps_it():
    torch.manual_seed(0)
    lif = snn.Leaky(beta=0.9, surrogate=_Graded())
    x = torch.randn(3, 2, 4)
    ref, st = lif.run(x, backend="eager")
    out, st2 = snn_ipu.run_traceable(lif, x)
    torch.testing.assert_close(out, ref)
    torch.testing.assert_close(st2.mem, st.mem)


def test_record_on_the_ipu_backend_runs_a_device_program(ipu):
    lif = snn.Leaky(beta=0.9)
    x = torch.randn(5, 3, 4)
    with pytest.raises(extend.BackendUnavailableError, match=r"Leaky.record\(\) as IPU"):
        lif.record(x.requires_grad_(), ("mem",), backend="ipu")
    x = x.detach()
    with torch.no_grad():
        n0 = len(ipu.TRACE_LOG)
        spk, st, rec = lif.record(x, ("mem",), backend="ipu")
        assert len(ipu.TRACE_LOG) == n0 + 1
        ref, st_ref, rec_ref = lif.record(x, ("mem",), backend="eager")
    assert torch.equal(spk, ref) and torch.equal(rec["mem"], rec_ref["mem"])
    assert torch.equal(st.mem, st_ref.mem)


class _Recorder(torch.nn.Module):
    def __init__(self, record: bool) -> None:
        super().__init__()
        self.fc = torch.nn.Linear(3, 3)
        self.lif = snn.Leaky(beta=0.9, learn_threshold=True)
        self.use_record = record

    def forward(self, x, y=None):
        z = self.fc(x.transpose(0, 1))
        if self.use_record:
            _, _, rec = self.lif.record(z, ("mem",), backend="ipu")
            out = rec["mem"]
        else:
            out = self.lif.run(z, backend="ipu")[0]
        out = out.transpose(0, 1)
        if y is None:
            return out
        import poptorch

        return out, poptorch.identity_loss(((out - y) ** 2).mean(), reduction="none")


@pytest.mark.parametrize("record", [False, True])
def test_run_and_record_inside_a_direct_poptorch_trace(ipu, record):
    torch.manual_seed(0)
    model = _Recorder(record)
    x, y = torch.rand(2, 5, 3), torch.rand(2, 5, 3)
    out = ipu.inferenceModel(model)(x)  # learned threshold: no host read while tracing
    assert out.shape == (2, 5, 3)
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    _, loss = ipu.trainingModel(model, optimizer=opt)(x, y)
    assert torch.isfinite(loss)
