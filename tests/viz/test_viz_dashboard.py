from __future__ import annotations

import io

import numpy as np
import pytest
import torch
from viz_helpers import assert_png_not_blank

import snn_viz


def _history(n=6):
    return [{"epoch": i + 1, "loss": 2.0 / (i + 1), "test_accuracy": 1 - 0.5 / (i + 1)}
            for i in range(n)]


def _line(ax, label):
    (line,) = [ln for ln in ax.get_lines() if ln.get_label() == label]
    return line


def test_dashboard_curves_and_raster(spikes, tmp_path):
    hist = _history()
    fig = snn_viz.training_dashboard(hist, spikes, sample=1)
    ax_loss, ax_acc, ax_raster = fig.axes
    np.testing.assert_allclose(_line(ax_loss, "loss").get_ydata(), [h["loss"] for h in hist])
    np.testing.assert_allclose(_line(ax_loss, "loss").get_xdata(), range(1, 7))
    np.testing.assert_allclose(_line(ax_acc, "test accuracy").get_ydata(),
                               [h["test_accuracy"] for h in hist])
    assert sum(len(c.get_offsets()) for c in ax_raster.collections) == int(spikes[:, 1].sum())
    assert_png_not_blank(snn_viz.save(fig, tmp_path / "dash.png"))


def test_dashboard_dict_of_lists_without_raster():
    fig = snn_viz.training_dashboard({"train_loss": [1.0, 0.5], "val_loss": [1.2, 0.9],
                                      "val_acc": [0.3, 0.6]})
    assert len(fig.axes) == 2
    assert {ln.get_label() for ln in fig.axes[0].get_lines()} == {"train loss", "val loss"}
    np.testing.assert_allclose(_line(fig.axes[0], "val loss").get_xdata(), [1, 2])


@pytest.mark.parametrize(
    ("history", "err", "match"),
    [
        ([], ValueError, "history is empty"),
        ("loss", TypeError, "list of per-epoch dicts"),
        ([{"loss": 1.0}, 3], TypeError, r"history\[1\] must be a dict"),
        ([{"loss": 1.0}, {"acc": 0.5}], ValueError, r"history\[0\] has no 'acc'"),
        ([{"epoch": 1, "lr": 0.1}], ValueError, "must record a loss or an accuracy"),
        ({"loss": [1.0, 2.0], "acc": [0.5]}, ValueError, "differ in length"),
        ([{"loss": "high"}], TypeError, "must hold numbers"),
    ],
)
def test_dashboard_bad_history(history, err, match):
    with pytest.raises(err, match=match):
        snn_viz.training_dashboard(history)


def test_save_demo_plots_writes_both_pngs(tmp_path):
    spk = (torch.rand(25, 64) < 0.1).float()
    paths = snn_viz.save_demo_plots(spk, _history(3), tmp_path / "plots")
    assert [p.name for p in paths] == ["raster.png", "training.png"]
    for p in paths:
        assert p.parent == tmp_path / "plots"
        assert_png_not_blank(p)


def test_demo_save_plots_hook(tmp_path):
    """The core demo's --save-plots path writes the two PNGs through the plugin."""
    demo = pytest.importorskip("snncore._demo")
    model = demo.DigitsSNN(hidden=32)
    gen = torch.Generator().manual_seed(0)
    out = io.StringIO()
    demo._save_plots(model, torch.rand(4, 64), gen, _history(2), str(tmp_path / "d"), out)
    for name in ("raster.png", "training.png"):
        assert_png_not_blank(tmp_path / "d" / name)
        assert name in out.getvalue()
