from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pytest
import torch
from viz_helpers import assert_png_not_blank, gif_frames

import snn_viz


def _points(fig) -> np.ndarray:
    ax = fig.axes[0]
    pts = [c.get_offsets() for c in ax.collections]
    return np.concatenate([np.asarray(p) for p in pts]) if pts else np.zeros((0, 2))


def test_raster_points_equal_spikes(spikes, tmp_path):
    fig = snn_viz.raster(spikes, sample=1)
    pts = _points(fig)
    assert len(pts) == int(spikes[:, 1].sum())
    t, n = torch.nonzero(spikes[:, 1], as_tuple=True)
    expected = sorted(zip(t.tolist(), n.tolist(), strict=True))
    got = sorted((int(a), int(b)) for a, b in pts)
    assert got == expected
    assert_png_not_blank(snn_viz.save(fig, tmp_path / "raster.png"))


def test_raster_default_sample_is_zero_and_numpy_input(spikes):
    fig = snn_viz.raster(spikes.numpy())
    assert len(_points(fig)) == int(spikes[:, 0].sum())
    fig2 = snn_viz.raster(spikes[:, 2])  # [T, N]
    assert len(_points(fig2)) == int(spikes[:, 2].sum())


def test_raster_graded_and_bool_spikes():
    spk = torch.zeros(5, 3)
    spk[1, 0], spk[3, 2] = 0.5, 2.0
    assert len(_points(snn_viz.raster(spk))) == 2
    assert len(_points(snn_viz.raster(spk.bool()))) == 2


def test_raster_class_colouring(spikes, tmp_path):
    classes = [i % 3 for i in range(12)]
    fig = snn_viz.raster(spikes, neuron_classes=classes)
    ax = fig.axes[0]
    assert len(ax.collections) == 3
    rec = spikes[:, 0]
    for k, coll in enumerate(ax.collections):
        assert len(coll.get_offsets()) == int(rec[:, [i for i in range(12) if i % 3 == k]].sum())
        assert coll.get_label() == str(k)
        ys = np.asarray(coll.get_offsets())[:, 1].astype(int)
        assert all(y % 3 == k for y in ys)
    colours = {tuple(c.get_edgecolor()[0]) for c in ax.collections if len(c.get_offsets())}
    assert len(colours) == 3
    assert ax.get_legend() is not None
    assert_png_not_blank(snn_viz.save(fig, tmp_path / "classes.png"))


def test_raster_into_given_axes(spikes):
    fig, (a, b) = plt.subplots(1, 2)
    out = snn_viz.raster(spikes, ax=b)
    assert out is fig
    assert len(b.collections) == 1 and len(a.collections) == 0


@pytest.mark.parametrize(
    ("spk", "kwargs", "match"),
    [
        (torch.zeros(10), {}, r"\[T, N\] or \[T, B, N\].*rank 1"),
        (torch.zeros(4, 2, 3, 3), {}, r"rank 4"),
        (torch.zeros(0, 5), {}, "empty"),
        (torch.zeros(5, 0), {}, "empty"),
        (torch.zeros(5, 0, 3), {}, "empty"),
        (torch.zeros(5, 2, 3), {"sample": 2}, r"sample must be in \[0, 1\]"),
        (torch.zeros(5, 3), {"sample": 0}, "no batch dimension"),
        (torch.zeros(5, 3), {"neuron_classes": [0, 1]}, "expected 3 labels"),
        (torch.full((5, 3), float("nan")), {}, "NaN"),
    ],
)
def test_raster_bad_input(spk, kwargs, match):
    with pytest.raises(ValueError, match=match):
        snn_viz.raster(spk, **kwargs)


def test_raster_bad_types():
    with pytest.raises(TypeError, match="spk must be"):
        snn_viz.raster("spikes")
    with pytest.raises(TypeError, match="sample must be an int"):
        snn_viz.raster(torch.zeros(3, 2, 2), sample=1.0)
    with pytest.raises(TypeError, match="ax must be a matplotlib Axes"):
        snn_viz.raster(torch.zeros(3, 2), ax="left")


def test_spike_count_bars(spikes, tmp_path):
    fig = snn_viz.spike_count(spikes, sample=2, labels=[f"n{i}" for i in range(12)])
    heights = [p.get_height() for p in fig.axes[0].patches]
    assert heights == spikes[:, 2].sum(0).tolist()
    assert [t.get_text() for t in fig.axes[0].get_xticklabels()] == [f"n{i}" for i in range(12)]
    assert_png_not_blank(snn_viz.save(fig, tmp_path / "count.png"))
    fig = snn_viz.spike_count(spikes[:, 0], horizontal=True)
    assert [p.get_width() for p in fig.axes[0].patches] == spikes[:, 0].sum(0).tolist()
    with pytest.raises(ValueError, match="expected 12"):
        snn_viz.spike_count(spikes, labels=["a"])


def test_animate_spike_count_gif(spikes, tmp_path):
    rec = spikes[:8, 0]
    fig, ax = plt.subplots()
    anim = snn_viz.animate_spike_count(rec, interval=50, ax=ax)
    path = snn_viz.save(anim, tmp_path / "count.gif")
    assert gif_frames(path) == 8
    # after the save the bars show the final cumulative counts
    widths = [p.get_width() for p in ax.patches]
    assert widths == rec.sum(0).tolist()
    with pytest.raises(ValueError, match="interval must be >= 1"):
        snn_viz.animate_spike_count(rec, interval=0)


def test_tensors_with_grad_and_low_precision(spikes):
    mem = torch.rand(10, 4, requires_grad=True)
    fig = snn_viz.traces(mem * 1.0, neurons=1)
    np.testing.assert_allclose(fig.axes[0].get_lines()[0].get_ydata(), mem[:, 1].detach().numpy())
    for dtype in (torch.bfloat16, torch.float16, torch.uint8):
        fig = snn_viz.raster(spikes.to(dtype))
        assert len(_points(fig)) == int(spikes[:, 0].sum())


@pytest.mark.gpu
def test_cuda_tensors(spikes):
    if not torch.cuda.is_available():
        pytest.skip("needs a CUDA GPU")
    fig = snn_viz.raster(spikes.cuda(), sample=1)
    assert len(_points(fig)) == int(spikes[:, 1].sum())
    fig = snn_viz.firing_rate_heatmap({"l": spikes.cuda()})
    np.testing.assert_allclose(fig.axes[0].get_images()[0].get_array(),
                               spikes.mean(1).T.numpy(), rtol=1e-6)
