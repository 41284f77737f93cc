"""With only the core installed, snncore.viz says which package to install."""

from __future__ import annotations

import importlib
import sys

import pytest

HINT = r'install the visualization plugin: pip install "snncore\[viz\]"'


@pytest.fixture
def viz_missing(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setitem(sys.modules, "snn_viz", None)  # `import snn_viz` now fails
    return importlib.import_module("snncore.viz")


def test_attribute_access_names_the_package(viz_missing):
    with pytest.raises(ImportError, match=HINT) as info:
        viz_missing.raster  # noqa: B018
    assert info.value.name == "snn_viz"
    assert isinstance(info.value.__cause__, ImportError)


def test_from_import_names_the_package(viz_missing):
    with pytest.raises(ImportError, match=HINT):
        from snncore.viz import surrogate_shape  # noqa: F401


def test_import_and_dir_work_without_the_plugin(viz_missing):
    assert "INSTALL_HINT" in dir(viz_missing)
    with pytest.raises(AttributeError):
        viz_missing.__wrapped__  # noqa: B018  dunder lookups stay plain AttributeErrors


def test_forwards_when_installed():
    snn_viz = pytest.importorskip("snn_viz")
    import snncore.viz

    assert snncore.viz.raster is snn_viz.raster
