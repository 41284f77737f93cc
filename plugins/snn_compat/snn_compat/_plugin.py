"""The snncore entry point of snn-compat.

snn-compat adds no neurons, surrogates, encoders or backends to snncore's registries: its
classes are snncore's own, reached through ``import snn_compat.snntorch``. The entry point makes
the installed distribution (name and version) appear in ``snncore plugins`` next to the other
plugins, so an environment report shows that the snnTorch layer is present.
"""

from __future__ import annotations

__all__: list[str] = []
