from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pytest
import torch
from viz_helpers import assert_png_not_blank

import snn_viz
import snncore as snn

NEEDS_ARGS = {"custom": {"derivative": lambda x: torch.exp(-x.abs())}}


def _line(ax, label):
    (line,) = [ln for ln in ax.get_lines() if ln.get_label() == label]
    return line


def _registered():
    return sorted(snn.registries()["surrogate"].names())


@pytest.mark.parametrize("name", _registered())
def test_every_registered_surrogate_plots(name, tmp_path):
    params = NEEDS_ARGS.get(name, {})
    obj = snn.surrogate(name, **params)
    fig = snn_viz.surrogate_shape(name, points=101, **params)
    ax = fig.axes[0]
    step = _line(ax, "H(x)")
    x = np.asarray(step.get_xdata())
    np.testing.assert_allclose(x, np.linspace(-2, 2, 101), atol=1e-12)
    np.testing.assert_array_equal(step.get_ydata(), (x > 0).astype(float))
    deriv = _line(ax, repr(obj))
    if obj.deterministic:
        expected = obj.derivative(torch.tensor(x, dtype=torch.float64)).numpy()
        np.testing.assert_allclose(deriv.get_ydata(), expected, rtol=1e-12, atol=1e-12)
    else:  # stochastic surrogates draw anew; the spiked side is exact
        assert np.asarray(deriv.get_ydata()).shape == x.shape
    if name == "atan":
        assert_png_not_blank(snn_viz.save(fig, tmp_path / f"{name}.png"))
    plt.close(fig)


def test_parameters_and_objects():
    fig = snn_viz.surrogate_shape("fast_sigmoid", slope=5.0, x_range=(-1, 1), points=11)
    line = _line(fig.axes[0], "FastSigmoid(slope=5.0)")
    x = np.linspace(-1, 1, 11)
    np.testing.assert_allclose(line.get_ydata(), 1 / (5 * np.abs(x) + 1) ** 2, rtol=1e-12)
    obj = snn.surrogate("atan", alpha=3.0)
    fig = snn_viz.surrogate_shape([obj, "triangular"], show_integral=True, points=2001)
    ax = fig.axes[0]
    assert {"ATan(alpha=3.0)", "Triangular(width=1.0)"} <= {ln.get_label() for ln in ax.lines}
    integral = _line(ax, "∫ Triangular(width=1.0)").get_ydata()
    assert integral[0] == 0 and integral[-1] == pytest.approx(1.0, abs=1e-5)  # unit area


@pytest.mark.parametrize(
    ("args", "kwargs", "err", "match"),
    [
        (("no_such_surrogate",), {}, snn.UnknownNameError, "unknown surrogate 'no_such_surrogate'"),
        (("atna",), {}, snn.UnknownNameError, "did you mean: 'atan'"),
        ((42,), {}, TypeError, "registered surrogate name"),
        (([],), {}, ValueError, "at least one"),
        ((["atan", "erf"],), {"alpha": 1.0}, TypeError, "single surrogate name"),
        (("atan",), {"x_range": (1, -1)}, ValueError, "low < high"),
        (("atan",), {"points": 1}, ValueError, "points must be >= 2"),
        (("atan",), {"alpha": -1.0}, ValueError, "alpha must be"),
    ],
)
def test_bad_surrogate_input(args, kwargs, err, match):
    with pytest.raises(err, match=match):
        snn_viz.surrogate_shape(*args, **kwargs)


def test_params_with_object_rejected():
    with pytest.raises(TypeError, match="only be given with a surrogate name"):
        snn_viz.surrogate_shape(snn.surrogate("atan"), alpha=2.0)
