"""Packaging: one version number for every distribution, compatible pins, one extra per plugin."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

tomllib = pytest.importorskip("tomllib")

ROOT = Path(__file__).resolve().parents[2]
VERSION = (ROOT / "VERSION").read_text().strip()
PLUGIN_PROJECTS = sorted((ROOT / "plugins").glob("*/pyproject.toml"))


def load(path: Path) -> dict:
    return tomllib.loads(path.read_text())


def release_line() -> str:
    major, minor = (int(p) for p in VERSION.split(".")[:2])
    return f">={major}.{minor},<{major}.{minor + 1}"


def test_version_file_is_a_release_number():
    assert re.fullmatch(r"\d+\.\d+\.\d+", VERSION), VERSION


@pytest.mark.parametrize("path", [ROOT / "pyproject.toml", *PLUGIN_PROJECTS],
                         ids=lambda p: p.parent.name)
def test_every_distribution_takes_its_version_from_the_version_file(path):
    project = load(path)
    assert "version" not in project["project"], f"{path}: a static version; use VERSION"
    assert "version" in project["project"].get("dynamic", [])
    assert project["tool"]["setuptools"]["dynamic"]["version"] == {"file": "VERSION"}
    version_file = path.parent / "VERSION"
    assert version_file.read_text().strip() == VERSION, f"{version_file} is not the repository's"
    if path.parent != ROOT:
        assert version_file.is_symlink(), f"{version_file} must link to ../../VERSION"


@pytest.mark.parametrize("path", PLUGIN_PROJECTS, ids=lambda p: p.parent.name)
def test_plugins_pin_the_core_release_line(path):
    deps = load(path)["project"]["dependencies"]
    core = [d for d in deps if re.match(r"snncore\b(?![-_])", d)]
    assert core == [f"snncore{release_line()}"], f"{path}: core requirement {core}"
    assert "snncore" in load(path)["project"]["entry-points"], f"{path}: no snncore entry point"


def test_one_extra_per_plugin_and_all():
    core = load(ROOT / "pyproject.toml")["project"]
    extras = core["optional-dependencies"]
    plugins = {load(p)["project"]["name"] for p in PLUGIN_PROJECTS}
    siblings: dict[str, str] = {}
    for extra, reqs in extras.items():
        for req in reqs:
            name = re.split(r"[<>=!~\[; ]", req, maxsplit=1)[0]
            if name.startswith("snn-"):
                assert req == f"{name}{release_line()}", f"extra {extra}: {req}"
                siblings.setdefault(name, extra)
                assert name in plugins, f"extra {extra} names {name}, which has no plugins/ folder"
    assert set(siblings) == plugins, f"plugins without an extra: {plugins - set(siblings)}"
    assert sorted(extras["all"]) == sorted(f"{p}{release_line()}" for p in plugins)


def test_installed_versions_match():
    import snncore

    assert snncore.__version__ == VERSION


def test_the_catalogue_matches_the_extras_and_the_plugin_folders():
    import runpy

    catalogue = runpy.run_path(str(ROOT / "snncore" / "_catalogue.py"))["PLUGINS"]
    extras = load(ROOT / "pyproject.toml")["project"]["optional-dependencies"]
    present = [p for p in catalogue if (ROOT / p["folder"] / "pyproject.toml").exists()]
    for plugin in present:
        project = load(ROOT / plugin["folder"] / "pyproject.toml")["project"]
        assert project["name"] == plugin["distribution"]
        assert extras.get(plugin["extra"]) == [f"{plugin['distribution']}{release_line()}"], (
            f"the core's extra {plugin['extra']!r} must install {plugin['distribution']}")
    folders = {str(p.parent.relative_to(ROOT)) for p in PLUGIN_PROJECTS}
    assert folders == {p["folder"] for p in present}, "a plugin folder missing from the catalogue"
