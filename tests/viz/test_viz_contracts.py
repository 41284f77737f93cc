"""Inputs the plots used to take without a check: each now raises naming the argument, or
plots exactly what was given."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import snn_viz


def test_a_batched_record_next_to_a_sliced_membrane_is_refused():
    T, B, N = 5, 2, 3
    mem, cur, spk = torch.zeros(T, B, N), torch.zeros(T, B, N), torch.zeros(T, B, N)
    with pytest.raises(ValueError, match=r"current must have the same shape as mem.*\(5, 2, 3\)"):
        snn_viz.traces(mem[:, 1], current=cur, neurons=0)
    with pytest.raises(ValueError, match=r"spk must have the same shape as mem"):
        snn_viz.traces(mem[:, 1], spk=spk, neurons=0)
    with pytest.raises(ValueError, match=r"current must have the same shape as mem"):
        snn_viz.cur_mem_spk(cur, mem[:, 1], spk[:, 1], neuron=0)
    snn_viz.traces(mem[:, 1], current=cur[:, 1], spk=spk[:, 1], neurons=0)


def test_frame_limits_are_checked_and_include_zero():
    with pytest.raises(ValueError, match="vmin must be below vmax"):
        snn_viz.animate_frames(torch.zeros(3, 4, 4), vmin=1, vmax=0)
    with pytest.raises(ValueError, match="vmin must be a finite number"):
        snn_viz.animate_frames(torch.zeros(3, 4, 4), vmin=float("nan"))
    full = snn_viz.animate_frames(torch.ones(3, 4, 4))
    empty = snn_viz.animate_frames(torch.zeros(3, 4, 4))
    c_full = full._fig.axes[0].get_images()[0].get_clim()
    c_empty = empty._fig.axes[0].get_images()[0].get_clim()
    assert c_full == (0.0, 1.0) and c_empty == (0.0, 1.0)


def test_complex_records_are_refused():
    c = torch.zeros(3, 2, dtype=torch.complex64)
    c[1, 1] = 1j
    with pytest.raises(TypeError, match="real numbers"):
        snn_viz.raster(c)
    with pytest.raises(TypeError, match="real numbers"):
        snn_viz.raster(c.numpy())


@pytest.mark.parametrize("dt,err", [("a", TypeError), (float("inf"), ValueError),
                                    (True, TypeError), (0.0, ValueError)])
def test_dt_is_named(dt, err):
    with pytest.raises(err, match="dt must be"):
        snn_viz.raster(torch.zeros(3, 2), dt=dt)
    snn_viz.raster(torch.zeros(3, 2), dt=np.float32(0.5))


def test_numpy_numbers_are_numbers(tmp_path):
    fig = snn_viz.raster(torch.zeros(3, 2))
    snn_viz.save(fig, tmp_path / "a.png", dpi=np.float32(50))
    snn_viz.surrogate_shape("atan", x_range=(np.float32(-1), np.float32(1)))
    with pytest.raises(ValueError, match="x_range"):
        snn_viz.surrogate_shape("atan", x_range=(False, True))


def test_dashboard_and_histogram_name_their_arguments():
    with pytest.raises(TypeError, match=r"history: .*'loss' is a float"):
        snn_viz.training_dashboard({"loss": 1.0})
    spk = (torch.rand(20, 3, generator=torch.Generator().manual_seed(0)) < 0.5).float()
    with pytest.raises(TypeError, match="bins must be None, a number of bins"):
        snn_viz.isi_histogram(spk, bins=2.5)
