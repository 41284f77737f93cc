"""The extension API and plugin isolation: hijack-proof defaults, guarded probes and hooks,
reported misspellings, per-area built-ins, plugin subcommands, plugin hooks, the catalogue."""

from __future__ import annotations

import ast
import json
import os
import runpy
import subprocess
import sys
import warnings
from pathlib import Path
from typing import Any

import pytest
import torch

import snncore as snn
from snncore import extend
from snncore._plugins import BUILTIN_NAMES, PluginManager

sys.path.insert(0, str(Path(__file__).parent))
from plugin_fakes import FakeEntryPoint  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]


def _run(code: str, **env: str) -> subprocess.CompletedProcess:
    full = {k: v for k, v in os.environ.items() if not k.startswith("SNNCORE_")}
    full.update(env)
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=full,
                          timeout=120)


@pytest.fixture
def in_process():
    """Register in-process plugins on the process-wide manager; unregister them afterwards."""
    names: list[str] = []

    def add(plugin: Any, name: str) -> str:
        names.append(snn.register_plugin(plugin, name=name))
        return name

    yield add
    for name in names:
        snn.unregister_plugin(name)


class _EvilATan(extend.Surrogate):
    """A plugin's own surrogate that is also called 'atan'."""

    name = "atan"

    def derivative(self, x: torch.Tensor) -> torch.Tensor:
        return torch.zeros_like(x)


# -- defaults that cannot be hijacked ------------------------------------------------------------

def test_a_plugin_surrogate_named_atan_does_not_break_core_neurons(in_process):
    class Evil:
        @extend.hookimpl
        def snncore_register_surrogates(self, registry):
            registry.register("atan", _EvilATan)

    in_process(Evil(), "evil")
    lif = snn.Leaky(beta=0.9)
    assert type(lif.surrogate) is snn.surrogates.ATan
    assert type(snn.surrogate("atan")) is snn.surrogates.ATan  # the documented rule
    assert type(snn.surrogate("evil:atan")) is _EvilATan
    assert snn.plugin_report()["conflicts"]["surrogate"]["atan"] == ["snncore", "evil"]
    spk, _ = lif.run(torch.full((3, 2), 0.7))
    assert spk[:, 0].tolist() == [0.0, 1.0, 0.0]


def test_constructing_a_core_neuron_loads_no_plugin():
    res = _run("import snncore as snn, snncore._plugins as p, json;"
               "n = snn.Leaky(beta=0.9); m = snn.Leaky(beta=0.5, surrogate='fast_sigmoid');"
               "print(json.dumps([p.manager.loaded, type(m.surrogate).__name__]))")
    assert res.returncode == 0, res.stderr
    assert json.loads(res.stdout) == [False, "FastSigmoid"]


def test_a_plugin_surrogate_name_still_resolves_through_the_registry(in_process):
    class Box:
        @extend.hookimpl
        def snncore_register_surrogates(self, registry):
            registry.register("lab_boxcar", snn.surrogates.Triangular)

    in_process(Box(), "box")
    assert isinstance(snn.Leaky(beta=0.5, surrogate="lab_boxcar").surrogate,
                      snn.surrogates.Triangular)


# -- every call into plugin code is guarded ------------------------------------------------------

class _Exploding(extend.Backend):
    name = "exploding"
    priority = 1000

    @classmethod
    def available(cls):
        raise RuntimeError("probe exploded")

    def run(self, neuron, x_seq, state):  # pragma: no cover - never selected
        raise AssertionError("must not run")


class _PickyExploding(extend.EagerBackend):
    name = "picky_exploding"
    priority = 999

    def supports(self, neuron, x_seq):
        raise ValueError("supports exploded")


@pytest.mark.parametrize("cls,message", [(_Exploding, "available raised RuntimeError"),
                                         (_PickyExploding, "supports raised ValueError")])
def test_a_raising_backend_probe_is_reported_and_skipped(in_process, cls, message):
    class P:
        @extend.hookimpl
        def snncore_register_backends(self, registry):
            registry.register(cls.name, cls)

    in_process(P(), f"plugin_{cls.name}")
    x = torch.full((4, 2), 0.6)
    with pytest.warns(extend.PluginWarning, match=message):
        spk, _ = snn.Leaky(beta=0.9).run(x)
    ref, _ = snn.Leaky(beta=0.9).run(x, backend="eager")
    assert torch.equal(spk, ref)
    report = snn.plugin_report()
    assert any(cls.name in p and message in p for p in report["problems"])
    from snncore._cli import format_report

    assert message in format_report(report)
    if cls is _Exploding:
        assert report["backends"][cls.name]["available"] is False
        with pytest.raises(snn.BackendUnavailableError, match="probe exploded"), \
                pytest.warns(extend.PluginWarning):
            snn.Leaky(beta=0.9).run(x, backend=cls.name)


def test_a_misspelled_hook_is_reported(in_process):
    class Typo:
        @extend.hookimpl
        def snncore_register_neuron(self, registry):  # the hook is snncore_register_neurons
            registry.register("never", snn.Leaky)

    with pytest.warns(extend.PluginWarning,
                      match=r"'snncore_register_neuron', which is not an snncore hook.*"
                            r"did you mean 'snncore_register_neurons'"):
        in_process(Typo(), "typo")
    assert any("snncore_register_neuron'" in p for p in snn.plugin_report()["problems"])


def test_a_misspelled_hook_of_an_installed_plugin_is_reported(fake_eps):
    class Typo:
        @extend.hookimpl
        def snncore_register_backend(self, registry):
            pass

    fake_eps.append(FakeEntryPoint("typo", Typo()))
    pm = PluginManager()
    with pytest.warns(extend.PluginWarning, match="snncore_register_backend"):
        pm.load()
    assert "typo" in pm.plugins and pm.report()["problems"]


@pytest.mark.parametrize("var", ["SNNCORE_PLUGINS", "SNNCORE_BLOCK_PLUGINS"])
def test_unknown_names_in_the_plugin_switches_are_warned_about(fake_eps, monkeypatch, var):
    fake_eps.append(FakeEntryPoint("good", object(), dist="snn-good"))
    monkeypatch.setenv(var, "good,snncore.tritn")
    pm = PluginManager()
    with pytest.warns(extend.PluginWarning,
                      match=rf"{var} names 'snncore.tritn'.*did you mean 'snncore.triton'"):
        pm.load()
    assert len(pm.problems) == 1


def test_an_unparsable_flag_is_warned_about(fake_eps, monkeypatch):
    monkeypatch.setenv("SNNCORE_DISABLE_PLUGIN_AUTOLOAD", "maybe")
    with pytest.warns(RuntimeWarning, match="SNNCORE_DISABLE_PLUGIN_AUTOLOAD='maybe'"):
        PluginManager().load()


# -- built-ins: one plugin per area, each blockable ------------------------------------------------

@pytest.mark.parametrize("backend", ["eager", "fused", "generic", "triton"])
def test_each_builtin_backend_can_be_blocked_alone(fake_eps, monkeypatch, backend):
    monkeypatch.setenv("SNNCORE_BLOCK_PLUGINS", f"snncore.{backend}")
    pm = PluginManager()
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a built-in area name is a known name
        names = pm.registries["backend"].names()
    assert set(names) == {"eager", "fused", "generic", "triton"} - {backend}
    assert pm.skipped == {f"snncore.{backend}": "blocked by SNNCORE_BLOCK_PLUGINS"}
    assert "leaky" in pm.registries["neuron"].names()


def test_blocking_triton_end_to_end():
    res = _run("import snncore as snn, torch, json;"
               "spk, _ = snn.Leaky(beta=0.9).run(torch.rand(5, 2, 3));"
               "r = snn.plugin_report();"
               "print(json.dumps([sorted(r['backends']), r['skipped'], r['problems']]))",
               SNNCORE_BLOCK_PLUGINS="snncore.triton")
    assert res.returncode == 0, res.stderr
    backends, skipped, problems = json.loads(res.stdout)
    assert "triton" not in backends and {"eager", "fused"} <= set(backends)
    assert skipped == {"snncore.triton": "blocked by SNNCORE_BLOCK_PLUGINS"} and problems == []


def test_builtin_areas_are_plugins_of_their_own():
    report = snn.plugin_report()
    builtin = {p["name"]: p for p in report["plugins"] if p["source"] == "builtin"}
    assert tuple(builtin) == BUILTIN_NAMES
    assert builtin["snncore.fused"]["registered"] == {"backend": ["fused"]}
    assert builtin["snncore.neurons"]["registered"] == {"neuron": ["leaky"]}
    assert snn.registries()["backend"].get("fused").qualified_name == "snncore:fused"


# -- plugin subcommands and plugin-defined hooks ---------------------------------------------------

def test_a_plugin_adds_a_cli_subcommand_and_a_broken_one_is_isolated(in_process, capsys):
    from snncore._cli import main

    class Hello:
        @extend.hookimpl
        def snncore_add_commands(self, subparsers):
            p = subparsers.add_parser("hello", help="say hello")
            p.add_argument("who")
            p.set_defaults(func=lambda args, out: out.write(f"hello {args.who}\n") and 0)

    class Broken:
        @extend.hookimpl
        def snncore_add_commands(self, subparsers):
            raise RuntimeError("no commands today")

    in_process(Hello(), "hello_plugin")
    in_process(Broken(), "broken_cli")
    with pytest.warns(extend.PluginWarning, match="no commands today"):
        assert main(["hello", "world"]) == 0
    assert capsys.readouterr().out == "hello world\n"


def test_plugin_defined_hooks_are_added_and_called_in_isolation(in_process):
    class Specs:
        @extend.hookspec
        def lab_register_mappings(self, registry):
            """Contribute mappings."""

    extend.add_hookspecs(Specs)

    class Good:
        @extend.hookimpl
        def lab_register_mappings(self, registry):
            registry.append("good")
            return "good done"

    class Bad:
        @extend.hookimpl
        def lab_register_mappings(self, registry):
            raise KeyError("bad mapping")

    in_process(Good(), "good_mapper")
    in_process(Bad(), "bad_mapper")
    seen: list[str] = []
    with pytest.warns(extend.PluginWarning, match="bad_mapper.*lab_register_mappings"):
        assert extend.call_hook("lab_register_mappings", registry=seen) == ["good done"]
    assert seen == ["good"]
    with pytest.raises(ValueError, match="no hook specification named 'lab_nothing'"):
        extend.call_hook("lab_nothing")
    with pytest.raises(ValueError, match="reserved"):
        class Reserved:
            @extend.hookspec
            def snncore_register_things(self, registry):
                """Not allowed."""

        extend.add_hookspecs(Reserved)


# -- snncore.<ClassName> and the catalogue --------------------------------------------------------

def test_registry_neuron_classes_are_attributes_of_snncore(in_process):
    class LabLIF(snn.Leaky):
        """A lab's LIF."""

    class P:
        @extend.hookimpl
        def snncore_register_neurons(self, registry):
            registry.register("lab_lif_attr", LabLIF)

    in_process(P(), "lab_attr")
    assert snn.LabLIF is LabLIF
    with pytest.raises(AttributeError, match="has no attribute 'NoSuchNeuron'$"):
        snn.NoSuchNeuron  # noqa: B018
    with pytest.raises(AttributeError):
        snn.__wrapped__  # noqa: B018


def test_a_missing_optional_neuron_class_names_the_plugin_to_install():
    res = _run("import snncore as snn\ntry:\n    snn.Synaptic\nexcept AttributeError as e:\n"
               "    print(e)", SNNCORE_BLOCK_PLUGINS="neurons_extra")
    assert res.returncode == 0, res.stderr
    assert "provided by the optional plugin snn-neurons-extra" in res.stdout
    assert 'pip install "snncore[neurons-extra]"' in res.stdout


def test_the_catalogue_is_plain_data_readable_without_torch():
    path = ROOT / "snncore" / "_catalogue.py"
    tree = ast.parse(path.read_text(encoding="utf-8"))
    assert not [n for n in ast.walk(tree) if isinstance(n, (ast.Import, ast.ImportFrom))]
    res = subprocess.run([sys.executable, "-I", "-c",
                          "import runpy, sys, json; d = runpy.run_path(sys.argv[1]);"
                          "print(json.dumps([[p['distribution'], p['extra'], p['tests']] "
                          "for p in d['PLUGINS']] + ['torch' in sys.modules]))", str(path)],
                         capture_output=True, text=True, timeout=60)
    assert res.returncode == 0, res.stderr
    *plugins, torch_loaded = json.loads(res.stdout)
    assert not torch_loaded
    assert {d for d, _, _ in plugins} == {"snn-neurons-extra", "snn-viz", "snn-nir", "snn-ipu",
                                         "snn-compat"}
    assert ["snn-compat", "compat", "tests/compat"] in plugins
    assert runpy.run_path(str(path))["PLUGINS"] == tuple(
        {k: v for k, v in p.items()} for p in extend.optional_plugins())


def test_the_noxfile_reads_its_plugin_table_from_the_catalogue():
    text = (ROOT / "noxfile.py").read_text(encoding="utf-8")
    assert '"_catalogue.py"' in text and "snn-neurons-extra" not in text


def test_the_registry_install_hint_and_viz_hint_come_from_the_catalogue(fake_eps, monkeypatch):
    monkeypatch.setenv("SNNCORE_DISABLE_PLUGIN_AUTOLOAD", "1")
    reg = PluginManager().registries["backend"]
    with pytest.raises(snn.UnknownNameError) as info:
        reg.get("ipu")
    assert info.value.plugin == "snn-ipu" and info.value.install_hint == \
        'pip install "snncore[ipu]"'
    from snncore import viz

    assert viz.INSTALL_HINT.endswith('pip install "snncore[viz]"')


# -- the argument checks are public ---------------------------------------------------------------

def test_argument_checks_name_the_argument():
    with pytest.raises(TypeError, match=r"fn: n must be an int, got True"):
        extend.check_int(True, "n", "fn")
    with pytest.raises(ValueError, match=r"fn: n must be an int >= 1, got 0"):
        extend.check_int(0, "n", "fn", low=1)
    with pytest.raises(ValueError, match=r"fn: x must be a finite number > 0"):
        extend.check_number(-1.0, "x", "fn", positive=True)
    with pytest.raises(TypeError, match="fn: flag must be a bool, got 1"):
        extend.check_bool(1, "flag", "fn")
    with pytest.raises(ValueError, match=r"fn: mode must be one of \('a', 'b'\), got 'c'"):
        extend.check_choice("c", "mode", "fn", ("a", "b"))
    with pytest.raises(ValueError, match=r"must lie in \[0, 1\]"):
        extend.check_unit(torch.tensor([0.5, 2.0]), "p", "fn")
    assert extend.as_float(torch.tensor([1])).dtype == torch.get_default_dtype()
    assert extend.check_int(None, "n", "fn", optional=True) is None


def test_is_learnable_and_a_clear_error_for_an_unknown_parameter():
    lif = snn.Leaky(beta=0.9, learn_beta=True)
    assert lif.is_learnable("beta") and not lif.is_learnable("threshold")
    with pytest.raises(ValueError, match="no parameter named 'gamma'"):
        lif.is_learnable("gamma")


# -- neuron options declared once ----------------------------------------------------------------

def test_every_shared_option_is_documented_once_on_neuron():
    doc = snn.Neuron.__doc__
    for name in extend.NEURON_OPTIONS:
        assert f"\n        {name}: " in doc, f"document {name} in Neuron's docstring"
    assert "**options" in snn.Leaky.__doc__


def test_a_subclass_changes_defaults_and_declines_options_in_code():
    class Quiet(extend.Neuron):
        State = snn.LeakyState
        option_defaults = {"reset": "zero"}
        fixed_options = extend.not_taken("Quiet never inhibits", "inhibition", detach_reset=False)

        def __init__(self, gain=1.0, **options):
            super().__init__(**options)
            self.add_param("gain", gain, False)

        def step(self, x, state):
            thr = self.param("threshold", x)
            mem = self.integrate(torch.ones((), dtype=x.dtype), state.mem, self.param("gain", x)
                                 * x, thr)
            spk, mem = self.fire_and_reset(mem, thr)
            return spk, snn.LeakyState(mem)

    q = Quiet(gain=2.0, threshold=0.5)
    assert (q.reset_mechanism, q.detach_reset, q.inhibition) == ("zero", False, False)
    with pytest.raises(TypeError, match="Quiet does not take inhibition: Quiet never inhibits"):
        Quiet(inhibition=True)
    with pytest.raises(TypeError, match=r"unexpected argument 'gian'; did you mean 'gain'\?"):
        Quiet(gian=2.0)
    with pytest.raises(ValueError, match=r"not_taken: \['colour'\] are not shared"):
        extend.not_taken("why", "colour")
    spk, _ = q.run(torch.full((3, 1), 0.2))  # gain 2: U = 0.4, 0.8 (spike), then zeroed: 0.4
    assert spk[:, 0].tolist() == [0.0, 1.0, 0.0]
