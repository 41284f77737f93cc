"""``snncore.extend.value_checks_disabled``: host reads of tensor values are skipped inside it."""

import pytest
import torch

import snncore as snn
from snncore import extend


def _drifted_neuron() -> snn.Leaky:
    lif = snn.Leaky(beta=0.9, threshold=1.0, learn_threshold=True)
    with torch.no_grad():
        lif.threshold.fill_(-0.5)  # a learned value out of range
    return lif


def test_learned_range_check_runs_by_default_and_is_skipped_when_disabled():
    x = torch.rand(4, 2, 3)
    with pytest.raises(ValueError, match="threshold"):
        _drifted_neuron().run(x)
    assert extend.value_checks_enabled()
    with extend.value_checks_disabled():
        assert not extend.value_checks_enabled()
        spk, _ = _drifted_neuron().run(x)
    assert spk.shape == x.shape
    assert extend.value_checks_enabled()  # restored on exit


def test_class_target_range_check_is_skipped_only_when_disabled():
    spk = torch.rand(5, 3, 4)
    bad = torch.tensor([0, 1, 7])
    loss_fn = snn.losses.CERateLoss()
    with pytest.raises(ValueError, match="class indices"):
        loss_fn(spk, bad)
    good = torch.tensor([0, 1, 3])
    with extend.value_checks_disabled():
        assert torch.equal(loss_fn(spk, good), snn.losses.CERateLoss()(spk, good))


def test_shape_checks_still_run_when_value_checks_are_disabled():
    with extend.value_checks_disabled(), pytest.raises(ValueError, match="shape"):
        snn.losses.CERateLoss()(torch.rand(5, 3, 4), torch.tensor([0, 1]))


def test_jit_tracing_disables_value_checks():
    seen = []

    def f(x):
        seen.append(extend.value_checks_enabled())
        return x * 2

    torch.jit.trace(f, torch.rand(2), check_trace=False)
    f(torch.rand(2))
    assert seen == [False, True]
