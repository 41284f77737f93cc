"""The distribution as a plugin: entry point, registration, blocked-plugin error, CLI listing."""

from __future__ import annotations

import importlib.metadata as md
import json
import os
import subprocess
import sys

import snn_neurons_extra
import snncore as snn

PROVIDED = {
    "synaptic", "alpha", "lapicque", "rleaky", "rsynaptic", "slstm", "sconv2dlstm",
    "leaky_parallel", "state_leaky", "linear_leaky", "delta_leaky", "associative_leaky", "if",
    "li", "alif", "izhikevich", "adex", "batchnorm_tt", "graded_spikes",
}


def _run(code: str, **env: str) -> subprocess.CompletedProcess[str]:
    full_env = {**os.environ, **env}
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          env=full_env, timeout=120)


def test_entry_point_is_declared():
    eps = [ep for ep in md.entry_points(group="snncore") if ep.name == "neurons_extra"]
    assert len(eps) == 1
    assert eps[0].value == "snn_neurons_extra._plugin"
    assert eps[0].dist is not None and eps[0].dist.name == "snn-neurons-extra"


def test_every_known_optional_neuron_is_provided():
    from snncore._catalogue import by_extra

    assert set(by_extra("neurons-extra")["provides"]["neuron"]) == PROVIDED
    for name in PROVIDED:
        entry = snn.registries()["neuron"].get(name)
        assert entry.plugin == "neurons_extra"
        assert entry.distribution == "snn-neurons-extra"
        assert entry.factory.__module__.startswith("snn_neurons_extra.")
        assert entry.description  # first docstring line
    assert set(snn_neurons_extra.__all__) >= {e.factory.__name__ for e in
                                              map(snn.registries()["neuron"].get, PROVIDED)}


def test_create_works_with_the_plugin_installed():
    n = snn.create("synaptic", alpha=0.8, beta=0.9)
    assert isinstance(n, snn_neurons_extra.Synaptic)
    assert isinstance(snn.create("neurons_extra:alif", beta=0.9), snn_neurons_extra.ALIF)


def test_without_the_plugin_create_names_the_plugin_and_install_command():
    code = (
        "import snncore as snn\n"
        "try:\n"
        "    snn.create('synaptic', alpha=0.8, beta=0.9)\n"
        "except snn.UnknownNameError as e:\n"
        "    print('ERR', e)\n"
        "else:\n"
        "    print('CREATED')\n"
    )
    out = _run(code, SNNCORE_BLOCK_PLUGINS="neurons_extra")
    assert out.returncode == 0, out.stderr
    assert "ERR" in out.stdout, out.stdout
    assert "neurons-extra" in out.stdout
    assert 'pip install "snncore[neurons-extra]"' in out.stdout
    assert "snn-neurons-extra" in out.stdout  # the message names the plugin


def test_cli_lists_every_neuron():
    out = subprocess.run([sys.executable, "-m", "snncore", "plugins", "--json"],
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    report = json.loads(out.stdout)
    mine = [p for p in report["plugins"] if p["distribution"] == "snn-neurons-extra"]
    assert len(mine) == 1
    assert set(mine[0]["registered"]["neuron"]) == PROVIDED
    assert not [f for f in report["failures"] if f["distribution"] == "snn-neurons-extra"]
