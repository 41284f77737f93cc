from __future__ import annotations

import subprocess
import sys

import snn_viz
import snncore


def test_listed_by_snncore_plugins():
    report = snncore.plugin_report()
    (viz,) = [p for p in report["plugins"] if p["distribution"] == "snn-viz"]
    assert viz["name"] == "viz" and viz["version"] == snn_viz.__version__
    assert not [f for f in report["failures"] if f["distribution"] == "snn-viz"]


def test_importing_the_plugin_does_not_import_matplotlib():
    code = ("import sys, snncore, snn_viz; snncore.plugin_report(); "
            "assert 'matplotlib' not in sys.modules, 'matplotlib imported eagerly'; "
            "snn_viz.raster; assert 'matplotlib' in sys.modules")
    subprocess.run([sys.executable, "-c", code], check=True, timeout=120)


def test_core_accessor_forwards():
    import snncore.viz

    assert snncore.viz.raster is snn_viz.raster
    assert "surrogate_shape" in dir(snncore.viz)


def test_public_names_resolve():
    for name in snn_viz.__all__:
        assert getattr(snn_viz, name) is not None
