"""``snncore nir inspect FILE`` and the plugin's listing in ``snncore plugins``."""

from __future__ import annotations

import io
import json
import subprocess
import sys

import snn_nir
import snncore as snn


def test_inspect_text(fixtures_dir):
    out = io.StringIO()
    assert snn_nir.main(["inspect", str(fixtures_dir / "braille_noDelay_bias_zero.nir")],
                        out) == 0
    text = out.getvalue()
    assert "lif1.lif: CubaLIF [38] -> [38]" in text
    assert "cycles (nodes in evaluation order): lif1.w_rec, lif1.lif" in text
    assert "delayed edges" in text and "lif1.lif -> lif1.w_rec" in text
    assert "snncore can import it" in text and "Synaptic with NIR input scaling (fused)" in text


def test_inspect_json_and_failure(fixtures_dir):
    out = io.StringIO()
    assert snn_nir.main(["inspect", "--json", str(fixtures_dir / "cnn_sinabs.nir")], out) == 0
    report = json.loads(out.getvalue())
    assert report["importable"] and report["cycles"] == []
    node = {n["name"]: n for n in report["nodes"]}["0"]
    assert node["type"] == "Conv2d" and node["input_shape"] == [2, 34, 34]
    assert node["output_shape"] == [16, 16, 16]
    bad = io.StringIO()
    path = fixtures_dir / "braille_noDelay_bias_zero_subgraph.nir"
    assert snn_nir.main(["inspect", str(path)], bad) == 1
    assert "cannot read" in bad.getvalue() and "'lif'" in bad.getvalue()


def test_inspect_reports_metadata_and_warnings(tmp_path):
    net = snn.Sequential(snn.Leaky(beta=0.9))
    path = tmp_path / "m.nir"
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        snn_nir.write(path, net, (3,), dt=1e-3)
    report = snn_nir.inspect_nir(path, dt=1e-4)
    assert {n["name"]: n for n in report["nodes"]}["0"]["snncore_metadata"]
    assert any("exported for dt=0.001" in w for w in report["warnings"])


def test_snncore_plugins_lists_snn_nir():
    report = snn.plugin_report()
    dists = {p["distribution"] for p in report["plugins"]}
    assert "snn-nir" in dists
    assert not [f for f in report["failures"] if f["distribution"] == "snn-nir"]
    out = subprocess.run([sys.executable, "-m", "snncore", "plugins", "--json"],
                         capture_output=True, text=True, check=True).stdout
    assert "snn-nir" in {p["distribution"] for p in json.loads(out)["plugins"]}


def test_module_entry_point(fixtures_dir):
    res = subprocess.run([sys.executable, "-m", "snn_nir", "inspect",
                          str(fixtures_dir / "lif_norse.nir")], capture_output=True, text=True)
    assert res.returncode == 0, res.stderr
    assert "1: LIF [1] -> [1]" in res.stdout


def test_snncore_nir_inspect_command(fixtures_dir):
    res = subprocess.run([sys.executable, "-m", "snncore", "nir", "inspect", "--json",
                          str(fixtures_dir / "braille_noDelay_noBias_subtract.nir")],
                         capture_output=True, text=True)
    assert res.returncode == 0, res.stderr
    report = json.loads(res.stdout)
    assert report["importable"] and report["delayed_edges"] == [["lif1.lif", "lif1.w_rec"]]
    bad = subprocess.run([sys.executable, "-m", "snncore", "nir", "inspect",
                          str(fixtures_dir / "braille_noDelay_bias_zero_subgraph.nir")],
                         capture_output=True, text=True)
    assert bad.returncode == 1 and "does not exist" in bad.stdout
