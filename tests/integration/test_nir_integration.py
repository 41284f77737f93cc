"""snn-nir next to every other plugin: a round trip through a file and a graph from the NIR
paper, with no plugin failing to load."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import torch
from torch import nn

import snn_nir
import snncore as snn

ROOT = Path(__file__).resolve().parents[2]


def test_round_trip_with_every_plugin_loaded(tmp_path):
    from snn_neurons_extra import RSynaptic, Synaptic

    failed = [f for f in snn.plugin_report()["failures"] if f["distribution"]]
    assert not failed, failed  # no installed plugin fails to load next to snn-nir
    net = snn.Sequential(nn.Linear(4, 6), Synaptic(alpha=0.7, beta=0.9), nn.Linear(6, 5),
                         RSynaptic(alpha=0.6, beta=0.8, linear_features=5))
    with pytest.warns(snn_nir.NIRExportWarning):
        snn_nir.write(tmp_path / "net.nir", net, (4,), dt=1e-3)
    m = snn_nir.import_from_nir(tmp_path / "net.nir", dt=1e-3)
    x = torch.rand(50, 2, 4) * 2
    with torch.no_grad():
        assert torch.equal(m.run(x)[0], net(x)[0])


def test_nir_paper_graph_runs():
    env = os.environ.get("SNNCORE_NIR_FIXTURES")
    folder = Path(env) if env else ROOT.parent / "shared" / "nir_fixtures"
    path = folder / "lif_norse.nir"
    assert path.is_file(), f"NIR fixtures missing at {folder} (set SNNCORE_NIR_FIXTURES)"
    m = snn_nir.import_from_nir(path, dt=1e-4)
    with torch.no_grad():
        y, _ = m.run(torch.ones(200, 1, 1))
    assert y.shape == (200, 1, 1) and y.sum() > 0
