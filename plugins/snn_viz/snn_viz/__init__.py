"""snn_viz: plots and animations for snncore spiking networks, with matplotlib.

Every function takes torch tensors or NumPy arrays (time-first, ``[T, N]`` or ``[T, B, N]``),
returns the matplotlib ``Figure`` (or ``FuncAnimation``) and never calls ``plt.show()``;
:func:`save` writes PNG/PDF/SVG figures and GIF (or MP4 with ffmpeg) animations.

Example::

    import snncore as snn, snn_viz, torch

    spk, states = snn.Leaky(beta=0.9).trace(torch.rand(100, 1, 20) * 0.5)
    snn_viz.save(snn_viz.raster(spk), "raster.png")
    snn_viz.save(snn_viz.traces(states.mem, spk=spk, threshold=1.0, neurons=[0, 1]), "mem.png")

matplotlib is imported on first use of a plotting function, not on ``import snn_viz``.
"""

from __future__ import annotations

import importlib
from importlib.metadata import PackageNotFoundError
from importlib.metadata import version as _dist_version
from typing import TYPE_CHECKING, Any

try:  # the one version number lives in the repository's VERSION file
    __version__ = _dist_version("snn-viz")
except PackageNotFoundError:  # pragma: no cover - a checkout that is not installed
    __version__ = "0+unknown"
del PackageNotFoundError, _dist_version

#: public name -> private module that defines it
_EXPORTS = {
    "raster": "_raster",
    "spike_count": "_raster",
    "animate_spike_count": "_raster",
    "traces": "_traces",
    "cur_mem_spk": "_traces",
    "neuron_traces": "_traces",
    "animate_frames": "_frames",
    "frame_stack": "_frames",
    "surrogate_shape": "_surrogate_plot",
    "firing_rate_heatmap": "_activity",
    "layer_rates": "_activity",
    "isi_histogram": "_activity",
    "inter_spike_intervals": "_activity",
    "training_dashboard": "_dashboard",
    "history_columns": "_dashboard",
    "save_demo_plots": "_dashboard",
    "save": "_save",
}

__all__ = [
    "__version__",
    "raster",
    "spike_count",
    "animate_spike_count",
    "traces",
    "cur_mem_spk",
    "neuron_traces",
    "animate_frames",
    "frame_stack",
    "surrogate_shape",
    "firing_rate_heatmap",
    "layer_rates",
    "isi_histogram",
    "inter_spike_intervals",
    "training_dashboard",
    "history_columns",
    "save_demo_plots",
    "save",
]

if TYPE_CHECKING:  # pragma: no cover - for type checkers and IDEs
    from ._activity import firing_rate_heatmap, inter_spike_intervals, isi_histogram, layer_rates
    from ._dashboard import history_columns, save_demo_plots, training_dashboard
    from ._frames import animate_frames, frame_stack
    from ._raster import animate_spike_count, raster, spike_count
    from ._save import save
    from ._surrogate_plot import surrogate_shape
    from ._traces import cur_mem_spk, neuron_traces, traces


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'snn_viz' has no attribute {name!r}")
    value = getattr(importlib.import_module(f"{__name__}.{module}"), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_EXPORTS))
