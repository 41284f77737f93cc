"""Backend selection: argument > module attribute > context manager > environment > auto."""

from __future__ import annotations

import pytest
import torch

import snncore as snn
from snncore._backends import select_backend


class Recording(snn.EagerBackend):
    """Eager, but remembers that it ran."""

    name = "recording"
    priority = -10
    runs = 0

    def run(self, neuron, x_seq, state):
        type(self).runs += 1
        return super().run(neuron, x_seq, state)


class Picky(snn.EagerBackend):
    name = "picky"
    priority = -20

    def supports(self, neuron, x_seq):
        return (x_seq.dtype == torch.float64, "float64 only")


class Missing(snn.Backend):
    name = "missing"
    priority = 1000

    @classmethod
    def available(cls):
        return False, "needs hardware this machine lacks"


@pytest.fixture
def backends():
    for cls in (Recording, Picky, Missing):
        snn.register_backend(cls.name, cls, plugin="testbackends")
    Recording.runs = 0
    yield
    snn.registries()["backend"].remove_plugin("testbackends")


def test_precedence(backends, monkeypatch):
    lif = snn.Leaky(beta=0.9)
    x = torch.rand(5, 2, 3)
    monkeypatch.delenv("SNNCORE_BACKEND", raising=False)
    auto = select_backend(lif, x)  # auto skips the unavailable one, takes the best of the rest
    usable = [e.factory for e in snn.registries()["backend"].entries()
              if e.factory.available()[0] and e.factory().supports(lif, x)[0]]
    assert auto.name != "missing"
    assert auto.priority == max(cls.priority for cls in usable)
    monkeypatch.setenv("SNNCORE_BACKEND", "recording")
    assert select_backend(lif, x).name == "recording"
    with snn.use_backend("picky"):
        assert select_backend(lif, x.double()).name == "picky"
        lif.backend = "recording"
        assert select_backend(lif, x).name == "recording"
        assert select_backend(lif, x, "eager").name == "eager"
    lif.run(x)
    assert Recording.runs == 1


def test_unsupported_options_fall_back_to_eager(backends, caplog):
    lif = snn.Leaky(beta=0.9, backend="picky")
    with caplog.at_level("DEBUG", logger="snncore.backends"):
        assert select_backend(lif, torch.rand(3, 2)).name == "eager"
    assert "falling back to 'eager'" in caplog.text and "float64 only" in caplog.text


def test_unavailable_or_unknown_backend_is_a_clear_error(backends):
    lif = snn.Leaky(beta=0.9)
    with pytest.raises(snn.BackendUnavailableError, match="'missing' is not available here: needs"):
        lif.run(torch.rand(3, 2), backend="missing")
    with pytest.raises(LookupError, match="unknown backend 'eagre'; did you mean: 'eager'"):
        lif.run(torch.rand(3, 2), backend="eagre")
    with pytest.raises(TypeError, match="backend must be a backend name"):
        with snn.use_backend(3):
            pass
    report = snn.plugin_report()["backends"]
    assert report["missing"] == {"available": False, "reason": "needs hardware this machine lacks",
                                 "priority": 1000, "plugin": "testbackends"}


def test_eager_run_equals_step_loop():
    lif = snn.Leaky(beta=0.7, threshold=0.6)
    x = torch.rand(12, 4, 5)
    spk, final = lif.run(x, backend="eager")
    state = None
    for t in range(12):
        s, state = lif(x[t], state)
        assert torch.equal(s, spk[t])
    assert torch.equal(state.mem, final.mem)
