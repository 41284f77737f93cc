"""The core's layering and the plugins' use of public API only, checked from the source."""

from __future__ import annotations

import ast
import inspect
import re
from pathlib import Path

import pytest

import snncore
from snncore import extend

ROOT = Path(__file__).resolve().parents[2]
CORE = ROOT / "snncore"
PLUGINS = ROOT / "plugins"

#: layer of every module of the core, bottom (0) to top (7); see docs/extend.md, "Layers"
LAYERS: dict[str, int] = {
    # 0 foundations
    "snncore._errors": 0, "snncore._validate": 0, "snncore._env": 0, "snncore._catalogue": 0,
    "snncore._buffers": 0,
    # 1 registry and hook specifications
    "snncore._registry": 1, "snncore._hookspecs": 1,
    # 2 maths and contracts
    "snncore._surrogate": 2, "snncore.surrogates": 2, "snncore._backends": 2,
    "snncore._kernel": 2,
    # 3 modules
    "snncore._neuron": 3, "snncore._leaky": 3, "snncore._sequential": 3, "snncore._encoders": 3,
    "snncore.encoders": 3, "snncore._losses": 3, "snncore.losses": 3, "snncore._metrics": 3,
    "snncore.metrics": 3, "snncore._monitor": 3, "snncore._quant": 3, "snncore._training": 3,
    "snncore._checkpoint": 3, "snncore._data": 3, "snncore.data": 3,
    "snncore.plasticity": 3,
    # 4 backend implementations
    "snncore.backends": 4, "snncore.backends._eager": 4, "snncore.backends._fused": 4,
    "snncore.backends._native": 4, "snncore.backends._pool": 4, "snncore.backends._triton": 4,
    "snncore.backends._triton_kernels": 4, "snncore.backends._generic": 4,
    "snncore.backends._codegen": 4, "snncore.backends._feedback": 4,
    "snncore.backends._triton_codegen": 4, "snncore.backends._triton_generic": 4,
    # 5 built-ins, one hook module per area
    "snncore._builtins": 5, "snncore._builtins.neurons": 5, "snncore._builtins.surrogates": 5,
    "snncore._builtins.encoders": 5, "snncore._builtins.eager": 5, "snncore._builtins.fused": 5,
    "snncore._builtins.triton": 5, "snncore._builtins.generic": 5,
    # 6 plugin loading
    "snncore._plugins": 6,
    # 7 facade
    "snncore": 7, "snncore._api": 7, "snncore._cli": 7, "snncore._demo": 7, "snncore.viz": 7,
    "snncore.extend": 7, "snncore.__main__": 7, "snncore._bench": 7, "snncore.neurobench": 7,
}


def _module_name(path: Path) -> str:
    rel = path.relative_to(ROOT).with_suffix("")
    parts = list(rel.parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _core_modules() -> dict[str, Path]:
    return {_module_name(p): p for p in CORE.rglob("*.py")}


def _imports(path: Path, module: str) -> set[str]:
    """Every snncore module imported anywhere in ``path`` (also inside functions and
    ``TYPE_CHECKING`` blocks)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    known = _core_modules()
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found |= {a.name for a in node.names if a.name.split(".")[0] == "snncore"}
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - node.level + 1]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            if target.split(".")[0] != "snncore":
                continue
            for alias in node.names:  # ``from . import _env`` imports a submodule
                sub = f"{target}.{alias.name}"
                found.add(sub if sub in known else target)
    return found


def test_every_core_module_has_a_layer():
    missing = sorted(set(_core_modules()) - set(LAYERS))
    assert not missing, f"give these modules a layer in LAYERS (and docs/extend.md): {missing}"


def test_no_module_imports_from_a_layer_above_it():
    upward = []
    for module, path in sorted(_core_modules().items()):
        for target in sorted(_imports(path, module)):
            layer = LAYERS.get(target)
            assert layer is not None, f"{module} imports {target}, which has no layer"
            if layer > LAYERS[module]:
                upward.append(f"{module} (layer {LAYERS[module]}) imports {target} "
                              f"(layer {layer})")
    assert not upward, "upward imports:\n" + "\n".join(upward)


def test_the_layering_check_sees_imports_inside_functions(tmp_path):
    src = tmp_path / "snncore_probe.py"
    src.write_text("def f():\n    from snncore._api import create\n", encoding="utf-8")
    tree_imports = {n.module for n in ast.walk(ast.parse(src.read_text()))
                    if isinstance(n, ast.ImportFrom)}
    assert tree_imports == {"snncore._api"}
    found = _imports(CORE / "_neuron.py", "snncore._neuron")
    assert "snncore._backends" in found and "snncore._registry" in found


def _plugin_sources() -> list[Path]:
    return sorted(p for p in PLUGINS.glob("*/*/**/*.py") if "egg-info" not in str(p)
                  and "/build/" not in str(p))


def test_plugins_import_nothing_private_from_snncore():
    private = re.compile(r"^\s*(from\s+snncore(\.\w+)*\._\w+|from\s+snncore(\.\w+)*\s+import\s+"
                         r"(\(?\s*)?_\w+|import\s+snncore(\.\w+)*\._\w+)", re.M)
    attr = re.compile(r"\bsnncore(\.\w+)*\._[a-z]\w*")
    offenders = []
    for path in _plugin_sources():
        text = path.read_text(encoding="utf-8")
        offenders += [f"{path.relative_to(ROOT)}: {m.group(0).strip()}"
                      for m in private.finditer(text)]
        offenders += [f"{path.relative_to(ROOT)}: {m.group(0)}" for m in attr.finditer(text)]
    assert _plugin_sources(), "no plugin sources found"
    assert not offenders, "plugins use private snncore API:\n" + "\n".join(offenders)


def test_plugins_call_no_underscore_method_of_snncore_classes():
    core_private = {name for cls in (snncore.Neuron, extend.Surrogate, extend.Backend,
                                     extend.Registry, extend.RegistryView)
                    for name in dir(cls) if name.startswith("_") and not name.startswith("__")}
    core_private -= {n for n in dir(__import__("torch").nn.Module) if n.startswith("_")}
    offenders = []
    for path in _plugin_sources():
        for m in re.finditer(r"\b(?:self|neuron|super\(\))\.(_[a-z]\w*)\b",
                             path.read_text(encoding="utf-8")):
            if m.group(1) in core_private:
                offenders.append(f"{path.relative_to(ROOT)}: {m.group(0)}")
    assert not offenders, "plugins call snncore's private methods:\n" + "\n".join(offenders)


@pytest.mark.parametrize("name", extend.__all__)
def test_extend_names_are_public_and_documented(name):
    obj = getattr(extend, name)
    doc = (ROOT / "docs" / "extend.md").read_text(encoding="utf-8")
    assert re.search(rf"`{name}[`(]", doc), f"{name} is not documented in docs/extend.md"
    if inspect.isfunction(obj) or inspect.isclass(obj):
        assert getattr(obj, "__doc__", None), f"{name} has no docstring"
