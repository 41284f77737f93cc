"""Plots and animations, provided by the optional ``snn-viz`` plugin.

``snncore.viz.<name>`` forwards to ``snn_viz.<name>`` (``raster``, ``traces``, ``cur_mem_spk``,
``surrogate_shape``, ``firing_rate_heatmap``, ``save``, ...). With only the core installed, any
attribute access raises an ImportError that names the package to install::

    from snncore import viz
    fig = viz.raster(spk)        # needs: pip install "snncore[viz]"
"""

from __future__ import annotations

import importlib
from types import ModuleType
from typing import Any

from . import _catalogue

__all__: list[str] = []  # the names are snn_viz's; see ``dir(snncore.viz)`` once it is installed

_VIZ = _catalogue.by_extra("viz")
assert _VIZ is not None
INSTALL_HINT = f"install the visualization plugin: {_catalogue.install_command(_VIZ)}"


def _plugin() -> ModuleType:
    try:
        return importlib.import_module(_VIZ["package"])
    except ImportError as exc:
        raise ImportError(f"snncore.viz needs the {_VIZ['distribution']} package; {INSTALL_HINT}",
                          name=_VIZ["package"]) from exc


def __getattr__(name: str) -> Any:
    if name.startswith("__"):  # keep introspection (copy, pickle, doctest) working
        raise AttributeError(name)
    return getattr(_plugin(), name)


def __dir__() -> list[str]:
    try:
        names = list(getattr(_plugin(), "__all__", []))
    except ImportError:
        names = []
    return sorted(set(globals()) | set(names))
