"""snn-compat: snnTorch 1.0.0's public API as thin adapters over snncore.

Migrating a script is changing its imports::

    import snn_compat.snntorch as snn                 # was: import snntorch as snn
    from snn_compat.snntorch import surrogate, spikegen, utils
    import snn_compat.snntorch.functional as SF       # was: import snntorch.functional as SF

Every name runs on snncore's own classes and functions, so a compat neuron is a
:class:`snncore.Neuron` (it runs fused inside :class:`snncore.Sequential`). Where snncore
deliberately computes something other than snnTorch, the compat name keeps snncore's result and
warns once with a :class:`CompatDifferenceWarning` naming the difference; ``docs/migration.md``
lists every name and every difference.
"""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError
from importlib.metadata import version as _dist_version

from ._warn import CompatDifferenceWarning, reset_warnings

try:
    __version__ = _dist_version("snn-compat")
except PackageNotFoundError:  # pragma: no cover - running from a source tree
    __version__ = "0+unknown"
del PackageNotFoundError, _dist_version

__all__ = ["__version__", "CompatDifferenceWarning", "reset_warnings"]
