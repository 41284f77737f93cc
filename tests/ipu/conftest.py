"""Fixtures of the IPU tests: no poptorch at all, or the CPU stand-in of poptorch.

Tests marked ``ipu`` need Graphcore's real poptorch with an IPU or the IPU Model
(``POPTORCH_IPU_MODEL=1``); they are skipped cleanly everywhere else.
"""

from __future__ import annotations

import importlib.util
import sys

import pytest

from snn_ipu.testing import poptorch_standin


def _real_poptorch() -> tuple[bool, str]:
    if importlib.util.find_spec("poptorch") is None:
        return False, "poptorch (Graphcore Poplar SDK) is not installed"
    import snn_ipu

    return snn_ipu.available()


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    ok, why = _real_poptorch()
    if ok:
        return
    skip = pytest.mark.skip(reason=f"needs the Poplar SDK's poptorch and an IPU: {why}")
    for item in items:
        if item.get_closest_marker("ipu") is not None:
            item.add_marker(skip)


@pytest.fixture
def no_poptorch(monkeypatch: pytest.MonkeyPatch) -> None:
    """``import poptorch`` fails as on a machine without the SDK."""
    monkeypatch.setitem(sys.modules, "poptorch", None)


@pytest.fixture
def standin(monkeypatch: pytest.MonkeyPatch):
    """The CPU stand-in installed as ``poptorch``, with no IPU attached."""
    monkeypatch.setitem(sys.modules, "poptorch", poptorch_standin)
    monkeypatch.setattr(poptorch_standin, "HARDWARE", False)
    monkeypatch.delenv("POPTORCH_IPU_MODEL", raising=False)
    poptorch_standin.TRACE_LOG.clear()
    return poptorch_standin


@pytest.fixture
def ipu(standin, monkeypatch: pytest.MonkeyPatch):
    """The stand-in with an "IPU" attached (the ``ipu`` backend is available)."""
    monkeypatch.setattr(standin, "HARDWARE", True)
    return standin
