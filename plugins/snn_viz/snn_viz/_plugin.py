"""The ``snncore`` entry point of snn-viz.

snn-viz adds plots, not registry items, so this module implements no hooks; it is what
``snncore plugins`` lists as the ``viz`` plugin. Importing it does not import matplotlib.
"""

from __future__ import annotations

__all__: list[str] = []
