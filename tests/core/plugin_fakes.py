"""Stand-ins for installed plugins, shared by the plugin tests (``fake_eps`` is a fixture of
this folder, see conftest.py)."""

from __future__ import annotations

import types
from typing import Any

import pytest

from snncore import _plugins


class FakeEntryPoint:
    """Stands in for an installed distribution's entry point."""

    def __init__(self, name: str, obj: Any = None, error: Exception | None = None,
                 dist: str = "fake-dist", version: str = "1.2.3") -> None:
        self.name = name
        self.value = f"{name}_module"
        self.group = "snncore"
        self.dist = types.SimpleNamespace(name=dist, version=version)
        self._obj, self._error = obj, error

    def load(self) -> Any:
        if self._error is not None:
            raise self._error
        return self._obj


@pytest.fixture
def fake_eps(monkeypatch):
    eps: list[FakeEntryPoint] = []
    monkeypatch.setattr(_plugins.md, "entry_points", lambda group: list(eps))
    for var in (_plugins.ENV_ALLOW, _plugins.ENV_BLOCK, _plugins.ENV_DISABLE_AUTOLOAD):
        monkeypatch.delenv(var, raising=False)
    return eps
