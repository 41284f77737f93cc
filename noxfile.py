"""Sessions: tests per distribution, the all-in-one run, wheels, install check, docs, lint, demo,
benchmarks.

Every install goes through ``constraints.txt`` so the CPU build of PyTorch is used.
``nox`` with no arguments runs what CI runs.

Environments are reused between runs: each one records a fingerprint of what it was built from
(the constraints, ``VERSION``, every ``pyproject.toml``, the local packages installed without
``-e``, and the install commands) and reinstalls only when that fingerprint changes. Editable
installs see source edits without reinstalling. ``nox --no-reuse-existing-virtualenvs`` (or
deleting ``.nox/``) rebuilds everything.
"""

from __future__ import annotations

import hashlib
import json
import re
import runpy
import shutil
import tempfile
from collections.abc import Callable, Sequence
from pathlib import Path

import nox

ROOT = Path(__file__).parent
CONSTRAINTS = ("-c", str(ROOT / "constraints.txt"))
TORCH = "torch==2.13.0"
SNNTORCH = "snntorch==1.0.0"  # test-only reference, installed without its (undeclared) deps
NEUROBENCH = "neurobench==2.3.0"  # its declared deps (numba, torchaudio, ...) serve its datasets
NEUROBENCH_RUNTIME = ("tqdm>=4.60",)  # what its metrics and models import besides torch/snnTorch
TONIC = "tonic==1.7.0"
EXAMPLE_PLUGIN = ROOT / "tests" / "core" / "example_plugin"
TRITON = "triton==3.9.0"  # test-only: runs the triton backend's kernels in interpreter mode
DOCS = ("mkdocs==1.6.1", "mkdocs-material==9.8.1", "mkdocstrings==1.0.8",
        "mkdocstrings-python==2.0.11")
WHEELHOUSE = ROOT / "dist"
BUILD = ("pip>=23", "setuptools>=68", "wheel")  # what building the wheels needs

#: the one catalogue of optional plugins (snncore/_catalogue.py: plain data, read by file path
#: without importing torch or snncore) as plugin folder name -> (distribution, extra, test folder)
PLUGINS = {
    Path(p["folder"]).name: (p["distribution"], p["extra"], p["tests"])
    for p in runpy.run_path(str(ROOT / "snncore" / "_catalogue.py"))["PLUGINS"]
}

#: sibling plugins a plugin depends on (installed editable before it, in its own environment)
PLUGIN_SIBLINGS = {"snn_nir": ("snn_neurons_extra",),
                   "snn_compat": ("snn_neurons_extra", "snn_viz")}
NORSE = "norse==1.1.0"  # test-only NIR reference; its torchvision pin serves only its datasets
#: test-only references a plugin's tests need, installed without their (stale) dependency pins
PLUGIN_NO_DEPS = {"snn_nir": (NORSE,)}

nox.options.default_venv_backend = "venv"
nox.options.reuse_existing_virtualenvs = True
nox.options.error_on_missing_interpreters = False
nox.options.sessions = ["lint", "tests_core", "tests_plugins", "tests_all", "install_check",
                        "docs"]


def _present_plugins() -> dict[str, tuple[str, str, str]]:
    return {k: v for k, v in PLUGINS.items() if (ROOT / "plugins" / k / "pyproject.toml").exists()}


def _editable_plugin(folder: str) -> tuple[str, str]:
    """``-e plugins/<folder>``, with its ``[test]`` extra when its pyproject declares one."""
    path = ROOT / "plugins" / folder
    text = (path / "pyproject.toml").read_text()
    extras = re.search(r"^\[project\.optional-dependencies\]\n(.*?)(?=^\[|\Z)", text, re.M | re.S)
    has_test = bool(extras and re.search(r"^test\s*=", extras.group(1), re.M))
    return ("-e", f"{path}[test]" if has_test else str(path))


# -- reusable environments -------------------------------------------------------------------------
def _digest(steps: Sequence[Sequence[str]], local: Sequence[Path] = ()) -> str:
    """Fingerprint of an environment: the install commands, the packaging metadata of every
    distribution in the repository, and the full contents of ``local`` (packages installed
    without ``-e``, whose code is copied into the environment)."""
    h = hashlib.sha256(json.dumps([list(s) for s in steps]).encode())
    meta = [ROOT / "constraints.txt", ROOT / "VERSION", ROOT / "pyproject.toml",
            *sorted((ROOT / "plugins").glob("*/pyproject.toml"))]
    files = [p for p in meta if p.exists()]
    for folder in local:
        files += sorted(p for p in folder.rglob("*") if p.is_file() and not any(
            part in ("build", "__pycache__") or part.endswith(".egg-info")
            for part in p.relative_to(folder).parts))
    for p in files:
        h.update(str(p.relative_to(ROOT)).encode() + b"\0" + p.read_bytes() + b"\0")
    return h.hexdigest()


def _synced(venv: Path, steps: Sequence[Sequence[str]], run: Callable[[Sequence[str]], object],
            local: Sequence[Path] = ()) -> None:
    """Run the pip ``steps`` in ``venv`` unless it was built from the same fingerprint."""
    stamp = venv / "snncore-install.sha256"
    key = _digest(steps, local)
    if stamp.exists() and stamp.read_text() == key:
        return
    stamp.unlink(missing_ok=True)
    for step in steps:
        run(step)
    stamp.write_text(key)


def _setup(session: nox.Session, *steps: Sequence[str], local: Sequence[Path] = ()) -> None:
    """Install into the session's environment (pip arguments per step, constraints added)."""
    def run(step: Sequence[str]) -> None:
        if step[0] == "--no-deps":
            session.install(*step)
        else:
            session.install(*CONSTRAINTS, *step)

    _synced(Path(session.virtualenv.location), steps, run, local)


def _core_steps(extras: str = "test") -> list[tuple[str, ...]]:
    return [(TORCH,), ("-e", f"{ROOT}[{extras}]"), ("--no-deps", SNNTORCH)]


def _pytest(session: nox.Session, *paths: str, env: dict[str, str] | None = None) -> None:
    args = list(session.posargs) or ["-q", "-p", "no:cacheprovider"]
    session.run("python", "-m", "pytest", *args, *paths,
                env={"MPLBACKEND": "Agg", **(env or {})})


# -- sessions --------------------------------------------------------------------------------------
@nox.session
def lint(session: nox.Session) -> None:
    """ruff over the whole repository."""
    _setup(session, ("ruff>=0.5",))
    session.run("ruff", "check", str(ROOT))


@nox.session
def tests_core(session: nox.Session) -> None:
    """The core alone (plus the example third-party plugin the tests install, and Triton, whose
    interpreter mode checks the GPU kernels on this CPU-only machine)."""
    _setup(session, *_core_steps(), (TRITON,), (str(EXAMPLE_PLUGIN),), local=[EXAMPLE_PLUGIN])
    _pytest(session, "tests/core")


@nox.session
def tests_plugins(session: nox.Session) -> None:
    """Each plugin's tests in its own environment holding only the core and that plugin."""
    for folder, (_dist, _extra, tests) in _present_plugins().items():
        venv = Path(session.virtualenv.location).parent / f"plugin-{folder}"
        py = str(venv / "bin" / "python")
        if not Path(py).exists():
            session.run("python", "-m", "venv", str(venv), external=True)

        def run(step: Sequence[str], py: str = py) -> None:
            extra = () if step[0] == "--no-deps" else CONSTRAINTS
            session.run(py, "-m", "pip", "install", "-q", *extra, *step, external=True)

        siblings = [("-e", str(ROOT / "plugins" / s)) for s in PLUGIN_SIBLINGS.get(folder, ())]
        no_deps = [("--no-deps", p) for p in PLUGIN_NO_DEPS.get(folder, ())]
        _synced(venv, [*_core_steps(), *siblings, _editable_plugin(folder), *no_deps], run)
        args = list(session.posargs) or ["-q", "-p", "no:cacheprovider"]
        session.run(py, "-m", "pytest", *args, tests, external=True, env={"MPLBACKEND": "Agg"})


@nox.session
def tests_all(session: nox.Session) -> None:
    """All-in-one: the core with every plugin present, NeuroBench and Tonic, the examples and
    the integration tests."""
    plugins = [_editable_plugin(f) for f in _present_plugins()]
    plugins += [("--no-deps", p) for f in _present_plugins() for p in PLUGIN_NO_DEPS.get(f, ())]
    _setup(session, *_core_steps("test,demo"), *plugins, (str(EXAMPLE_PLUGIN),),
           ("--no-deps", NEUROBENCH), NEUROBENCH_RUNTIME, (TONIC,), (TRITON,),
           local=[EXAMPLE_PLUGIN])
    # the integration tests, and the fused-backend and generic Triton tests again: with every
    # plugin present they also check the plugins' neuron classes against eager
    _pytest(session, "tests/integration", "tests/core/test_fused.py",
            "tests/core/test_triton_generic.py")


def build_wheels(session: nox.Session, out: Path) -> list[Path]:
    """Wheels of the core and of every plugin in ``plugins/`` into ``out`` (older wheels of
    these distributions there are removed first)."""
    out.mkdir(parents=True, exist_ok=True)
    names = ["snncore", *(d for d, _e, _t in _present_plugins().values())]
    for name in names:
        for old in out.glob(f"{name.replace('-', '_')}-*.whl"):
            old.unlink()
    sources = [ROOT, *(ROOT / "plugins" / f for f in _present_plugins())]
    for src in sources:  # setuptools would package stale files left in build/lib
        shutil.rmtree(src / "build", ignore_errors=True)
    # the build requirements (setuptools, wheel) come from the session's environment: no
    # isolated build environment per distribution
    session.run("python", "-m", "pip", "wheel", "-q", "--no-deps", "--no-build-isolation",
                *CONSTRAINTS, "-w", str(out), *map(str, sources))
    wheels = sorted(out.glob("*.whl"))
    built = {w.name.split("-")[0] for w in wheels}
    missing = {n.replace("-", "_") for n in names} - built
    if missing:
        session.error(f"no wheel was built for {sorted(missing)}")
    return wheels


@nox.session
def wheels(session: nox.Session) -> None:
    """Wheels of the core and every plugin into ``dist/`` (the local wheelhouse):
    ``pip install -c constraints.txt --find-links dist "snncore[viz]"``."""
    _setup(session, BUILD)
    for w in build_wheels(session, WHEELHOUSE):
        session.log(f"built {w.relative_to(ROOT)}")


_WHEEL_SMOKE = """
from importlib.resources import files
import torch, snncore as snn
native = files("snncore.backends") / "native"
assert (native / "fused_loops.cpp").is_file() and (native / "fused_loops.h").is_file(), native
spk, _ = snn.Leaky(beta=0.9).run(torch.rand(5, 2, 3), backend="eager")
assert spk.shape == (5, 2, 3)
"""


_EXTRAS_MET = """
import sys
from importlib.metadata import distribution, version
try:
    from packaging.requirements import Requirement
except ImportError:  # what pip itself uses
    from pip._vendor.packaging.requirements import Requirement
reqs = [Requirement(r) for r in distribution("snncore").requires or ()]
for extra in sys.argv[1:]:
    wanted = [r for r in reqs if r.marker is not None and r.marker.evaluate({"extra": extra})]
    assert wanted, f"snncore has no extra {extra!r}"
    for r in wanted:
        assert r.specifier.contains(version(r.name)), (extra, str(r), version(r.name))
"""


@nox.session
def install_check(session: nox.Session) -> None:
    """Build the wheelhouse, install ``snncore[<every extra>,all]`` from it into a fresh
    environment, and check that each plugin is found through its entry point, that every plugin
    has the core's version, and that each extra's requirements are met."""
    _setup(session, BUILD)
    work = Path(tempfile.mkdtemp(prefix="snncore-install-"))
    try:
        dist = work / "wheelhouse"
        build_wheels(session, dist)
        plugins = _present_plugins()
        extras = [e for _d, e, _t in plugins.values()]
        venv = work / "venv"
        session.run("python", "-m", "venv", str(venv), external=True)
        py = str(venv / "bin" / "python")
        pip = (py, "-m", "pip", "install", "-q", *CONSTRAINTS, "--find-links", str(dist))
        req = f"snncore[{','.join([*extras, 'all'])}]"
        session.run(*pip, req, external=True)
        session.run(py, "-m", "pip", "check", external=True)
        out = session.run(str(venv / "bin" / "snncore"), "plugins", "--json", external=True,
                          silent=True)
        report = json.loads(out)
        loaded = {p["distribution"]: p["version"] for p in report["plugins"]}
        missing = {d for d, _e, _t in plugins.values()} - set(loaded)
        version = (ROOT / "VERSION").read_text().strip()
        wrong = {d: v for d, v in loaded.items() if d in {x for x, _e, _t in plugins.values()}
                 and v != version}
        if missing or wrong or report["failures"]:
            session.error(f"install check failed: missing {sorted(missing)}, versions other "
                          f"than {version}: {wrong}, failures {report['failures']}")
        # the wheel ships the C++ sources of the fused backend's native loops, and runs
        session.run(py, "-c", _WHEEL_SMOKE, external=True)
        # each extra's requirements are met by what was installed (pip check covers the rest)
        session.run(py, "-c", _EXTRAS_MET, *extras, "all", external=True)
        session.log(f"installed {req}: plugins {sorted(p['name'] for p in report['plugins'])}")
    finally:
        shutil.rmtree(work, ignore_errors=True)


@nox.session
def docs(session: nox.Session) -> None:
    """The documentation site (MkDocs) into ``site/``, warnings as errors, then a check that
    every name in the public modules' ``__all__`` has an API reference entry. The API pages are
    generated from the sources by static analysis, so this environment needs no PyTorch."""
    _setup(session, DOCS, ("pytest>=7.4",))
    site = ROOT / "site"
    session.run("mkdocs", "build", "--strict", "--clean", "-f", str(ROOT / "mkdocs.yml"),
                "-d", str(site), env={"NO_MKDOCS_2_WARNING": "1"})
    # --noconftest: tests/conftest.py imports torch, which this environment does not hold
    _pytest(session, "--noconftest", "tests/docs", env={"SNNCORE_DOCS_SITE": str(site)})


@nox.session
def demo(session: nox.Session) -> None:
    """The training demo on the digits dataset."""
    _setup(session, (TORCH,), ("-e", f"{ROOT}[demo]"))
    session.run("snncore", "demo", *session.posargs)


@nox.session
def bench(session: nox.Session) -> None:
    """Speed and memory benchmarks side by side with snnTorch; writes docs/benchmarks.md."""
    plugins = [("-e", str(ROOT / "plugins" / f)) for f in _present_plugins()]
    # peers: Norse imports nirtorch at import time (nir comes with snn-nir)
    peers = [("nirtorch==2.6",), ("--no-deps", NORSE)]
    _setup(session, *_core_steps("test"), *plugins, *peers)
    session.run("python", "benchmarks/run.py", *session.posargs)

