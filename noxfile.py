"""Sessions: tests per distribution, the all-in-one run, install check, lint, demo, benchmarks.

Every install goes through ``constraints.txt`` so the CPU build of PyTorch is used.
``nox`` with no arguments runs what CI runs.
"""

from __future__ import annotations

import json
import shutil
import tempfile
from pathlib import Path

import nox

ROOT = Path(__file__).parent
CONSTRAINTS = ("-c", str(ROOT / "constraints.txt"))
SNNTORCH = "snntorch==1.0.0"  # test-only reference, installed without its (undeclared) deps
EXAMPLE_PLUGIN = ROOT / "tests" / "core" / "example_plugin"
TRITON = "triton==3.9.0"  # test-only: runs the triton backend's kernels in interpreter mode

#: plugin folder name -> (distribution, test folder)
PLUGINS = {
    "snn_neurons_extra": ("snn-neurons-extra", "tests/neurons_extra"),
    "snn_viz": ("snn-viz", "tests/viz"),
    "snn_nir": ("snn-nir", "tests/nir"),
    "snn_ipu": ("snn-ipu", "tests/ipu"),
    "snn_compat": ("snn-compat", "tests/compat"),
}
#: plugins that register nothing, so install_check finds them as installed packages instead
NO_ENTRY_POINT = {"snn_compat"}
#: plugin folder -> sibling plugin folders it needs (its own deps, and its tests' snn-viz)
PLUGIN_DEPS = {"snn_compat": ("snn_neurons_extra", "snn_viz")}

nox.options.default_venv_backend = "venv"
nox.options.reuse_existing_virtualenvs = True
nox.options.error_on_missing_interpreters = False
nox.options.sessions = ["lint", "tests_core", "tests_plugins", "tests_all", "install_check"]


def _present_plugins() -> dict[str, tuple[str, str]]:
    return {k: v for k, v in PLUGINS.items() if (ROOT / "plugins" / k / "pyproject.toml").exists()}


def _install(session: nox.Session, *args: str) -> None:
    session.install(*CONSTRAINTS, *args)


def _install_core(session: nox.Session, extras: str = "test") -> None:
    _install(session, "torch==2.13.0")
    _install(session, "-e", f"{ROOT}[{extras}]")
    session.install("--no-deps", SNNTORCH)


def _pytest(session: nox.Session, *paths: str) -> None:
    args = list(session.posargs) or ["-q", "-p", "no:cacheprovider"]
    session.run("python", "-m", "pytest", *args, *paths, env={"MPLBACKEND": "Agg"})


@nox.session
def lint(session: nox.Session) -> None:
    """ruff over the whole repository."""
    session.install("ruff>=0.5")
    session.run("ruff", "check", str(ROOT))


@nox.session
def tests_core(session: nox.Session) -> None:
    """The core alone (plus the example third-party plugin the tests install, and Triton, whose
    interpreter mode checks the GPU kernels on this CPU-only machine)."""
    _install_core(session)
    session.install(TRITON)
    _install(session, str(EXAMPLE_PLUGIN))
    _pytest(session, "tests/core")


@nox.session
def tests_plugins(session: nox.Session) -> None:
    """Each plugin's tests in a fresh environment holding only the core and that plugin."""
    for folder, (_dist, tests) in _present_plugins().items():
        venv = Path(session.virtualenv.location).parent / f"plugin-{folder}"
        if venv.exists():
            shutil.rmtree(venv)
        session.run("python", "-m", "venv", str(venv), external=True)
        py = str(venv / "bin" / "python")
        pip = (py, "-m", "pip", "install", "-q", *CONSTRAINTS)
        session.run(*pip, "torch==2.13.0", external=True)
        # sibling plugins a plugin depends on resolve from this repository, not an index
        siblings = [a for dep in PLUGIN_DEPS.get(folder, ()) for a in
                    ("-e", str(ROOT / "plugins" / dep))]
        session.run(*pip, "-e", f"{ROOT}[test]", *siblings, "-e", str(ROOT / "plugins" / folder),
                    external=True)
        session.run(py, "-m", "pip", "install", "-q", "--no-deps", SNNTORCH, external=True)
        extra = {"snn_viz": ("matplotlib",),
                 "snn_compat": ("matplotlib", "pandas")}.get(folder, ())
        if extra:
            session.run(*pip, *extra, external=True)
        args = list(session.posargs) or ["-q", "-p", "no:cacheprovider"]
        session.run(py, "-m", "pytest", *args, tests, external=True, env={"MPLBACKEND": "Agg"})


@nox.session
def tests_all(session: nox.Session) -> None:
    """All-in-one: the core with every plugin present, the examples and the integration tests."""
    _install_core(session, "test,demo")
    for folder in _present_plugins():
        _install(session, "-e", str(ROOT / "plugins" / folder))
    _install(session, str(EXAMPLE_PLUGIN))
    # the integration tests, and the fused-backend tests again: with every plugin present they
    # also check the plugins' neuron classes against eager
    _pytest(session, "tests/integration", "tests/core/test_fused.py")


@nox.session
def install_check(session: nox.Session) -> None:
    """Build wheels of the core and every plugin, install ``snncore[extras]`` from them into a
    fresh environment, and check that each plugin is found through its entry point."""
    dist = Path(tempfile.mkdtemp(prefix="snncore-dist-"))
    _install(session, "torch==2.13.0", "build", "wheel")
    session.run("python", "-m", "pip", "wheel", "-q", "--no-deps", "-w", str(dist), str(ROOT))
    for folder in _present_plugins():
        session.run("python", "-m", "pip", "wheel", "-q", "--no-deps", "-w", str(dist),
                    str(ROOT / "plugins" / folder))
    extras = {"snn_neurons_extra": "neurons-extra", "snn_viz": "viz", "snn_nir": "nir",
              "snn_ipu": "ipu", "snn_compat": "compat"}
    wanted = ",".join(extras[f] for f in _present_plugins())
    venv = Path(tempfile.mkdtemp(prefix="snncore-venv-"))
    session.run("python", "-m", "venv", str(venv), external=True)
    py = str(venv / "bin" / "python")
    req = f"snncore[{wanted}]" if wanted else "snncore"
    session.run(py, "-m", "pip", "install", "-q", *CONSTRAINTS, "--find-links", str(dist), req,
                external=True)
    out = session.run(str(venv / "bin" / "snncore"), "plugins", "--json", external=True,
                      silent=True)
    report = json.loads(out)
    loaded = {p["distribution"] for p in report["plugins"]}
    missing = {PLUGINS[f][0] for f in _present_plugins() if f not in NO_ENTRY_POINT} - loaded
    for folder in NO_ENTRY_POINT & set(_present_plugins()):
        session.run(py, "-c", f"import {folder}", external=True)
    if missing or report["failures"]:
        session.error(f"install check failed: missing {missing}, failures {report['failures']}")
    session.log(f"installed {req}: plugins {sorted(p['name'] for p in report['plugins'])}")
    shutil.rmtree(venv, ignore_errors=True)
    shutil.rmtree(dist, ignore_errors=True)


@nox.session
def demo(session: nox.Session) -> None:
    """The training demo on the digits dataset."""
    _install(session, "torch==2.13.0")
    _install(session, "-e", f"{ROOT}[demo]")
    session.run("snncore", "demo", *session.posargs)


@nox.session
def bench(session: nox.Session) -> None:
    """Speed and memory benchmarks side by side with snnTorch; writes docs/benchmarks.md."""
    _install_core(session, "test")
    for folder in _present_plugins():
        _install(session, "-e", str(ROOT / "plugins" / folder))
    session.run("python", "benchmarks/run.py", *session.posargs)
