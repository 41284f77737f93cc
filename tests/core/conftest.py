"""Fixtures of the core tests."""

import pytest
from plugin_fakes import fake_eps  # noqa: F401  (the fake entry points of the plugin tests)
from triton_helpers import device  # noqa: F401  (CUDA, or CPU under Triton's interpreter)

from snncore.backends import _native


@pytest.fixture(params=["streaming", "cached"])
def stores(request, monkeypatch):
    """Run a test with the native loops writing every output with streaming stores (the
    threshold at 1 byte, so that the tests' small tensors take that path) and with plain
    stores only."""
    monkeypatch.setattr(_native, "STREAM_BYTES", 1 if request.param == "streaming" else 1 << 62)
    return request.param
