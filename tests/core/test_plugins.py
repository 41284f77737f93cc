"""Plugin loading, isolation, conflicts, environment switches, in-process registration."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from typing import Any

import pytest
import torch

import snncore as snn
from snncore import _plugins
from snncore._plugins import PluginManager, PluginWarning

sys.path.insert(0, os.path.dirname(__file__))
from plugin_fakes import FakeEntryPoint  # noqa: E402

#: the built-in areas, each a plugin of its own
BUILTINS = ["snncore.neurons", "snncore.surrogates", "snncore.encoders", "snncore.eager",
            "snncore.fused", "snncore.generic", "snncore.triton"]


def _plugin(neuron_name: str, factory: Any = snn.Leaky, fail_in_hook: bool = False) -> Any:
    class P:
        @snn.hookimpl
        def snncore_register_neurons(self, registry):
            registry.register(neuron_name, factory)
            if fail_in_hook:
                raise RuntimeError("hook exploded")

    return P()


def test_loading_is_lazy_and_idempotent(fake_eps):
    fake_eps.append(FakeEntryPoint("good", _plugin("good_lif")))
    pm = PluginManager()
    assert not pm.loaded
    assert "good_lif" in pm.registries["neuron"].names()
    assert pm.loaded
    pm.load()
    assert list(pm.plugins) == [*BUILTINS, "good"]


def test_plugin_failing_on_import_is_isolated(fake_eps):
    fake_eps.append(FakeEntryPoint("broken", error=ImportError("No module named 'missing_dep'"),
                                   dist="snn-broken", version="0.9"))
    fake_eps.append(FakeEntryPoint("good", _plugin("good_lif")))
    pm = PluginManager()
    with pytest.warns(PluginWarning, match=r"'broken' from snn-broken 0\.9 failed during import"):
        names = pm.registries["neuron"].names()
    assert "good_lif" in names and "leaky" in names
    (failure,) = pm.failures
    assert (failure.name, failure.distribution, failure.version, failure.stage) == (
        "broken", "snn-broken", "0.9", "import")
    assert "missing_dep" in failure.error
    report = pm.report()
    assert report["failures"][0]["distribution"] == "snn-broken"
    assert [p["name"] for p in report["plugins"]] == [*BUILTINS, "good"]


def test_plugin_whose_hook_raises_leaves_nothing_behind(fake_eps):
    fake_eps.append(FakeEntryPoint("halfway", _plugin("half_lif", fail_in_hook=True)))
    pm = PluginManager()
    with pytest.warns(PluginWarning, match="hook exploded"):
        assert "half_lif" not in pm.registries["neuron"].names()
    assert pm.failures[0].stage == "snncore_register_neurons"
    assert "halfway" not in pm.plugins


def test_two_plugins_one_name_is_an_error_naming_both(fake_eps):
    class Other(snn.Leaky):
        """Another leaky."""

    fake_eps.append(FakeEntryPoint("alpha_pkg", _plugin("dup_lif", snn.Leaky)))
    fake_eps.append(FakeEntryPoint("beta_pkg", _plugin("dup_lif", Other)))
    pm = PluginManager()
    reg = pm.registries["neuron"]
    msg = "'dup_lif' is registered by two providers: 'alpha_pkg' and 'beta_pkg'"
    with pytest.raises(snn.AmbiguousNameError, match=msg):
        reg.get("dup_lif")
    assert reg.get("beta_pkg:dup_lif").factory is Other
    assert reg.get("alpha_pkg:dup_lif").factory is snn.Leaky
    assert pm.report()["conflicts"] == {"neuron": {"dup_lif": ["alpha_pkg", "beta_pkg"]}}


@pytest.mark.parametrize("env,expected", [
    ({_plugins.ENV_DISABLE_AUTOLOAD: "1"}, set()),
    ({_plugins.ENV_ALLOW: "one"}, {"one"}),
    ({_plugins.ENV_ALLOW: "dist-two"}, {"two"}),
    ({_plugins.ENV_BLOCK: "one, dist-two"}, set()),
    ({_plugins.ENV_BLOCK: "two"}, {"one"}),
])
def test_environment_switches(fake_eps, monkeypatch, env, expected):
    fake_eps.append(FakeEntryPoint("one", _plugin("one_lif"), dist="dist-one"))
    fake_eps.append(FakeEntryPoint("two", _plugin("two_lif"), dist="dist-two"))
    for k, v in env.items():
        monkeypatch.setenv(k, v)
    pm = PluginManager()
    pm.load()
    assert set(pm.plugins) - set(BUILTINS) == expected
    assert "leaky" in pm.registries["neuron"].names()  # built-ins always load
    if _plugins.ENV_DISABLE_AUTOLOAD not in env:
        assert set(pm.skipped) == {"one", "two"} - expected


def test_unknown_name_lists_close_matches_and_install_command(fake_eps, monkeypatch):
    monkeypatch.setenv(_plugins.ENV_DISABLE_AUTOLOAD, "1")
    reg = PluginManager().registries["neuron"]
    with pytest.raises(snn.UnknownNameError) as info:
        reg.get("synaptic")
    assert isinstance(info.value, LookupError)
    assert 'pip install "snncore[neurons-extra]"' in str(info.value)
    assert "the optional plugin snn-neurons-extra" in str(info.value)
    assert info.value.plugin == "snn-neurons-extra"
    with pytest.raises(LookupError, match="did you mean: 'leaky'"):
        reg.get("leeky")
    with pytest.raises(LookupError, match="unknown neuron 'nothing:leaky'"):
        reg.get("nothing:leaky")
    back = PluginManager().registries["backend"]
    with pytest.raises(LookupError, match=r'snncore\[ipu\]'):
        back.get("ipu")


@pytest.fixture
def user_cleanup():
    yield
    for reg in snn.registries().values():
        reg.remove_plugin("user")
        reg.remove_plugin("mylab")


def test_register_neuron_decorator(user_cleanup):
    @snn.register_neuron("half_leak")
    class HalfLeak(snn.Leaky):
        """A leaky neuron with beta fixed to 0.5."""

        def __init__(self, **kw):
            super().__init__(beta=0.5, **kw)

    n = snn.create("half_leak")
    assert isinstance(n, HalfLeak) and float(n.beta) == 0.5
    assert isinstance(snn.create("user:half_leak"), HalfLeak)
    with pytest.raises(snn.DuplicateNameError, match="'leaky' is registered by two providers"):
        snn.register_neuron("leaky", HalfLeak)
    with pytest.raises(ValueError, match="without ':'"):
        snn.register_neuron("bad:name", HalfLeak)


def test_register_plugin_object_in_process(user_cleanup):
    class MyLab:
        @snn.hookimpl
        def snncore_register_neurons(self, registry):
            registry.register("lab_lif", snn.Leaky, description="lab's LIF")

        @snn.hookimpl
        def snncore_register_surrogates(self, registry):
            registry.register("lab_box", snn.surrogates.Triangular)

    name = snn.register_plugin(MyLab(), name="mylab")
    try:
        assert isinstance(snn.create("lab_lif", beta=0.3), snn.Leaky)
        assert isinstance(snn.surrogate("mylab:lab_box"), snn.surrogates.Triangular)
        entry = snn.registries()["neuron"].get("lab_lif")
        assert (entry.plugin, entry.description) == ("mylab", "lab's LIF")
        listed = {p["name"]: p for p in snn.plugin_report()["plugins"]}
        assert listed["mylab"]["registered"] == {"neuron": ["lab_lif"], "surrogate": ["lab_box"]}
        with pytest.raises(ValueError, match="already registered"):
            snn.register_plugin(MyLab(), name="mylab")
    finally:
        snn.unregister_plugin(name)
    assert "lab_lif" not in snn.registries()["neuron"].names()


def test_hookimpl_with_wrong_signature_is_rejected_clearly():
    class Bad:
        @snn.hookimpl
        def snncore_register_neurons(self, reg):  # wrong argument name
            pass

    with pytest.raises(RuntimeError, match="snncore_register_neurons"):
        snn.register_plugin(Bad(), name="bad_sig")


# -- the installed example plugin (tests/core/example_plugin), installed by the test session ----

def _example_installed() -> bool:
    from importlib.metadata import PackageNotFoundError, version

    try:
        version("snncore-example-plugin")
    except PackageNotFoundError:
        return False
    return True


needs_example = pytest.mark.skipif(
    not _example_installed() and not os.environ.get("CI"),
    reason="pip install tests/core/example_plugin (the nox test sessions do)",
)


def _run(code: str, **env: str) -> subprocess.CompletedProcess:
    full = {k: v for k, v in os.environ.items() if not k.startswith("SNNCORE_")}
    full.update(env)
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=full,
                          timeout=120)


@needs_example
def test_installed_plugin_is_found_through_its_entry_point():
    code = ("import snncore as snn, torch, json;"
            "n = snn.create('example_if', threshold=0.5);"
            "spk, st = n.run(torch.full((4, 2), 0.3));"
            "print(json.dumps({'cls': type(n).__name__, 'spk': spk[:, 0].tolist(),"
            " 'plugin': snn.registries()['neuron'].get('example_if').distribution}))")
    res = _run(code)
    assert res.returncode == 0, res.stderr
    out = json.loads(res.stdout)
    assert out == {"cls": "ExampleIF", "spk": [0.0, 1.0, 0.0, 1.0],
                   "plugin": "snncore-example-plugin"}


@needs_example
def test_installed_plugin_not_loaded_with_autoload_disabled():
    res = _run("import snncore as snn; snn.create('example_if')",
               SNNCORE_DISABLE_PLUGIN_AUTOLOAD="1")
    assert res.returncode != 0
    assert "unknown neuron 'example_if'" in res.stderr


@needs_example
def test_plugins_command_lists_installed_plugin():
    res = subprocess.run([sys.executable, "-m", "snncore", "plugins", "--json"],
                         capture_output=True, text=True, timeout=120)
    assert res.returncode == 0, res.stderr
    report = json.loads(res.stdout)
    plugins = {p["name"]: p for p in report["plugins"]}
    assert plugins["example"]["distribution"] == "snncore-example-plugin"
    assert plugins["example"]["version"] == "0.3.1"
    assert plugins["example"]["registered"] == {"neuron": ["example_if"],
                                                "surrogate": ["example_boxcar"]}
    assert report["backends"]["eager"]["available"] is True
    blocked = _run("import snncore as snn, json; print(json.dumps(snn.plugin_report()))",
                   SNNCORE_BLOCK_PLUGINS="example")
    assert json.loads(blocked.stdout)["skipped"]["example"].startswith("blocked by")


def test_plugins_command_text(capsys):
    from snncore._cli import main

    assert main(["plugins"]) == 0
    text = capsys.readouterr().out
    assert "snncore.neurons [builtin]" in text and "neurons: leaky" in text
    assert "eager (priority 0, from snncore): available" in text
    assert main(["plugins", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["plugins"][0]["name"] == "snncore.neurons"


def test_builtins_register_through_the_same_hooks():
    entry = snn.registries()["neuron"].get("leaky")
    assert entry.plugin == "snncore" and entry.factory is snn.Leaky
    assert snn.registries()["surrogate"].get("atan").qualified_name == "snncore:atan"
    assert torch.is_tensor(snn.create("leaky", beta=0.5).beta)
