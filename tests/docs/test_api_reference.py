"""Every name in the ``__all__`` of every public module of the core and of the plugins has its
own entry in the built documentation site's API reference.

Runs on a built site: ``nox -s docs`` builds it and runs this with ``SNNCORE_DOCS_SITE`` set.
Public modules are found in the sources (every module and package whose dotted path has no
``_``-prefixed part), and their ``__all__`` is read from the source, so names that anyone adds
are checked without a list kept here.
"""

from __future__ import annotations

import ast
import os
import zlib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SITE = os.environ.get("SNNCORE_DOCS_SITE")

pytestmark = pytest.mark.skipif(not SITE, reason="needs a built site: nox -s docs")


def package_roots() -> list[Path]:
    """The core package and each plugin's top-level package folder(s)."""
    roots = [ROOT / "snncore"]
    for project in sorted((ROOT / "plugins").glob("*/pyproject.toml")):
        roots += sorted(p.parent for p in project.parent.glob("*/__init__.py")
                        if not p.parent.name.startswith(("_", "."))
                        and not p.parent.name.endswith(".egg-info"))
    return roots


def public_modules() -> dict[str, Path]:
    """Dotted module name -> source file, for every public module."""
    found: dict[str, Path] = {}
    for root in package_roots():
        for path in sorted(root.rglob("*.py")):
            rel = path.relative_to(root.parent).with_suffix("")
            parts = list(rel.parts)
            if parts[-1] == "__init__":
                parts = parts[:-1]
            if any(p.startswith("_") for p in parts) or "build" in parts:
                continue
            found[".".join(parts)] = path
    return found


def dunder_all(path: Path) -> list[str] | None:
    """The module's ``__all__`` as written in its source (None if it has none)."""
    names: list[str] | None = None
    for node in ast.parse(path.read_text()).body:
        targets = []
        if isinstance(node, ast.Assign):
            targets, value = node.targets, node.value
        elif isinstance(node, (ast.AnnAssign, ast.AugAssign)) and node.value is not None:
            targets, value = [node.target], node.value
        if not any(isinstance(t, ast.Name) and t.id == "__all__" for t in targets):
            continue
        try:
            items = list(ast.literal_eval(value))
        except ValueError:
            pytest.fail(f"{path}: __all__ must be a literal list of names")
        names = (names or []) + items if isinstance(node, ast.AugAssign) else items
    return names


def inventory() -> dict[str, tuple[int, str]]:
    """objects.inv: name -> (priority, page) of the site's primary entries."""
    data = (Path(SITE) / "objects.inv").read_bytes()
    body = zlib.decompress(data.split(b"\n", 4)[4]).decode()
    out: dict[str, tuple[int, str]] = {}
    for line in body.splitlines():
        name, _role, prio, uri, *_ = line.split(" ")
        page = uri.split("#", 1)[0]
        if name not in out or int(prio) < out[name][0]:
            out[name] = (int(prio), page)
    return out


def test_public_modules_are_found():
    mods = public_modules()
    assert {"snncore", "snncore.encoders", "snncore.losses", "snncore.neurobench",
            "snn_viz", "snn_neurons_extra"} <= set(mods)


@pytest.mark.parametrize("module", sorted(public_modules()))
def test_every_public_name_has_an_api_entry(module):
    path = public_modules()[module]
    names = dunder_all(path)
    assert names is not None, f"{path}: a public module needs an explicit __all__"
    inv = inventory()
    assert module in inv and inv[module][0] == 1, (
        f"public module {module} has no API reference page: add docs/api/{module}.md holding "
        f"'::: {module}' and list it under 'API reference' in mkdocs.yml's nav")
    page = inv[module][1]
    html = (Path(SITE) / page / "index.html").read_text() if page else ""
    modules = public_modules()

    def documented(name: str) -> bool:
        full = f"{module}.{name}"
        if full in modules:  # a public submodule has a page of its own
            return full in inv and inv[full][0] == 1
        return full in inv and inv[full][0] == 1 and f'id="{full}"' in html

    missing = [n for n in names if not documented(n)]
    assert not missing, (
        f"{module}: names in __all__ without an entry on its API page ({page}): {missing}; "
        "give each a docstring and check that mkdocstrings renders it")


def nav_pages(entries) -> list[str]:
    pages = []
    for entry in entries:
        value = next(iter(entry.values())) if isinstance(entry, dict) else entry
        pages += nav_pages(value) if isinstance(value, list) else [value]
    return pages


def test_every_docs_page_is_in_the_nav():
    """The nav is explicit: a page in docs/ that is not listed would be built but unreachable
    (mkdocs only logs that); a listed page that is missing fails the build itself."""
    import yaml

    config = yaml.safe_load((ROOT / "mkdocs.yml").read_text())
    listed = set(nav_pages(config["nav"]))
    docs = ROOT / config.get("docs_dir", "docs")
    pages = {str(p.relative_to(docs)) for p in docs.rglob("*.md")}
    assert not pages - listed, (f"pages in {docs.name}/ missing from mkdocs.yml's nav: "
                                f"{sorted(pages - listed)}")
    assert not listed - pages, f"nav entries without a page: {sorted(listed - pages)}"
