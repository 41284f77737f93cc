"""Without poptorch the plugin imports and says precisely why the backend is unavailable; with
the stand-in, availability follows the hardware probe and the IPU Model switch."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
import torch

import snn_ipu
import snncore as snn


def test_import_works_and_the_backend_is_registered(no_poptorch):
    entry = snn.registries()["backend"].get("ipu")
    assert entry.factory is snn_ipu.IPUBackend
    assert entry.distribution == "snn-ipu"


def test_without_poptorch_the_reason_says_what_to_install(no_poptorch):
    ok, why = snn_ipu.available()
    assert not ok
    assert "poptorch is not installed" in why
    assert "Poplar SDK" in why and snn_ipu.SDK_TORCH in why and torch.__version__ in why
    assert snn_ipu.IPUBackend.available() == (ok, why)


def test_run_on_ipu_without_poptorch_raises_with_the_reason(no_poptorch):
    lif = snn.create("leaky", beta=0.9)
    with pytest.raises(snn.BackendUnavailableError, match="poptorch is not installed"):
        lif.run(torch.rand(5, 2, 3), backend="ipu")
    with pytest.raises(snn.BackendUnavailableError, match="Poplar SDK"):
        snn_ipu.training_model(torch.nn.Linear(2, 2), torch.nn.functional.mse_loss,
                               torch.optim.SGD(torch.nn.Linear(2, 2).parameters(), lr=0.1))


def test_auto_selection_never_picks_ipu(ipu):
    lif = snn.create("leaky", beta=0.9)
    spk, _ = lif.run(torch.rand(5, 2, 3))
    assert not ipu.TRACE_LOG  # nothing went to the "IPU"
    assert spk.shape == (5, 2, 3)


def test_cli_lists_the_reason():
    # a fresh interpreter, where poptorch really is absent
    out = subprocess.run([sys.executable, "-m", "snncore", "plugins", "--json"],
                         capture_output=True, text=True, check=True, timeout=120).stdout
    report = json.loads(out)
    ipu = report["backends"]["ipu"]
    if ipu["available"]:
        pytest.skip("poptorch and an IPU are present here")
    assert "poptorch" in ipu["reason"] and "Poplar SDK" in ipu["reason"]
    text = subprocess.run([sys.executable, "-m", "snncore", "plugins"], capture_output=True,
                          text=True, check=True, timeout=120).stdout
    assert "unavailable: poptorch is not installed" in text


def test_standin_without_hardware_or_model(standin):
    ok, why = snn_ipu.available()
    assert not ok
    assert "ipuHardwareIsAvailable() is False" in why and "POPTORCH_IPU_MODEL=1" in why
    assert standin.__version__ in why
    with pytest.raises(snn.BackendUnavailableError, match="no IPU is attached"):
        snn.create("leaky", beta=0.9).run(torch.rand(3, 2, 2), backend="ipu")


def test_standin_with_ipu_model_or_hardware(standin, monkeypatch):
    monkeypatch.setenv("POPTORCH_IPU_MODEL", "1")
    assert snn_ipu.available() == (True, "")
    monkeypatch.delenv("POPTORCH_IPU_MODEL")
    monkeypatch.setattr(standin, "HARDWARE", True)
    assert snn_ipu.available() == (True, "")


def test_a_broken_poptorch_import_is_reported(monkeypatch):
    class Broken:
        def find_spec(self, name, path=None, target=None):
            if name == "poptorch":
                raise AssertionError("This version of PopTorch only works with torch==2.0.1")
            return None

    monkeypatch.delitem(sys.modules, "poptorch", raising=False)
    monkeypatch.setattr(sys, "meta_path", [Broken(), *sys.meta_path])
    ok, why = snn_ipu.available()
    assert not ok
    assert "cannot be imported (AssertionError: This version of PopTorch only works" in why


def test_backend_runs_a_neuron_on_the_standin_ipu(ipu):
    if "synaptic" not in {e.name for e in snn.registries()["neuron"].entries()}:
        names = ["leaky"]
    else:
        names = ["leaky", "synaptic"]
    for name in names:
        kwargs = {"beta": 0.9} if name == "leaky" else {"alpha": 0.8, "beta": 0.9}
        n = snn.create(name, **kwargs)
        x = torch.rand(7, 4, 3) * 1.5
        ref_spk, ref_state = n.run(x)
        ipu.TRACE_LOG.clear()
        with torch.no_grad():
            spk, state = n.run(x, backend="ipu")
        assert ipu.TRACE_LOG == [((4, 7, 3), *[(4, 3)] * len(ref_state))]  # batch-first in
        assert torch.equal(spk, ref_spk)
        for a, b in zip(state, ref_state, strict=True):
            torch.testing.assert_close(a, b)
        # a second call with the same signature reuses the compiled program
        with torch.no_grad():
            n.run(x, backend="ipu")
        assert len(ipu.TRACE_LOG) == 2


def test_backend_refuses_when_gradients_are_needed(ipu):
    n = snn.create("leaky", beta=0.9, learn_beta=True)
    with pytest.raises(snn.BackendUnavailableError, match="no gradients.*training_model"):
        n.run(torch.rand(3, 2, 2), backend="ipu")


def test_backend_falls_back_for_float64(ipu):
    n = snn.create("leaky", beta=0.9)
    ok, why = snn_ipu.IPUBackend().supports(n, torch.zeros(2, 2, dtype=torch.float64))
    assert not ok and "float64" in why
