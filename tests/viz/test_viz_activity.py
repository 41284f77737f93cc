from __future__ import annotations

import numpy as np
import pytest
import torch
from viz_helpers import assert_png_not_blank

import snn_viz


class RecordingMonitor:
    """Anything with .stacked() -> {layer: [T, ...]} is accepted (as snncore.Monitor)."""

    def __init__(self, record):
        self._record = record

    def stacked(self):
        return self._record


@pytest.fixture
def record():
    g = torch.Generator().manual_seed(3)
    return {
        "lif1": (torch.rand(20, 4, 10, generator=g) < 0.3).float(),
        "conv": (torch.rand(20, 4, 2, 3, 3, generator=g) < 0.1).float(),
    }


def _panels(fig):
    """The heatmap panels (not their colour bars)."""
    return [ax for ax in fig.axes if ax.get_ylabel() == "neuron"]


def _mesh(ax):
    return np.asarray(ax.collections[0].get_array()).reshape(-1, len(ax.collections[0]
                                                                     .get_coordinates()[0]) - 1)


def test_heatmap_image_holds_the_rates(record, tmp_path):
    fig = snn_viz.firing_rate_heatmap(record, window=4)
    panels = _panels(fig)
    assert len(panels) == 2
    lif = record["lif1"].mean(1).reshape(5, 4, 10).mean(1)  # [T_w, N]
    np.testing.assert_allclose(_mesh(panels[0]), lif.T.numpy(), rtol=1e-6)
    conv = record["conv"].mean(1).reshape(20, -1).reshape(5, 4, 18).mean(1)
    np.testing.assert_allclose(_mesh(panels[1]), conv.T.numpy(), rtol=1e-6)
    assert "18 neurons" in panels[1].get_title()
    assert f"{float(record['lif1'].mean()):.3f}" in panels[0].get_title()
    assert_png_not_blank(snn_viz.save(fig, tmp_path / "heat.png"))


def test_heatmap_from_monitor_and_sample(record):
    fig = snn_viz.firing_rate_heatmap(RecordingMonitor(record), sample=2)
    np.testing.assert_allclose(_mesh(_panels(fig)[0]), record["lif1"][:, 2].T.numpy())


def test_heatmap_from_snncore_monitor(tmp_path):
    snn = pytest.importorskip("snncore")
    if not hasattr(snn, "Monitor"):
        pytest.skip("snncore.Monitor is not available")
    net = torch.nn.Sequential(torch.nn.Linear(8, 16), snn.Leaky(beta=0.9, stateful=True),
                              torch.nn.Linear(16, 4), snn.Leaky(beta=0.9, stateful=True))
    x_seq = torch.rand(15, 3, 8) * 2
    with torch.no_grad(), snn.Monitor(net, record=("output", "mem")) as mon:
        for x in x_seq:
            net(x)
    spikes = mon.stacked()
    assert {k: tuple(v.shape) for k, v in spikes.items()} == {"1": (15, 3, 16), "3": (15, 3, 4)}
    fig = snn_viz.firing_rate_heatmap(mon, window=3)
    panels = _panels(fig)
    for ax, rec in zip(panels, spikes.values(), strict=True):
        np.testing.assert_allclose(_mesh(ax), snn_viz.layer_rates(rec, window=3).T)
    assert spikes["1"].sum() > 0
    assert_png_not_blank(snn_viz.save(fig, tmp_path / "monitor.png"))
    fig = snn_viz.firing_rate_heatmap(mon.stacked("mem"), colorbar_label="mean membrane")
    assert any(ax.get_ylabel() == "mean membrane" for ax in fig.axes)


def test_layer_rates_uneven_window():
    x = torch.arange(5.0).reshape(5, 1)  # [T, N]
    np.testing.assert_allclose(snn_viz.layer_rates(x, window=2), [[0.5], [2.5], [4.0]])


def test_heatmap_with_a_shorter_last_bin():
    x = torch.zeros(10, 2)
    x[:, 0] = 1
    x[9, 1] = 1
    ax = _panels(snn_viz.firing_rate_heatmap({"l": x}, window=3))[0]
    assert ax.get_xlim() == (0.0, 10.0)
    edges = ax.collections[0].get_coordinates()[0, :, 0]
    np.testing.assert_allclose(edges, [0, 3, 6, 9, 10])
    assert "mean rate 0.550" in ax.get_title()  # the mean over all 10 steps


@pytest.mark.parametrize(
    ("rec", "kwargs", "err", "match"),
    [
        ({}, {}, ValueError, "record is empty"),
        ([torch.zeros(3, 2)], {}, TypeError, "mapping of layer name"),
        ({"a": torch.zeros(5)}, {}, ValueError, r"record\['a'\].*rank 1"),
        ({"a": torch.zeros(0, 3)}, {}, ValueError, "empty"),
        ({"a": torch.zeros(4, 2, 3)}, {"window": 5}, ValueError, r"window must be in \[1, 4\]"),
        ({"a": torch.zeros(4, 2, 3)}, {"sample": 2}, ValueError, "sample must be in"),
        ({"a": torch.zeros(4, 3)}, {"sample": 0}, ValueError, "no batch"),
    ],
)
def test_heatmap_bad_input(rec, kwargs, err, match):
    with pytest.raises(err, match=match):
        snn_viz.firing_rate_heatmap(rec, **kwargs)


def test_isi_histogram_counts(tmp_path):
    spk = torch.zeros(30, 3)
    spk[[0, 2, 4, 9], 0] = 1  # intervals 2, 2, 5
    spk[[1, 4, 7, 10, 13], 1] = 1  # 3, 3, 3, 3
    spk[[5], 2] = 1  # none
    isi = snn_viz.inter_spike_intervals(spk)
    assert sorted(isi.tolist()) == [2, 2, 3, 3, 3, 3, 5]
    fig = snn_viz.isi_histogram(spk)
    heights = [p.get_height() for p in fig.axes[0].patches]
    assert heights == [0, 2, 4, 0, 1]  # one bin per step: 1, 2, 3, 4, 5
    assert "n = 7" in fig.axes[0].get_title()
    assert_png_not_blank(snn_viz.save(fig, tmp_path / "isi.png"))
    fig = snn_viz.isi_histogram(spk, neurons=[1], dt=0.5)
    assert sum(p.get_height() for p in fig.axes[0].patches) == 4
    assert snn_viz.inter_spike_intervals(spk, neurons=[1], dt=0.5).tolist() == [1.5] * 4


def test_isi_without_intervals_says_so():
    fig = snn_viz.isi_histogram(torch.zeros(10, 1, 4))
    assert "no inter-spike intervals" in fig.axes[0].texts[0].get_text()


def test_isi_bad_input():
    with pytest.raises(ValueError, match="out of range"):
        snn_viz.isi_histogram(torch.zeros(10, 4), neurons=[4])
    with pytest.raises(ValueError, match="empty"):
        snn_viz.isi_histogram(torch.zeros(0, 4))
    with pytest.raises(ValueError, match="rank 1"):
        snn_viz.isi_histogram(torch.zeros(10))
