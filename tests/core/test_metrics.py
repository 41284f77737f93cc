"""Accuracy, regularizers and operation counters."""

from __future__ import annotations

import pytest
import torch
from torch import nn

import snncore as snn
from snncore import metrics as M


def _sf():
    pytest.importorskip("snntorch")
    import snntorch.functional as SF

    return SF


def _spikes(seed: int, t: int = 12, b: int = 40, c: int = 5, p: float = 0.3) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    return (torch.rand(t, b, c, generator=g) < p).float()


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_accuracy_matches_snntorch(seed: int) -> None:
    SF = _sf()
    spk = _spikes(seed, p=0.1)
    y = torch.randint(0, 5, (40,), generator=torch.Generator().manual_seed(seed + 10))
    acc = M.accuracy_rate(spk, y)
    assert acc.dim() == 0
    assert acc.item() == pytest.approx(float(SF.accuracy_rate(spk, y)), abs=1e-6)
    assert M.accuracy_temporal(spk, y).item() == pytest.approx(
        float(SF.accuracy_temporal(spk, y)), abs=1e-6)
    pop = _spikes(seed, c=15)
    assert M.accuracy_rate(pop, y, population_code=True, num_classes=5).item() == \
        pytest.approx(float(SF.accuracy_rate(pop, y, population_code=True, num_classes=5)),
                      abs=1e-6)


def test_accuracy_by_construction() -> None:
    spk = torch.zeros(4, 3, 3)
    spk[:, 0, 2] = 1  # sample 0: class 2 most active
    spk[1:, 1, 0] = 1  # sample 1: class 0
    spk[0, 2, 1] = 1  # sample 2: class 1 first, class 0 more active
    spk[1:, 2, 0] = 1
    y = torch.tensor([2, 0, 1])
    assert M.accuracy_rate(spk, y).item() == pytest.approx(2 / 3)
    assert M.accuracy_temporal(spk, y).item() == pytest.approx(1.0)
    with pytest.raises(ValueError, match="targets must have shape"):
        M.accuracy_rate(spk, torch.tensor([0, 1]))
    with pytest.raises(ValueError, match="targets must be class indices"):
        M.accuracy_temporal(spk, torch.tensor([0, 1, 3]))


def test_l1_rate_sparsity_matches_snntorch() -> None:
    SF = _sf()
    spk = _spikes(3).requires_grad_()
    out = M.l1_rate_sparsity(Lambda=1e-3)(spk)
    ref = SF.l1_rate_sparsity(Lambda=1e-3)(spk)
    torch.testing.assert_close(out, ref)
    out.backward()
    assert torch.all(spk.grad == 1e-3)
    with pytest.raises(ValueError, match="Lambda"):
        M.L1RateSparsity(-1.0)


def test_firing_rate_band_regularizer() -> None:
    spk = torch.zeros(10, 2, 3)
    spk[:, :, 1] = 1  # neuron 1 always fires (rate 1), neuron 0 silent, neuron 2 at 0.5
    spk[::2, :, 2] = 1
    reg = M.FiringRateRegularizer(low=0.1, high=0.6, strength=2.0)
    expect = 2.0 * ((0.1 - 0.0) ** 2 + (1.0 - 0.6) ** 2 + 0.0) / 3
    torch.testing.assert_close(reg(spk), torch.tensor(expect))
    inside = torch.zeros(10, 2, 3)
    inside[::4] = 1  # rate 0.3 everywhere
    assert reg(inside).item() == 0.0
    x = spk.clone().requires_grad_()
    reg(x).backward()
    assert x.grad[:, :, 0].lt(0).all() and x.grad[:, :, 1].gt(0).all()
    assert x.grad[:, :, 2].eq(0).all()
    with pytest.raises(ValueError, match="low <= high"):
        M.FiringRateRegularizer(low=0.5, high=0.2)


def test_spike_count_and_rate() -> None:
    spk = _spikes(4)
    assert M.spike_count(spk).item() == int(spk.sum())
    torch.testing.assert_close(M.firing_rate(spk), spk.mean(0))
    torch.testing.assert_close(M.firing_rate(spk, None), spk.mean())


def test_op_counter_linear_conv_and_neurons() -> None:
    torch.manual_seed(0)
    net = nn.Sequential(nn.Linear(6, 4), snn.Leaky(beta=0.9, stateful=True))
    conv = nn.Conv2d(2, 3, 3, stride=1, padding=1)
    x = (torch.rand(5, 2, 6) < 0.4).float()
    with M.OpCounter(net) as ops:
        for t in range(5):
            net(x[t])
    lin = ops.layers["0"]
    assert lin.calls == 5
    assert lin.synops == int((x != 0).sum()) * 4
    assert lin.macs == x.numel() * 4
    neuron = ops.layers["1"]
    assert neuron.neurons == 5 * 2 * 4 and neuron.calls == 5
    snn.reset(net)
    spikes = torch.stack([net(x[t]) for t in range(5)])
    assert neuron.spikes == int(spikes.sum())  # hooks removed: counts did not change
    # convolution: exact count of non-zero taps, compared with a brute-force loop
    img = (torch.rand(1, 2, 5, 5, generator=torch.Generator().manual_seed(1)) < 0.3).float()
    with M.OpCounter(conv) as ops:
        conv(img)
    padded = nn.functional.pad(img, (1, 1, 1, 1))
    brute = sum(int(padded[0, :, i:i + 3, j:j + 3].ne(0).sum()) * 3
                for i in range(5) for j in range(5))
    assert ops.layers["Conv2d"].synops == brute
    assert ops.layers["Conv2d"].macs == 3 * 5 * 5 * 2 * 9  # outputs x taps each
    assert ops.total()["synops"] == brute


def test_op_counter_counts_run_and_removes_hooks() -> None:
    lif = snn.Leaky(beta=0.8)
    x = torch.rand(7, 3, 4) * 2
    with M.OpCounter(lif) as ops:
        spk, _ = lif.run(x)
    assert ops.layers["Leaky"].spikes == int(spk.sum())
    assert ops.layers["Leaky"].neurons == spk.numel()
    assert "run" not in lif.__dict__
    lif.run(x)
    assert ops.layers["Leaky"].calls == 1
