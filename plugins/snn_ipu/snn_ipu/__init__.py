"""snn-ipu: run snncore spiking networks on Graphcore IPUs through poptorch.

Installing this distribution registers the backend ``ipu`` with snncore. poptorch is imported
only when needed (it ships with Graphcore's Poplar SDK, not on PyPI), so this package imports and
its CPU tools work everywhere::

    import snn_ipu

    snn_ipu.available()                     # (False, "poptorch is not installed. ...") here
    report = snn_ipu.check_model(net, x)    # CPU lint: what the IPU cannot run
    ipu_net = snn_ipu.training_model(net, loss_fn, torch.optim.Adam(net.parameters()))
    out, loss = ipu_net(x, y)               # x time-first [T, B, ...]
"""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError
from importlib.metadata import version as _dist_version

from ._backend import IPUBackend
from ._check import CheckReport, Finding, check_model
from ._optim import SUPPORTED_OPTIMIZERS, translate_optimizer
from ._path import TraceableSurrogate, ipu_safe, run_traceable, traceable
from ._poptorch import SDK_TORCH, availability, load_poptorch
from ._wrap import IPUModel, inference_model, training_model

try:  # the one version number lives in the repository's VERSION file
    __version__ = _dist_version("snn-ipu")
except PackageNotFoundError:  # pragma: no cover - a checkout that is not installed
    __version__ = "0+unknown"
del PackageNotFoundError, _dist_version


def available() -> tuple[bool, str]:
    """``(True, "")`` when poptorch imports and an IPU or the enabled IPU Model is usable, else
    ``(False, reason)``."""
    return availability()


__all__ = [
    "__version__",
    "available",
    "load_poptorch",
    "SDK_TORCH",
    "IPUBackend",
    "TraceableSurrogate",
    "traceable",
    "ipu_safe",
    "run_traceable",
    "training_model",
    "inference_model",
    "IPUModel",
    "translate_optimizer",
    "SUPPORTED_OPTIMIZERS",
    "check_model",
    "CheckReport",
    "Finding",
]
