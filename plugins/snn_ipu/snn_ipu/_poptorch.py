"""Lazy access to poptorch and the availability probe of the ``ipu`` backend.

poptorch is not on PyPI: it ships only inside Graphcore's Poplar SDK, and each SDK's poptorch
asserts one exact torch version at import (2.0.1 for SDK 3.3 and 3.4). Nothing here imports it
before it is needed, and every failure is turned into a reason that says what to install.
"""

from __future__ import annotations

import importlib
import os
from types import ModuleType

import torch

from snncore import extend

__all__ = ["SDK_TORCH", "load_poptorch", "availability", "ipu_model_requested"]

#: the torch version the poptorch of Poplar SDK 3.3 / 3.4 asserts at import
SDK_TORCH = "2.0.1"
#: poptorch's own switch for the IPU Model (a simulator of the IPU shipped with the SDK)
IPU_MODEL_ENV = "POPTORCH_IPU_MODEL"

_INSTALL = (
    "poptorch is not on PyPI; it ships with Graphcore's Poplar SDK (SDK 3.3/3.4: poptorch for "
    f"torch=={SDK_TORCH}, this environment has torch {torch.__version__}). Install the SDK, "
    "`source <sdk>/enable`, and `pip install <sdk>/poptorch-*.whl` into this environment "
    "(see docs/ipu.md)"
)


def load_poptorch() -> ModuleType:
    """Import and return poptorch, or raise :class:`snncore.BackendUnavailableError` saying why."""
    try:
        return importlib.import_module("poptorch")
    except ModuleNotFoundError as exc:
        if exc.name not in (None, "poptorch"):
            raise extend.BackendUnavailableError(
                f"poptorch is installed but importing it failed: a module it needs is missing "
                f"({exc}); check the Poplar SDK installation (`source <sdk>/enable`)"
            ) from exc
        raise extend.BackendUnavailableError(f"poptorch is not installed. {_INSTALL}") from exc
    except Exception as exc:  # poptorch asserts its torch version; SDK libraries may be missing
        raise extend.BackendUnavailableError(
            f"poptorch is installed but cannot be imported ({type(exc).__name__}: {exc}). "
            f"{_INSTALL}"
        ) from exc


def ipu_model_requested() -> bool:
    """Whether the IPU Model is switched on through ``POPTORCH_IPU_MODEL=1``."""
    return os.environ.get(IPU_MODEL_ENV, "").strip() == "1"


def availability() -> tuple[bool, str]:
    """``(True, "")`` when poptorch imports and an IPU (or the requested IPU Model) is usable,
    else ``(False, reason)``."""
    try:
        poptorch = load_poptorch()
    except extend.BackendUnavailableError as exc:
        return False, str(exc)
    version = getattr(poptorch, "__version__", "?")
    probe = getattr(poptorch, "ipuHardwareIsAvailable", None)
    if not callable(probe):
        return False, (f"the imported poptorch ({version}) has no ipuHardwareIsAvailable(); it is "
                       "not Graphcore's poptorch or is too old (SDK 3.x needed)")
    try:
        hardware = bool(probe(1))
    except Exception as exc:
        return False, f"poptorch {version}: probing for IPUs raised {type(exc).__name__}: {exc}"
    if hardware:
        return True, ""
    if ipu_model_requested():
        return True, ""
    return False, (
        f"poptorch {version} imports, but no IPU is attached to this machine "
        "(poptorch.ipuHardwareIsAvailable() is False) and the IPU Model is not enabled; set "
        f"{IPU_MODEL_ENV}=1 to run on the IPU Model simulator"
    )
