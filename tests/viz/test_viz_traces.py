from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pytest
import torch
from viz_helpers import assert_png_not_blank

import snn_viz
import snncore as snn


def _line(ax, label):
    lines = [ln for ln in ax.get_lines() if ln.get_label() == label]
    assert len(lines) == 1, [ln.get_label() for ln in ax.get_lines()]
    return lines[0]


@pytest.fixture
def lif_run():
    lif = snn.Leaky(beta=0.85)
    x = torch.rand(40, 2, 6) * 0.5
    spk, states = lif.trace(x)
    return lif, x, spk, states


def test_traces_line_data_equals_tensor(lif_run, tmp_path):
    _, x, spk, states = lif_run
    fig = snn_viz.traces(states.mem, spk=spk, current=x, threshold=1.0, neurons=[0, 4],
                         sample=1)
    axes = fig.axes
    assert len(axes) == 2
    for ax, n in zip(axes, [0, 4], strict=True):
        mem = _line(ax, "membrane")
        np.testing.assert_allclose(mem.get_ydata(), states.mem[:, 1, n].numpy(), rtol=1e-6)
        np.testing.assert_allclose(mem.get_xdata(), np.arange(40))
        np.testing.assert_allclose(_line(ax, "input current").get_ydata(), x[:, 1, n].numpy(),
                                   rtol=1e-6)
        assert list(_line(ax, "threshold").get_ydata()) == [1.0, 1.0]
        (vl,) = [c for c in ax.collections if c.get_label() == "spike"]
        assert len(vl.get_segments()) == int(spk[:, 1, n].sum())
    assert_png_not_blank(snn_viz.save(fig, tmp_path / "traces.png"))


def test_traces_defaults_and_per_neuron_threshold():
    mem = torch.linspace(0, 1, 20).reshape(20, 1).repeat(1, 10)
    fig = snn_viz.traces(mem, threshold=torch.arange(10) * 0.1)
    assert len(fig.axes) == 8  # the first 8 neurons by default
    assert _line(fig.axes[3], "threshold").get_ydata()[0] == pytest.approx(0.3)
    single = snn_viz.traces(torch.arange(5.0))  # a single [T] trace
    np.testing.assert_allclose(_line(single.axes[0], "membrane").get_ydata(), np.arange(5.0))


def test_traces_into_given_axes():
    fig, ax = plt.subplots()
    out = snn_viz.traces(torch.rand(10, 3), neurons=2, ax=ax)
    assert out is fig and len(ax.get_lines()) == 1
    with pytest.raises(ValueError, match="one neuron"):
        snn_viz.traces(torch.rand(10, 3), neurons=[0, 1], ax=ax)


@pytest.mark.parametrize(
    ("kwargs", "err", "match"),
    [
        ({"neurons": [0, 6]}, ValueError, r"index 6 is out of range for 6 neurons"),
        ({"neurons": -1}, ValueError, "out of range"),
        ({"neurons": []}, ValueError, "empty"),
        ({"neurons": [1.5]}, TypeError, "ints"),
        ({"neurons": 1.5}, TypeError, "an int or a sequence of ints"),
        ({"spk": torch.zeros(40, 2, 5)}, ValueError, "same shape as mem"),
        ({"threshold": [1.0, 2.0]}, ValueError, "one value per neuron"),
        ({"dt": 0}, ValueError, "dt must be a finite number > 0"),
    ],
)
def test_traces_bad_input(lif_run, kwargs, err, match):
    _, _, _, states = lif_run
    with pytest.raises(err, match=match):
        snn_viz.traces(states.mem, **kwargs)


def test_traces_bad_rank():
    with pytest.raises(ValueError, match="rank 4"):
        snn_viz.traces(torch.zeros(3, 2, 2, 2))
    with pytest.raises(ValueError, match="empty"):
        snn_viz.traces(torch.zeros(0))


def test_cur_mem_spk_tutorial_figure(lif_run, tmp_path):
    _, x, spk, states = lif_run
    fig = snn_viz.cur_mem_spk(x, states.mem, spk, neuron=3, sample=0, threshold=1.0,
                              title="Leaky neuron")
    ax_i, ax_u, ax_s = fig.axes
    np.testing.assert_allclose(_line(ax_i, "input current").get_ydata(), x[:, 0, 3].numpy(),
                               rtol=1e-6)
    np.testing.assert_allclose(_line(ax_u, "membrane").get_ydata(), states.mem[:, 0, 3].numpy(),
                               rtol=1e-6)
    assert _line(ax_u, "threshold").get_ydata()[0] == 1.0
    (vl,) = ax_s.collections
    times = sorted(seg[0, 0] for seg in vl.get_segments())
    assert times == torch.nonzero(spk[:, 0, 3]).flatten().tolist()
    assert_png_not_blank(snn_viz.save(fig, tmp_path / "cms.png"))
    with pytest.raises(ValueError, match=r"neuron must be in \[0, 5\]"):
        snn_viz.cur_mem_spk(x, states.mem, spk, neuron=6)
    with pytest.raises(ValueError, match="same shape"):
        snn_viz.cur_mem_spk(x[:, :, :2], states.mem, spk)
    with pytest.raises(ValueError, match="threshold must be a single number"):
        snn_viz.cur_mem_spk(x, states.mem, spk, threshold=[1.0, 2.0])


def test_cur_mem_spk_single_traces():
    t = torch.arange(10.0)
    fig = snn_viz.cur_mem_spk(t * 0.1, t * 0.2, (t % 3 == 0).float(), threshold=None)
    assert [ln.get_label() for ln in fig.axes[1].get_lines()] == ["membrane"]
    assert len(fig.axes[2].collections[0].get_segments()) == 4


def test_neuron_traces_runs_the_neuron(lif_run, tmp_path):
    lif, x, spk, states = lif_run
    fig = snn_viz.neuron_traces(lif, x, neurons=[1, 2], sample=1)
    assert len(fig.axes) == 2
    np.testing.assert_allclose(_line(fig.axes[1], "membrane").get_ydata(),
                               states.mem[:, 1, 2].numpy(), rtol=1e-6)
    np.testing.assert_allclose(_line(fig.axes[1], "input").get_ydata(), x[:, 1, 2].numpy(),
                               rtol=1e-6)
    assert _line(fig.axes[0], "threshold").get_ydata()[0] == pytest.approx(1.0)
    assert_png_not_blank(snn_viz.save(fig, tmp_path / "neuron.png"))
    with pytest.raises(TypeError, match="trace"):
        snn_viz.neuron_traces(torch.nn.Linear(2, 2), x)
