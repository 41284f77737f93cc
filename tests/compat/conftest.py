"""Shared fixtures of the compat tests: snnTorch 1.0.0 is the (test-only) reference."""

from __future__ import annotations

import warnings

import pytest

pytest.importorskip("snn_compat")
st = pytest.importorskip("snntorch")

import snn_compat  # noqa: E402


@pytest.fixture(autouse=True)
def _fresh_warnings():
    """Every test sees each difference warning again; snnTorch's own deprecations are muted."""
    snn_compat.reset_warnings()
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", category=DeprecationWarning, module="snntorch")
        yield
