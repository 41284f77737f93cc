from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pytest
import torch
from viz_helpers import gif_frames

import snn_viz


def test_animate_frames_gif_has_one_frame_per_step(tmp_path):
    g = torch.Generator().manual_seed(0)
    image = torch.linspace(0, 1, 64).reshape(8, 8)
    frames = (torch.rand(7, 2, 8, 8, generator=g) < image).float()  # rate-coded image [T, B, H, W]
    fig, ax = plt.subplots()
    anim = snn_viz.animate_frames(frames, sample=1, interval=40, ax=ax)
    path = snn_viz.save(anim, tmp_path / "frames.gif")
    assert gif_frames(path) == 7
    (im,) = ax.get_images()
    np.testing.assert_array_equal(np.asarray(im.get_array()), frames[-1, 1].numpy())
    assert "step 7/7" in ax.get_title()


def test_frame_stack_layouts():
    x = torch.rand(4, 5, 6)
    np.testing.assert_allclose(snn_viz.frame_stack(x), x.numpy(), rtol=1e-6)
    xb = torch.rand(4, 3, 5, 6)
    np.testing.assert_allclose(snn_viz.frame_stack(xb, sample=2), xb[:, 2].numpy(), rtol=1e-6)
    x1 = torch.rand(4, 3, 1, 5, 6)
    np.testing.assert_allclose(snn_viz.frame_stack(x1), x1[:, 0, 0].numpy(), rtol=1e-6)
    x2 = torch.rand(4, 3, 2, 5, 6)
    np.testing.assert_allclose(snn_viz.frame_stack(x2, sample=1),
                               (x2[:, 1, 0] - x2[:, 1, 1]).numpy(), rtol=1e-6, atol=1e-7)


def test_polarity_frames_use_a_symmetric_colour_range(tmp_path):
    x2 = torch.zeros(3, 1, 2, 4, 4)
    x2[:, 0, 0, 0, 0] = 1.0
    x2[:, 0, 1, 1, 1] = 1.0
    x2[1, 0, 0, 2, 2] = 1.0
    fig, ax = plt.subplots()
    anim = snn_viz.animate_frames(x2, ax=ax)
    assert ax.get_images()[0].get_clim() == (-1.0, 1.0)
    assert gif_frames(snn_viz.save(anim, tmp_path / "dvs.gif")) == 3


@pytest.mark.parametrize(
    ("frames", "kwargs", "match"),
    [
        (torch.zeros(4, 5), {}, "rank 2"),
        (torch.zeros(4, 1, 3, 5, 5), {}, "C = 1 or 2"),
        (torch.zeros(0, 5, 5), {}, "empty"),
        (torch.zeros(3, 2, 5, 5), {"sample": 5}, "sample must be in"),
        (torch.zeros(3, 5, 5), {"sample": 0}, "no batch"),
        (torch.zeros(3, 5, 5), {"interval": 0}, "interval"),
    ],
)
def test_animate_frames_bad_input(frames, kwargs, match):
    with pytest.raises(ValueError, match=match):
        snn_viz.animate_frames(frames, **kwargs)
