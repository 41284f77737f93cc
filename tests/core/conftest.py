"""Fixtures of the core tests."""

from plugin_fakes import fake_eps  # noqa: F401  (the fake entry points of the plugin tests)
from triton_helpers import device  # noqa: F401  (CUDA, or CPU under Triton's interpreter)
