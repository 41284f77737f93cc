"""compat ``spikeplot`` against ``snntorch.spikeplot``: what is drawn, kwargs pass-through."""

from __future__ import annotations

import numpy as np
import pytest
import torch

plt = pytest.importorskip("matplotlib.pyplot")
pytest.importorskip("snn_viz")
pytest.importorskip("pandas")  # snnTorch's spikeplot imports it

import snntorch.spikeplot as sp  # noqa: E402

import snn_compat.snntorch.spikeplot as cp  # noqa: E402


def _spk(shape=(20, 6), seed=0):
    return (torch.rand(shape, generator=torch.Generator().manual_seed(seed)) > 0.7).float()


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


def test_raster_same_points_and_kwargs():
    spk = _spk()
    out = []
    for mod in (sp, cp):
        fig, ax = plt.subplots()
        coll = mod.raster(spk, ax, s=3.5, c="red", marker="|")
        out.append((np.asarray(coll.get_offsets()), coll.get_sizes(), coll.get_facecolor()))
    np.testing.assert_allclose(out[0][0], out[1][0])
    np.testing.assert_allclose(out[0][1], out[1][1])
    np.testing.assert_allclose(out[0][2], out[1][2])
    fig, ax = plt.subplots()
    np.testing.assert_allclose(np.asarray(cp.raster(spk[:, 0], ax).get_offsets()),
                               np.asarray(sp.raster(spk[:, 0], ax).get_offsets()))
    with pytest.raises(ValueError, match=r"\[T, N\]"):
        cp.raster(torch.zeros(3, 2, 2), ax)


def test_spike_count_draws_the_counts():
    spk = _spk()
    labels = list("abcdef")
    fig, ax = plt.subplots()
    cp.spike_count(spk, fig, ax, labels)
    widths = sorted(round(p.get_width(), 6) for p in ax.patches)
    assert widths == sorted(spk.sum(0).tolist())
    fig, ax = plt.subplots()
    anim = cp.spike_count(spk, fig, ax, labels, animate=True, num_steps=10, interval=10)
    assert anim is not None
    fig2, ax2 = plt.subplots()
    sp.spike_count(spk, fig2, ax2, labels)  # the reference draws the same counts as lines
    drawn = [line.get_xdata() for line in ax2.lines]
    np.testing.assert_allclose(np.asarray(drawn[0], dtype=float), spk.sum(0).numpy())


def test_graded_spike_counts_are_a_documented_difference():
    import snn_compat

    snn_compat.reset_warnings()
    spk = torch.tensor([[2.0, 0.0], [0.5, 1.0], [0.0, 1.0]])
    fig, ax = plt.subplots()
    with pytest.warns(snn_compat.CompatDifferenceWarning, match="snnTorch adds the values"):
        cp.spike_count(spk, fig, ax, ["a", "b"])
    assert sorted(p.get_width() for p in ax.patches) == [2, 2]  # non-zero entries


def test_traces_same_lines():
    mem = torch.rand(15, 9, generator=torch.Generator().manual_seed(1))
    spk = _spk((15, 9))
    data = []
    for mod in (sp, cp):
        plt.figure()
        mod.traces(mem, spk=spk, dim=(3, 3), titles=[str(i) for i in range(9)])
        fig = plt.gcf()
        data.append([ax.lines[0].get_ydata() for ax in fig.axes])
    for u, v in zip(*data, strict=True):
        np.testing.assert_allclose(u, v)
    with pytest.raises(ValueError, match="N >= 9"):
        cp.traces(mem[:, :4])


def test_animator_and_camera():
    frames = torch.rand(7, 4, 4, generator=torch.Generator().manual_seed(2))
    fig, ax = plt.subplots()
    anim = cp.animator(frames, fig, ax, num_steps=5, interval=10)
    assert len(list(anim.new_frame_seq())) == 5
    cams = []
    for mod in (sp, cp):
        fig, ax = plt.subplots()
        ax.plot([0, 1], [1, 0])  # drawn before the first snap: part of frame 0
        cam = mod.Camera(fig)
        for t in range(3):
            ax.plot([0, 1], [t, t])
            cam.snap()
        cams.append(cam.animate(interval=20))
    assert [len(f) for f in cams[0]._framedata] == [len(f) for f in cams[1]._framedata]
