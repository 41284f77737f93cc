from __future__ import annotations

import matplotlib.animation
import matplotlib.pyplot as plt
import pytest
import torch
from viz_helpers import assert_png_not_blank, gif_frames

import snn_viz
from snn_viz import _save


def test_figure_formats(tmp_path):
    fig = snn_viz.raster(torch.eye(5))
    assert_png_not_blank(snn_viz.save(fig, tmp_path / "r.png", dpi=50))
    for suffix in (".pdf", ".svg"):
        assert snn_viz.save(fig, str(tmp_path / f"r{suffix}")).stat().st_size > 0


@pytest.mark.parametrize("suffix", [".gif", ".mp4", ".jpeg", ""])
def test_figure_rejects_other_suffixes(tmp_path, suffix):
    fig = snn_viz.raster(torch.eye(3))
    with pytest.raises(ValueError, match=r"a figure can be saved as \.png, \.pdf, \.svg"):
        snn_viz.save(fig, tmp_path / f"r{suffix}")
    assert not (tmp_path / f"r{suffix}").exists()


def test_animation_rejects_png(tmp_path):
    anim = snn_viz.animate_frames(torch.rand(2, 3, 3))
    with pytest.raises(ValueError, match=r"an animation can be saved as \.gif, \.mp4"):
        snn_viz.save(anim, tmp_path / "a.png")
    assert gif_frames(snn_viz.save(anim, tmp_path / "a.gif", fps=5)) == 2


def test_mp4_without_ffmpeg_is_a_clear_error(tmp_path, monkeypatch):
    monkeypatch.setattr(_save, "_ffmpeg_available", lambda: False)
    anim = snn_viz.animate_frames(torch.rand(2, 3, 3))
    with pytest.raises(RuntimeError, match="needs the ffmpeg program.*save as .gif"):
        snn_viz.save(anim, tmp_path / "a.mp4")
    anim.save(str(tmp_path / "a.gif"), writer="pillow")  # render once: no deletion warning


def test_mp4_with_ffmpeg(tmp_path):
    if not matplotlib.animation.writers.is_available("ffmpeg"):
        pytest.skip("ffmpeg is not installed")
    anim = snn_viz.animate_frames(torch.rand(3, 4, 4))
    assert snn_viz.save(anim, tmp_path / "a.mp4").stat().st_size > 0


def test_save_bad_arguments(tmp_path):
    with pytest.raises(TypeError, match="Figure or Animation"):
        snn_viz.save(plt.gca(), tmp_path / "x.png")
    fig = snn_viz.raster(torch.eye(3))
    with pytest.raises(ValueError, match="dpi must be a number > 0"):
        snn_viz.save(fig, tmp_path / "x.png", dpi=0)
    with pytest.raises(ValueError, match="fps must be a number > 0"):
        snn_viz.save(fig, tmp_path / "x.png", fps=-1)
